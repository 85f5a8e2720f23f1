/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * compress/ writer and reader end to end, on small files in a temporary
 * folder: round trips for every codec and filter and awkward sizes, many
 * chunks through few buffers, random access by tag, every kind of damage
 * detected (bit flips, truncation, foreign files), failed streams leaving
 * nothing behind. Usage at main().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compress.h"
#include "test_compress_data.h"
#include "test_common.h"

static char dir[256];

/* Counts buffers handed back, as a caller's pool would. */
struct pool {
	pthread_mutex_t lock;
	unsigned int returned;
	int last_status;
};

static void pool_done(void *cookie, int status)
{
	struct pool *p = cookie;

	pthread_mutex_lock(&p->lock);
	p->returned++;
	if (status)
		p->last_status = status;
	pthread_mutex_unlock(&p->lock);
}

/* Push DATA[0..LEN) as pieces of PIECE bytes under TAG; returns finish()'s result. */
static int write_stream(const char *path, const struct compress_writer_opts *o, const uint8_t *data,
			uint64_t len, uint64_t piece, uint64_t tag, struct compress_stats *st)
{
	struct pool pool = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
	struct compress_writer *w;
	struct compress_err err = { "" };
	unsigned int pushed = 0;
	int ret;

	ret = compress_writer_new(path, o, &w, &err);
	if (ret < 0) {
		fprintf(stderr, "writer_new: %s\n", err.msg);
		return ret;
	}
	for (uint64_t pos = 0; pos < len || (len == 0 && pushed == 0); pos += piece) {
		uint64_t n = len - pos < piece ? len - pos : piece;

		ret = compress_writer_push(w, data + pos, n, tag, pos, pool_done, &pool);
		pushed++;
		if (ret < 0)
			break;
	}
	ret = compress_writer_finish(w, st, &err);
	if (ret < 0)
		fprintf(stderr, "finish (expected or not): %s\n", err.msg);
	compress_writer_free(w);
	/* EXPECT: every pushed buffer came back exactly once. */
	CHECK_EQ_INT(pool.returned, pushed);
	return ret;
}

/* Reads the whole stream back, in parallel, and compares with DATA (tag TAG). */
static int verify_stream(const char *path, const uint8_t *data, uint64_t len, uint64_t tag,
			 bool direct, struct compress_err *err)
{
	struct compress_reader_opts ro;
	struct compress_reader *r;
	uint64_t n, covered = 0;
	uint8_t *out;
	int ret;

	compress_reader_opts_default(&ro);
	ro.workers = 2;
	ro.queue_depth = 3;
	ro.direct_io = direct;
	ret = compress_reader_open(path, &ro, &r, err);
	if (ret < 0)
		return ret;
	/* EXPECT: a new reader has room for its whole queue: workers + staging */
	CHECK_EQ_INT(compress_reader_room(r), 5);
	n = compress_reader_chunk_count(r);
	out = malloc(len ? len : 1);
	for (uint64_t i = 0; i < n; i++) {
		struct compress_chunk_info ci;

		compress_reader_chunk(r, i, &ci);
		if (ci.tag != tag || ci.offset + ci.raw_len > len) {
			snprintf(err->msg, sizeof(err->msg), "chunk %llu out of range",
				 (unsigned long long)i);
			ret = -ERANGE;
			break;
		}
		covered += ci.raw_len;
		ret = compress_reader_read(r, i, out + ci.offset, len - ci.offset, NULL, NULL);
		if (ret < 0)
			break;
	}
	if (ret == 0)
		ret = compress_reader_wait(r, err);
	else
		compress_reader_wait(r, NULL);
	/* EXPECT: every read done, failed or not, gives its room back (a reader
	 * stays usable after a failed read) */
	CHECK_EQ_INT(compress_reader_room(r), 5);
	if (ret == 0 && (covered != len || (len && memcmp(out, data, len)))) {
		snprintf(err->msg, sizeof(err->msg),
			 "data read back differs (covered %llu of %llu)",
			 (unsigned long long)covered, (unsigned long long)len);
		ret = -EILSEQ; /* wrong data: the one outcome a test must never accept */
	}
	free(out);
	compress_reader_free(r);
	return ret;
}

static void opts_small(struct compress_writer_opts *o, int level, enum compress_filter f)
{
	compress_writer_opts_default(o);
	o->level = level;
	o->filter = f;
	o->workers = 2;
	o->chunk_size = 64 << 10;
	o->queue_depth = 2;
}

