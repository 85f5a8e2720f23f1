/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pure parts of compress/: CRC32C against reference values, the byte-group
 * filter, and encode/decode of header, footer and index entries including
 * their rejection of damaged fields.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "compress_internal.h"
#include "test_common.h"

static uint8_t vec[2048];

/* CRC32C values of RFC 3720 appendix B.4, and "123456789" (the CRC catalogue's check value). */
static void test_checksum(void)
{
	uint8_t buf[32], big[70000];

	CHECK(compress_checksum("", 0) == 0);
	CHECK(compress_checksum("123456789", 9) == 0xE3069283u);
	memset(buf, 0, 32);
	CHECK(compress_checksum(buf, 32) == 0x8A9136AAu);
	memset(buf, 0xff, 32);
	CHECK(compress_checksum(buf, 32) == 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	CHECK(compress_checksum(buf, 32) == 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	CHECK(compress_checksum(buf, 32) == 0x113FDB5Cu);

	/* EXPECT: the 3-stream SSE4.2 path equals the byte table for every length and offset,
	 * and continuing a CRC equals one pass */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 131 + (i >> 7));
	for (size_t len = 0; len < sizeof(big) - 8; len = len < 64 ? len + 1 : len * 3 / 2 + 7) {
		for (size_t off = 0; off < 8; off += 3) {
			uint32_t hw = compress_crc32c(0, big + off, len);

			CHECK(hw == compress_crc32c_sw(0, big + off, len));
			CHECK(hw == compress_crc32c(compress_crc32c(0, big + off, len / 3),
						    big + off + len / 3, len - len / 3));
		}
	}
}

/* EXPECT: apply then undo gives the input back for every length and element size. */
static void test_filter(void)
{
	uint8_t src[301], mid[301], back[301];

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	for (int f = 0; f < COMPRESS_FILTER_COUNT; f++) {
		for (size_t len = 0; len <= sizeof(src); len++) {
			compress_filter_apply(f, src, mid, len);
			compress_filter_undo(f, mid, back, len);
			CHECK(memcmp(src, back, len) == 0);
		}
	}
	/* bytegroup2 of 01 02 03 04 05 is 01 03 02 04 05 */
	compress_filter_apply(COMPRESS_FILTER_BYTEGROUP2, "\1\2\3\4\5", mid, 5);
	CHECK(memcmp(mid, "\1\3\2\4\5", 5) == 0);
	compress_filter_apply(COMPRESS_FILTER_BYTEGROUP4, "\1\2\3\4\5\6\7\10\11", mid, 9);
	CHECK(memcmp(mid, "\1\5\2\6\3\7\4\10\11", 9) == 0);
	CHECK(compress_is_zero(vec, 0));
	memset(back, 0, sizeof(back));
	CHECK(compress_is_zero(back, sizeof(back)));
	back[300] = 1;
	CHECK(!compress_is_zero(back, sizeof(back)));
}

static void test_header(void)
{
	struct compress_header h = {
		.version = 1, .header_size = 4096, .chunk_size = 4 << 20, .alignment = 4096,
		.level = -5, .filter = 1, .checksum_algo = 1,
	}, d;
	uint8_t buf[COMPRESS_HEADER_BYTES];
	char why[128];

	compress_header_encode(&h, buf);
	CHECK_EQ_INT(compress_header_decode(buf, sizeof(buf), &d, why, sizeof(why)), 0);
	CHECK(memcmp(&h, &d, sizeof(h)) == 0);
	CHECK_EQ_INT(compress_header_decode(buf, 10, &d, why, sizeof(why)), -EBADMSG);
	/* EXPECT: every single-bit flip of the encoded header is rejected. */
	for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
		buf[bit / 8] ^= 1u << (bit % 8);
		CHECK(compress_header_decode(buf, sizeof(buf), &d, why, sizeof(why)) < 0);
		buf[bit / 8] ^= 1u << (bit % 8);
	}
	memcpy(buf, "NOTOURS!", 8);
	CHECK_EQ_INT(compress_header_decode(buf, sizeof(buf), &d, why, sizeof(why)), -EBADMSG);
	CHECK(strstr(why, "magic") != NULL);
	/* Version 2 is read with XXH3-128 hashes, not with version 1's CRC32C. */
	h.version = 2;
	compress_header_encode(&h, buf);
	CHECK_EQ_INT(compress_header_decode(buf, sizeof(buf), &d, why, sizeof(why)), -EBADMSG);
	h.checksum_algo = 2;
	compress_header_encode(&h, buf);
	CHECK_EQ_INT(compress_header_decode(buf, sizeof(buf), &d, why, sizeof(why)), 0);
	/* A well-formed header of version 3 is refused as unsupported. */
	h.version = 3;
	compress_header_encode(&h, buf);
	CHECK_EQ_INT(compress_header_decode(buf, sizeof(buf), &d, why, sizeof(why)),
		     -EPROTONOSUPPORT);
	h.version = 1;
	h.checksum_algo = 1;
	h.chunk_size = 4097;
	compress_header_encode(&h, buf);
	CHECK_EQ_INT(compress_header_decode(buf, sizeof(buf), &d, why, sizeof(why)), -EBADMSG);
}

