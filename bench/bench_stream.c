/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vramstream-bench stream: writes N bytes of synthetic VRAM-like data as a
 * stream file with compress/ and reads it back, then does the same with two
 * baselines in the same run: (a) "raw", plain write()/read() of the raw bytes
 * in chunk-sized calls (what a plugin without compression does), and (b)
 * "zstd1t", zstd level 3 on one thread with write()/read().
 *
 * The data comes from a source region (at most --region bytes, generated
 * before any timing) pushed again and again as consecutive objects, the way
 * SDMA would hand over filled pinned buffers: no copy, a fixed pool of
 * --pool buffers in flight. The pipeline never sees the same chunk twice in
 * one zstd frame, so repetition does not flatter its ratio.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "bench.h"
#include "compress.h"

struct bs_opts {
	enum bench_kind kind;
	uint64_t size;
	const char *dir;
	struct compress_writer_opts w;
	struct compress_reader_opts r;
	bool filter_set;
	bool json;
	bool verify;
	bool keep;
	bool drop_caches;
	uint64_t region;
	unsigned int pool;
	uint64_t push_size;
	int base_level;
	const char *variants;
};

#define BS_MAX_STAGES 6

struct bs_stage {
	const char *name;
	double gbps; /* bytes over busy thread-seconds */
};

struct bs_dir {
	struct bench_usage u;
	double gbps;
	struct bs_stage stages[BS_MAX_STAGES];
	int nstages;
};

struct bs_result {
	const char *name;
	bool ran;
	struct bs_dir w, r;
	uint64_t raw_bytes, file_bytes;
	char note[160];
};

/* A fixed pool of caller buffers: push/read wait for a free one. */
struct bs_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int free;
	int error;
	/* read side */
	uint8_t **bufs;
	bool *busy;
	unsigned int nbufs;
	const uint8_t *region;
	uint64_t mismatches;
	struct compress_reader *reader;
};

struct bs_slot {
	struct bs_pool *pool;
	unsigned int buf;
	uint64_t chunk;
};

static void bs_add_stage(struct bs_dir *d, const char *name, uint64_t bytes, double secs)
{
	if (d->nstages >= BS_MAX_STAGES || bytes == 0 || secs <= 0)
		return;
	d->stages[d->nstages].name = name;
	d->stages[d->nstages].gbps = (double)bytes / secs / 1e9;
	d->nstages++;
}

static void bs_add_stats_stages(struct bs_dir *d, const struct compress_stats *s, bool write)
{
	bs_add_stage(d, "zero", s->zero_bytes, (double)s->zero_ns / 1e9);
	bs_add_stage(d, "filter", s->filter_bytes, (double)s->filter_ns / 1e9);
	bs_add_stage(d, write ? "compress" : "decompress", s->codec_bytes,
		     (double)s->codec_ns / 1e9);
	bs_add_stage(d, "checksum", s->checksum_bytes, (double)s->checksum_ns / 1e9);
	bs_add_stage(d, write ? "io_write" : "io_read", s->io_bytes, (double)s->io_ns / 1e9);
}

/* Before a read phase on a real disk: make it read the disk, not the page cache. */
static void bs_drop_caches(const struct bs_opts *o)
{
	FILE *f;

	if (!o->drop_caches)
		return;
	sync();
	f = fopen("/proc/sys/vm/drop_caches", "w");
	if (!f || fputs("3", f) < 0)
		fprintf(stderr, "vramstream-bench: cannot drop caches (not root?)\n");
	if (f)
		fclose(f);
}

static void bs_pool_take(struct bs_pool *p)
{
	pthread_mutex_lock(&p->lock);
	while (!p->free)
		pthread_cond_wait(&p->cond, &p->lock);
	p->free--;
	pthread_mutex_unlock(&p->lock);
}