/* EXPECT: each size, codec and filter round-trips bit-exactly. */
static void test_roundtrips(void)
{
	static const uint64_t sizes[] = { 0, 1, 4095, 65536, 65537, 1000003 };
	static const int levels[] = { COMPRESS_LEVEL_OFF, -100, 1 };
	char path[300];
	size_t maxlen = 1000003 + 1;
	uint8_t *data = malloc(maxlen);

	snprintf(path, sizeof(path), "%s/rt.vrs", dir);
	for (int kind = 0; kind < TD_KINDS; kind++) {
		td_fill(kind, data, maxlen, 1234 + kind);
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
				for (int f = 0; f < COMPRESS_FILTER_COUNT; f++) {
					/* level off ignores the filter: one pass is enough */
					if (levels[l] == COMPRESS_LEVEL_OFF && f)
						continue;
					struct compress_writer_opts o;
					struct compress_stats st;
					struct compress_err err = { "" };
					/* odd sources exercise the O_DIRECT copy path */
					const uint8_t *src = data + (s & 1);
					bool direct = (l + f) & 1;
					int ret;

					opts_small(&o, levels[l], f);
					o.direct_io = direct;
					ret = write_stream(path, &o, src, sizes[s], 40000, 5, &st);
					CHECK_EQ_INT(ret, 0);
					CHECK_EQ_INT(st.raw_bytes, sizes[s]);
					/* pieces of 40000 bytes fit in one 64 KiB chunk each */
					CHECK_EQ_INT(st.chunk_count, (sizes[s] + 39999) / 40000);
					ret = verify_stream(path, src, sizes[s], 5, !direct, &err);
					if (ret)
						fprintf(stderr,
							"kind %d size %llu level %d filter %d: "
							"%s\n",
							kind, (unsigned long long)sizes[s],
							levels[l], f, err.msg);
					CHECK_EQ_INT(ret, 0);
					if (kind == TD_ZERO)
						CHECK_EQ_INT(st.chunks[COMPRESS_CODEC_ZERO],
							     st.chunk_count);
					if (kind == TD_RANDOM)
						CHECK_EQ_INT(st.stored_bytes, sizes[s]);
					if (levels[l] == COMPRESS_LEVEL_OFF)
						CHECK_EQ_INT(
							st.chunks[COMPRESS_CODEC_ZSTD] +
								st.chunks[COMPRESS_CODEC_PLANES],
							0);
					/* EXPECT: filtered chunks use planes, unfiltered one frame
					 */
					CHECK_EQ_INT(st.chunks[f ? COMPRESS_CODEC_ZSTD
								 : COMPRESS_CODEC_PLANES],
						     0);
					/* EXPECT: text shrinks, to less than half at level 1
					 * without a filter (filtered streams use the planes' fast
					 * level) */
					if (kind == TD_TEXT && levels[l] != COMPRESS_LEVEL_OFF &&
					    sizes[s] >= 65536)
						CHECK(st.stored_bytes *
							      (levels[l] == 1 && !f ? 2 : 1) <
						      st.raw_bytes);
				}
			}
		}
	}
	free(data);
}

/* One run of zeros in the data of test_zero_runs(): where, and whether the
 * writer must store it as a zero entry of its own. */
struct zrun {
	uint64_t at, len;
	bool split;
};

/*
 * EXPECT: runs of zeros inside a chunk are stored as zero entries of their
 * own when they are 1 MiB or longer (on 64 KiB blocks of the chunk), not
 * when shorter; the entries tile the data in order; a chunk with more runs
 * than its pieces allow keeps the rest whole; the bytes round-trip with
 * every level, filter, alignment and O_DIRECT or not; without compression
 * the file stores exactly the data that is not in a split-out run.
 */
