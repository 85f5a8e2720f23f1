/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stream reader: validates header, footer and index at open, then reads
 * chunks with io_uring and decompresses, unfilters and verifies them on worker
 * threads straight into caller buffers, many at once. Every failure names the
 * file, the chunk and its tag; nothing is handed back unverified.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress_internal.h"

struct cr_job {
	struct cr_job *next;
	uint64_t index;			     /* in the reader's index */
	const struct compress_chunk_info *e; /* the stored chunk: index's, or its reference's */
	struct cr_file *file;		     /* that holds e */
	uint8_t *dst;
	compress_done_fn done;
	void *cookie;
	int staging; /* staging buffer held, or -1 */
	uint8_t *in; /* where the stored bytes land */
	int fd;
	uint32_t want, got;
	uint64_t submit_ns;
	int status;
	bool here;   /* read by the worker itself (memory_fs), not by io_uring */
	bool summed; /* sum holds the hash of the raw bytes, taken while reading */
	struct compress_hash sum;
};

static int cr_resolve(const struct compress_reader *r, const struct compress_chunk_info *ref,
		      struct cr_file **file, const struct compress_chunk_info **out, char *why,
		      size_t why_len);

void compress_reader_opts_default(struct compress_reader_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->direct_io = true;
}

static uint8_t *cr_staging(struct compress_reader *r, int i)
{
	return (uint8_t *)r->staging_mem + (size_t)i * r->staging_size;
}