static bool same_entry(const struct compress_chunk_info *a, const struct compress_chunk_info *b)
{
	return a->tag == b->tag && a->offset == b->offset && a->file_offset == b->file_offset &&
	       a->raw_len == b->raw_len && a->stored_len == b->stored_len &&
	       a->codec == b->codec && a->filter == b->filter &&
	       compress_hash_eq(a->hash, b->hash) && a->source == b->source &&
	       a->src_tag == b->src_tag && a->src_offset == b->src_offset;
}

static void test_footer_and_entries(void)
{
	struct compress_header h = {
		.version = 2,
		.header_size = 4096,
		.chunk_size = 1 << 20,
		.alignment = 4096,
		.checksum_algo = 2,
	};
	struct compress_footer f = {
		.version = 2, .entry_size = 64, .index_offset = 3 * 4096, .entry_count = 2,
		.index_checksum = 0x1234, .raw_bytes = 99,
	}, fd;
	struct compress_chunk_info e = {
		.tag = 7, .offset = 1 << 20, .file_offset = 4096, .raw_len = 1 << 20,
		.stored_len = 5000, .codec = COMPRESS_CODEC_ZSTD, .filter = 1,
		.hash = { .lo = 42, .hi = 43 },
	}, ed;
	uint8_t fb[COMPRESS_FOOTER_BYTES], eb[COMPRESS_ENTRY_BYTES];
	char why[128];

	compress_footer_encode(&f, fb);
	CHECK_EQ_INT(compress_footer_decode(fb, sizeof(fb), &fd, why, sizeof(why)), 0);
	CHECK(memcmp(&f, &fd, sizeof(f)) == 0);
	CHECK_EQ_INT(compress_footer_check(&fd, &h, 4 * 4096, why, sizeof(why)), 0);
	/* EXPECT: an index that does not end the file, or a file size off the grid, is refused. */
	CHECK(compress_footer_check(&fd, &h, 5 * 4096, why, sizeof(why)) < 0);
	CHECK(compress_footer_check(&fd, &h, 4 * 4096 - 1, why, sizeof(why)) < 0);
	fd.entry_count = UINT64_MAX / 8;
	CHECK(compress_footer_check(&fd, &h, 4 * 4096, why, sizeof(why)) < 0);
	for (size_t bit = 0; bit < sizeof(fb) * 8; bit++) {
		fb[bit / 8] ^= 1u << (bit % 8);
		CHECK(compress_footer_decode(fb, sizeof(fb), &fd, why, sizeof(why)) < 0);
		fb[bit / 8] ^= 1u << (bit % 8);
	}

	compress_entry_encode(&e, eb);
	CHECK_EQ_INT(compress_entry_decode(eb, &h, 3 * 4096, &ed, why, sizeof(why)), 0);
	CHECK(same_entry(&e, &ed));
	/* stored bytes past the data area */
	CHECK(compress_entry_decode(eb, &h, 4096 + 4999, &ed, why, sizeof(why)) < 0);
	e.stored_len = e.raw_len; /* zstd that saves nothing is not written */
	compress_entry_encode(&e, eb);
	CHECK(compress_entry_decode(eb, &h, 1 << 30, &ed, why, sizeof(why)) < 0);
	e.codec = COMPRESS_CODEC_ZERO;
	compress_entry_encode(&e, eb);
	CHECK(compress_entry_decode(eb, &h, 1 << 30, &ed, why, sizeof(why)) < 0);
	e = (struct compress_chunk_info){ .tag = 1, .raw_len = 10, .codec = COMPRESS_CODEC_ZERO };
	compress_entry_encode(&e, eb);
	CHECK_EQ_INT(compress_entry_decode(eb, &h, 4096, &ed, why, sizeof(why)), 0);
	eb[32] = 9; /* unknown codec */
	CHECK(compress_entry_decode(eb, &h, 4096, &ed, why, sizeof(why)) < 0);
	CHECK(strstr(why, "codec") != NULL);
	e.raw_len = (1 << 20) + 1; /* larger than a chunk */
	compress_entry_encode(&e, eb);
	CHECK(compress_entry_decode(eb, &h, 4096, &ed, why, sizeof(why)) < 0);

	/* EXPECT: a reference round-trips with its source, tag and offset. */
	e = (struct compress_chunk_info){
		.tag = 3, .offset = 8192, .raw_len = 4096, .codec = COMPRESS_CODEC_REF,
		.hash = { .lo = 5, .hi = 6 }, .source = 513, .src_tag = 77, .src_offset = 1 << 30,
	};
	compress_entry_encode(&e, eb);
	CHECK_EQ_INT(compress_entry_decode(eb, &h, 4096, &ed, why, sizeof(why)), 0);
	CHECK(same_entry(&e, &ed));
	/* EXPECT: a reference with stored bytes, or a stored chunk with reference fields, is refused. */
	e.stored_len = 10;
	compress_entry_encode(&e, eb);
	CHECK(compress_entry_decode(eb, &h, 1 << 30, &ed, why, sizeof(why)) < 0);
	e.stored_len = 0;
	compress_entry_encode(&e, eb);
	eb[32] = COMPRESS_CODEC_RAW;
	CHECK(compress_entry_decode(eb, &h, 1 << 30, &ed, why, sizeof(why)) < 0);
	CHECK(strstr(why, "reference") != NULL);

	/* EXPECT: version 1 entries (48 bytes, CRC32C at 40) still decode, with no references. */
	h.version = 1;
	h.checksum_algo = 1;
	memset(eb, 0, sizeof(eb));
	eb[0] = 9;				   /* tag */
	eb[17] = 0x10;				   /* file offset 4096 */
	eb[25] = 0x10;				   /* raw_len 4096 */
	eb[29] = 0x10;				   /* stored_len 4096 */
	eb[32] = COMPRESS_CODEC_RAW;
	eb[40] = 0xab;				   /* CRC32C */
	CHECK_EQ_INT(compress_entry_decode(eb, &h, 1 << 20, &ed, why, sizeof(why)), 0);
	CHECK(ed.tag == 9 && ed.file_offset == 4096 && ed.raw_len == 4096 && ed.hash.lo == 0xab &&
	      ed.hash.hi == 0);
	eb[32] = COMPRESS_CODEC_REF;
	CHECK(compress_entry_decode(eb, &h, 1 << 20, &ed, why, sizeof(why)) < 0);
}

static void test_parse(void)
{
	int level;
	enum compress_filter f;

	CHECK_EQ_INT(compress_level_parse("off", &level), 0);
	CHECK(level == COMPRESS_LEVEL_OFF);
	CHECK_EQ_INT(compress_level_parse("-7", &level), 0);
	CHECK_EQ_INT(level, -7);
	CHECK(compress_level_parse("23", &level) < 0);
	CHECK(compress_level_parse("3x", &level) < 0);
	CHECK_EQ_INT(compress_filter_parse("bytegroup2", &f), 0);
	CHECK_EQ_INT(f, COMPRESS_FILTER_BYTEGROUP2);
	CHECK(compress_filter_parse("3", &f) < 0);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(vec); i++)
		vec[i] = (uint8_t)(i * 31 + (i >> 8));
	test_checksum();
	test_filter();
	test_header();
	test_footer_and_entries();
	test_parse();
	return test_finish("compress_format");
}
