/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The content table of deduplication: (hash, length) -> the chunk that
 * stores those bytes, as (source number, tag, offset). Writers of one image
 * share it, so a chunk already stored by any of them (or by a parent image,
 * entered with compress_dedup_add_reader()) is written as a reference.
 *
 * Open addressing with linear probing on the hash's low bits (the hash is
 * uniform, so no mixing is needed), grown at half full; one mutex, taken
 * once per stored chunk (MiB of data), is nowhere near contended.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "compress_internal.h"

struct dedup_slot {
	struct compress_hash hash;
	uint64_t tag, offset;
	uint32_t raw_len; /* 0: empty slot (no chunk has 0 bytes) */
	uint16_t source;
};

struct compress_dedup {
	pthread_mutex_t lock;
	struct dedup_slot *slots;
	uint64_t mask; /* slots - 1, a power of two minus one */
	uint64_t count;
	uint64_t referenced[65536 / 64]; /* a bit per source a reference was made to */
};

int compress_dedup_new(struct compress_dedup **out)
{
	struct compress_dedup *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->mask = 1023;
	d->slots = calloc(d->mask + 1, sizeof(*d->slots));
	if (!d->slots) {
		free(d);
		return -ENOMEM;
	}
	pthread_mutex_init(&d->lock, NULL);
	*out = d;
	return 0;
}

void compress_dedup_free(struct compress_dedup *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->lock);
	free(d->slots);
	free(d);
}

uint64_t compress_dedup_count(const struct compress_dedup *d)
{
	uint64_t n;

	pthread_mutex_lock((pthread_mutex_t *)&d->lock);
	n = d->count;
	pthread_mutex_unlock((pthread_mutex_t *)&d->lock);
	return n;
}

bool compress_dedup_referenced(const struct compress_dedup *d, uint16_t source)
{
	bool b;

	pthread_mutex_lock((pthread_mutex_t *)&d->lock);
	b = d->referenced[source / 64] >> (source % 64) & 1;
	pthread_mutex_unlock((pthread_mutex_t *)&d->lock);
	return b;
}

static struct dedup_slot *dedup_find(struct dedup_slot *slots, uint64_t mask,
				     struct compress_hash h, uint32_t raw_len)
{
	for (uint64_t i = h.lo & mask;; i = (i + 1) & mask) {
		struct dedup_slot *s = &slots[i];

		if (!s->raw_len || (s->raw_len == raw_len && compress_hash_eq(s->hash, h)))
			return s;
	}
}

/* Doubles the table; on allocation failure the table stays as it is (and fuller). */
static void dedup_grow(struct compress_dedup *d)
{
	uint64_t mask = d->mask * 2 + 1;
	struct dedup_slot *slots = calloc(mask + 1, sizeof(*slots));

	if (!slots)
		return;
	for (uint64_t i = 0; i <= d->mask; i++)
		if (d->slots[i].raw_len)
			*dedup_find(slots, mask, d->slots[i].hash, d->slots[i].raw_len) =
				d->slots[i];
	free(d->slots);
	d->slots = slots;
	d->mask = mask;
}

/* Enters (hash, len) -> (source, tag, offset) unless present (then: its slot). */
static struct dedup_slot *dedup_enter_locked(struct compress_dedup *d, struct compress_hash h,
					     uint32_t raw_len, uint16_t source, uint64_t tag,
					     uint64_t offset, bool *existed)
{
	struct dedup_slot *s = dedup_find(d->slots, d->mask, h, raw_len);

	*existed = s->raw_len != 0;
	if (*existed)
		return s;
	/* Never full: past half the table grows, and if growing fails the
	 * chunk is simply not entered once only one empty slot is left. */
	if (d->count + 2 > d->mask) {
		*existed = false;
		return NULL;
	}
	*s = (struct dedup_slot){
		.hash = h, .tag = tag, .offset = offset, .raw_len = raw_len, .source = source
	};
	if (++d->count > d->mask / 2)
		dedup_grow(d); /* moves the slots: nothing to return */
	return NULL;
}

bool compress_dedup_claim(struct compress_dedup *d, uint16_t source, struct compress_chunk_info *e)
{
	struct dedup_slot *s, held = { 0 };
	bool existed;

	pthread_mutex_lock(&d->lock);
	s = dedup_enter_locked(d, e->hash, e->raw_len, source, e->tag, e->offset, &existed);
	if (existed) {
		held = *s;
		d->referenced[held.source / 64] |= 1ull << (held.source % 64);
	}
	pthread_mutex_unlock(&d->lock);
	if (!existed)
		return false;
	e->codec = COMPRESS_CODEC_REF;
	e->filter = COMPRESS_FILTER_NONE;
	e->stored_len = 0;
	e->file_offset = 0;
	e->source = held.source;
	e->src_tag = held.tag;
	e->src_offset = held.offset;
	return true;
}

int compress_dedup_add_reader(struct compress_dedup *d, const struct compress_reader *r,
			      uint16_t source, const uint16_t *ref_map, unsigned int nref_map)
{
	uint64_t n = compress_reader_chunk_count(r);
	struct compress_chunk_info e;
	bool existed;

	if (compress_reader_version(r) < 2)
		return -EPROTONOSUPPORT;
	pthread_mutex_lock(&d->lock);
	for (uint64_t i = 0; i < n; i++) {
		uint16_t src = source;
		uint64_t tag, off;

		compress_reader_chunk(r, i, &e);
		if (e.codec == COMPRESS_CODEC_ZERO)
			continue;
		tag = e.tag;
		off = e.offset;
		if (e.codec == COMPRESS_CODEC_REF) {
			if (e.source >= nref_map || ref_map[e.source] == UINT16_MAX)
				continue;
			src = ref_map[e.source];
			tag = e.src_tag;
			off = e.src_offset;
		}
		dedup_enter_locked(d, e.hash, e.raw_len, src, tag, off, &existed);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}