static void test_zero_runs(void)
{
	const uint64_t M = 1 << 20, K = 1 << 10, chunk = 4 * M;
	/* chunks: [0,4M) [4M,8M) [8M,12M) [12M,16M) [16M,16M+tail) */
	static const struct zrun runs[] = {
		{ 0, 1 << 20, true }, /* chunk start, exactly the minimum */
		{ 1536 << 10, (1 << 20) - (64 << 10), false }, /* one block short */
		{ 3 << 20, 3 << 20, true },		       /* across chunks 0 and 1 */
		{ (8 << 20) + (100 << 10), 2 << 20, true },    /* off the block grid: 1.94 MiB */
		{ (13 << 20), 3 << 20, true },		       /* to the chunk's end */
		{ 16 << 20, 12345, true }, /* the whole short tail: one zero entry */
	};
	const uint64_t len = 16 * M + 12345;
	static const int levels[] = { COMPRESS_LEVEL_OFF, -100, 1 };
	uint8_t *data = malloc(len + 1);
	char path[300];

	snprintf(path, sizeof(path), "%s/zr.vrs", dir);
	td_fill(TD_TEXT, data, len + 1, 77);
	td_fill(TD_RANDOM, data + 9 * M, 2 * M, 78);
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		memset(data + 1 + runs[i].at, 0, runs[i].len);
	for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
		for (int f = 0; f < 2; f++) {
			for (int odd = 0; odd < 2; odd++) {
				struct compress_writer_opts o;
				struct compress_reader_opts ro;
				struct compress_reader *r;
				struct compress_stats st;
				struct compress_err err = { "" };
				/* data + 1 holds the runs; data + 0 is one byte off them,
				 * so runs shrink by their first block: only check round trips */
				const uint8_t *src = data + 1 - (uint64_t)odd;
				uint64_t next = 0, zero_bytes = 0, split_bytes = 0;

				opts_small(&o, levels[l], f ? COMPRESS_FILTER_BYTEGROUP2 : 0);
				o.chunk_size = (uint32_t)chunk;
				o.direct_io = odd;
				CHECK_EQ_INT(write_stream(path, &o, src, len, len, 9, &st), 0);
				CHECK_EQ_INT(verify_stream(path, src, len, 9, !odd, &err), 0);
				if (odd)
					continue;
				compress_reader_opts_default(&ro);
				CHECK_EQ_INT(compress_reader_open(path, &ro, &r, &err), 0);
				CHECK_EQ_INT(compress_reader_chunk_count(r), st.chunk_count);
				for (uint64_t i = 0; i < compress_reader_chunk_count(r); i++) {
					struct compress_chunk_info ci;

					compress_reader_chunk(r, i, &ci);
					/* in order, no gaps, no chunk boundary crossed */
					CHECK_EQ_INT(ci.offset, next);
					CHECK(ci.offset / chunk ==
					      (ci.offset + ci.raw_len - 1) / chunk);
					next += ci.raw_len;
					if (ci.codec != COMPRESS_CODEC_ZERO)
						continue;
					zero_bytes += ci.raw_len;
					CHECK(ci.raw_len >= M || ci.raw_len == 12345);
					/* each zero entry lies in a run that must split */
					bool in_split_run = false;

					for (size_t k = 0; k < sizeof(runs) / sizeof(runs[0]); k++)
						if (ci.offset >= runs[k].at &&
						    ci.offset + ci.raw_len <=
							    runs[k].at + runs[k].len) {
							in_split_run = runs[k].split;
							break;
						}
					CHECK(in_split_run);
				}
				compress_reader_free(r);
				CHECK_EQ_INT(next, len);
				/* the runs on the 64 KiB grid of their chunk: all of 0-1M,
				 * 3-4M, 4-6M, 8M+128K to 10M+64K, 13-16M, the tail */
				split_bytes =
					1 * M + 1 * M + 2 * M + (2 * M - 64 * K) + 3 * M + 12345;
				CHECK_EQ_INT(zero_bytes, split_bytes);
				CHECK_EQ_INT(st.chunks[COMPRESS_CODEC_ZERO], 6);
				if (levels[l] == COMPRESS_LEVEL_OFF)
					CHECK_EQ_INT(st.stored_bytes, len - split_bytes);
			}
		}
	}

	/* A 32 MiB chunk of 1 MiB runs between 64 KiB of data: 31 runs, more than
	 * a chunk's pieces; the rest stays in the last piece, and all round-trips. */
	{
		const uint64_t big = 32 * M;
		uint8_t *d = malloc(big);
		struct compress_writer_opts o;
		struct compress_stats st;
		struct compress_err err = { "" };

		td_fill(TD_TEXT, d, big, 5);
		for (uint64_t at = 64 * K; at + M <= big; at += M + 64 * K)
			memset(d + at, 0, M);
		opts_small(&o, COMPRESS_LEVEL_OFF, 0);
		o.chunk_size = (uint32_t)big;
		CHECK_EQ_INT(write_stream(path, &o, d, big, big, 3, &st), 0);
		CHECK(st.chunk_count <= 16 && st.chunk_count >= 15);
		CHECK(st.chunks[COMPRESS_CODEC_ZERO] >= 7);
		CHECK_EQ_INT(verify_stream(path, d, big, 3, true, &err), 0);
		free(d);
	}
	unlink(path);
	free(data);
}

/*
 * EXPECT: with filter_auto, each chunk takes the grouping that compresses
 * it best: bf16 weights their 2-byte planes, fp32 4-byte ones, text none; at a fast
 * (negative) level nothing is filtered; all round-trips.
 */