static void bs_push_done(void *cookie, int status)
{
	struct bs_pool *p = cookie;

	pthread_mutex_lock(&p->lock);
	p->free++;
	if (status && !p->error)
		p->error = status;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static int bs_pipeline_write(const struct bs_opts *o, const uint8_t *region, uint64_t region_len,
			     const char *path, struct bs_result *res)
{
	struct bs_pool pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, o->pool };
	struct compress_writer *w;
	struct compress_stats st;
	struct compress_err err;
	struct bench_clock c;
	int ret;

	bench_usage_start(&c);
	ret = compress_writer_new(path, &o->w, &w, &err);
	if (ret < 0) {
		fprintf(stderr, "pipeline: %s\n", err.msg);
		return ret;
	}
	for (uint64_t pos = 0; pos < o->size && ret == 0; pos += o->push_size) {
		uint64_t n = o->size - pos < o->push_size ? o->size - pos : o->push_size;
		uint64_t at = pos % region_len;

		bs_pool_take(&pool);
		ret = compress_writer_push(w, region + at, n, pos / region_len, at, bs_push_done,
					   &pool);
	}
	ret = compress_writer_finish(w, &st, &err);
	bench_usage_stop(&c, &res->w.u);
	compress_writer_free(w);
	if (ret < 0) {
		fprintf(stderr, "pipeline: %s\n", err.msg);
		return ret;
	}
	res->raw_bytes = st.raw_bytes;
	res->file_bytes = st.file_bytes;
	bs_add_stats_stages(&res->w, &st, true);
	snprintf(res->note, sizeof(res->note),
		 "chunks zero %llu raw %llu zstd %llu planes %llu; O_DIRECT %s; fixed buffers %s",
		 (unsigned long long)st.chunks[COMPRESS_CODEC_ZERO],
		 (unsigned long long)st.chunks[COMPRESS_CODEC_RAW],
		 (unsigned long long)st.chunks[COMPRESS_CODEC_ZSTD],
		 (unsigned long long)st.chunks[COMPRESS_CODEC_PLANES], st.direct_io ? "yes" : "no",
		 st.registered_buffers ? "yes" : "no");
	return 0;
}

static void bs_read_done(void *cookie, int status)
{
	struct bs_slot *s = cookie;
	struct bs_pool *p = s->pool;
	bool bad = false;

	if (status == 0 && p->region) {
		struct compress_chunk_info ci;

		compress_reader_chunk(p->reader, s->chunk, &ci);
		bad = memcmp(p->bufs[s->buf], p->region + ci.offset, ci.raw_len) != 0;
	}
	pthread_mutex_lock(&p->lock);
	p->busy[s->buf] = false;
	p->free++;
	if (status && !p->error)
		p->error = status;
	p->mismatches += bad;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static int bs_pool_alloc(struct bs_pool *p, unsigned int n, uint64_t size)
{
	p->nbufs = n;
	p->free = n;
	p->bufs = calloc(n, sizeof(*p->bufs));
	p->busy = calloc(n, sizeof(*p->busy));
	if (!p->bufs || !p->busy)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		if (posix_memalign((void **)&p->bufs[i], 4096, size))
			return -ENOMEM;
		memset(p->bufs[i], 0, size); /* fault in now, as a pinned pool would be */
	}
	return 0;
}

static void bs_pool_free(struct bs_pool *p)
{
	for (unsigned int i = 0; p->bufs && i < p->nbufs; i++)
		free(p->bufs[i]);
	free(p->bufs);
	free(p->busy);
}

static int bs_pipeline_read(const struct bs_opts *o, const uint8_t *region, const char *path,
			    struct bs_result *res)
{
	struct bs_pool pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	struct compress_reader *r;
	struct compress_stats st;
	struct compress_err err;
	struct bench_clock c;
	struct bs_slot *slots;
	uint64_t n;
	int ret;