static void cr_job_error(struct compress_reader *r, struct cr_job *j, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void cr_job_error(struct compress_reader *r, struct cr_job *j, int err, const char *fmt, ...)
{
	const struct compress_chunk_info *e = &r->f.entries[j->index];
	char why[300], via[300] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (j->file && j->file != &r->f)
		snprintf(via, sizeof(via), ", stored in %s at tag %llu, offset %llu", j->file->name,
			 (unsigned long long)e->src_tag, (unsigned long long)e->src_offset);
	j->status = err;
	pthread_mutex_lock(&r->lock);
	if (!r->error) {
		r->error = err;
		snprintf(r->error_msg.msg, sizeof(r->error_msg.msg),
			 "%s: chunk %llu (tag %llu, offset %llu, %s%s): %s", r->f.name,
			 (unsigned long long)j->index, (unsigned long long)e->tag,
			 (unsigned long long)e->offset, compress_codec_name(e->codec), via, why);
	}
	pthread_mutex_unlock(&r->lock);
}

static void cr_job_done(struct compress_reader *r, struct cr_job *j)
{
	const struct compress_chunk_info *e = &r->f.entries[j->index];
	compress_done_fn done = j->done;
	void *cookie = j->cookie;
	int status = j->status;

	pthread_mutex_lock(&r->lock);
	if (j->staging >= 0)
		r->free_staging[r->nfree_staging++] = j->staging;
	j->staging = -1;
	if (status == 0) {
		r->chunks[e->codec]++;
		r->raw_bytes += e->raw_len;
		r->stored_bytes += e->stored_len;
		if (e->codec == COMPRESS_CODEC_REF)
			r->ref_bytes += e->raw_len;
	}
	j->next = r->free_jobs;
	r->free_jobs = j;
	r->in_flight--;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (done)
		done(cookie, status);
}

static void cr_queue(struct compress_reader *r, struct cr_job *j)
{
	pthread_mutex_lock(&r->lock);
	j->next = NULL;
	if (r->queue_tail)
		r->queue_tail->next = j;
	else
		r->queue_head = j;
	r->queue_tail = j;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Planes codec (FORMAT.md): every plane back into the worker's scratch, still filtered. */
static int cr_planes(struct cr_worker *wk, struct cr_job *j, const struct compress_chunk_info *e)
{
	struct compress_reader *r = wk->r;
	unsigned int el = compress_filter_elem(e->filter);
	uint32_t n = e->raw_len / el, tail = e->raw_len - n * el;
	const uint8_t *p, *end;
	uint8_t *out = wk->scratch;

	if (e->stored_len < 4 * el + tail) {
		cr_job_error(r, j, -EBADMSG, "%u stored bytes cannot hold %u planes", e->stored_len,
			     el);
		return -EBADMSG;
	}
	p = j->in + 4 * el;
	end = j->in + e->stored_len - tail;
	for (unsigned int k = 0; k < el; k++) {
		uint32_t word, len;
		size_t d;

		memcpy(&word, j->in + 4 * k, 4);
		word = le32toh(word);
		len = word & ~COMPRESS_PLANE_RAW;
		if (len > (size_t)(end - p)) {
			cr_job_error(r, j, -EBADMSG, "plane %u of %u bytes overruns the chunk", k,
				     len);
			return -EBADMSG;
		}
		if (word & COMPRESS_PLANE_RAW) {
			if (len != n) {
				cr_job_error(r, j, -EBADMSG, "raw plane %u of %u bytes, not %u", k,
					     len, n);
				return -EBADMSG;
			}
			memcpy(out + (size_t)k * n, p, n);
		} else {
			d = ZSTD_decompressDCtx(wk->dctx, out + (size_t)k * n, n, p, len);
			if (ZSTD_isError(d) || d != n) {
				cr_job_error(r, j, -EBADMSG, "plane %u: zstd: %s", k,
					     ZSTD_isError(d) ? ZSTD_getErrorName(d) : "wrong size");
				return -EBADMSG;
			}
		}
		p += len;
	}
	if (p != end) {
		cr_job_error(r, j, -EBADMSG, "%zu stray bytes after the planes", (size_t)(end - p));
		return -EBADMSG;
	}
	memcpy(out + (size_t)n * el, end, tail);
	return 0;
}

static void cr_process(struct cr_worker *wk, struct cr_job *j)
{
	struct compress_reader *r = wk->r;
	const struct compress_chunk_info *e = j->e;
	uint64_t t0 = compress_now_ns(), t1;
	struct compress_hash sum;

	switch (e->codec) {
	case COMPRESS_CODEC_ZERO:
		memset(j->dst, 0, e->raw_len);
		return;
	case COMPRESS_CODEC_RAW:
		if (j->in != j->dst) {
			memcpy(j->dst, j->in, e->raw_len);
			t1 = compress_now_ns();
			wk->copy_ns += t1 - t0;
			wk->copy_bytes += e->raw_len;
			t0 = t1;
		}
		break;
	case COMPRESS_CODEC_ZSTD: {
		uint8_t *out = e->filter ? wk->scratch : j->dst;
		size_t n = ZSTD_decompressDCtx(wk->dctx, out, e->raw_len, j->in, e->stored_len);

		t1 = compress_now_ns();
		wk->codec_ns += t1 - t0;
		wk->codec_bytes += e->raw_len;
		t0 = t1;
		if (ZSTD_isError(n)) {
			cr_job_error(r, j, -EBADMSG, "zstd: %s", ZSTD_getErrorName(n));
			return;
		}
		if (n != e->raw_len) {
			cr_job_error(r, j, -EBADMSG, "zstd gave %zu bytes, index says %u", n,
				     e->raw_len);
			return;
		}
		if (e->filter) {
			compress_filter_undo(e->filter, out, j->dst, e->raw_len);
			t1 = compress_now_ns();
			wk->filter_ns += t1 - t0;
			wk->filter_bytes += e->raw_len;
			t0 = t1;
		}
		break;
	}
	case COMPRESS_CODEC_PLANES:
		if (cr_planes(wk, j, e) < 0)
			return;
		t1 = compress_now_ns();
		wk->codec_ns += t1 - t0;
		wk->codec_bytes += e->raw_len;
		t0 = t1;
		compress_filter_undo(e->filter, wk->scratch, j->dst, e->raw_len);
		t1 = compress_now_ns();
		wk->filter_ns += t1 - t0;
		wk->filter_bytes += e->raw_len;
		t0 = t1;
		break;
	default:
		cr_job_error(r, j, -EBADMSG, "unknown codec"); /* index decoding rules it out */
		return;
	}
	if (j->summed) {
		sum = j->sum; /* counted by cr_read_here() */
	} else {
		sum = compress_hash_of(j->file->header.version, j->dst, e->raw_len);
		wk->checksum_ns += compress_now_ns() - t0;
		wk->checksum_bytes += e->raw_len;
	}
	if (!compress_hash_eq(sum, e->hash))
		cr_job_error(r, j, -EBADMSG,
			     "checksum mismatch (index %016llx%016llx, data %016llx%016llx): "
			     "damaged chunk",
			     (unsigned long long)e->hash.hi, (unsigned long long)e->hash.lo,
			     (unsigned long long)sum.hi, (unsigned long long)sum.lo);
}

/*
 * Bytes a worker reads at a time on a memory filesystem, small enough to
 * stay in the core's L2 cache between the read that writes them and the
 * checksum that reads them back.
 */
#define CR_READ_PIECE (512u << 10)

/*
 * On tmpfs every read is a memcpy out of the page cache, CPU work like
 * decompression, so the worker that handles the chunk does it: no hop
 * through io_uring's own workers and the completion thread, and a raw
 * chunk's hash (XXH3-128 or version 1's CRC32C, both taken piece by piece)
 * is taken on each piece while it is still in cache instead of in a second pass over
 * the whole chunk from memory. The H100 machine's restores from tmpfs spent
 * 0.43-0.62 CPU s per GB against at most 0.29 for plain read() (issue 21).
 */
static void cr_read_here(struct cr_worker *wk, struct cr_job *j)
{
	struct compress_reader *r = wk->r;
	const struct compress_chunk_info *e = j->e;
	bool sum = e->codec == COMPRESS_CODEC_RAW && wk->hasher;

	if (sum)
		compress_hasher_reset(wk->hasher, j->file->header.version);

	while (j->got < j->want) {
		uint32_t n = j->want - j->got < CR_READ_PIECE ? j->want - j->got : CR_READ_PIECE;
		uint64_t t0 = compress_now_ns(), t1;
		ssize_t got = pread(j->fd, j->in + j->got, n, (off_t)(e->file_offset + j->got));

		t1 = compress_now_ns();
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int err = errno;

			cr_job_error(r, j, -err, "reading: %s", strerror(err));
			return;
		}
		if (got == 0) {
			cr_job_error(r, j, -EBADMSG, "file ends inside the chunk (truncated)");
			return;
		}
		wk->read_ns += t1 - t0;
		wk->read_bytes += (uint64_t)got;
		if (sum) {
			compress_hasher_update(wk->hasher, j->in + j->got, (size_t)got);
			wk->checksum_ns += compress_now_ns() - t1;
			wk->checksum_bytes += (uint64_t)got;
		}
		j->got += (uint32_t)got;
	}
	compress_rate_take(r->rate, j->got);
	j->summed = sum;
	if (sum)
		j->sum = compress_hasher_digest(wk->hasher);
}

static void *cr_worker_main(void *arg)
{
	struct cr_worker *wk = arg;
	struct compress_reader *r = wk->r;
	struct cr_job *j;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		while (!r->queue_head && !r->stopping)
			pthread_cond_wait(&r->cond, &r->lock);
		j = r->queue_head;
		if (!j) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
		r->queue_head = j->next;
		if (!r->queue_head)
			r->queue_tail = NULL;
		pthread_mutex_unlock(&r->lock);
		if (j->status == 0 && j->here)
			cr_read_here(wk, j);
		if (j->status == 0)
			cr_process(wk, j);
		cr_job_done(r, j);
		__atomic_store_n(&wk->cpu_ns, compress_thread_cpu_ns(), __ATOMIC_RELAXED);
	}
}