static void test_auto_filter(void)
{
	const uint64_t M = 1 << 20, len = 16 * M;
	static const int levels[] = { 1, 3, -1 };
	uint8_t *data = malloc(len);
	char path[300];

	snprintf(path, sizeof(path), "%s/af.vrs", dir);
	td_fill(TD_BF16, data, 4 * M, 21);
	td_fill(TD_TEXT, data + 4 * M, 4 * M, 22);
	/* fp32 weights: each bf16 value widened with 16 random low mantissa bits */
	for (uint64_t i = 0; i < 4 * M; i += 2) {
		uint16_t hi;

		memcpy(&hi, data + i, 2);
		uint32_t f = (uint32_t)hi << 16 | (uint32_t)((i * 2654435761u) >> 7 & 0xffff);
		memcpy(data + 8 * M + 2 * i, &f, 4);
	}
	for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
		struct compress_writer_opts o;
		struct compress_reader_opts ro;
		struct compress_reader *r;
		struct compress_stats st;
		struct compress_err err = { "" };

		opts_small(&o, levels[l], COMPRESS_FILTER_NONE);
		o.chunk_size = 1 << 20;
		o.filter_auto = true;
		CHECK_EQ_INT(write_stream(path, &o, data, len, len, 4, &st), 0);
		CHECK_EQ_INT(verify_stream(path, data, len, 4, true, &err), 0);
		compress_reader_opts_default(&ro);
		CHECK_EQ_INT(compress_reader_open(path, &ro, &r, &err), 0);
		CHECK_EQ_INT(compress_reader_chunk_count(r), 16);
		for (uint64_t i = 0; i < compress_reader_chunk_count(r); i++) {
			struct compress_chunk_info ci;

			compress_reader_chunk(r, i, &ci);
			if (levels[l] < 0) {
				CHECK_EQ_INT(ci.filter, COMPRESS_FILTER_NONE);
				CHECK(ci.codec != COMPRESS_CODEC_PLANES);
			} else if (ci.offset < 4 * M) {
				CHECK_EQ_INT(ci.codec, COMPRESS_CODEC_PLANES);
				CHECK_EQ_INT(ci.filter, COMPRESS_FILTER_BYTEGROUP2);
			} else if (ci.offset >= 8 * M) {
				CHECK_EQ_INT(ci.codec, COMPRESS_CODEC_PLANES);
				CHECK_EQ_INT(ci.filter, COMPRESS_FILTER_BYTEGROUP4);
			} else {
				CHECK_EQ_INT(ci.codec, COMPRESS_CODEC_ZSTD);
				CHECK_EQ_INT(ci.filter, COMPRESS_FILTER_NONE);
			}
		}
		compress_reader_free(r);
	}
	unlink(path);
	free(data);
}

/* EXPECT: many chunks through one staging buffer and one worker, from several tags, are all
 * found again by (tag, offset). */
static void test_many_chunks_and_find(void)
{
	struct compress_writer_opts o;
	struct pool pool = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
	struct compress_writer *w;
	struct compress_reader *r;
	struct compress_stats st;
	struct compress_err err = { "" };
	const uint64_t len = 3 << 20;
	uint8_t *data = malloc(len), *out = malloc(64 << 10);
	char path[300];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/many.vrs", dir);
	td_fill(TD_MIXED, data, len, 99);
	opts_small(&o, 1, COMPRESS_FILTER_BYTEGROUP2);
	o.workers = 1;
	o.queue_depth = 1;
	CHECK_EQ_INT(compress_writer_new(path, &o, &w, &err), 0);
	/* EXPECT: nothing under the final name before finish() */
	CHECK(stat(path, &sb) < 0 && errno == ENOENT);
	/* tags 100..102, each a third of the data, pushed as one big buffer each */
	for (int t = 0; t < 3; t++)
		CHECK_EQ_INT(compress_writer_push(w, data + t * (len / 3), len / 3, 100 + t,
						  1ull << 40, pool_done, &pool),
			     0);
	CHECK_EQ_INT(compress_writer_finish(w, &st, &err), 0);
	compress_writer_free(w);
	CHECK_EQ_INT(pool.returned, 3);
	CHECK_EQ_INT(st.chunk_count, 48);
	CHECK(stat(path, &sb) == 0);
	/* EXPECT: the image is private (it holds GPU memory) */
	CHECK_EQ_INT(sb.st_mode & 0777, 0600);
	CHECK_EQ_INT((uint64_t)sb.st_size, st.file_bytes);

	CHECK_EQ_INT(compress_reader_open(path, NULL, &r, &err), 0);
	CHECK_EQ_INT(compress_reader_chunk_count(r), 48);
	/* EXPECT: the header gives back the writer's level and default filter */
	CHECK_EQ_INT(compress_reader_level(r), 1);
	CHECK_EQ_INT(compress_reader_filter(r), COMPRESS_FILTER_BYTEGROUP2);
	for (int t = 0; t < 3; t++) {
		for (uint64_t off = 0; off < len / 3; off += 12345) {
			int64_t i = compress_reader_find(r, 100 + t, (1ull << 40) + off);
			struct compress_chunk_info ci;

			CHECK(i >= 0);
			if (i < 0)
				continue;
			compress_reader_chunk(r, (uint64_t)i, &ci);
			CHECK_EQ_INT(ci.tag, 100 + t);
			CHECK(ci.offset <= (1ull << 40) + off &&
			      (1ull << 40) + off < ci.offset + ci.raw_len);
			CHECK_EQ_INT(compress_reader_read_sync(r, (uint64_t)i, out, 64 << 10, &err),
				     0);
			CHECK(memcmp(out, data + t * (len / 3) + (ci.offset - (1ull << 40)),
				     ci.raw_len) == 0);
		}
	}
	CHECK_EQ_INT(compress_reader_find(r, 99, 0), -ENOENT);
	CHECK_EQ_INT(compress_reader_find(r, 100, 0), -ENOENT);
	CHECK_EQ_INT(compress_reader_find(r, 102, (1ull << 40) + len / 3), -ENOENT);
	/* EXPECT: a too-small destination is refused, not overrun */
	CHECK_EQ_INT(compress_reader_read(r, 0, out, 100, NULL, NULL), -EINVAL);
	compress_reader_free(r);
	free(data);
	free(out);
}