	/*
	 * Restore fills chunk-sized buffers that SDMA then drains: as many as
	 * --pool, and at least one per worker plus two reads ahead. (The
	 * baselines read into a single buffer.)
	 */
	ret = bs_pool_alloc(&pool, o->pool > o->r.workers + 2 ? o->pool : o->r.workers + 2,
			    o->w.chunk_size);
	slots = calloc(pool.nbufs, sizeof(*slots));
	if (ret < 0 || !slots) {
		bs_pool_free(&pool);
		free(slots);
		return -ENOMEM;
	}
	pool.region = o->verify ? region : NULL;
	bs_drop_caches(o);
	bench_usage_start(&c);
	ret = compress_reader_open(path, &o->r, &r, &err);
	if (ret < 0) {
		fprintf(stderr, "pipeline read: %s\n", err.msg);
		goto out;
	}
	pool.reader = r;
	n = compress_reader_chunk_count(r);
	for (uint64_t i = 0; i < n && ret == 0; i++) {
		unsigned int b = 0;

		pthread_mutex_lock(&pool.lock);
		while (!pool.free)
			pthread_cond_wait(&pool.cond, &pool.lock);
		while (pool.busy[b])
			b++;
		pool.busy[b] = true;
		pool.free--;
		pthread_mutex_unlock(&pool.lock);
		slots[b] = (struct bs_slot){ &pool, b, i };
		ret = compress_reader_read(r, i, pool.bufs[b], o->w.chunk_size, bs_read_done,
					   &slots[b]);
	}
	if (compress_reader_wait(r, &err) < 0 || ret < 0 || pool.error) {
		fprintf(stderr, "pipeline read: %s\n", err.msg);
		ret = ret < 0 ? ret : -EIO;
	}
	bench_usage_stop(&c, &res->r.u);
	compress_reader_stats(r, &st);
	compress_reader_free(r);
	bs_add_stats_stages(&res->r, &st, false);
	if (o->verify && pool.mismatches) {
		fprintf(stderr, "pipeline read: %llu chunks differ from what was written\n",
			(unsigned long long)pool.mismatches);
		ret = -EILSEQ;
	}
out:
	bs_pool_free(&pool);
	free(slots);
	return ret;
}

