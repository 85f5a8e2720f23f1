// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The transfer pipeline (DESIGN.md, "The data path"), one thread per GPU:
 *
 *   dump:    DMA copy BO range -> pinned buffer  ->  compress_writer_push()
 *            (workers: zero/filter/zstd/checksum, io_uring) -> buffer free
 *   restore: compress_reader_read() -> pinned buffer -> DMA copy to BO
 *            -> buffer free
 *
 * All stages overlap: the GPU thread keeps every free pinned buffer busy
 * with a copy in flight, spread round-robin over the rings, while the
 * compress/ workers drain filled ones; a buffer comes back to the free list
 * from the writer's completion callback (dump) or when its copy to the
 * device has finished (restore). Pinned memory is the fixed pool, whatever
 * the VRAM size.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compress.h"
#include "common_clock.h"
#include "common_err.h"
#include "common_thread.h"
#include "image.h"
#include "plugin_transfer.h"

#define TRANSFER_MIN_BUFFERS 2
#define TRANSFER_MAX_BUFFERS 1024

/* A FIFO of buffer indexes guarded by the pipe's lock. */
struct idx_queue {
	unsigned int *v;
	unsigned int head, len, cap;
};

static int idxq_init(struct idx_queue *q, unsigned int cap)
{
	q->v = calloc(cap, sizeof(*q->v));
	q->head = q->len = 0;
	q->cap = cap;
	return q->v ? 0 : -ENOMEM;
}

static void idxq_push(struct idx_queue *q, unsigned int x)
{
	q->v[(q->head + q->len++) % q->cap] = x;
}

static unsigned int idxq_pop(struct idx_queue *q)
{
	unsigned int x = q->v[q->head];

	q->head = (q->head + 1) % q->cap;
	q->len--;
	return x;
}

/* A copy in flight. */
struct inflight {
	unsigned int buf, ring;
	uint64_t ticket;
	uint64_t tag, offset, len; /* what the buffer holds or receives */
	unsigned int bo;
};

/* The state of one GPU's pipeline. Fields under "lock" are shared with
 * compress/ callback threads; the rest belong to the GPU thread. */
struct pipe {
	const struct plugin_config *cfg;
	const struct plugin_dma_ops *ops;
	struct transfer_job *job;
	struct plugin_dma *dma;
	unsigned int n_buffers, n_rings, next_ring;
	uint64_t *ring_bytes; /* per ring: bytes of the copies and fills in flight */
	uint64_t buffer_size;
	unsigned int *bo_handle; /* per job BO */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct idx_queue free_bufs; /* lock */
	struct idx_queue ready;	    /* lock: restore, buffers filled by the reader */
	int cb_error;		    /* lock: first error reported by a callback */

	struct inflight *fifo; /* copies in flight, in issue order */
	unsigned int fifo_head, fifo_len, fifo_cap;
	double dma_busy_since, dma_busy;
	double feed_wait; /* see transfer_stats.feed_wait_s */
	/* the GPU thread's time by step, see transfer_stats.gpu_*_s */
	double t_issue, t_dma_wait, t_poll, t_submit, t_wait;
	/* restore: chunk info per buffer */
	struct compress_chunk_info *buf_chunk;
};

struct buf_cookie {
	struct pipe *p;
	unsigned int buf;
};