/* A done callback that holds the reader's one worker until released. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool entered, open;
	unsigned int calls;
	int status;
};

static void gate_done(void *cookie, int status)
{
	struct gate *g = cookie;

	pthread_mutex_lock(&g->lock);
	g->calls++;
	if (status)
		g->status = status;
	g->entered = true;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

/*
 * EXPECT: compress_reader_try_read() never waits: with a slot free but the
 * one staging buffer taken (a compressed chunk needs one), it says -EAGAIN
 * and queues nothing; once the read holding it lands, the same call goes
 * through, and every chunk read that way is right. (The blocking read would
 * hang here: the plugin's one feeding thread per GPU used to stop on such a
 * reader while the others idled.)
 */
static void test_try_read(void)
{
	struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, 0, 0 };
	struct compress_reader_opts ro;
	struct compress_reader *r;
	struct compress_err err = { "" };
	const uint64_t len = 3 << 20;
	uint8_t *data = malloc(len), *out[3];
	uint64_t idx[3], found = 0, n;
	char path[300];

	snprintf(path, sizeof(path), "%s/many.vrs", dir); /* test_many_chunks_and_find's */
	td_fill(TD_MIXED, data, len, 99);
	compress_reader_opts_default(&ro);
	ro.workers = 1;
	ro.queue_depth = 1; /* one staging buffer, two slots */
	CHECK_EQ_INT(compress_reader_open(path, &ro, &r, &err), 0);
	n = compress_reader_chunk_count(r);
	for (uint64_t i = 0; i < n && found < 3; i++) {
		struct compress_chunk_info ci;

		compress_reader_chunk(r, i, &ci);
		if (ci.codec == COMPRESS_CODEC_ZSTD || ci.codec == COMPRESS_CODEC_PLANES)
			idx[found++] = i;
	}
	CHECK_EQ_INT(found, 3);
	if (found < 3) {
		compress_reader_free(r);
		free(data);
		return;
	}
	for (int k = 0; k < 3; k++)
		out[k] = calloc(1, 64 << 10);

	CHECK_EQ_INT(compress_reader_try_read(r, idx[0], out[0], 64 << 10, gate_done, &g), 0);
	pthread_mutex_lock(&g.lock);
	while (!g.entered) /* the worker is done with chunk 0 and waits in its callback */
		pthread_cond_wait(&g.cond, &g.lock);
	pthread_mutex_unlock(&g.lock);
	CHECK_EQ_INT(compress_reader_try_read(r, idx[1], out[1], 64 << 10, gate_done, &g), 0);
	CHECK_EQ_INT(compress_reader_room(r), 1);
	CHECK_EQ_INT(compress_reader_try_read(r, idx[2], out[2], 64 << 10, gate_done, &g), -EAGAIN);
	CHECK_EQ_INT(compress_reader_room(r), 1); /* nothing was queued */

	pthread_mutex_lock(&g.lock);
	g.open = true;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	CHECK_EQ_INT(compress_reader_wait(r, &err), 0);
	CHECK_EQ_INT(compress_reader_try_read(r, idx[2], out[2], 64 << 10, gate_done, &g), 0);
	CHECK_EQ_INT(compress_reader_wait(r, &err), 0);
	/* wait() returns once the slots are free; the last callback may still run */
	pthread_mutex_lock(&g.lock);
	while (g.calls < 3)
		pthread_cond_wait(&g.cond, &g.lock);
	pthread_mutex_unlock(&g.lock);
	CHECK_EQ_INT(g.status, 0);
	for (int k = 0; k < 3; k++) {
		struct compress_chunk_info ci;
		uint64_t at;

		compress_reader_chunk(r, idx[k], &ci);
		at = (ci.tag - 100) * (len / 3) + (ci.offset - (1ull << 40));
		CHECK(memcmp(out[k], data + at, ci.raw_len) == 0);
		free(out[k]);
	}
	compress_reader_free(r);
	free(data);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* EXPECT: a stream written and read under a byte-rate cap round-trips, and
 * neither direction outruns the cap (a lower bound on time: it cannot fail
 * on a slow machine); rate 0 is no cap. */