static int bs_open_write(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

/* Baseline (a): write() and read() of the raw bytes, one chunk per call. */
static int bs_raw(const struct bs_opts *o, const uint8_t *region, uint64_t region_len,
		  const char *path, struct bs_result *res)
{
	uint64_t chunk = o->w.chunk_size;
	struct bench_clock c;
	uint8_t *buf = NULL;
	int fd, ret = 0;
	struct stat sb;

	bench_usage_start(&c);
	fd = bs_open_write(path);
	if (fd < 0)
		return -errno;
	for (uint64_t pos = 0; pos < o->size && ret == 0; pos += chunk) {
		uint64_t n = o->size - pos < chunk ? o->size - pos : chunk;

		ret = bench_write_all(fd, region + pos % region_len, n);
	}
	if (ret == 0 && o->w.fsync && fsync(fd))
		ret = -errno;
	close(fd);
	bench_usage_stop(&c, &res->w.u);
	if (ret < 0)
		return ret;
	stat(path, &sb);
	res->raw_bytes = o->size;
	res->file_bytes = (uint64_t)sb.st_size;

	if (posix_memalign((void **)&buf, 4096, chunk))
		return -ENOMEM;
	memset(buf, 0, chunk);
	bs_drop_caches(o);
	bench_usage_start(&c);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	for (uint64_t pos = 0; fd >= 0 && pos < o->size && ret == 0; pos += chunk) {
		uint64_t n = o->size - pos < chunk ? o->size - pos : chunk;

		ret = bench_read_all(fd, buf, n);
		if (ret == 0 && o->verify && memcmp(buf, region + pos % region_len, n))
			ret = -EILSEQ;
	}
	if (fd < 0)
		ret = -errno;
	else
		close(fd);
	bench_usage_stop(&c, &res->r.u);
	free(buf);
	return ret;
}

/* Baseline (b): zstd on one thread, each chunk a frame behind an 8-byte header. */
static int bs_zstd1t(const struct bs_opts *o, const uint8_t *region, uint64_t region_len,
		     const char *path, struct bs_result *res)
{
	uint64_t chunk = o->w.chunk_size, zbytes = 0;
	size_t cap = ZSTD_compressBound(chunk) + 8;
	double t_comp = 0, t_io = 0, t0, t1;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	uint8_t *out = malloc(cap), *buf = malloc(chunk);
	struct bench_clock c;
	int fd, ret = 0;
	struct stat sb;

	if (!cctx || !dctx || !out || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	memset(out, 0, cap);
	memset(buf, 0, chunk);
	bench_usage_start(&c);
	fd = bs_open_write(path);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	for (uint64_t pos = 0; pos < o->size && ret == 0; pos += chunk) {
		uint32_t n = (uint32_t)(o->size - pos < chunk ? o->size - pos : chunk);
		size_t z;

		t0 = common_now_s();
		z = ZSTD_compressCCtx(cctx, out + 8, cap - 8, region + pos % region_len, n,
				      o->base_level);
		t1 = common_now_s();
		t_comp += t1 - t0;
		if (ZSTD_isError(z)) {
			ret = -EIO;
			break;
		}
		memcpy(out, &n, 4);
		memcpy(out + 4, &(uint32_t){ (uint32_t)z }, 4);
		ret = bench_write_all(fd, out, z + 8);
		t_io += common_now_s() - t1;
		zbytes += n;
	}
	if (ret == 0 && o->w.fsync && fsync(fd))
		ret = -errno;
	close(fd);
	bench_usage_stop(&c, &res->w.u);
	if (ret < 0)
		goto out;
	bs_add_stage(&res->w, "compress", zbytes, t_comp);
	bs_add_stage(&res->w, "io_write", zbytes, t_io);
	stat(path, &sb);
	res->raw_bytes = o->size;
	res->file_bytes = (uint64_t)sb.st_size;

	t_comp = t_io = 0;
	bs_drop_caches(o);
	bench_usage_start(&c);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	for (uint64_t pos = 0; fd >= 0 && pos < o->size && ret == 0; pos += chunk) {
		uint32_t hdr[2];
		size_t d;

		t0 = common_now_s();
		ret = bench_read_all(fd, hdr, 8);
		if (ret == 0 && (hdr[0] > chunk || hdr[1] > cap - 8))
			ret = -EBADMSG;
		if (ret == 0)
			ret = bench_read_all(fd, out, hdr[1]);
		t1 = common_now_s();
		t_io += t1 - t0;
		if (ret < 0)
			break;
		d = ZSTD_decompressDCtx(dctx, buf, chunk, out, hdr[1]);
		t_comp += common_now_s() - t1;
		if (ZSTD_isError(d) || d != hdr[0])
			ret = -EBADMSG;
		else if (o->verify && memcmp(buf, region + pos % region_len, d))
			ret = -EILSEQ;
	}
	if (fd < 0)
		ret = -errno;
	else
		close(fd);
	bench_usage_stop(&c, &res->r.u);
	bs_add_stage(&res->r, "decompress", zbytes, t_comp);
	bs_add_stage(&res->r, "io_read", zbytes, t_io);
out:
	ZSTD_freeCCtx(cctx);
	ZSTD_freeDCtx(dctx);
	free(out);
	free(buf);
	return ret;
}

static void bs_finish_dir(struct bs_dir *d, uint64_t bytes)
{
	d->gbps = d->u.wall_s > 0 ? (double)bytes / d->u.wall_s / 1e9 : 0;
	/* the whole, next to the stages */
	bs_add_stage(d, "whole", bytes, d->u.wall_s);
}

static double bs_ratio(const struct bs_result *r)
{
	return r->file_bytes ? (double)r->raw_bytes / (double)r->file_bytes : 0;
}

static void bs_print_dir(const struct bs_result *r, const char *dir, const struct bs_dir *d)
{
	double gb = (double)r->raw_bytes / 1e9;

	printf("%-9s %-5s %7.2f %8.3f %8.3f %9.1f %7.3f  ", r->name, dir, d->gbps, d->u.wall_s,
	       gb > 0 ? d->u.cpu_s / gb : 0, (double)d->u.peak_rss / (1 << 20), bs_ratio(r));
	for (int i = 0; i < d->nstages; i++)
		printf("%s%s %.2f", i ? ", " : "", d->stages[i].name, d->stages[i].gbps);
	printf("\n");
}

static void bs_json_dir(const char *dir, const struct bs_result *r, const struct bs_dir *d)
{
	double gb = (double)r->raw_bytes / 1e9;

	printf("\"%s_gbps\": %.4f, \"%s_wall_s\": %.4f, \"%s_cpu_s_per_gb\": %.4f, "
	       "\"%s_peak_rss_bytes\": %llu, \"%s_stages_gbps\": {",
	       dir, d->gbps, dir, d->u.wall_s, dir, gb > 0 ? d->u.cpu_s / gb : 0, dir,
	       (unsigned long long)d->u.peak_rss, dir);
	for (int i = 0; i < d->nstages; i++)
		printf("%s\"%s\": %.4f", i ? ", " : "", d->stages[i].name, d->stages[i].gbps);
	printf("}");
}

static void bs_usage(FILE *f)
{
	fprintf(f,
		"usage: vramstream-bench stream [options]\n"
		"  --kind zeros|random|bf16|mixed   data (default mixed)\n"
		"  --size N[K|M|G]                  bytes to stream (default 1G)\n"
		"  --dir DIR                        where the files go (default /dev/shm)\n"
		"  --level L|off                    pipeline zstd level (default 1)\n"
		"  --filter auto|none|bytegroup2|bytegroup4  (default bytegroup2 for bf16/mixed)\n"
		"  --workers N  --queue-depth N  --chunk N[K|M]  --no-direct  --fsync\n"
		"  --pool N                         caller buffers in flight (default 4)\n"
		"  --push N[M]                      caller buffer size (default 16M)\n"
		"  --region N[M]                    source data, repeated (default 256M)\n"
		"  --baseline-level L               zstd1t level (default 3)\n"
		"  --variants LIST                  pipeline,raw,zstd1t (default all)\n"
		"  --verify                         compare every byte read back\n"
		"  --keep                           keep the files\n"
		"  --drop-caches                    sync, drop the page cache before reads (root)\n"
		"  --json                           print one JSON object last\n");
}

static int bs_parse(int argc, char **argv, struct bs_opts *o)
{
	static const struct option lopts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "size", required_argument, NULL, 's' },
		{ "dir", required_argument, NULL, 'd' },
		{ "level", required_argument, NULL, 'l' },
		{ "filter", required_argument, NULL, 'f' },
		{ "workers", required_argument, NULL, 'w' },
		{ "queue-depth", required_argument, NULL, 'q' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "no-direct", no_argument, NULL, 'D' },
		{ "fsync", no_argument, NULL, 'F' },
		{ "pool", required_argument, NULL, 'p' },
		{ "push", required_argument, NULL, 'P' },
		{ "region", required_argument, NULL, 'R' },
		{ "baseline-level", required_argument, NULL, 'b' },
		{ "variants", required_argument, NULL, 'V' },
		{ "verify", no_argument, NULL, 'v' },
		{ "keep", no_argument, NULL, 'K' },
		{ "drop-caches", no_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->kind = BENCH_MIXED;
	o->size = 1ull << 30;
	o->dir = "/dev/shm";
	compress_writer_opts_default(&o->w);
	compress_reader_opts_default(&o->r);
	o->region = 256ull << 20;
	o->pool = 4;
	o->push_size = 16ull << 20;
	o->base_level = 3;
	o->variants = "pipeline,raw,zstd1t";
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (bench_kind_parse(optarg, &o->kind))
				goto bad;
			break;
		case 's':
			if (common_size_parse(optarg, &o->size))
				goto bad;
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'l':
			if (compress_level_parse(optarg, &o->w.level))
				goto bad;
			break;
		case 'f':
			if (compress_writer_filter_parse(optarg, &o->w))
				goto bad;
			o->filter_set = true;
			break;
		case 'w':
			o->w.workers = o->r.workers = (unsigned int)atoi(optarg);
			break;
		case 'q':
			o->w.queue_depth = o->r.queue_depth = (unsigned int)atoi(optarg);
			break;
		case 'c':
			if (common_size_parse(optarg, &v) || v > COMPRESS_CHUNK_MAX)
				goto bad;
			o->w.chunk_size = (uint32_t)v;
			break;
		case 'D':
			o->w.direct_io = o->r.direct_io = false;
			break;
		case 'F':
			o->w.fsync = true;
			break;
		case 'p':
			o->pool = (unsigned int)atoi(optarg);
			break;
		case 'P':
			if (common_size_parse(optarg, &o->push_size))
				goto bad;
			break;
		case 'R':
			if (common_size_parse(optarg, &o->region))
				goto bad;
			break;
		case 'b':
			o->base_level = atoi(optarg);
			break;
		case 'V':
			o->variants = optarg;
			break;
		case 'v':
			o->verify = true;
			break;
		case 'K':
			o->keep = true;
			break;
		case 'C':
			o->drop_caches = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			bs_usage(stdout);
			exit(0);
		default:
			goto bad;
		}
	}
	if (optind != argc || o->pool == 0 || o->push_size < o->w.chunk_size ||
	    o->push_size % o->w.chunk_size || o->region < o->push_size || o->region % o->push_size)
		goto bad;
	if (!o->filter_set && (o->kind == BENCH_BF16 || o->kind == BENCH_MIXED))
		o->w.filter = COMPRESS_FILTER_BYTEGROUP2;
	return 0;
bad:
	fprintf(stderr, "vramstream-bench stream: bad arguments (push must be a multiple of the "
			"chunk, region a multiple of push)\n");
	bs_usage(stderr);
	return -EINVAL;
}