static void pipe_fail(struct pipe *p, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void pipe_fail(struct pipe *p, int err, const char *fmt, ...)
{
	va_list ap;

	if (p->job->status)
		return;
	p->job->status = err;
	va_start(ap, fmt);
	vsnprintf(p->job->err, sizeof(p->job->err), fmt, ap);
	va_end(ap);
}

/* compress/ callbacks (dump: buffer consumed; restore: buffer filled). */
static void on_pushed(void *cookie, int status)
{
	struct buf_cookie *c = cookie;
	struct pipe *p = c->p;

	pthread_mutex_lock(&p->lock);
	if (status && !p->cb_error)
		p->cb_error = status;
	idxq_push(&p->free_bufs, c->buf);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void on_read(void *cookie, int status)
{
	struct buf_cookie *c = cookie;
	struct pipe *p = c->p;

	pthread_mutex_lock(&p->lock);
	if (status) {
		if (!p->cb_error)
			p->cb_error = status;
		idxq_push(&p->free_bufs, c->buf);
	} else {
		idxq_push(&p->ready, c->buf);
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void dma_busy_update(struct pipe *p, double t)
{
	if (p->fifo_len && p->dma_busy_since == 0)
		p->dma_busy_since = t;
	else if (!p->fifo_len && p->dma_busy_since != 0) {
		p->dma_busy += t - p->dma_busy_since;
		p->dma_busy_since = 0;
	}
}

/*
 * The ring for the next copy or fill: the one with the fewest bytes in
 * flight, the first such from the last one used on. Taking rings in turn
 * balanced them only while every copy was a whole buffer; restore's pieces
 * (a chunk's data between runs of zeros, the runs' fills) go from 64 KiB to
 * a buffer, and in turn one engine queued several large ones while others
 * idled (emulator, 4 engines: restore 5.8 -> 6.6-6.9 s when runs of zeros
 * became entries of their own).
 */
static unsigned int pick_ring(struct pipe *p, uint64_t len)
{
	unsigned int best = p->next_ring;

	for (unsigned int k = 1; k < p->n_rings; k++) {
		unsigned int i = (p->next_ring + k) % p->n_rings;

		if (p->ring_bytes[i] < p->ring_bytes[best])
			best = i;
	}
	p->ring_bytes[best] += len;
	p->next_ring = (best + 1) % p->n_rings;
	return best;
}

static int issue_copy(struct pipe *p, unsigned int buf, unsigned int bo, uint64_t bo_off,
		      uint64_t len, bool to_device, uint64_t tag)
{
	struct inflight *f = &p->fifo[(p->fifo_head + p->fifo_len) % p->fifo_cap];
	double t0, t1;
	int r;

	f->buf = buf;
	f->ring = pick_ring(p, len);
	f->bo = bo;
	f->offset = bo_off;
	f->len = len;
	f->tag = tag;
	t0 = common_now_s();
	r = p->ops->copy(p->dma, f->ring, p->bo_handle[bo], bo_off, buf, len, to_device,
			 &f->ticket);
	t1 = common_now_s();
	p->t_issue += t1 - t0;
	if (r) {
		pipe_fail(p, r,
			  "DMA copy of %" PRIu64 " bytes %s BO %" PRIu64 " at offset %" PRIu64
			  " failed: %s",
			  len, to_device ? "into" : "from", tag, bo_off,
			  *p->ops->last_error(p->dma) ? p->ops->last_error(p->dma) : strerror(-r));
		return r;
	}
	p->fifo_len++;
	dma_busy_update(p, t1);
	return 0;
}

#define NO_BUFFER UINT_MAX

/*
 * Restore of a zero chunk by the engine itself: no read, no host buffer,
 * no copy. Returns -ENOTSUP when the engine refuses, and the caller reads
 * the chunk as any other from then on.
 */
static int issue_fill(struct pipe *p, unsigned int bo, uint64_t bo_off, uint64_t len, uint64_t tag)
{
	struct inflight *f = &p->fifo[(p->fifo_head + p->fifo_len) % p->fifo_cap];
	double t0 = common_now_s();
	int r;

	assert(p->ops->fill && len % 4 == 0 && bo_off % 4 == 0);
	*f = (struct inflight){ .buf = NO_BUFFER,
				.ring = pick_ring(p, len),
				.bo = bo,
				.offset = bo_off,
				.len = len,
				.tag = tag };
	r = p->ops->fill(p->dma, f->ring, p->bo_handle[bo], bo_off, len, 0, &f->ticket);
	p->t_issue += common_now_s() - t0;
	if (r == -ENOTSUP) {
		p->ring_bytes[f->ring] -= len;
		return r;
	}
	if (r) {
		pipe_fail(p, r,
			  "DMA fill of %" PRIu64 " bytes into BO %" PRIu64 " at offset %" PRIu64
			  " failed: %s",
			  len, tag, bo_off,
			  *p->ops->last_error(p->dma) ? p->ops->last_error(p->dma) : strerror(-r));
		return r;
	}
	p->fifo_len++;
	dma_busy_update(p, common_now_s());
	return 0;
}

/* Waits for the oldest copy in flight; returns it in @done. */
static int retire_oldest(struct pipe *p, struct inflight *done)
{
	struct inflight *f = &p->fifo[p->fifo_head];
	double t0 = common_now_s(), t1;
	int r = p->ops->wait(p->dma, f->ring, f->ticket);

	t1 = common_now_s();
	p->t_dma_wait += t1 - t0;
	*done = *f;
	p->ring_bytes[f->ring] -= f->len;
	p->fifo_head = (p->fifo_head + 1) % p->fifo_cap;
	p->fifo_len--;
	dma_busy_update(p, t1);
	if (r)
		pipe_fail(p, r,
			  "DMA copy of BO %" PRIu64 " at offset %" PRIu64 " failed on ring %u: %s",
			  done->tag, done->offset, done->ring,
			  *p->ops->last_error(p->dma) ? p->ops->last_error(p->dma) : strerror(-r));
	return r;
}

static bool can_poll(const struct pipe *p)
{
	return p->ops->poll && p->n_rings <= 64; /* rings seen fit in a 64-bit mask */
}

/*
 * Retires an operation that has finished, not necessarily the oldest: the
 * first finished among the oldest of each ring (one ring's operations finish
 * in order). Returns -EAGAIN when none has finished or the engine cannot
 * tell without waiting (no poll()); errors as retire_oldest().
 */
static int retire_finished_polled(struct pipe *p, struct inflight *done);

static int retire_finished(struct pipe *p, struct inflight *done)
{
	double t0;
	int r;

	if (!can_poll(p))
		return -EAGAIN;
	t0 = common_now_s();
	r = retire_finished_polled(p, done);
	p->t_poll += common_now_s() - t0;
	return r;
}

static int retire_finished_polled(struct pipe *p, struct inflight *done)
{
	uint64_t seen = 0;

	for (unsigned int i = 0; i < p->fifo_len; i++) {
		unsigned int at = (p->fifo_head + i) % p->fifo_cap;
		struct inflight *f = &p->fifo[at];
		int r;

		if (seen & (1ull << f->ring))
			continue;
		seen |= 1ull << f->ring;
		r = p->ops->poll(p->dma, f->ring, f->ticket);
		if (r != 0 && i == 0)
			return retire_oldest(p, done); /* finished or failed: no wait */
		if (r <= 0) {
			/* Running, or failed: a failure is reported when it is the oldest. */
			if (seen == (p->n_rings == 64 ? ~0ull : (1ull << p->n_rings) - 1))
				break;
			continue;
		}
		/* Take it out; the later ones move up a place, keeping their order. */
		*done = *f;
		p->ring_bytes[f->ring] -= f->len;
		for (unsigned int k = i; k + 1 < p->fifo_len; k++)
			p->fifo[(p->fifo_head + k) % p->fifo_cap] =
				p->fifo[(p->fifo_head + k + 1) % p->fifo_cap];
		p->fifo_len--;
		dma_busy_update(p, common_now_s());
		return 0;
	}
	return -EAGAIN;
}

/* Sleeps up to @us microseconds, or until a read lands or a callback fails. */
static void nap(struct pipe *p, unsigned int us)
{
	struct timespec ts;
	double t0 = common_now_s();

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)us * 1000;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	if (!p->ready.len && !p->cb_error)
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	pthread_mutex_unlock(&p->lock);
	p->t_poll += common_now_s() - t0;
}

/* Takes a free buffer, waiting for compress/ to hand one back if needed;
 * -1 when the pipeline failed. */
static int take_free(struct pipe *p, bool wait)
{
	int buf = -1;

	pthread_mutex_lock(&p->lock);
	while (!p->free_bufs.len && !p->cb_error && wait)
		pthread_cond_wait(&p->cond, &p->lock);
	if (p->free_bufs.len && !p->cb_error)
		buf = (int)idxq_pop(&p->free_bufs);
	pthread_mutex_unlock(&p->lock);
	return buf;
}

static unsigned int free_count(struct pipe *p)
{
	unsigned int n;

	pthread_mutex_lock(&p->lock);
	n = p->free_bufs.len;
	pthread_mutex_unlock(&p->lock);
	return n;
}

/*
 * Pinned buffers for @job: enough to keep every lane and every compression
 * worker busy twice over (one being filled, one being drained), no more
 * than the job can use or VRAMSTREAM_PINNED_MAX allows, and at least two so
 * that DMA and compression overlap.
 */
static unsigned int pipe_buffer_count(const struct plugin_config *cfg,
				      const struct transfer_job *job)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t workers = cfg->workers ? cfg->workers : (uint64_t)(cpus > 0 ? cpus : 1);
	uint64_t lanes = cfg->sdma_lanes ? cfg->sdma_lanes : 4;
	uint64_t cap = cfg->pinned_max / cfg->buffer_size;
	uint64_t total = 0, want;

	for (unsigned int i = 0; i < job->n_bos; i++)
		total += job->bos[i].size;
	want = (total + cfg->buffer_size - 1) / cfg->buffer_size;
	if (want > 2 * (lanes + workers))
		want = 2 * (lanes + workers);
	if (cap > TRANSFER_MAX_BUFFERS)
		cap = TRANSFER_MAX_BUFFERS;
	if (want > cap)
		want = cap;
	if (want < TRANSFER_MIN_BUFFERS)
		want = TRANSFER_MIN_BUFFERS;
	return (unsigned int)want;
}

/* Starts the copy engine on the job's GPU with the pipe's buffers. */
static int pipe_open_engine(struct pipe *p)
{
	struct plugin_dma_params dp = {
		.render_minor = p->job->render_minor,
		.lanes = p->cfg->sdma_lanes,
		.buffer_size = p->buffer_size,
		.buffers = p->n_buffers,
	};
	char err[400] = "";
	int r;

	r = p->ops->open(&dp, &p->dma, err, sizeof(err));
	if (r) {
		pipe_fail(p, r, "cannot start the %s copy engine: %s", p->ops->name,
			  *err ? err : strerror(-r));
		return r;
	}
	p->n_rings = p->ops->lanes(p->dma);
	if (!p->n_rings)
		p->n_rings = 1;
	return 0;
}

/* The queues and tables sized by buffers, lanes and BOs; every buffer free. */
static int pipe_alloc_tables(struct pipe *p)
{
	p->ring_bytes = calloc(p->n_rings, sizeof(*p->ring_bytes));
	if (!p->ring_bytes)
		return -ENOMEM;
	if (idxq_init(&p->free_bufs, p->n_buffers) || idxq_init(&p->ready, p->n_buffers))
		return -ENOMEM;
	/* Copies hold a buffer each; engine fills (restore's zero chunks) hold
	 * none, and as many again may be in flight beside them. */
	p->fifo_cap = 2 * p->n_buffers;
	p->fifo = calloc(p->fifo_cap, sizeof(*p->fifo));
	p->bo_handle = calloc(p->job->n_bos ? p->job->n_bos : 1, sizeof(*p->bo_handle));
	p->buf_chunk = calloc(p->n_buffers, sizeof(*p->buf_chunk));
	if (!p->fifo || !p->bo_handle || !p->buf_chunk)
		return -ENOMEM;
	for (unsigned int i = 0; i < p->n_buffers; i++)
		idxq_push(&p->free_bufs, i);
	return 0;
}

/* Makes every BO of the job known to the engine (closing its dma-buf fd
 * when the job says so: the import holds the BO). */
static int pipe_import_bos(struct pipe *p)
{
	struct transfer_job *job = p->job;
	int r;

	for (unsigned int i = 0; i < job->n_bos; i++) {
		r = p->ops->import(p->dma, job->bos[i].dmabuf_fd, job->bos[i].size,
				   &p->bo_handle[i]);
		if (r) {
			const char *why = p->ops->last_error(p->dma);

			pipe_fail(p, r,
				  "cannot import BO %" PRIu64 " (%" PRIu64 " bytes) into %s: %s",
				  job->bos[i].tag, job->bos[i].size, p->ops->name,
				  *why ? why : strerror(-r));
			return r;
		}
		/* drm_prime.c: drm_gem_prime_import_dev takes its own reference. */
		if (job->close_fds) {
			close(job->bos[i].dmabuf_fd);
			job->bos[i].dmabuf_fd = -1;
		}
	}
	return 0;
}

/* The pipe for one job: buffers counted, engine started, tables, BOs imported.
 * On failure the caller still runs pipe_teardown(). */
static int pipe_setup(struct pipe *p, const struct plugin_config *cfg,
		      const struct plugin_dma_ops *ops, struct transfer_job *job)
{
	int r;

	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->ops = ops;
	p->job = job;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->buffer_size = cfg->buffer_size;
	p->n_buffers = pipe_buffer_count(cfg, job);

	r = pipe_open_engine(p);
	if (!r)
		r = pipe_alloc_tables(p);
	if (!r)
		r = pipe_import_bos(p);
	return r;
}

static void pipe_teardown(struct pipe *p)
{
	if (p->dma)
		p->ops->close(p->dma);
	free(p->free_bufs.v);
	free(p->ready.v);
	free(p->fifo);
	free(p->ring_bytes);
	free(p->bo_handle);
	free(p->buf_chunk);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
}

static struct buf_cookie *cookies_for(struct pipe *p)
{
	struct buf_cookie *c = calloc(p->n_buffers, sizeof(*c));

	for (unsigned int i = 0; c && i < p->n_buffers; i++) {
		c[i].p = p;
		c[i].buf = i;
	}
	return c;
}

/*
 * Streams per GPU: one per CPU this job gets (per 2 CPUs when compressing), 1
 * to IMAGE_PARTS_MAX.
 * Each file takes one writer at a time, so on the H100 machine (16 CPUs) 8
 * streams dumped 8.8 GB/s against 5.5 with 4 (bench/RESULTS.md).
 */
static unsigned int job_parts(const struct plugin_config *cfg, unsigned int n_jobs)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long per_job = (cpus > 0 ? cpus : 1) / (long)(n_jobs ? n_jobs : 1);

	if (cfg->streams)
		return cfg->streams;
	/*
	 * Without compression a file's writer does little but write(), one at a
	 * time per file, so more files go faster (H100 machine, 16 cores, 8 GiB
	 * random into tmpfs: 16 files dumped 12.7-16.0 GB/s against 11.3-12.5
	 * with 8, bench/RESULTS.md); with compression the CPUs are better spent
	 * as two workers per file.
	 */
	if (cfg->compress)
		per_job /= 2;
	return per_job < 1		   ? 1
	       : per_job > IMAGE_PARTS_MAX ? IMAGE_PARTS_MAX
					   : (unsigned int)per_job;
}

/* Compression workers of one stream file: the CPUs are shared by the GPUs
 * moved at once and by each GPU's stream files. */
static unsigned int part_workers(const struct plugin_config *cfg, unsigned int n_jobs,
				 unsigned int parts)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int workers = cfg->workers ? cfg->workers : (unsigned int)(cpus > 0 ? cpus : 1);

	workers /= (n_jobs ? n_jobs : 1) * (parts ? parts : 1);
	return workers ? workers : 1;
}