static void test_rate_cap(void)
{
	const uint64_t len = 2 << 20, rate = 8 << 20; /* 2 MiB at 8 MiB/s: >= 0.25 s */
	struct compress_writer_opts o;
	struct compress_reader_opts ro;
	struct pool pool = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
	struct compress_rate *cap, *none = (struct compress_rate *)1;
	struct compress_writer *w;
	struct compress_reader *r;
	struct compress_err err = { "" };
	uint8_t *data = malloc(len), *back = calloc(1, len);
	char path[300];
	double t0, write_s, read_s;

	CHECK_EQ_INT(compress_rate_new(0, &none), 0);
	CHECK(none == NULL);
	compress_rate_take(NULL, 1 << 30); /* no cap: returns at once */
	CHECK_EQ_INT(compress_rate_new(rate, &cap), 0);
	snprintf(path, sizeof(path), "%s/rate.vrs", dir);
	td_fill(TD_RANDOM, data, len, 5);
	opts_small(&o, COMPRESS_LEVEL_OFF, COMPRESS_FILTER_NONE);
	o.rate = cap;
	t0 = mono_s();
	CHECK_EQ_INT(compress_writer_new(path, &o, &w, &err), 0);
	CHECK_EQ_INT(compress_writer_push(w, data, len, 1, 0, pool_done, &pool), 0);
	CHECK_EQ_INT(compress_writer_finish(w, NULL, &err), 0);
	write_s = mono_s() - t0;
	compress_writer_free(w);

	compress_reader_opts_default(&ro);
	ro.rate = cap;
	CHECK_EQ_INT(compress_reader_open(path, &ro, &r, &err), 0);
	t0 = mono_s();
	for (uint64_t i = 0, off = 0; i < compress_reader_chunk_count(r); i++) {
		struct compress_chunk_info ci;

		compress_reader_chunk(r, i, &ci);
		CHECK_EQ_INT(compress_reader_read_sync(r, i, back + off, len - off, &err), 0);
		off += ci.raw_len;
	}
	read_s = mono_s() - t0;
	compress_reader_free(r);
	CHECK(memcmp(data, back, len) == 0);
	/* Each I/O waits out its slot: no faster than the cap, either way. */
	CHECK(write_s >= (double)len / rate * 0.95);
	CHECK(read_s >= (double)len / rate * 0.95);
	compress_rate_free(cap);
	unlink(path);
	free(data);
	free(back);
}

/* EXPECT: a read writes the chunk's raw_len bytes of DST and not one byte more, whatever the
 * codec, with O_DIRECT on and an aligned DST larger than the chunk. */
static void test_no_overrun(void)
{
	static const int kinds[] = { TD_ZERO, TD_RANDOM, TD_TEXT, TD_BF16 };
	struct compress_writer_opts o;
	struct compress_reader_opts ro;
	struct compress_reader *r;
	struct compress_err err;
	uint8_t *data = malloc(5001), *dst = NULL;
	char path[300];

	snprintf(path, sizeof(path), "%s/overrun.vrs", dir);
	CHECK(posix_memalign((void **)&dst, 4096, 64 << 10) == 0);
	compress_reader_opts_default(&ro);
	ro.direct_io = true;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (int f = 0; f < 2; f++) {
			td_fill(kinds[k], data, 5001, 3);
			opts_small(&o, 1, f);
			CHECK_EQ_INT(write_stream(path, &o, data, 5001, 5001, 9, NULL), 0);
			CHECK_EQ_INT(compress_reader_open(path, &ro, &r, &err), 0);
			memset(dst, 0xa5, 64 << 10);
			CHECK_EQ_INT(compress_reader_read_sync(r, 0, dst, 64 << 10, &err), 0);
			CHECK(memcmp(dst, data, 5001) == 0);
			for (size_t i = 5001; i < (64 << 10); i++)
				if (dst[i] != 0xa5) {
					fprintf(stderr, "kind %d filter %d: byte %zu written\n",
						kinds[k], f, i);
					CHECK(dst[i] == 0xa5);
					break;
				}
			compress_reader_free(r);
		}
	}
	unlink(path);
	free(dst);
	free(data);
}

static uint64_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) ? 0 : (uint64_t)sb.st_size;
}

static void copy_file(const char *from, const char *to, uint64_t len)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint8_t *buf = malloc(len ? len : 1);

	CHECK(in >= 0 && out >= 0);
	CHECK(pread(in, buf, len, 0) == (ssize_t)len);
	CHECK(pwrite(out, buf, len, 0) == (ssize_t)len);
	close(in);
	close(out);
	free(buf);
}