static int cr_submit(struct compress_reader *r, struct cr_job *j)
{
	const struct compress_chunk_info *e = j->e;

	/* Reads that are copies (buffered, or any read of tmpfs, whose O_DIRECT
	 * since Linux 6.6 copies too) go to io_uring's workers so that several
	 * copy at once: the kernel runs a read it can finish at once inline, and
	 * the caller's one thread copied every chunk (2.9 GB/s on the H100
	 * machine's /dev/shm with 16 streams, bench/RESULTS.md). O_DIRECT reads
	 * of a disk stay asynchronous the native way. */
	return compress_uring_read(
		&r->uring, j->fd, j->in + j->got, j->want - j->got, e->file_offset + j->got,
		j->staging, j->fd != j->file->dfd || j->file->memory_fs, (uint64_t)(j - r->jobs));
}

static void *cr_reaper_main(void *arg)
{
	struct compress_reader *r = arg;
	uint64_t ud;
	int res, ret;

	for (;;) {
		struct cr_job *j;

		ret = compress_uring_reap(&r->uring, &res, &ud);
		__atomic_store_n(&r->reaper_cpu_ns, compress_thread_cpu_ns(), __ATOMIC_RELAXED);
		if (ret < 0 || ud == COMPRESS_URING_STOP)
			return NULL;
		j = &r->jobs[ud];
		if (res == -EINVAL && j->fd == j->file->dfd && j->file->dfd != j->file->fd) {
			/* O_DIRECT refused this read (odd block size?): read it buffered. */
			j->fd = j->file->fd;
			ret = cr_submit(r, j);
			if (ret == 0)
				continue;
			res = ret;
		}
		if (res < 0) {
			cr_job_error(r, j, res, "reading: %s", strerror(-res));
		} else if (res == 0) {
			cr_job_error(r, j, -EBADMSG, "file ends inside the chunk (truncated)");
		} else {
			j->got += (uint32_t)res;
			if (j->got < j->e->stored_len) {
				ret = cr_submit(r, j); /* short read: go on from there */
				if (ret == 0)
					continue;
				cr_job_error(r, j, ret, "continuing a short read: %s",
					     strerror(-ret));
			} else {
				/* Under a rate cap the chunk is ready when its slot ends:
				 * the wait is here, so the caller goes on queueing reads. */
				compress_rate_take(r->rate, j->got);
				pthread_mutex_lock(&r->lock);
				r->io_ns += compress_now_ns() - j->submit_ns;
				r->io_bytes += j->got;
				pthread_mutex_unlock(&r->lock);
			}
		}
		cr_queue(r, j);
	}
}

/* How a chunk is read: by whom, from which descriptor, into what. */
struct cr_plan {
	struct cr_file *file;
	const struct compress_chunk_info *e; /* the stored chunk (a reference resolved) */
	bool failed;			     /* the reference does not resolve: why */
	bool here;			     /* the worker reads it (memory filesystems) */
	bool staging;			     /* through a staging buffer */
	int fd;
	uint32_t want;
	char why[200];
};