static void writer_opts(const struct plugin_config *cfg, unsigned int n_jobs, unsigned int parts,
			struct compress_writer_opts *o)
{
	compress_writer_opts_default(o);
	o->level = cfg->compress ? cfg->zstd_level : COMPRESS_LEVEL_OFF;
	o->filter = cfg->filter == PLUGIN_FILTER_BYTES2	  ? COMPRESS_FILTER_BYTEGROUP2
		    : cfg->filter == PLUGIN_FILTER_BYTES4 ? COMPRESS_FILTER_BYTEGROUP4
							  : COMPRESS_FILTER_NONE;
	o->filter_auto = cfg->filter == PLUGIN_FILTER_AUTO;
	o->workers = part_workers(cfg, n_jobs, parts);
	o->chunk_size = (uint32_t)cfg->chunk_size;
	o->queue_depth = cfg->io_depth;
	o->direct_io = cfg->direct_io;
	o->fsync = cfg->fsync;
}

static void stats_add(struct transfer_stats *st, const struct compress_stats *cs)
{
	st->stored += cs->file_bytes;
	st->chunks_zero += cs->chunks[COMPRESS_CODEC_ZERO];
	st->chunks_raw += cs->chunks[COMPRESS_CODEC_RAW];
	st->chunks_zstd += cs->chunks[COMPRESS_CODEC_ZSTD] + cs->chunks[COMPRESS_CODEC_PLANES];
	st->chunks_ref += cs->chunks[COMPRESS_CODEC_REF];
	st->ref_bytes += cs->ref_bytes;
	st->codec_busy_s += cs->codec_ns / 1e9;
	st->io_busy_s += cs->io_ns / 1e9;
	st->io_bytes += cs->io_bytes;
	st->zero_s += cs->zero_ns / 1e9;
	st->filter_s += cs->filter_ns / 1e9;
	st->checksum_s += cs->checksum_ns / 1e9;
	st->copy_s += cs->copy_ns / 1e9;
	st->workers_cpu_s += cs->workers_cpu_ns / 1e9;
	st->completion_cpu_s += cs->completion_cpu_ns / 1e9;
	st->workers += cs->workers;
}

