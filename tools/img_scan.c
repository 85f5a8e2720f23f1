// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Parallel chunk scans: many reads in flight on the reader's io_uring and
 * workers (which decompress and check each chunk's checksum), results handed to
 * the scanning thread in completion order.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "img.h"

struct scan_slot {
	struct scan_state *s;
	uint8_t *buf;
	uint64_t chunk;
	struct compress_chunk_info ci;
	int status;
};

/* lock guards ready/nready; the rest belongs to the scanning thread. */
struct scan_state {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct scan_slot **ready;
	unsigned int nready;
};

/* Reader thread: hand the slot back to the scanning thread. */
static void scan_done(void *cookie, int status)
{
	struct scan_slot *slot = cookie;
	struct scan_state *s = slot->s;

	pthread_mutex_lock(&s->lock);
	slot->status = status;
	s->ready[s->nready++] = slot;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

int img_scan(struct compress_reader *r, unsigned int depth, img_scan_fn fn, void *ctx,
	     struct img_progress *prog)
{
	uint64_t n = compress_reader_chunk_count(r), next = 0, inflight = 0;
	size_t bufsize = compress_reader_chunk_size(r);
	struct scan_state s = { .lock = PTHREAD_MUTEX_INITIALIZER,
				.cond = PTHREAD_COND_INITIALIZER };
	struct scan_slot *slots, **free_slots, **batch;
	unsigned int nfree = 0;
	struct compress_err cerr;
	int ret = 0;

	if (depth < 1)
		depth = 1;
	slots = calloc(depth, sizeof(*slots));
	free_slots = calloc(depth, sizeof(*free_slots));
	batch = calloc(depth, sizeof(*batch));
	s.ready = calloc(depth, sizeof(*s.ready));
	if (!slots || !free_slots || !batch || !s.ready) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < depth; i++) {
		slots[i].s = &s;
		slots[i].buf = aligned_alloc(4096, (bufsize + 4095) / 4096 * 4096);
		if (!slots[i].buf) {
			ret = -ENOMEM;
			goto out;
		}
		free_slots[nfree++] = &slots[i];
	}

	while ((next < n && !ret) || inflight) {
		unsigned int nb;

		while (next < n && !ret && nfree) {
			struct scan_slot *slot = free_slots[--nfree];
			int rr;

			slot->chunk = next;
			compress_reader_chunk(r, next, &slot->ci);
			inflight++;
			rr = compress_reader_read(r, next, slot->buf, bufsize, scan_done, slot);
			if (rr < 0)
				scan_done(slot, rr);
			next++;
		}
		pthread_mutex_lock(&s.lock);
		while (!s.nready)
			pthread_cond_wait(&s.cond, &s.lock);
		nb = s.nready;
		memcpy(batch, s.ready, nb * sizeof(*batch));
		s.nready = 0;
		pthread_mutex_unlock(&s.lock);
		for (unsigned int i = 0; i < nb; i++) {
			struct scan_slot *slot = batch[i];

			if (fn && !ret)
				ret = fn(ctx, slot->chunk, &slot->ci, slot->buf, slot->status);
			img_progress_add(prog, slot->ci.raw_len);
			free_slots[nfree++] = slot;
			inflight--;
		}
	}
	/* Per-chunk statuses went to FN; clear the reader's kept error. */
	compress_reader_wait(r, &cerr);
out:
	if (slots)
		for (unsigned int i = 0; i < depth; i++)
			free(slots[i].buf);
	free(slots);
	free(free_slots);
	free(batch);
	free(s.ready);
	return ret;
}

int img_read_range_start(struct compress_reader *r, uint64_t tag, uint64_t offset, uint64_t len,
			 void *dst, void *scratch, struct compress_err *err)
{
	uint64_t pos = offset, end = offset + len;
	int ret = 0;

	while (pos < end && !ret) {
		int64_t c = compress_reader_find(r, tag, pos);
		struct compress_chunk_info ci;

		if (c < 0) {
			snprintf(err->msg, sizeof(err->msg),
				 "no chunk holds object %llu at offset %llu (damaged image: run "
				 "verify)",
				 (unsigned long long)tag, (unsigned long long)pos);
			return -ENOENT;
		}
		compress_reader_chunk(r, (uint64_t)c, &ci);
		if (ci.offset >= offset && ci.offset + ci.raw_len <= end) {
			ret = compress_reader_read(r, (uint64_t)c,
						   (uint8_t *)dst + (ci.offset - offset),
						   ci.raw_len, NULL, NULL);
			if (ret)
				snprintf(err->msg, sizeof(err->msg), "chunk %lld: bad read request",
					 (long long)c);
		} else {
			/* The chunk sticks out of the range: read it whole, keep the overlap. */
			uint64_t to = ci.offset + ci.raw_len < end ? ci.offset + ci.raw_len : end;

			ret = compress_reader_read_sync(r, (uint64_t)c, scratch,
							compress_reader_chunk_size(r), err);
			if (!ret)
				memcpy((uint8_t *)dst + (pos - offset),
				       (uint8_t *)scratch + (pos - ci.offset), to - pos);
		}
		pos = ci.offset + ci.raw_len;
	}
	return ret;
}

int img_read_range(struct compress_reader *r, uint64_t tag, uint64_t offset, uint64_t len,
		   void *dst, struct compress_err *err)
{
	uint8_t *scratch = malloc(compress_reader_chunk_size(r));
	int ret, w;

	if (!scratch)
		return -ENOMEM;
	ret = img_read_range_start(r, tag, offset, len, dst, scratch, err);
	w = compress_reader_wait(r, ret ? NULL : err);
	free(scratch);
	return ret ? ret : w;
}