static void cr_plan_read(const struct compress_reader *r, const struct compress_chunk_info *e,
			 const void *dst, struct cr_plan *pl)
{
	bool need_staging;

	memset(pl, 0, sizeof(*pl));
	pl->file = (struct cr_file *)&r->f;
	pl->e = e;
	if (e->codec == COMPRESS_CODEC_REF &&
	    cr_resolve(r, e, &pl->file, &pl->e, pl->why, sizeof(pl->why)) < 0) {
		pl->file = (struct cr_file *)&r->f;
		pl->e = e;
		pl->failed = true;
		return;
	}
	e = pl->e;
	pl->fd = pl->file->fd;
	pl->want = e->stored_len;
	if (e->codec == COMPRESS_CODEC_ZERO)
		return;
	need_staging = e->codec != COMPRESS_CODEC_RAW;
	if (pl->file->memory_fs) {
		/* The worker reads it (cr_read_here): raw chunks straight into DST. */
		pl->here = true;
		pl->staging = need_staging;
		return;
	}
	if (pl->file->dfd >= 0) {
		uint32_t want = (uint32_t)compress_align_up(e->stored_len, COMPRESS_ALIGN);

		/*
		 * O_DIRECT reads whole aligned blocks, padding included, into aligned
		 * memory: straight into DST only when that writes nothing past the
		 * chunk (the caller may be filling the bytes after it in parallel).
		 */
		if (need_staging ||
		    ((uintptr_t)dst % COMPRESS_ALIGN == 0 && e->stored_len == want)) {
			pl->fd = pl->file->dfd;
			pl->want = want;
		}
	}
	pl->staging = need_staging || (pl->fd == pl->file->dfd && (uintptr_t)dst % COMPRESS_ALIGN);
}

/*
 * Takes a job slot, and a staging buffer when @pl needs one, both at once;
 * waits for them unless @wait is false, then NULL means none is free now.
 */
static struct cr_job *cr_take_job(struct compress_reader *r, const struct cr_plan *pl, bool wait)
{
	struct cr_job *j = NULL;

	pthread_mutex_lock(&r->lock);
	while (wait && (!r->free_jobs || (pl->staging && !r->nfree_staging)))
		pthread_cond_wait(&r->cond, &r->lock);
	if (r->free_jobs && (!pl->staging || r->nfree_staging)) {
		j = r->free_jobs;
		r->free_jobs = j->next;
		r->in_flight++;
		j->staging = pl->staging ? r->free_staging[--r->nfree_staging] : -1;
	}
	pthread_mutex_unlock(&r->lock);
	return j;
}

static int cr_read(struct compress_reader *r, uint64_t index, void *dst, uint64_t dst_len,
		   compress_done_fn done, void *cookie, bool wait)
{
	struct cr_plan pl;
	struct cr_job *j;
	int ret;

	if (index >= r->f.footer.entry_count || !dst)
		return -EINVAL;
	if (dst_len < r->f.entries[index].raw_len)
		return -EINVAL;
	cr_plan_read(r, &r->f.entries[index], dst, &pl);
	j = cr_take_job(r, &pl, wait);
	if (!j)
		return -EAGAIN;

	j->index = index;
	j->dst = dst;
	j->done = done;
	j->cookie = cookie;
	j->status = 0;
	j->got = 0;
	j->file = pl.file;
	j->e = pl.e;
	j->fd = pl.fd;
	j->want = pl.want;
	j->here = pl.here;
	j->summed = false;
	j->in = j->staging >= 0 ? cr_staging(r, j->staging) : dst;
	if (pl.failed) {
		j->file = NULL;
		cr_job_error(r, j, -EBADMSG, "%s", pl.why);
		cr_queue(r, j);
		return 0;
	}
	if (pl.e->codec == COMPRESS_CODEC_ZERO || pl.here) {
		cr_queue(r, j);
		return 0;
	}
	j->submit_ns = compress_now_ns();
	ret = cr_submit(r, j);
	if (ret < 0) {
		cr_job_error(r, j, ret, "submitting the read: %s", strerror(-ret));
		cr_queue(r, j);
	}
	return 0;
}

int compress_reader_read(struct compress_reader *r, uint64_t index, void *dst, uint64_t dst_len,
			 compress_done_fn done, void *cookie)
{
	return cr_read(r, index, dst, dst_len, done, cookie, true);
}

int compress_reader_try_read(struct compress_reader *r, uint64_t index, void *dst, uint64_t dst_len,
			     compress_done_fn done, void *cookie)
{
	return cr_read(r, index, dst, dst_len, done, cookie, false);
}

unsigned int compress_reader_room(struct compress_reader *r)
{
	unsigned int room;

	pthread_mutex_lock(&r->lock);
	room = r->stopping ? 0 : r->njobs - r->in_flight;
	pthread_mutex_unlock(&r->lock);
	return room;
}