/* The GPU thread's account, at the end of its job. */
static void stats_gpu(struct transfer_stats *st, const struct pipe *p, double cpu0)
{
	st->dma_busy_s = p->dma_busy;
	st->feed_wait_s = p->feed_wait;
	st->gpu_issue_s = p->t_issue;
	st->gpu_dma_wait_s = p->t_dma_wait;
	st->gpu_poll_s = p->t_poll;
	st->gpu_submit_s = p->t_submit;
	st->gpu_wait_s = p->t_wait;
	st->gpu_cpu_s = common_thread_cpu_s() - cpu0;
}

struct job_arg {
	const struct plugin_config *cfg;
	const struct plugin_dma_ops *ops;
	struct transfer_job *job;
	unsigned int n_jobs;
	struct compress_rate *rate; /* VRAMSTREAM_IO_RATE over the job's files, or NULL */
};

/*
 * Opens the stream files of one job on threads of their own, while the job's
 * thread starts the engine and pins its buffers: each file's writer or reader
 * sets up io_uring and its threads, and with O_DIRECT onto a device pins its
 * staging memory. One after the other, 16 files took about 0.3 s on the H100
 * machine when staging was always pinned (bench/RESULTS.md), a quarter of an
 * 8 GiB dump; side by side with the engine's start they cost next to nothing.
 */
struct part_opener {
	pthread_t thread;
	bool started;
	char path[PATH_MAX];
	struct compress_writer_opts wo_part;   /* dump: this part's options */
	const struct compress_writer_opts *wo; /* dump */
	struct compress_writer **w;
	const struct compress_reader_opts *ro; /* restore */
	struct compress_reader **rd;
	int r;
	struct compress_err err;
};

static void *part_open_main(void *arg)
{
	struct part_opener *po = arg;

	if (po->wo)
		po->r = compress_writer_new(po->path, po->wo, po->w, &po->err);
	else
		po->r = compress_reader_open(po->path, po->ro, po->rd, &po->err);
	return NULL;
}

/* Starts opening parts 0..@parts-1 of @job's stream: writers into @w with
 * @wo, or readers into @rd with @ro. */
static void parts_open_start(struct part_opener *po, const struct transfer_job *job,
			     unsigned int parts, const struct compress_writer_opts *wo,
			     struct compress_writer **w, const struct compress_reader_opts *ro,
			     struct compress_reader **rd)
{
	for (unsigned int i = 0; i < parts; i++) {
		po[i] = (struct part_opener){ .w = &w[i], .ro = ro, .rd = &rd[i] };
		if (wo) {
			po[i].wo_part = *wo;
			po[i].wo_part.dedup = job->dedup;
			po[i].wo_part.source = IMAGE_SOURCE_OWN(job->source_index, i);
			po[i].wo = &po[i].wo_part;
		}
		po[i].r = image_part_name(job->stream_path, i, po[i].path, sizeof(po[i].path));
		if (po[i].r)
			continue;
		/* Without a thread, open it here. */
		po[i].started = common_thread_start(&po[i].thread, part_open_main, &po[i]) == 0;
		if (!po[i].started)
			part_open_main(&po[i]);
	}
}

/* Waits for the parts; the first failure is the job's error. */
static int parts_open_join(struct part_opener *po, unsigned int parts, struct pipe *p)
{
	int r = 0;

	for (unsigned int i = 0; i < parts; i++) {
		if (po[i].started)
			pthread_join(po[i].thread, NULL);
		if (po[i].r && !r) {
			r = po[i].r;
			pipe_fail(p, r, "%s", *po[i].err.msg ? po[i].err.msg : strerror(-r));
		}
	}
	return r;
}

/*
 * The part to hand the next buffer to: the one whose writer can queue the
 * most chunks now, the first such from @start on, so equal parts take turns.
 * Round-robin alone made the GPU's thread wait on a part busy with a long
 * write while others sat idle.
 */
static unsigned int roomiest_part(struct compress_writer *const *w, unsigned int parts,
				  unsigned int start)
{
	unsigned int best = start, best_room = 0;

	for (unsigned int k = 0; k < parts; k++) {
		unsigned int i = (start + k) % parts, room = compress_writer_room(w[i]);

		if (room > best_room) {
			best = i;
			best_room = room;
		}
	}
	return best;
}

/* Returns buffer @buf to the free list. */
static void give_back(struct pipe *p, unsigned int buf)
{
	pthread_mutex_lock(&p->lock);
	idxq_push(&p->free_bufs, buf);
	pthread_mutex_unlock(&p->lock);
}