static void flip_bit(const char *path, uint64_t bit)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	CHECK(pread(fd, &b, 1, (off_t)(bit / 8)) == 1);
	b ^= (uint8_t)(1u << (bit % 8));
	CHECK(pwrite(fd, &b, 1, (off_t)(bit / 8)) == 1);
	close(fd);
}

/*
 * EXPECT: a flipped bit anywhere is either caught (open or read fails, naming the file) or
 * lands in bytes that carry nothing (padding, reserved header space) and the data is intact;
 * a flip inside any stored chunk byte is always caught, and names the chunk and its tag.
 */
static void test_corruption(enum compress_filter filter, uint64_t stride, bool index_sweep)
{
	const uint64_t len = 400 << 10;
	uint8_t *data = malloc(len);
	struct compress_writer_opts o;
	struct compress_stats st;
	struct compress_reader *r;
	struct compress_err err;
	char path[300], bad[300];
	uint64_t size, payload_bits = 0, caught = 0;
	struct compress_chunk_info ci[16];
	uint64_t nchunks;

	snprintf(path, sizeof(path), "%s/good.vrs", dir);
	snprintf(bad, sizeof(bad), "%s/bad.vrs", dir);
	/* one zero chunk, two random (raw) ones, then weights and text for zstd */
	td_fill(TD_MIXED, data, len, 7);
	td_fill(TD_ZERO, data, 64 << 10, 0);
	td_fill(TD_RANDOM, data + (64 << 10), 128 << 10, 8);
	td_fill(TD_TEXT, data + (192 << 10), 64 << 10, 9);
	opts_small(&o, 3, filter);
	CHECK_EQ_INT(write_stream(path, &o, data, len, len, 77, &st), 0);
	CHECK(st.chunks[filter ? COMPRESS_CODEC_PLANES : COMPRESS_CODEC_ZSTD] > 0 &&
	      st.chunks[COMPRESS_CODEC_RAW] > 0 && st.chunks[COMPRESS_CODEC_ZERO] > 0);
	size = file_size(path);
	CHECK_EQ_INT(compress_reader_open(path, NULL, &r, &err), 0);
	nchunks = compress_reader_chunk_count(r);
	CHECK(nchunks <= 16);
	for (uint64_t i = 0; i < nchunks && i < 16; i++)
		compress_reader_chunk(r, i, &ci[i]);
	compress_reader_free(r);

	for (uint64_t bit = 0; bit < size * 8; bit += stride) {
		bool in_payload = false;
		int ret;

		for (uint64_t i = 0; i < nchunks && i < 16; i++)
			if (bit / 8 >= ci[i].file_offset &&
			    bit / 8 < ci[i].file_offset + ci[i].stored_len)
				in_payload = true;
		copy_file(path, bad, size);
		flip_bit(bad, bit);
		err.msg[0] = '\0';
		ret = verify_stream(bad, data, len, 77, bit & 1, &err);
		CHECK(ret != -EILSEQ); /* never wrong data */
		if (ret < 0) {
			caught++;
			CHECK(strstr(err.msg, bad) != NULL);
		}
		if (in_payload) {
			payload_bits++;
			CHECK(ret == -EBADMSG);
			CHECK(strstr(err.msg, "chunk") && strstr(err.msg, "tag 77"));
		}
	}
	CHECK(payload_bits > 20);
	CHECK(caught >= payload_bits);
	/* EXPECT: every bit of index and footer is protected */
	for (uint64_t bit = (size - 4096) * 8; index_sweep && bit < size * 8; bit += 61) {
		struct compress_reader *rr;

		copy_file(path, bad, size);
		flip_bit(bad, bit);
		if (compress_reader_open(bad, NULL, &rr, &err) == 0) {
			/* only the zero padding between index and footer may be hit */
			compress_reader_free(rr);
			CHECK(verify_stream(bad, data, len, 77, false, &err) == 0);
		}
	}
	unlink(bad);
	free(data);
}