static bool bs_wants(const struct bs_opts *o, const char *name)
{
	const char *p = strstr(o->variants, name);
	size_t n = strlen(name);

	return p && (p == o->variants || p[-1] == ',') && (p[n] == '\0' || p[n] == ',');
}

int bench_stream_main(int argc, char **argv)
{
	struct bs_result res[3] = { { .name = "pipeline" },
				    { .name = "raw" },
				    { .name = "zstd1t" } };
	struct bs_opts o;
	uint64_t region_len;
	uint8_t *region;
	char path[4096];
	int ret = 0, status = 0;

	if (bs_parse(argc, argv, &o))
		return 2;
	if (!o.w.workers) /* what compress/ picks, printed as such */
		o.w.workers = o.r.workers = (unsigned int)sysconf(_SC_NPROCESSORS_ONLN);
	if (!o.w.queue_depth)
		o.w.queue_depth = o.r.queue_depth = o.w.workers + 2;
	/* the source: as much of the stream as --region allows, whole push buffers */
	region_len = (o.size + o.push_size - 1) / o.push_size * o.push_size;
	if (region_len > o.region)
		region_len = o.region;
	if (region_len == 0)
		region_len = o.push_size;
	if (posix_memalign((void **)&region, 4096, region_len)) {
		fprintf(stderr, "vramstream-bench stream: no memory for a %llu-byte source\n",
			(unsigned long long)region_len);
		return 1;
	}
	bench_data_fill(o.kind, region, region_len, 42);

	if (!o.json)
		printf("stream: kind %s, %.3f GiB, dir %s, chunk %u KiB, level %s%d, filter %s, "
		       "workers %u, queue depth %u, push %llu MiB x pool %u, O_DIRECT %s\n",
		       bench_kind_name(o.kind), (double)o.size / (1 << 30), o.dir,
		       o.w.chunk_size >> 10, o.w.level == COMPRESS_LEVEL_OFF ? "off " : "",
		       o.w.level == COMPRESS_LEVEL_OFF ? 0 : o.w.level,
		       compress_writer_filter_name(&o.w), o.w.workers, o.w.queue_depth,
		       (unsigned long long)(o.push_size >> 20), o.pool,
		       o.w.direct_io ? "tried" : "off");

	for (int i = 0; i < 3; i++) {
		if (!bs_wants(&o, res[i].name))
			continue;
		snprintf(path, sizeof(path), "%s/vramstream-bench-%d.%s", o.dir, getpid(),
			 res[i].name);
		if (i == 0) {
			ret = bs_pipeline_write(&o, region, region_len, path, &res[i]);
			if (ret == 0)
				ret = bs_pipeline_read(&o, region, path, &res[i]);
		} else if (i == 1) {
			ret = bs_raw(&o, region, region_len, path, &res[i]);
		} else {
			ret = bs_zstd1t(&o, region, region_len, path, &res[i]);
		}
		if (!o.keep)
			unlink(path);
		if (ret < 0) {
			fprintf(stderr, "%s: %s failed: %s\n", path, res[i].name, strerror(-ret));
			status = 1;
			continue;
		}
		res[i].ran = true;
		bs_finish_dir(&res[i].w, res[i].raw_bytes);
		bs_finish_dir(&res[i].r, res[i].raw_bytes);
	}

	if (!o.json) {
		printf("%-9s %-5s %7s %8s %8s %9s %7s  %s\n", "variant", "dir", "GB/s", "wall s",
		       "cpu s/GB", "peakRSS M", "ratio", "stages, GB/s per busy thread");
		for (int i = 0; i < 3; i++) {
			if (!res[i].ran)
				continue;
			bs_print_dir(&res[i], "write", &res[i].w);
			bs_print_dir(&res[i], "read", &res[i].r);
		}
		if (res[0].ran)
			printf("pipeline: %s\n", res[0].note);
		if (res[0].ran && res[1].ran)
			printf("pipeline / raw:    write %.2fx, read %.2fx\n",
			       res[0].w.gbps / res[1].w.gbps, res[0].r.gbps / res[1].r.gbps);
		if (res[0].ran && res[2].ran)
			printf("pipeline / zstd1t: write %.2fx, read %.2fx, image %.2fx smaller\n",
			       res[0].w.gbps / res[2].w.gbps, res[0].r.gbps / res[2].r.gbps,
			       (double)res[2].file_bytes / (double)res[0].file_bytes);
	} else {
		printf("{\"kind\": \"%s\", \"bytes\": %llu, \"dir\": \"%s\", \"chunk_size\": %u, "
		       "\"level\": %d, \"filter\": \"%s\", \"ok\": %s",
		       bench_kind_name(o.kind), (unsigned long long)o.size, o.dir, o.w.chunk_size,
		       o.w.level, compress_writer_filter_name(&o.w), status ? "false" : "true");
		for (int i = 0; i < 3; i++) {
			if (!res[i].ran)
				continue;
			printf(", \"%s\": {\"image_ratio\": %.4f, \"raw_bytes\": %llu, "
			       "\"file_bytes\": %llu, ",
			       res[i].name, bs_ratio(&res[i]), (unsigned long long)res[i].raw_bytes,
			       (unsigned long long)res[i].file_bytes);
			bs_json_dir("write", &res[i], &res[i].w);
			printf(", ");
			bs_json_dir("read", &res[i], &res[i].r);
			printf("}");
		}
		printf("}\n");
	}
	free(region);
	return status;
}