/* The first error a compress/ callback reported, or 0. */
static int cb_error(struct pipe *p)
{
	int r;

	pthread_mutex_lock(&p->lock);
	r = p->cb_error;
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* One GPU's dump: the pipe, the stream's parts and where the copies are. */
struct dump_run {
	const struct job_arg *a;
	struct transfer_job *job;
	struct pipe p;
	struct buf_cookie *cookies;
	struct compress_writer *w[IMAGE_PARTS_MAX];
	unsigned int parts, next_part; /* next_part: where the roomiest is looked for */
	unsigned int bo;	       /* the next copy: BO index and offset in it */
	uint64_t off;
	struct compress_err cerr;
};

/* Picks the part count, then opens the parts beside the engine's start. */
static int dump_open(struct dump_run *dr)
{
	struct part_opener openers[IMAGE_PARTS_MAX];
	struct transfer_job *job = dr->job;
	struct compress_writer_opts wo;
	int r, r2;

	dr->parts = job->n_parts ? job->n_parts : job_parts(dr->a->cfg, dr->a->n_jobs);
	if (dr->parts > IMAGE_PARTS_MAX)
		dr->parts = IMAGE_PARTS_MAX;
	job->n_parts = dr->parts;
	writer_opts(dr->a->cfg, dr->a->n_jobs, dr->parts, &wo);
	wo.rate = dr->a->rate;
	parts_open_start(openers, job, dr->parts, &wo, dr->w, NULL, NULL);
	r = pipe_setup(&dr->p, dr->a->cfg, dr->a->ops, job);
	r2 = parts_open_join(openers, dr->parts, &dr->p);
	if (r || r2)
		return r ? r : r2;
	dr->cookies = cookies_for(&dr->p);
	return dr->cookies ? 0 : -ENOMEM;
}

/* Starts the copy of the next piece of BO memory into free buffer @buf. */
static int dump_issue(struct dump_run *dr, unsigned int buf)
{
	const struct transfer_bo *b = &dr->job->bos[dr->bo];
	uint64_t len = b->size - dr->off;
	int r = 0;

	if (len > dr->p.buffer_size)
		len = dr->p.buffer_size;
	if (len == 0) /* empty BO */
		give_back(&dr->p, buf);
	else
		r = issue_copy(&dr->p, buf, dr->bo, dr->off, len, false, b->tag);
	if (r)
		return r;
	dr->off += len;
	if (dr->off == b->size) {
		dr->bo++;
		dr->off = 0;
	}
	return 0;
}

/* Waits for the oldest copy and hands its buffer to the part with most room. */
static int dump_hand_oldest(struct dump_run *dr)
{
	struct pipe *p = &dr->p;
	struct inflight done;
	unsigned int part;
	double t_wait;
	int r = retire_oldest(p, &done);

	if (r)
		return r;
	part = roomiest_part(dr->w, dr->parts, dr->next_part);
	t_wait = common_now_s();
	r = compress_writer_push(dr->w[part], p->ops->buffer(p->dma, done.buf), done.len, done.tag,
				 done.offset, on_pushed, &dr->cookies[done.buf]);
	p->feed_wait += common_now_s() - t_wait;
	p->t_submit += common_now_s() - t_wait;
	if (r) {
		struct compress_stats cs;

		/* The stream failed (ENOSPC, EIO, ...): finish() reports why with
		 * the file named, and removes the temporary file. */
		if (compress_writer_finish(dr->w[part], &cs, &dr->cerr))
			pipe_fail(p, r, "%s", dr->cerr.msg);
		return r;
	}
	__atomic_fetch_add(&dr->job->progress, done.len, __ATOMIC_RELAXED);
	dr->next_part = (part + 1) % dr->parts;
	return 0;
}

/* Keeps every free buffer busy with a copy, handing filled ones to compress/. */
static int dump_loop(struct dump_run *dr)
{
	struct pipe *p = &dr->p;

	for (;;) {
		bool more = dr->bo < dr->job->n_bos;
		int buf = -1, r;

		if (more) {
			double t_wait = common_now_s();

			buf = take_free(p, p->fifo_len == 0);
			if (p->fifo_len == 0) {
				p->feed_wait += common_now_s() - t_wait;
				p->t_wait += common_now_s() - t_wait;
			}
		}
		if (buf >= 0)
			r = dump_issue(dr, (unsigned int)buf);
		else if (p->fifo_len)
			r = dump_hand_oldest(dr); /* no free buffer */
		else if (more)
			r = cb_error(p); /* take_free() gave nothing: a writer failed? */
		else
			return 0; /* every BO copied and handed on */
		if (r)
			return r;
	}
}

/*
 * Drains the copies in flight, then finishes every part (renamed into
 * place) if all went well; otherwise removes the parts, finished or not.
 */
static int dump_finish(struct dump_run *dr, int r)
{
	struct transfer_job *job = dr->job;

	while (dr->p.fifo_len) {
		struct inflight done;

		retire_oldest(&dr->p, &done);
	}
	if (!r)
		r = cb_error(&dr->p);
	/* On failure compress_writer_free() waits for the workers still reading
	 * our buffers and removes the temporary files. */
	for (unsigned int i = 0; !r && i < dr->parts; i++) {
		struct compress_stats cs = { 0 };

		r = compress_writer_finish(dr->w[i], &cs, &dr->cerr);
		if (r)
			pipe_fail(&dr->p, r, "%s", dr->cerr.msg);
		job->stats.bytes += cs.raw_bytes;
		stats_add(&job->stats, &cs);
	}
	/* Parts already finished are complete files of a failed dump. */
	for (unsigned int i = 0; r && i < dr->parts; i++) {
		char path[PATH_MAX];

		if (!image_part_name(job->stream_path, i, path, sizeof(path)))
			unlink(path);
	}
	return r;
}

/*
 * Dump. A GPU's stream is striped over job->n_parts files, each chunk handed
 * to the file with the most room (roomiest_part): one file takes one writer
 * at a time (the inode lock, and io_uring serialises buffered writes to one
 * inode), so a single file caps a dump at one core's memcpy into the page
 * cache (2.3 GB/s measured on the H100 machine's tmpfs, bench/RESULTS.md).
 */
static void *dump_job(void *arg)
{
	struct dump_run dr = { .a = arg, .job = ((struct job_arg *)arg)->job };
	struct transfer_job *job = dr.job;
	double t0 = common_now_s(), cpu0 = common_thread_cpu_s();
	int r;

	r = dump_open(&dr);
	if (!r) {
		job->stats.setup_s = common_now_s() - t0;
		r = dump_finish(&dr, dump_loop(&dr));
	}
	for (unsigned int i = 0; i < IMAGE_PARTS_MAX; i++)
		compress_writer_free(dr.w[i]);
	stats_gpu(&job->stats, &dr.p, cpu0);
	job->stats.seconds = common_now_s() - t0;
	if (r && !job->status)
		pipe_fail(&dr.p, r, "%s", strerror(-r));
	pipe_teardown(&dr.p);
	free(dr.cookies);
	return NULL;
}

/* The chunk of (tag, offset) in any part; -ENOENT when none has it. */
static int find_chunk(struct compress_reader **rd, unsigned int parts, uint64_t tag, uint64_t off,
		      struct compress_chunk_info *ci)
{
	for (unsigned int i = 0; i < parts; i++) {
		int64_t c = compress_reader_find(rd[i], tag, off);

		if (c >= 0 && !compress_reader_chunk(rd[i], (uint64_t)c, ci) && ci->offset == off)
			return 0;
	}
	return -ENOENT;
}

/* Restore: the streams must cover every BO, chunk by chunk. */
static int check_coverage(struct compress_reader **rd, unsigned int parts, struct transfer_job *job,
			  char *err, size_t err_len)
{
	for (unsigned int i = 0; i < job->n_bos; i++) {
		const struct transfer_bo *b = &job->bos[i];
		uint64_t off = 0;

		while (off < b->size) {
			struct compress_chunk_info ci;

			if (find_chunk(rd, parts, b->tag, off, &ci)) {
				common_errf(err, err_len,
					    "%s%s has no chunk for BO %" PRIu64
					    " at offset %" PRIu64 " (of %" PRIu64
					    " bytes): image damaged or incomplete",
					    job->stream_path, parts > 1 ? " (and its parts)" : "",
					    b->tag, off, b->size);
				return -EINVAL;
			}
			off += ci.raw_len;
		}
		if (off != b->size) {
			common_errf(err, err_len,
				    "%s holds %" PRIu64 " bytes for BO %" PRIu64
				    ", which has %" PRIu64 ": image damaged",
				    job->stream_path, off, b->tag, b->size);
			return -EINVAL;
		}
	}
	return 0;
}

static int bo_of_tag(const struct transfer_job *job, uint64_t tag)
{
	for (unsigned int i = 0; i < job->n_bos; i++)
		if (job->bos[i].tag == tag)
			return (int)i;
	return -1;
}

static bool job_cancelled(const struct transfer_job *job)
{
	return job->cancel && __atomic_load_n(job->cancel, __ATOMIC_RELAXED);
}

/*
 * The part to read from next, among those with chunks left (@next against
 * @n_chunks) and not in @full: the one whose reader takes the most reads
 * now, the first such from @start on; @parts when there is none. Taking
 * parts in turn made the GPU's thread wait on a part whose queue was full
 * while others could read.
 */
static unsigned int roomiest_reader(struct compress_reader *const *rd, unsigned int parts,
				    unsigned int start, const uint64_t *next,
				    const uint64_t *n_chunks, uint32_t full)
{
	unsigned int best = parts, best_room = 0;

	for (unsigned int k = 0; k < parts; k++) {
		unsigned int i = (start + k) % parts, room;

		if (next[i] >= n_chunks[i] || (full & (1u << i)))
			continue;
		room = compress_reader_room(rd[i]);
		if (best == parts || room > best_room) {
			best = i;
			best_room = room;
		}
	}
	return best;
}

/* One GPU's restore: the pipe and the stream's parts being read. */
struct restore_run {
	const struct job_arg *a;
	struct transfer_job *job;
	struct pipe p;
	struct buf_cookie *cookies;
	struct compress_reader *rd[IMAGE_PARTS_MAX];
	uint64_t next[IMAGE_PARTS_MAX];	    /* per part: the next chunk to read or fill */
	uint64_t n_chunks[IMAGE_PARTS_MAX]; /* per part */
	unsigned int parts, part;	    /* part: where the next read is looked for */
	uint64_t pending_reads;		    /* reads queued whose buffer has not come back */
	bool fills_off;			    /* the engine refused a fill: zero chunks are read */
	/* Parts whose reader took no more reads in this round of feeding; when
	 * every part with chunks left is here, only a landing read frees room. */
	uint32_t full;
	bool readers_full;
	unsigned int nap_us;
	struct compress_err cerr;
};

static bool reads_left(const struct restore_run *rr)
{
	for (unsigned int k = 0; k < rr->parts; k++)
		if (rr->next[k] < rr->n_chunks[k])
			return true;
	return false;
}

/* Every part's chunks fit a pinned buffer. */
static int check_chunk_sizes(struct restore_run *rr)
{
	for (unsigned int i = 0; i < rr->parts; i++) {
		uint32_t cs = compress_reader_chunk_size(rr->rd[i]);
		char path[PATH_MAX];
		int r = image_part_name(rr->job->stream_path, i, path, sizeof(path));

		if (r)
			return r;
		if (cs > rr->p.buffer_size) {
			pipe_fail(&rr->p, -EINVAL,
				  "%s has %u-byte chunks, larger than the %" PRIu64
				  "-byte pinned buffers: restore with VRAMSTREAM_BUFFER_SIZE >= %u",
				  path, cs, rr->p.buffer_size, cs);
			return -EINVAL;
		}
		rr->n_chunks[i] = compress_reader_chunk_count(rr->rd[i]);
	}
	return 0;
}

/*
 * The files references of each part name, from the image's list: a parent
 * that is gone or changed fails here, before this job writes any BO.
 */
static int attach_sources(struct restore_run *rr)
{
	const struct transfer_job *job = rr->job;
	char why[1024];

	for (unsigned int i = 0; job->refs_img && i < rr->parts; i++) {
		char path[PATH_MAX];
		const char *base;
		int r = image_part_name(job->stream_path, i, path, sizeof(path));

		if (r)
			return r;
		base = strrchr(path, '/');
		r = image_sources_attach(job->refs_dirfd, job->refs_img, rr->rd[i],
					 base ? base + 1 : path, why, sizeof(why));
		if (r) {
			pipe_fail(&rr->p, r, "%s", why);
			return r;
		}
	}
	return 0;
}

/* Opens the parts beside the engine's start and checks them against the job. */
static int restore_open(struct restore_run *rr)
{
	const struct plugin_config *cfg = rr->a->cfg;
	struct part_opener openers[IMAGE_PARTS_MAX];
	struct compress_reader_opts ro;
	int r, r2;

	compress_reader_opts_default(&ro);
	ro.workers = part_workers(cfg, rr->a->n_jobs, rr->parts);
	ro.queue_depth = cfg->io_depth;
	ro.direct_io = cfg->direct_io;
	ro.rate = rr->a->rate;
	parts_open_start(openers, rr->job, rr->parts, NULL, NULL, &ro, rr->rd);
	r = pipe_setup(&rr->p, cfg, rr->a->ops, rr->job);
	r2 = parts_open_join(openers, rr->parts, &rr->p);
	if (r || r2)
		return r ? r : r2;
	rr->cookies = cookies_for(&rr->p);
	if (!rr->cookies)
		return -ENOMEM;
	r = check_chunk_sizes(rr);
	if (r)
		return r;
	r = attach_sources(rr);
	if (r)
		return r;
	r = check_coverage(rr->rd, rr->parts, rr->job, rr->cerr.msg, sizeof(rr->cerr.msg));
	if (r)
		pipe_fail(&rr->p, r, "%s", rr->cerr.msg);
	return r;
}

/* Past the chunk just handed on, to the next part. */
static void advance(struct restore_run *rr)
{
	rr->next[rr->part]++;
	rr->part = (rr->part + 1) % rr->parts;
}

/* A zero chunk the engine can fill itself while there is room in flight. */
static bool can_fill(const struct restore_run *rr, const struct compress_chunk_info *ci)
{
	const struct pipe *p = &rr->p;

	return ci->codec == COMPRESS_CODEC_ZERO && !rr->fills_off && p->ops->fill &&
	       ci->raw_len % 4 == 0 && ci->offset % 4 == 0 &&
	       p->fifo_len < p->fifo_cap - p->n_buffers && bo_of_tag(rr->job, ci->tag) >= 0;
}

/*
 * Queues the read of chunk @ci of the current part into a free buffer; 1
 * when no buffer is free or the part's reader is full (-EAGAIN from
 * compress/: nothing queued, the buffer goes back).
 */
static int read_chunk(struct restore_run *rr, const struct compress_chunk_info *ci,
		      bool *progressed)
{
	struct pipe *p = &rr->p;
	double t_read;
	int buf = take_free(p, false), r;

	if (buf < 0)
		return 1;
	p->buf_chunk[buf] = *ci;
	if (bo_of_tag(rr->job, ci->tag) < 0) {
		/* A chunk of a BO this job does not restore: skip it. */
		give_back(p, (unsigned int)buf);
		advance(rr);
		return 0;
	}
	t_read = common_now_s();
	r = compress_reader_try_read(rr->rd[rr->part], rr->next[rr->part],
				     p->ops->buffer(p->dma, (unsigned int)buf), p->buffer_size,
				     on_read, &rr->cookies[buf]);
	p->t_submit += common_now_s() - t_read;
	if (r == -EAGAIN) {
		give_back(p, (unsigned int)buf);
		rr->full |= 1u << rr->part;
		return 2;
	}
	if (r) {
		pipe_fail(p, r, "reading chunk %" PRIu64 " of %s failed: %s", rr->next[rr->part],
			  rr->job->stream_path, strerror(-r));
		return r;
	}
	rr->pending_reads++;
	*progressed = true;
	advance(rr);
	return 0;
}

/*
 * Hands the next chunk on: a zero chunk to the engine as a fill, any other
 * into a free buffer. 0 when one went, 1 when the feed should stop (a
 * filled buffer waits for the engine, no buffer is free, or no reader with
 * chunks left has room), or an error.
 */
static int feed_one(struct restore_run *rr, bool *progressed)
{
	struct compress_chunk_info ci;
	bool have_ready;
	int r;

	/* Filled buffers go to the engine first: with many free buffers,
	 * queueing every read before the first copy would run the reads and
	 * the copies one after the other. */
	pthread_mutex_lock(&rr->p.lock);
	have_ready = rr->p.ready.len > 0;
	pthread_mutex_unlock(&rr->p.lock);
	if (have_ready)
		return 1;
	for (;;) {
		unsigned int part = roomiest_reader(rr->rd, rr->parts, rr->part, rr->next,
						    rr->n_chunks, rr->full);

		if (part == rr->parts) {
			rr->readers_full = true;
			return 1;
		}
		rr->part = part;
		compress_reader_chunk(rr->rd[part], rr->next[part], &ci);
		if (can_fill(rr, &ci))
			break;
		r = read_chunk(rr, &ci, progressed);
		if (r != 2)
			return r;
	}
	if (can_fill(rr, &ci)) {
		r = issue_fill(&rr->p, (unsigned int)bo_of_tag(rr->job, ci.tag), ci.offset,
			       ci.raw_len, ci.tag);
		if (!r) {
			__atomic_fetch_add(&rr->job->progress, ci.raw_len, __ATOMIC_RELAXED);
			*progressed = true;
			advance(rr);
			return 0;
		}
		if (r != -ENOTSUP)
			return r;
		rr->fills_off = true; /* the engine cannot: host buffers it is */
	}
	r = read_chunk(rr, &ci, progressed);
	return r == 2 ? 0 : r; /* a full reader: the next call looks at the others */
}

/* Starts reads (and fills) while chunks are left, buffers free and readers
 * take them. */
static int feed(struct restore_run *rr, bool *progressed)
{
	rr->full = 0;
	rr->readers_full = false;
	while (reads_left(rr)) {
		int r = feed_one(rr, progressed);

		if (r)
			return r < 0 ? r : 0;
	}
	return 0;
}

/* Copies one filled buffer to the GPU, if one is ready; *copied says so. */
static int copy_ready(struct restore_run *rr, bool *copied)
{
	struct pipe *p = &rr->p;
	struct compress_chunk_info *ci;
	int buf, r;

	pthread_mutex_lock(&p->lock);
	r = p->cb_error;
	buf = !r && p->ready.len ? (int)idxq_pop(&p->ready) : -1;
	pthread_mutex_unlock(&p->lock);
	*copied = buf >= 0;
	if (r || buf < 0)
		return r;
	ci = &p->buf_chunk[buf];
	rr->pending_reads--;
	r = issue_copy(p, (unsigned int)buf, (unsigned int)bo_of_tag(rr->job, ci->tag), ci->offset,
		       ci->raw_len, true, ci->tag);
	if (!r)
		__atomic_fetch_add(&rr->job->progress, ci->raw_len, __ATOMIC_RELAXED);
	return r;
}

/*
 * Whatever copy finished first frees its buffer for the next read. While
 * reads are left, nap briefly rather than block on the oldest copy: another
 * engine may finish first, or a read land.
 */
static int retire_one(struct restore_run *rr, bool more_reads)
{
	struct pipe *p = &rr->p;
	struct inflight done;
	int r = retire_finished(p, &done);

	if (r == -EAGAIN && more_reads && can_poll(p)) {
		/* Not counted as waiting on reads: the engines are busy. */
		nap(p, rr->nap_us);
		rr->nap_us = rr->nap_us < 200 ? 2 * rr->nap_us : 200;
		return 0;
	}
	if (r == -EAGAIN)
		r = retire_oldest(p, &done);
	if (r)
		return r;
	rr->nap_us = 50;
	if (done.buf != NO_BUFFER)
		give_back(p, done.buf);
	return 0;
}

/*
 * Nothing to do but wait for a read to land or a buffer to come back (a
 * buffer is no use while every reader is full: compress/ frees a reader's
 * room before the read's callback makes its buffer ready).
 */
static void wait_reads(struct restore_run *rr, bool more_reads)
{
	struct pipe *p = &rr->p;
	double t_wait = common_now_s();

	more_reads = more_reads && !rr->readers_full;
	pthread_mutex_lock(&p->lock);
	while (!p->ready.len && !p->cb_error && !(more_reads && p->free_bufs.len))
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	p->feed_wait += common_now_s() - t_wait;
	p->t_wait += common_now_s() - t_wait;
}

/* Feed, copy, retire, wait, until every chunk is on the GPU or one step fails. */
static int restore_loop(struct restore_run *rr)
{
	struct transfer_job *job = rr->job;
	struct pipe *p = &rr->p;

	for (;;) {
		bool progressed = false, copied, more_reads;
		int r;

		if (job_cancelled(job)) {
			pipe_fail(p, -ECANCELED,
				  "restore of %s stopped: the restore failed elsewhere",
				  job->stream_path);
			return -ECANCELED;
		}
		r = feed(rr, &progressed);
		if (!r)
			r = copy_ready(rr, &copied);
		if (r)
			return r;
		if (copied || progressed)
			continue;
		more_reads = reads_left(rr);
		if (!more_reads && !rr->pending_reads && !p->fifo_len)
			return 0; /* all done */
		if (p->fifo_len && (!more_reads || !free_count(p))) {
			r = retire_one(rr, more_reads);
			if (r)
				return r;
			continue;
		}
		wait_reads(rr, more_reads);
	}
}

/* Waits for reads and copies still in flight; adds the readers' stats. */
static int restore_drain(struct restore_run *rr, int r)
{
	struct transfer_job *job = rr->job;

	for (unsigned int i = 0; i < rr->parts; i++) {
		int w;

		if (!rr->rd[i])
			continue;
		w = compress_reader_wait(rr->rd[i], &rr->cerr);
		if (w && !job->status)
			pipe_fail(&rr->p, w, "%s", rr->cerr.msg);
		if (w && !r)
			r = w;
	}
	while (rr->p.fifo_len) {
		struct inflight done;

		if (retire_oldest(&rr->p, &done) && !r)
			r = job->status;
	}
	for (unsigned int i = 0; i < rr->parts; i++) {
		struct compress_stats cs = { 0 };

		if (!rr->rd[i])
			continue;
		compress_reader_stats(rr->rd[i], &cs);
		stats_add(&job->stats, &cs);
	}
	return r;
}

static void *restore_job(void *arg)
{
	struct restore_run rr = { .a = arg, .job = ((struct job_arg *)arg)->job, .nap_us = 50 };
	struct transfer_job *job = rr.job;
	double t0 = common_now_s(), cpu0 = common_thread_cpu_s();
	int r;

	rr.parts = job->n_parts ? job->n_parts : 1;
	if (rr.parts > IMAGE_PARTS_MAX)
		rr.parts = IMAGE_PARTS_MAX;
	r = restore_open(&rr);
	if (!r) {
		job->stats.setup_s = common_now_s() - t0;
		r = restore_drain(&rr, restore_loop(&rr));
	}
	for (unsigned int i = 0; i < IMAGE_PARTS_MAX; i++)
		compress_reader_free(rr.rd[i]);
	stats_gpu(&job->stats, &rr.p, cpu0);
	job->stats.bytes = transfer_job_progress(job); /* what went to the engine */
	job->stats.seconds = common_now_s() - t0;
	if (r && !job->status)
		pipe_fail(&rr.p, r, "%s", strerror(-r));
	pipe_teardown(&rr.p);
	free(rr.cookies);
	return NULL;
}

void transfer_deadline(double seconds, struct timespec *ts)
{
	time_t whole;

	clock_gettime(CLOCK_REALTIME, ts);
	if (seconds < 0)
		seconds = 0;
	whole = (time_t)seconds;
	ts->tv_sec += whole;
	ts->tv_nsec += (long)((seconds - (double)whole) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

uint64_t transfer_job_progress(const struct transfer_job *job)
{
	return __atomic_load_n(&job->progress, __ATOMIC_RELAXED);
}

struct job_done {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int left;
};

/* One job of run_jobs(): its argument and, when it has one, its thread. */
struct job_slot {
	struct job_arg arg;
	void *(*fn)(void *);
	struct job_done *done;
	pthread_t thread;
	bool started;
};

static void *job_thread_main(void *p)
{
	struct job_slot *js = p;

	js->fn(&js->arg);
	pthread_mutex_lock(&js->done->lock);
	js->done->left--;
	pthread_cond_broadcast(&js->done->cond);
	pthread_mutex_unlock(&js->done->lock);
	return NULL;
}

/* Waits for the job threads, calling @progress every interval meanwhile. */
static void wait_jobs(struct job_done *done, const struct transfer_progress *progress,
		      const struct transfer_job *jobs, unsigned int n)
{
	double t0 = common_now_s(), next = t0 + progress->interval_s;

	pthread_mutex_lock(&done->lock);
	while (done->left) {
		struct timespec ts;

		transfer_deadline(next - common_now_s(), &ts);
		pthread_cond_timedwait(&done->cond, &done->lock, &ts);
		if (done->left && common_now_s() >= next) {
			pthread_mutex_unlock(&done->lock);
			progress->fn(progress->ctx, jobs, n, common_now_s() - t0);
			pthread_mutex_lock(&done->lock);
			next = common_now_s() + progress->interval_s;
		}
	}
	pthread_mutex_unlock(&done->lock);
}

static int run_jobs(void *(*fn)(void *), const struct plugin_config *cfg,
		    const struct plugin_dma_ops *ops, struct transfer_job *jobs, unsigned int n,
		    const struct transfer_progress *progress)
{
	struct job_done done = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	struct job_slot *slots = calloc(n ? n : 1, sizeof(*slots));
	bool watch = progress && progress->fn && progress->interval_s > 0;
	int r = 0;

	if (!slots)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		struct job_slot *js = &slots[i];

		*js = (struct job_slot){ { cfg, ops, &jobs[i], n, NULL }, fn, &done };
		if (compress_rate_new(cfg->io_rate, &js->arg.rate)) {
			r = -ENOMEM;
			jobs[i].status = r;
			snprintf(jobs[i].err, sizeof(jobs[i].err), "out of memory");
			n = i; /* start none of the rest */
			break;
		}
		jobs[i].status = 0;
		jobs[i].err[0] = '\0';
		memset(&jobs[i].stats, 0, sizeof(jobs[i].stats));
		jobs[i].progress = 0;
		/*
		 * One GPU runs on the calling thread and the others in parallel,
		 * unless the caller watches progress: then every job has a thread.
		 */
		if (n > 1 || watch) {
			pthread_mutex_lock(&done.lock);
			done.left++;
			pthread_mutex_unlock(&done.lock);
			if (common_thread_start(&js->thread, job_thread_main, js) == 0) {
				js->started = true;
				continue;
			}
			pthread_mutex_lock(&done.lock);
			done.left--;
			pthread_mutex_unlock(&done.lock);
		}
		fn(&js->arg);
	}
	if (watch)
		wait_jobs(&done, progress, jobs, n);
	for (unsigned int i = 0; i < n; i++) {
		if (slots[i].started)
			pthread_join(slots[i].thread, NULL);
		if (jobs[i].status && !r)
			r = jobs[i].status;
		compress_rate_free(slots[i].arg.rate);
	}
	free(slots);
	return r;
}

int transfer_dump(const struct plugin_config *cfg, const struct plugin_dma_ops *dma,
		  struct transfer_job *jobs, unsigned int n_jobs)
{
	return run_jobs(dump_job, cfg, dma, jobs, n_jobs, NULL);
}

int transfer_restore(const struct plugin_config *cfg, const struct plugin_dma_ops *dma,
		     struct transfer_job *jobs, unsigned int n_jobs)
{
	return run_jobs(restore_job, cfg, dma, jobs, n_jobs, NULL);
}

int transfer_dump_progress(const struct plugin_config *cfg, const struct plugin_dma_ops *dma,
			   struct transfer_job *jobs, unsigned int n_jobs,
			   const struct transfer_progress *progress)
{
	return run_jobs(dump_job, cfg, dma, jobs, n_jobs, progress);
}

int transfer_restore_progress(const struct plugin_config *cfg, const struct plugin_dma_ops *dma,
			      struct transfer_job *jobs, unsigned int n_jobs,
			      const struct transfer_progress *progress)
{
	return run_jobs(restore_job, cfg, dma, jobs, n_jobs, progress);
}