int compress_reader_wait(struct compress_reader *r, struct compress_err *err)
{
	int ret;

	pthread_mutex_lock(&r->lock);
	while (r->in_flight)
		pthread_cond_wait(&r->cond, &r->lock);
	ret = r->error;
	if (ret < 0)
		compress_err_set(err, "%s", r->error_msg.msg);
	/* Errors are reported once; the reader stays usable for other chunks. */
	r->error = 0;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int compress_reader_read_sync(struct compress_reader *r, uint64_t index, void *dst,
			      uint64_t dst_len, struct compress_err *err)
{
	int ret = compress_reader_read(r, index, dst, dst_len, NULL, NULL);

	if (ret < 0) {
		compress_err_set(err, "%s: chunk %llu: bad read request", r->f.name,
				 (unsigned long long)index);
		return ret;
	}
	return compress_reader_wait(r, err);
}

uint64_t compress_reader_chunk_count(const struct compress_reader *r)
{
	return r->f.footer.entry_count;
}

uint32_t compress_reader_chunk_size(const struct compress_reader *r)
{
	return r->f.header.chunk_size;
}

int compress_reader_level(const struct compress_reader *r)
{
	return r->f.header.level;
}

enum compress_filter compress_reader_filter(const struct compress_reader *r)
{
	/* compress_header_decode() refused any other value. */
	return (enum compress_filter)r->f.header.filter;
}

int compress_reader_chunk(const struct compress_reader *r, uint64_t index,
			  struct compress_chunk_info *info)
{
	if (index >= r->f.footer.entry_count)
		return -ENOENT;
	*info = r->f.entries[index];
	return 0;
}

static int cr_sorted_cmp(const void *a, const void *b)
{
	const struct cr_sorted *x = a, *y = b;

	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int64_t cr_file_find(const struct cr_file *f, uint64_t tag, uint64_t offset)
{
	uint64_t lo = 0, hi = f->footer.entry_count;
	const struct cr_sorted *s;

	/* Last entry at or before (tag, offset). */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		s = &f->sorted[mid];
		if (s->tag < tag || (s->tag == tag && s->offset <= offset))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -ENOENT;
	s = &f->sorted[lo - 1];
	if (s->tag != tag || offset - s->offset >= f->entries[s->index].raw_len)
		return -ENOENT;
	return (int64_t)s->index;
}

int64_t compress_reader_find(const struct compress_reader *r, uint64_t tag, uint64_t offset)
{
	return cr_file_find(&r->f, tag, offset);
}

void compress_reader_stats(const struct compress_reader *r, struct compress_stats *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock((pthread_mutex_t *)&r->lock);
	s->raw_bytes = r->raw_bytes;
	s->ref_bytes = r->ref_bytes;
	s->stored_bytes = r->stored_bytes;
	memcpy(s->chunks, r->chunks, sizeof(s->chunks));
	s->io_ns = r->io_ns;
	s->io_bytes = r->io_bytes;
	pthread_mutex_unlock((pthread_mutex_t *)&r->lock);
	s->file_bytes = r->f.file_size;
	s->chunk_count = r->f.footer.entry_count;
	for (unsigned int i = 0; i < r->workers_started; i++) {
		const struct cr_worker *wk = &r->workers[i];

		s->filter_ns += wk->filter_ns;
		s->filter_bytes += wk->filter_bytes;
		s->codec_ns += wk->codec_ns;
		s->codec_bytes += wk->codec_bytes;
		s->checksum_ns += wk->checksum_ns;
		s->checksum_bytes += wk->checksum_bytes;
		s->copy_ns += wk->copy_ns;
		s->copy_bytes += wk->copy_bytes;
		s->io_ns += wk->read_ns;
		s->io_bytes += wk->read_bytes;
		s->workers_cpu_ns += __atomic_load_n(&wk->cpu_ns, __ATOMIC_RELAXED);
	}
	s->workers = r->workers_started;
	s->completion_cpu_ns = __atomic_load_n(&r->reaper_cpu_ns, __ATOMIC_RELAXED);
	s->direct_io = r->f.dfd >= 0;
	s->registered_buffers = r->uring.registered;
}

/* A stream file that ends before the bytes its header or footer promise is damaged. */
static int cr_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	int r = common_read_all(fd, buf, len, (int64_t)off);

	return r == -ENODATA ? -EBADMSG : r;
}

/* Header, footer and index: everything checked before any chunk is touched. */
static int cr_load_file(struct cr_file *f, struct compress_err *err)
{
	uint8_t hbuf[COMPRESS_HEADER_BYTES], fbuf[COMPRESS_FOOTER_BYTES], *ibuf = NULL;
	char why[256];
	uint64_t n, len;
	struct stat st;
	int ret;

	f->dfd = -1;
	if (fstat(f->fd, &st)) {
		ret = -errno;
		compress_err_set(err, "%s: stat: %s", f->name, strerror(-ret));
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		compress_err_set(err, "%s: not a regular file", f->name);
		return -EINVAL;
	}
	f->file_size = (uint64_t)st.st_size;
	if (f->file_size < COMPRESS_ALIGN + COMPRESS_FOOTER_BYTES) {
		compress_err_set(err, "%s: %llu bytes: too short for a stream file (truncated?)",
				 f->name, (unsigned long long)f->file_size);
		return -EBADMSG;
	}
	ret = cr_pread_all(f->fd, hbuf, sizeof(hbuf), 0);
	if (ret == 0)
		ret = cr_pread_all(f->fd, fbuf, sizeof(fbuf), f->file_size - sizeof(fbuf));
	if (ret < 0) {
		compress_err_set(err, "%s: reading header and footer: %s", f->name, strerror(-ret));
		return ret;
	}
	ret = compress_header_decode(hbuf, sizeof(hbuf), &f->header, why, sizeof(why));
	if (ret == 0)
		ret = compress_footer_decode(fbuf, sizeof(fbuf), &f->footer, why, sizeof(why));
	if (ret == 0)
		ret = compress_footer_check(&f->footer, &f->header, f->file_size, why, sizeof(why));
	if (ret < 0) {
		compress_err_set(err, "%s: %s", f->name, why);
		return ret;
	}
	n = f->footer.entry_count;
	len = n * f->footer.entry_size; /* bounded by the file size (footer_check) */
	ibuf = malloc(len ? len : 1);
	f->entries = calloc(n ? n : 1, sizeof(*f->entries));
	f->sorted = calloc(n ? n : 1, sizeof(*f->sorted));
	if (!ibuf || !f->entries || !f->sorted) {
		free(ibuf);
		compress_err_set(err, "%s: out of memory for an index of %llu entries", f->name,
				 (unsigned long long)n);
		return -ENOMEM;
	}
	ret = cr_pread_all(f->fd, ibuf, len, f->footer.index_offset);
	if (ret < 0) {
		compress_err_set(err, "%s: reading the index: %s", f->name, strerror(-ret));
		goto out;
	}
	if (!compress_meta_sum_ok(f->footer.index_checksum, compress_checksum(ibuf, len))) {
		compress_err_set(err, "%s: index checksum mismatch (damaged index)", f->name);
		ret = -EBADMSG;
		goto out;
	}
	for (uint64_t i = 0; i < n; i++) {
		ret = compress_entry_decode(ibuf + i * f->footer.entry_size, &f->header,
					    f->footer.index_offset, &f->entries[i], why,
					    sizeof(why));
		if (ret < 0) {
			compress_err_set(err, "%s: index entry %llu (tag %llu, offset %llu): %s",
					 f->name, (unsigned long long)i,
					 (unsigned long long)f->entries[i].tag,
					 (unsigned long long)f->entries[i].offset, why);
			goto out;
		}
		f->sorted[i].tag = f->entries[i].tag;
		f->sorted[i].offset = f->entries[i].offset;
		f->sorted[i].index = i;
	}
	qsort(f->sorted, n, sizeof(*f->sorted), cr_sorted_cmp);
out:
	free(ibuf);
	return ret;
}

/*
 * Takes @fd (name already set in @f) and checks the file; a second, O_DIRECT
 * descriptor for chunk reads when @direct (refused on some filesystems).
 */
static int cr_file_open(struct cr_file *f, int fd, bool direct, struct compress_err *err)
{
	char path[64];
	int ret;

	f->fd = fd;
	f->memory_fs = compress_on_memory_fs(fd);
	ret = cr_load_file(f, err);
	if (ret == 0 && direct) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		f->dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	}
	return ret;
}

