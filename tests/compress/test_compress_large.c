/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A 256 MiB stream through default options: 4 MiB chunks, all CPUs, O_DIRECT.
 * A 32 MiB VRAM-like source is pushed eight times as objects at offsets past
 * 4 GiB, in pieces bigger than a chunk, and read back through a small ring of
 * buffers, in parallel, chunk by chunk, checking every byte.
 * Usage: test_compress_large [folder] (default /tmp).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress.h"
#include "test_common.h"
#include "test_compress_data.h"

#define SRC_BYTES (32ull << 20)
#define COPIES	  8
#define BASE	  (5ull << 30) /* offsets above 4 GiB: 64-bit all the way */

struct slots {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int busy;
	unsigned int returned;
};

static void slot_done(void *cookie, int status)
{
	struct slots *s = cookie;

	pthread_mutex_lock(&s->lock);
	s->busy--;
	s->returned++;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	CHECK_EQ_INT(status, 0);
}

int main(int argc, char **argv)
{
	char path[300];
	uint8_t *src = malloc(SRC_BYTES);
	struct compress_writer *w;
	struct compress_reader *r;
	struct compress_stats st, rst;
	struct compress_err err;
	struct slots s = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
	enum { NBUF = 6 };
	uint8_t *bufs[NBUF];
	uint64_t n, checked = 0;

	snprintf(path, sizeof(path), "%s/large-%d.vrs", argc > 1 ? argv[1] : "/tmp", getpid());
	td_fill(TD_MIXED, src, SRC_BYTES, 42);
	CHECK_EQ_INT(compress_writer_new(path, NULL, &w, &err), 0);
	for (int c = 0; c < COPIES; c++)
		for (uint64_t pos = 0; pos < SRC_BYTES; pos += 10 << 20) {
			uint64_t len = SRC_BYTES - pos < (10 << 20) ? SRC_BYTES - pos : 10 << 20;

			pthread_mutex_lock(&s.lock);
			s.busy++;
			pthread_mutex_unlock(&s.lock);
			CHECK_EQ_INT(compress_writer_push(w, src + pos, len, 1000 + c, BASE + pos,
							  slot_done, &s),
				     0);
		}
	CHECK_EQ_INT(compress_writer_finish(w, &st, &err), 0);
	compress_writer_free(w);
	CHECK_EQ_INT(s.busy, 0);
	CHECK_EQ_INT(st.raw_bytes, COPIES * SRC_BYTES);
	/* 10+10+10+2 MiB pieces split at the 4 MiB chunk size: 3 x (4 + 4 + 2) + 2 */
	CHECK_EQ_INT(st.chunk_count, COPIES * 10);
	CHECK(st.chunks[COMPRESS_CODEC_ZSTD] > 0);
	CHECK(st.stored_bytes < st.raw_bytes);
	printf("wrote %llu bytes as %llu (zero %llu raw %llu zstd %llu chunks), direct %d fixed "
	       "%d\n",
	       (unsigned long long)st.raw_bytes, (unsigned long long)st.file_bytes,
	       (unsigned long long)st.chunks[0], (unsigned long long)st.chunks[1],
	       (unsigned long long)st.chunks[2], st.direct_io, st.registered_buffers);

	CHECK_EQ_INT(compress_reader_open(path, NULL, &r, &err), 0);
	n = compress_reader_chunk_count(r);
	for (int i = 0; i < NBUF; i++)
		CHECK(posix_memalign((void **)&bufs[i], 4096, 4 << 20) == 0);
	/* Groups of NBUF chunks in parallel, then compare. */
	for (uint64_t i = 0; i < n; i += NBUF) {
		for (uint64_t k = 0; k < NBUF && i + k < n; k++) {
			pthread_mutex_lock(&s.lock);
			s.busy++;
			pthread_mutex_unlock(&s.lock);
			CHECK_EQ_INT(
				compress_reader_read(r, i + k, bufs[k], 4 << 20, slot_done, &s), 0);
		}
		CHECK_EQ_INT(compress_reader_wait(r, &err), 0);
		for (uint64_t k = 0; k < NBUF && i + k < n; k++) {
			struct compress_chunk_info ci;

			compress_reader_chunk(r, i + k, &ci);
			CHECK(ci.tag >= 1000 && ci.tag < 1000 + COPIES && ci.offset >= BASE);
			if (ci.offset < BASE || ci.offset - BASE + ci.raw_len > SRC_BYTES)
				continue;
			CHECK(memcmp(bufs[k], src + (ci.offset - BASE), ci.raw_len) == 0);
			checked += ci.raw_len;
		}
	}
	CHECK_EQ_INT(checked, COPIES * SRC_BYTES);
	compress_reader_stats(r, &rst);
	CHECK_EQ_INT(rst.raw_bytes, COPIES * SRC_BYTES);
	compress_reader_free(r);
	unlink(path);
	for (int i = 0; i < NBUF; i++)
		free(bufs[i]);
	free(src);
	return test_finish("compress_large");
}