/* EXPECT: every truncation, and any foreign file, is refused at open with the file named. */
static void test_truncation_and_foreign(void)
{
	const uint64_t len = 300 << 10;
	uint8_t *data = malloc(len);
	struct compress_writer_opts o;
	struct compress_reader *r;
	struct compress_err err;
	char path[300], bad[300];
	uint64_t size;
	int fd;

	snprintf(path, sizeof(path), "%s/t.vrs", dir);
	snprintf(bad, sizeof(bad), "%s/t-bad.vrs", dir);
	td_fill(TD_TEXT, data, len, 3);
	opts_small(&o, 1, COMPRESS_FILTER_NONE);
	CHECK_EQ_INT(write_stream(path, &o, data, len, len, 1, NULL), 0);
	size = file_size(path);
	for (uint64_t cut = 0; cut < size; cut += (cut < 8192 ? 509 : 4093)) {
		copy_file(path, bad, cut);
		CHECK(compress_reader_open(bad, NULL, &r, &err) < 0);
		CHECK(strstr(err.msg, bad) != NULL);
	}
	copy_file(path, bad, size - 1);
	CHECK_EQ_INT(compress_reader_open(bad, NULL, &r, &err), -EBADMSG);

	/* A file of random bytes, and one of the right size whose end is text. */
	fd = open(bad, O_WRONLY | O_TRUNC);
	td_fill(TD_RANDOM, data, len, 5);
	CHECK(write(fd, data, 64 << 10) == 64 << 10);
	close(fd);
	CHECK_EQ_INT(compress_reader_open(bad, NULL, &r, &err), -EBADMSG);
	CHECK(strstr(err.msg, bad) != NULL);
	CHECK_EQ_INT(compress_reader_open("/proc/self/status", NULL, &r, &err), -EBADMSG);
	CHECK_EQ_INT(compress_reader_open("/dev/null", NULL, &r, &err), -EINVAL);
	CHECK_EQ_INT(compress_reader_open("/nonexistent/x.vrs", NULL, &r, &err), -ENOENT);
	unlink(bad);
	free(data);
}

static unsigned int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	unsigned int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/*
 * EXPECT: a stream given up without finish() leaves no file at all; a stream hitting the
 * file size limit (short writes, then EFBIG) fails with a message and leaves no file.
 */
static void test_abandon_and_short_write(void)
{
	char sub[300], path[400];
	struct compress_writer_opts o;
	struct compress_writer *w;
	struct compress_err err;
	struct pool pool = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
	uint8_t *data = malloc(4 << 20);
	pid_t pid;
	int status;

	snprintf(sub, sizeof(sub), "%s/abandon", dir);
	mkdir(sub, 0700);
	snprintf(path, sizeof(path), "%s/a.vrs", sub);
	td_fill(TD_RANDOM, data, 4 << 20, 11);
	opts_small(&o, 1, COMPRESS_FILTER_NONE);
	CHECK_EQ_INT(compress_writer_new(path, &o, &w, &err), 0);
	CHECK_EQ_INT(compress_writer_push(w, data, 1 << 20, 1, 0, pool_done, &pool), 0);
	CHECK_EQ_INT(count_entries(sub), 1); /* the temporary file */
	compress_writer_free(w);
	CHECK_EQ_INT(pool.returned, 1);
	CHECK_EQ_INT(count_entries(sub), 0);

	/* RLIMIT_FSIZE turns writes past 1 MiB + 1000 into short writes, then EFBIG. */
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = { (1 << 20) + 1000, (1 << 20) + 1000 };
		int ret;

		test_failures = 0; /* the child reports only its own checks */
		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		/* without preallocation the writes themselves come up short, then fail */
		for (int mode = 0; mode < 4; mode++) {
			o.direct_io = mode & 1;
			o.prealloc_off = mode & 2;
			ret = write_stream(path, &o, data, 4 << 20, 1 << 20, 1, NULL);
			if (ret != -EFBIG || count_entries(sub) != 0) {
				fprintf(stderr, "mode %d: %d, %u files left\n", mode, ret,
					count_entries(sub));
				_exit(1);
			}
		}
		_exit(test_failures ? 1 : 0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	rmdir(sub);
	free(data);
}

/* Usage: test_compress_stream [roundtrip|damage|all] [folder]: two halves so each runs alone. */
int main(int argc, char **argv)
{
	const char *part = argc > 1 ? argv[1] : "all";
	bool all = !strcmp(part, "all");

	if (!all && strcmp(part, "roundtrip") && strcmp(part, "damage")) {
		fprintf(stderr, "usage: %s [roundtrip|damage|all] [folder]\n", argv[0]);
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/compress-test-XXXXXX", argc > 2 ? argv[2] : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	if (all || !strcmp(part, "roundtrip")) {
		test_roundtrips();
		test_zero_runs();
		test_auto_filter();
		test_many_chunks_and_find();
		test_try_read();
		test_no_overrun();
		test_rate_cap();
	}
	if (all || !strcmp(part, "damage")) {
		test_corruption(COMPRESS_FILTER_NONE, 9973, false);
		test_corruption(COMPRESS_FILTER_BYTEGROUP2, 4999, true);
		test_corruption(COMPRESS_FILTER_BYTEGROUP4, 9973, false);
		test_truncation_and_foreign();
		test_abandon_and_short_write();
	}
	{
		char p[400];

		snprintf(p, sizeof(p), "%s/rt.vrs", dir), unlink(p);
		snprintf(p, sizeof(p), "%s/many.vrs", dir), unlink(p);
		snprintf(p, sizeof(p), "%s/good.vrs", dir), unlink(p);
		snprintf(p, sizeof(p), "%s/t.vrs", dir), unlink(p);
	}
	CHECK_EQ_INT(count_entries(dir), 0);
	rmdir(dir);
	return test_finish("compress_stream");
}