static void cr_file_close(struct cr_file *f)
{
	if (!f)
		return;
	if (f->dfd >= 0)
		close(f->dfd);
	if (f->fd >= 0)
		close(f->fd);
	free(f->entries);
	free(f->sorted);
	free(f->name);
}

int compress_reader_add_source(struct compress_reader *r, uint16_t source, int dirfd,
			       const char *path, uint64_t identity, struct compress_err *err)
{
	struct cr_file *f, **grown;
	int fd, ret;

	if (source < r->nsources && r->sources[source]) {
		compress_err_set(err, "%s: source %u attached twice", r->f.name, source);
		return -EEXIST;
	}
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		compress_err_set(err, "%s: source %u: %s: %s", r->f.name, source, path,
				 strerror(-ret));
		return ret;
	}
	f = calloc(1, sizeof(*f));
	if (!f || !(f->name = strdup(path))) {
		free(f);
		close(fd);
		compress_err_set(err, "%s: out of memory", r->f.name);
		return -ENOMEM;
	}
	ret = cr_file_open(f, fd, r->direct_io, err);
	if (ret == 0 && f->header.version < 2) {
		compress_err_set(err, "%s: format version 1 has no content hashes to refer to",
				 f->name);
		ret = -EPROTONOSUPPORT;
	}
	if (ret == 0 && identity && f->footer.index_checksum != identity) {
		compress_err_set(
			err,
			"%s: not the file this image was made against (its index is %016llx, "
			"the image recorded %016llx): replaced or dumped again since",
			f->name, (unsigned long long)f->footer.index_checksum,
			(unsigned long long)identity);
		ret = -ESTALE;
	}
	if (ret == 0 && source >= r->nsources) {
		grown = realloc(r->sources, (source + 1u) * sizeof(*grown));
		if (!grown) {
			compress_err_set(err, "%s: out of memory", r->f.name);
			ret = -ENOMEM;
		} else {
			memset(grown + r->nsources, 0,
			       (source + 1u - r->nsources) * sizeof(*grown));
			r->sources = grown;
			r->nsources = source + 1u;
		}
	}
	if (ret < 0) {
		cr_file_close(f);
		free(f);
		return ret;
	}
	r->sources[source] = f;
	return 0;
}

