/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Encoding and decoding of the stream file's header, index entries and footer
 * (compress/FORMAT.md). Decoders take untrusted bytes: every field is checked
 * before use and every failure says which field and why. This is the parser
 * the fuzz target drives.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "compress_internal.h"

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

#define WHY(...) snprintf(why, why_len, __VA_ARGS__)

void compress_header_encode(const struct compress_header *h, uint8_t out[COMPRESS_HEADER_BYTES])
{
	memset(out, 0, COMPRESS_HEADER_BYTES);
	memcpy(out, COMPRESS_MAGIC, 8);
	put_le32(out + 8, h->version);
	put_le32(out + 12, h->header_size);
	put_le32(out + 16, h->chunk_size);
	put_le32(out + 20, h->alignment);
	put_le32(out + 24, (uint32_t)h->level);
	put_le32(out + 28, h->filter);
	put_le32(out + 32, h->checksum_algo);
	put_le32(out + 36, h->flags);
	/* 40..55 reserved, zero */
	put_le64(out + 56, compress_checksum(out, 56));
}

int compress_header_decode(const uint8_t *buf, size_t len, struct compress_header *h, char *why,
			   size_t why_len)
{
	if (len < COMPRESS_HEADER_BYTES) {
		WHY("truncated header (%zu of %d bytes)", len, COMPRESS_HEADER_BYTES);
		return -EBADMSG;
	}
	if (memcmp(buf, COMPRESS_MAGIC, 8) != 0) {
		WHY("not a vramstream stream file (bad header magic)");
		return -EBADMSG;
	}
	if (!compress_meta_sum_ok(get_le64(buf + 56), compress_checksum(buf, 56))) {
		WHY("header checksum mismatch");
		return -EBADMSG;
	}
	h->version = get_le32(buf + 8);
	h->header_size = get_le32(buf + 12);
	h->chunk_size = get_le32(buf + 16);
	h->alignment = get_le32(buf + 20);
	h->level = (int32_t)get_le32(buf + 24);
	h->filter = get_le32(buf + 28);
	h->checksum_algo = get_le32(buf + 32);
	h->flags = get_le32(buf + 36);
	if (h->version < 1 || h->version > COMPRESS_VERSION) {
		WHY("unsupported format version %u (this build reads 1 to %d)", h->version,
		    COMPRESS_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (h->alignment != COMPRESS_ALIGN || h->header_size != COMPRESS_ALIGN) {
		WHY("unsupported alignment %u / header size %u", h->alignment, h->header_size);
		return -EBADMSG;
	}
	if (h->chunk_size < COMPRESS_CHUNK_MIN || h->chunk_size > COMPRESS_CHUNK_MAX ||
	    h->chunk_size % COMPRESS_ALIGN) {
		WHY("bad chunk size %u", h->chunk_size);
		return -EBADMSG;
	}
	if (h->filter >= COMPRESS_FILTER_COUNT) {
		WHY("bad default filter %u", h->filter);
		return -EBADMSG;
	}
	if (h->checksum_algo !=
	    (h->version == 1 ? COMPRESS_CHECKSUM_CRC32C : COMPRESS_HASH_XXH3_128)) {
		WHY("unknown checksum algorithm %u for version %u", h->checksum_algo, h->version);
		return -EBADMSG;
	}
	if (h->flags != 0) {
		WHY("unknown header flags 0x%x", h->flags);
		return -EBADMSG;
	}
	return 0;
}

void compress_footer_encode(const struct compress_footer *f, uint8_t out[COMPRESS_FOOTER_BYTES])
{
	memset(out, 0, COMPRESS_FOOTER_BYTES);
	memcpy(out, COMPRESS_FOOTER_MAGIC, 8);
	put_le32(out + 8, f->version);
	put_le32(out + 12, f->entry_size);
	put_le64(out + 16, f->index_offset);
	put_le64(out + 24, f->entry_count);
	put_le64(out + 32, f->index_checksum);
	put_le64(out + 40, f->raw_bytes);
	/* 48..55 reserved, zero */
	put_le64(out + 56, compress_checksum(out, 56));
}

int compress_footer_decode(const uint8_t *buf, size_t len, struct compress_footer *f, char *why,
			   size_t why_len)
{
	if (len < COMPRESS_FOOTER_BYTES) {
		WHY("truncated footer (%zu of %d bytes)", len, COMPRESS_FOOTER_BYTES);
		return -EBADMSG;
	}
	if (memcmp(buf, COMPRESS_FOOTER_MAGIC, 8) != 0) {
		WHY("no index footer at the end of the file (truncated or unfinished stream)");
		return -EBADMSG;
	}
	if (!compress_meta_sum_ok(get_le64(buf + 56), compress_checksum(buf, 56))) {
		WHY("footer checksum mismatch");
		return -EBADMSG;
	}
	f->version = get_le32(buf + 8);
	f->entry_size = get_le32(buf + 12);
	f->index_offset = get_le64(buf + 16);
	f->entry_count = get_le64(buf + 24);
	f->index_checksum = get_le64(buf + 32);
	f->raw_bytes = get_le64(buf + 40);
	if (f->version < 1 || f->version > COMPRESS_VERSION) {
		WHY("unsupported footer version %u", f->version);
		return -EPROTONOSUPPORT;
	}
	if (f->entry_size != compress_entry_bytes(f->version)) {
		WHY("bad index entry size %u", f->entry_size);
		return -EBADMSG;
	}
	return 0;
}

int compress_footer_check(const struct compress_footer *f, const struct compress_header *h,
			  uint64_t file_size, char *why, size_t why_len)
{
	uint64_t max_entries, tail, esize = f->entry_size;

	if (f->version != h->version) {
		WHY("footer of version %u in a file of version %u", f->version, h->version);
		return -EBADMSG;
	}
	if (file_size < (uint64_t)h->header_size + COMPRESS_FOOTER_BYTES ||
	    file_size % h->alignment) {
		WHY("file size %llu is not a whole stream", (unsigned long long)file_size);
		return -EBADMSG;
	}
	if (f->index_offset < h->header_size || f->index_offset % h->alignment ||
	    f->index_offset > file_size - COMPRESS_FOOTER_BYTES) {
		WHY("index offset %llu outside the file", (unsigned long long)f->index_offset);
		return -EBADMSG;
	}
	max_entries = (file_size - COMPRESS_FOOTER_BYTES - f->index_offset) / esize;
	if (f->entry_count > max_entries) {
		WHY("index of %llu entries does not fit in the file",
		    (unsigned long long)f->entry_count);
		return -EBADMSG;
	}
	/* The writer pads index + footer to the next alignment and no further. */
	tail = f->entry_count * esize + COMPRESS_FOOTER_BYTES;
	if (file_size - f->index_offset != compress_align_up(tail, h->alignment)) {
		WHY("index at %llu does not end the file", (unsigned long long)f->index_offset);
		return -EBADMSG;
	}
	return 0;
}

unsigned int compress_entry_bytes(uint32_t version)
{
	return version == 1 ? COMPRESS_ENTRY_BYTES_V1 : version == 2 ? COMPRESS_ENTRY_BYTES : 0;
}

void compress_entry_encode(const struct compress_chunk_info *e, uint8_t out[COMPRESS_ENTRY_BYTES])
{
	bool ref = e->codec == COMPRESS_CODEC_REF;

	memset(out, 0, COMPRESS_ENTRY_BYTES);
	put_le64(out, e->tag);
	put_le64(out + 8, e->offset);
	put_le64(out + 16, ref ? e->src_offset : e->file_offset);
	put_le32(out + 24, e->raw_len);
	put_le32(out + 28, e->stored_len);
	out[32] = (uint8_t)e->codec;
	out[33] = (uint8_t)e->filter;
	if (ref) {
		out[34] = (uint8_t)e->source;
		out[35] = (uint8_t)(e->source >> 8);
		put_le64(out + 56, e->src_tag);
	}
	/* 36..39 reserved, zero */
	put_le64(out + 40, e->hash.lo);
	put_le64(out + 48, e->hash.hi);
}

/* The fields both versions keep in the same place (FORMAT.md, "Index entry"). */
static void entry_decode_common(const uint8_t *buf, struct compress_chunk_info *e)
{
	memset(e, 0, sizeof(*e));
	e->tag = get_le64(buf);
	e->offset = get_le64(buf + 8);
	e->file_offset = get_le64(buf + 16);
	e->raw_len = get_le32(buf + 24);
	e->stored_len = get_le32(buf + 28);
	e->codec = buf[32];
	e->filter = buf[33];
	e->hash.lo = get_le64(buf + 40);
}

/* Version 1 entries: 48 bytes, a CRC32C at 40 and no references. */
static int entry_decode_v1(const uint8_t *buf, struct compress_chunk_info *e, char *why,
			   size_t why_len)
{
	entry_decode_common(buf, e);
	if (buf[34] | buf[35] | get_le32(buf + 36)) {
		WHY("reserved bytes set");
		return -EBADMSG;
	}
	if (e->codec == COMPRESS_CODEC_REF) {
		WHY("reference in a version 1 file");
		return -EBADMSG;
	}
	return 0;
}

static int entry_decode_v2(const uint8_t *buf, struct compress_chunk_info *e, char *why,
			   size_t why_len)
{
	entry_decode_common(buf, e);
	e->hash.hi = get_le64(buf + 48);
	if (get_le32(buf + 36)) {
		WHY("reserved bytes set");
		return -EBADMSG;
	}
	if (e->codec == COMPRESS_CODEC_REF) {
		/* offset 16 holds the source offset: a reference stores nothing */
		e->src_offset = e->file_offset;
		e->file_offset = 0;
		e->source = (uint16_t)(buf[34] | buf[35] << 8);
		e->src_tag = get_le64(buf + 56);
	} else if (buf[34] | buf[35] || get_le64(buf + 56)) {
		WHY("reference fields set in a stored chunk");
		return -EBADMSG;
	}
	return 0;
}

int compress_entry_decode(const uint8_t *buf, const struct compress_header *h, uint64_t data_end,
			  struct compress_chunk_info *e, char *why, size_t why_len)
{
	int ret = h->version == 1 ? entry_decode_v1(buf, e, why, why_len)
				  : entry_decode_v2(buf, e, why, why_len);

	if (ret < 0)
		return ret;
	if (e->raw_len == 0 || e->raw_len > h->chunk_size) {
		WHY("raw length %u outside 1..%u", e->raw_len, h->chunk_size);
		return -EBADMSG;
	}
	if (e->offset > UINT64_MAX - e->raw_len) {
		WHY("object offset %llu overflows", (unsigned long long)e->offset);
		return -EBADMSG;
	}
	if ((unsigned int)e->filter >= COMPRESS_FILTER_COUNT) {
		WHY("unknown filter %u", (unsigned int)e->filter);
		return -EBADMSG;
	}
	switch (e->codec) {
	case COMPRESS_CODEC_ZERO:
		if (e->stored_len || e->file_offset || e->hash.lo || e->hash.hi || e->filter) {
			WHY("zero chunk with stored data");
			return -EBADMSG;
		}
		return 0;
	case COMPRESS_CODEC_REF:
		if (e->stored_len || e->filter) {
			WHY("reference with stored data");
			return -EBADMSG;
		}
		if (e->src_offset > UINT64_MAX - e->raw_len) {
			WHY("source offset %llu overflows", (unsigned long long)e->src_offset);
			return -EBADMSG;
		}
		return 0;
	case COMPRESS_CODEC_RAW:
		if (e->stored_len != e->raw_len || e->filter) {
			WHY("raw chunk with stored length %u for %u bytes", e->stored_len,
			    e->raw_len);
			return -EBADMSG;
		}
		break;
	case COMPRESS_CODEC_PLANES:
		if (e->filter == COMPRESS_FILTER_NONE) {
			WHY("planes chunk without a filter");
			return -EBADMSG;
		}
		__attribute__((fallthrough)); /* the same length rules as zstd */
	case COMPRESS_CODEC_ZSTD:
		if (e->stored_len == 0 || e->stored_len >= e->raw_len) {
			WHY("zstd chunk with stored length %u for %u bytes", e->stored_len,
			    e->raw_len);
			return -EBADMSG;
		}
		break;
	default:
		WHY("unknown codec %u", (unsigned int)e->codec);
		return -EBADMSG;
	}
	if (e->file_offset < h->header_size || e->file_offset % h->alignment ||
	    e->file_offset > data_end || data_end - e->file_offset < e->stored_len) {
		WHY("stored bytes at %llu+%u outside the data area",
		    (unsigned long long)e->file_offset, e->stored_len);
		return -EBADMSG;
	}
	return 0;
}