static int64_t cr_file_find(const struct cr_file *f, uint64_t tag, uint64_t offset);

/*
 * The stored chunk reference @ref names: its file and entry, or a sentence
 * saying why there is none.
 */
static int cr_resolve(const struct compress_reader *r, const struct compress_chunk_info *ref,
		      struct cr_file **file, const struct compress_chunk_info **out, char *why,
		      size_t why_len)
{
	struct cr_file *f = ref->source < r->nsources ? r->sources[ref->source] : NULL;
	const struct compress_chunk_info *t;
	int64_t i;

	if (!f) {
		snprintf(why, why_len, "refers to source %u, which is not attached", ref->source);
		return -ENOENT;
	}
	i = cr_file_find(f, ref->src_tag, ref->src_offset);
	t = i >= 0 ? &f->entries[i] : NULL;
	if (!t || t->offset != ref->src_offset) {
		snprintf(why, why_len, "%s has no chunk at tag %llu, offset %llu", f->name,
			 (unsigned long long)ref->src_tag, (unsigned long long)ref->src_offset);
		return -ENOENT;
	}
	if (t->codec == COMPRESS_CODEC_REF || t->codec == COMPRESS_CODEC_ZERO) {
		snprintf(why, why_len,
			 "%s chunk %lld at tag %llu, offset %llu stores no bytes (%s)", f->name,
			 (long long)i, (unsigned long long)ref->src_tag,
			 (unsigned long long)ref->src_offset, compress_codec_name(t->codec));
		return -EBADMSG;
	}
	if (t->raw_len != ref->raw_len || !compress_hash_eq(t->hash, ref->hash)) {
		snprintf(why, why_len,
			 "%s chunk %lld at tag %llu, offset %llu holds other bytes (%u bytes, "
			 "hash %016llx%016llx; wanted %u, %016llx%016llx)",
			 f->name, (long long)i, (unsigned long long)ref->src_tag,
			 (unsigned long long)ref->src_offset, t->raw_len,
			 (unsigned long long)t->hash.hi, (unsigned long long)t->hash.lo,
			 ref->raw_len, (unsigned long long)ref->hash.hi,
			 (unsigned long long)ref->hash.lo);
		return -EBADMSG;
	}
	*file = f;
	*out = t;
	return 0;
}

int compress_reader_check_refs(struct compress_reader *r, struct compress_err *err)
{
	for (uint64_t i = 0; i < r->f.footer.entry_count; i++) {
		const struct compress_chunk_info *e = &r->f.entries[i], *t;
		struct cr_file *f;
		char why[400];
		int ret;

		if (e->codec != COMPRESS_CODEC_REF)
			continue;
		ret = cr_resolve(r, e, &f, &t, why, sizeof(why));
		if (ret < 0) {
			compress_err_set(err, "%s: chunk %llu (tag %llu, offset %llu, ref): %s",
					 r->f.name, (unsigned long long)i,
					 (unsigned long long)e->tag, (unsigned long long)e->offset,
					 why);
			return ret;
		}
	}
	return 0;
}

uint64_t compress_reader_identity(const struct compress_reader *r)
{
	return r->f.footer.index_checksum;
}

unsigned int compress_reader_version(const struct compress_reader *r)
{
	return r->f.header.version;
}

static int cr_start(struct compress_reader *r, const struct compress_reader_opts *o,
		    struct compress_err *err)
{
	struct iovec *iov;
	unsigned int i;
	int ret;

	r->nworkers = o->workers ? o->workers : compress_online_cpus();
	/* One staging buffer per worker decompressing, two reads ahead. */
	r->nstaging = o->queue_depth ? o->queue_depth : r->nworkers + 2;
	r->njobs = r->nstaging + r->nworkers;
	r->staging_size = r->f.header.chunk_size;
	r->jobs = calloc(r->njobs, sizeof(*r->jobs));
	r->workers = calloc(r->nworkers, sizeof(*r->workers));
	r->free_staging = calloc(r->nstaging, sizeof(int));
	iov = calloc(r->nstaging, sizeof(*iov));
	if (!r->jobs || !r->workers || !r->free_staging || !iov ||
	    posix_memalign(&r->staging_mem, COMPRESS_ALIGN,
			   (size_t)r->nstaging * r->staging_size)) {
		r->staging_mem = NULL;
		free(iov);
		compress_err_set(err, "%s: out of memory for %u staging buffers", r->f.name,
				 r->nstaging);
		return -ENOMEM;
	}
	for (i = 0; i < r->njobs; i++) {
		r->jobs[i].next = r->free_jobs;
		r->free_jobs = &r->jobs[i];
	}
	for (i = 0; i < r->nstaging; i++) {
		iov[i].iov_base = cr_staging(r, (int)i);
		iov[i].iov_len = r->staging_size;
		r->free_staging[r->nfree_staging++] = (int)i;
	}
	/* Fixed buffers pay only for O_DIRECT onto a device (see the writer). */
	ret = compress_uring_init(&r->uring, r->njobs, iov,
				  r->f.dfd >= 0 && !r->f.memory_fs ? r->nstaging : 0);
	free(iov);
	if (ret < 0) {
		compress_err_set(err, "%s: io_uring setup: %s", r->f.name, strerror(-ret));
		return ret;
	}
	ret = common_thread_start(&r->reaper, cr_reaper_main, r);
	if (ret < 0) {
		compress_err_set(err, "%s: starting the completion thread: %s", r->f.name,
				 strerror(-ret));
		return ret;
	}
	r->reaper_started = true;
	for (i = 0; i < r->nworkers; i++) {
		struct cr_worker *wk = &r->workers[i];

		wk->r = r;
		wk->dctx = ZSTD_createDCtx();
		wk->hasher = compress_hasher_new(); /* NULL: whole-chunk hashes after the read */
		wk->scratch = malloc(r->f.header.chunk_size);
		if (!wk->dctx || !wk->scratch) {
			compress_err_set(err, "%s: out of memory for worker %u", r->f.name, i);
			return -ENOMEM;
		}
		ret = common_thread_start(&wk->thread, cr_worker_main, wk);
		if (ret < 0) {
			compress_err_set(err, "%s: starting worker %u: %s", r->f.name, i,
					 strerror(-ret));
			return ret;
		}
		r->workers_started++;
	}
	return 0;
}

static int cr_open(int fd, const char *name, const struct compress_reader_opts *opts,
		   struct compress_reader **out, struct compress_err *err)
{
	struct compress_reader_opts def;
	struct compress_reader *r;
	int ret;

	*out = NULL;
	if (!opts) {
		compress_reader_opts_default(&def);
		opts = &def;
	}
	if (opts->workers > COMPRESS_WORKERS_MAX || opts->queue_depth > COMPRESS_QUEUE_DEPTH_MAX) {
		compress_err_set(err, "%s: too many workers or too deep a queue", name);
		close(fd);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->f.name = strdup(name))) {
		free(r);
		close(fd);
		compress_err_set(err, "%s: out of memory", name);
		return -ENOMEM;
	}
	r->rate = opts->rate;
	r->direct_io = opts->direct_io;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	ret = cr_file_open(&r->f, fd, r->direct_io, err);
	if (ret == 0)
		ret = cr_start(r, opts, err);
	if (ret < 0) {
		compress_reader_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

int compress_reader_open(const char *path, const struct compress_reader_opts *opts,
			 struct compress_reader **out, struct compress_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int ret = -errno;

		*out = NULL;
		compress_err_set(err, "%s: %s", path, strerror(-ret));
		return ret;
	}
	return cr_open(fd, path, opts, out, err);
}

int compress_reader_open_fd(int fd, const char *name, const struct compress_reader_opts *opts,
			    struct compress_reader **out, struct compress_err *err)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (dup_fd < 0) {
		int ret = -errno;

		*out = NULL;
		compress_err_set(err, "%s: dup: %s", name, strerror(-ret));
		return ret;
	}
	return cr_open(dup_fd, name, opts, out, err);
}

void compress_reader_free(struct compress_reader *r)
{
	unsigned int i;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	while (r->in_flight)
		pthread_cond_wait(&r->cond, &r->lock);
	r->stopping = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < r->workers_started; i++)
		pthread_join(r->workers[i].thread, NULL);
	if (r->reaper_started) {
		/* Nothing is in flight, so the SQ has room for the stop NOP. */
		if (compress_uring_stop(&r->uring) == 0)
			pthread_join(r->reaper, NULL);
		else
			pthread_detach(r->reaper);
	}
	compress_uring_exit(&r->uring);
	for (i = 0; r->workers && i < r->nworkers; i++) {
		ZSTD_freeDCtx(r->workers[i].dctx);
		compress_hasher_free(r->workers[i].hasher);
		free(r->workers[i].scratch);
	}
	for (i = 0; i < r->nsources; i++) {
		cr_file_close(r->sources[i]);
		free(r->sources[i]);
	}
	free(r->sources);
	cr_file_close(&r->f);
	free(r->workers);
	free(r->jobs);
	free(r->free_staging);
	free(r->staging_mem);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
