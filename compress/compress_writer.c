/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stream writer: caller buffers -> chunks -> worker threads (zero detection,
 * content hash, references, filter, zstd) -> io_uring writes at offsets -> buffers back to the
 * caller. Everything overlaps: while one chunk is being written, the workers
 * compress the next ones, and the caller fills its next buffer.
 *
 * Memory is fixed at new(): njobs chunk slots, nstaging output buffers of one
 * chunk each (registered with io_uring), one filter scratch per worker, and the
 * index (64 bytes per chunk, allocated in blocks as the stream grows).
 *
 * The file is created under a temporary name; finish() writes header, index
 * and footer and renames it into place, so a failed or interrupted stream
 * never leaves a file under the final name, and a temporary one has no footer.
 */
/* For ZSTD_c_literalCompressionMode, used only when the runtime library is the one built
 * against (see cw_planes_setup()). */
#define ZSTD_STATIC_LINKING_ONLY
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress_internal.h"

struct cw_push {
	struct cw_push *next;
	compress_done_fn done;
	void *cookie;
	unsigned int refs; /* jobs in flight + 1 while push() splits the buffer */
};

/*
 * Runs of zeros inside a chunk: the chunk is looked at in CW_ZERO_BLOCK
 * blocks, and a run of zero blocks of at least CW_ZERO_RUN_MIN bytes is
 * stored as a zero entry of its own, the data around it as entries of their
 * own (FORMAT.md allows any tiling of an object by entries). A chunk has at
 * most CW_PIECES_MAX pieces; past that the rest stays one piece. The minimum
 * run keeps restore's reads large: each entry is one read into one buffer.
 */
#define CW_ZERO_BLOCK	(64u << 10)
#define CW_ZERO_RUN_MIN (1u << 20)
#define CW_PIECES_MAX	16

/* One entry of a chunk: a run of zeros, or data stored as one entry. */
struct cw_piece {
	struct compress_chunk_info info;
	const uint8_t *out; /* bytes to write (data pieces) */
	uint32_t out_len;   /* with padding; 0 for zero runs */
	bool staged;	    /* out lies in the job's staging buffer */
	bool late;	    /* raw, hashed as it is written (cw_write_here) */
};

struct cw_job {
	struct cw_job *next;
	struct cw_push *push;
	const uint8_t *src;
	uint64_t seq;		   /* push order: the chunk's first index slot */
	int staging;		   /* staging buffer held, or -1 */
	unsigned int npieces, cur; /* pieces; the one being written */
	uint32_t written;	   /* of the current piece */
	bool buffered;		   /* continued through the buffered descriptor */
	bool here;		   /* written by its worker (memory_fs), not io_uring */
	uint64_t submit_ns;
	struct compress_chunk_info info; /* the whole chunk: tag, offset, raw_len */
	struct cw_piece pieces[CW_PIECES_MAX];
};

/* Sample 16 pieces of 2 KiB across a chunk to predict whether zstd will pay. */
#define CW_SAMPLE_PIECES 16
#define CW_SAMPLE_PIECE	 2048
#define CW_SAMPLE_BYTES	 (CW_SAMPLE_PIECES * CW_SAMPLE_PIECE)

void compress_writer_opts_default(struct compress_writer_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->level = 1;
	opts->filter = COMPRESS_FILTER_NONE;
	opts->chunk_size = COMPRESS_CHUNK_DEFAULT;
	opts->direct_io = true;
}

static uint8_t *cw_staging(struct compress_writer *w, int i)
{
	return (uint8_t *)w->staging_mem + (size_t)i * w->staging_size;
}

/* Records the first error of the stream; later ones are consequences. Lock held. */
static void cw_fail_locked(struct compress_writer *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void cw_fail_locked(struct compress_writer *w, int err, const char *fmt, ...)
{
	va_list ap;
	char why[400];

	if (w->error)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	w->error = err;
	snprintf(w->error_msg.msg, sizeof(w->error_msg.msg), "%s: %s", w->path, why);
	pthread_cond_broadcast(&w->cond);
}

static void cw_fail_job(struct compress_writer *w, struct cw_job *j, int err, const char *what)
{
	pthread_mutex_lock(&w->lock);
	cw_fail_locked(w, err, "chunk %llu (tag %llu, offset %llu): %s: %s",
		       (unsigned long long)j->seq, (unsigned long long)j->info.tag,
		       (unsigned long long)j->info.offset, what, strerror(-err));
	pthread_mutex_unlock(&w->lock);
}

static int cw_get_staging(struct compress_writer *w)
{
	int i;

	pthread_mutex_lock(&w->lock);
	while (!w->nfree_staging)
		pthread_cond_wait(&w->cond, &w->lock);
	i = w->free_staging[--w->nfree_staging];
	pthread_mutex_unlock(&w->lock);
	return i;
}

static void cw_put_staging_locked(struct compress_writer *w, int i)
{
	w->free_staging[w->nfree_staging++] = i;
}

static struct compress_chunk_info *cw_entry(struct compress_writer *w, uint64_t seq)
{
	return &w->index_blocks[seq / CW_INDEX_BLOCK][seq % CW_INDEX_BLOCK];
}

/* Records a further entry of chunk SEQ. Lock held. */
static int cw_add_extra_locked(struct compress_writer *w, uint64_t seq,
			       const struct compress_chunk_info *info)
{
	if (w->nextras == w->extras_cap) {
		size_t cap = w->extras_cap ? 2 * w->extras_cap : 256;
		struct cw_extra *x = realloc(w->extras, cap * sizeof(*x));

		if (!x)
			return -ENOMEM;
		w->extras = x;
		w->extras_cap = cap;
	}
	w->extras[w->nextras].seq = seq;
	w->extras[w->nextras++].info = *info;
	return 0;
}

/* A job is over: record it, free its slots, hand the caller buffer back when it was the last. */
static void cw_job_done(struct compress_writer *w, struct cw_job *j, bool ok)
{
	struct cw_push *p = j->push;
	compress_done_fn done = NULL;
	void *cookie = NULL;
	int status;

	pthread_mutex_lock(&w->lock);
	for (unsigned int i = 0; ok && i < j->npieces; i++) {
		const struct compress_chunk_info *e = &j->pieces[i].info;

		if (i == 0)
			*cw_entry(w, j->seq) = *e;
		else if (cw_add_extra_locked(w, j->seq, e)) {
			cw_fail_locked(w, -ENOMEM, "out of memory for the index");
			break;
		}
		w->chunks[e->codec]++;
		w->raw_bytes += e->raw_len;
		if (e->codec == COMPRESS_CODEC_REF)
			w->ref_bytes += e->raw_len;
		w->stored_bytes += e->stored_len;
	}
	if (j->staging >= 0)
		cw_put_staging_locked(w, j->staging);
	j->staging = -1;
	if (--p->refs == 0) {
		done = p->done;
		cookie = p->cookie;
		p->next = w->free_pushes;
		w->free_pushes = p;
	}
	j->next = w->free_jobs;
	w->free_jobs = j;
	w->in_flight--;
	status = w->error;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (done)
		done(cookie, status);
}

/* Reserves room for LEN bytes of chunk data; preallocates ahead. */
static int cw_reserve(struct compress_writer *w, struct cw_job *j, uint32_t len, uint64_t *off)
{
	uint64_t start = 0, end = 0;
	int ret = 0;

	pthread_mutex_lock(&w->lock);
	*off = w->cursor;
	w->cursor += compress_align_up(len, COMPRESS_ALIGN);
	if (w->prealloc_ok && w->cursor > w->prealloc_end) {
		/* This thread takes the next step; the others go on writing meanwhile. */
		start = w->prealloc_end;
		end = compress_align_up(w->cursor, w->opts.prealloc_step);
		w->prealloc_end = end;
	}
	pthread_mutex_unlock(&w->lock);
	if (end == 0)
		return 0;

	/*
	 * Outside the lock: on tmpfs this allocates the pages, milliseconds per
	 * step. Mode 0 grows the file size too (finish() truncates to the real
	 * end) and leaves bytes already written alone, so chunks may land in the
	 * range before or while it runs.
	 */
	if (fallocate(w->fd, 0, (off_t)start, (off_t)(end - start)) == 0)
		return 0;
	ret = -errno;
	pthread_mutex_lock(&w->lock);
	if (ret == -EOPNOTSUPP || ret == -ENOSYS || ret == -ENOSPC) {
		/*
		 * No preallocation there, or no room for a whole step ahead: a
		 * filesystem with less free space than one step may still hold
		 * the stream, so stop asking ahead and let the writes themselves
		 * find out (a write that hits ENOSPC fails the stream as well).
		 * A failed fallocate on ext4 keeps the blocks it got (tmpfs gives
		 * them back: shmem_fallocate's undo), which leaves no room for the
		 * rest of the stream, its header and index included: give back
		 * what lies past every offset handed out so far. No chunk can be
		 * there, and none gets there while the lock is held.
		 */
		if (ret == -ENOSPC) {
			uint64_t from = compress_align_up(w->cursor, COMPRESS_ALIGN);

			if (from < end)
				fallocate(w->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					  (off_t)from, (off_t)(end - from));
		}
		w->prealloc_ok = false;
		ret = 0;
	} else {
		cw_fail_locked(
			w, ret,
			"chunk %llu (tag %llu, offset %llu): preallocating %llu bytes at %llu: %s",
			(unsigned long long)j->seq, (unsigned long long)j->info.tag,
			(unsigned long long)j->info.offset, (unsigned long long)(end - start),
			(unsigned long long)start, strerror(-ret));
	}
	pthread_mutex_unlock(&w->lock);
	return ret;
}

/*
 * What zstd makes of 16 pieces of 2 KiB spread across these bytes (after
 * FILTER), compressed with CTX: the sample's compressed size, so callers can
 * tell incompressible data (random, already compressed, the mantissa plane
 * of weights) at memory speed, and compare filters. Returns 0 for bytes too
 * short to sample, SIZE_MAX when zstd fails.
 */
static size_t cw_sample(struct cw_worker *wk, ZSTD_CCtx *ctx, const uint8_t *src, uint32_t len,
			enum compress_filter filter)
{
	uint8_t *sample = wk->sample;
	uint8_t *out = sample + CW_SAMPLE_BYTES;
	size_t n;

	if (len < 4 * CW_SAMPLE_BYTES)
		return 0;
	for (unsigned int i = 0; i < CW_SAMPLE_PIECES; i++) {
		uint64_t at = (uint64_t)(len - CW_SAMPLE_PIECE) * i / (CW_SAMPLE_PIECES - 1);

		at &= ~(uint64_t)(compress_filter_elem(filter) * 4 - 1);
		memcpy(sample + i * CW_SAMPLE_PIECE, src + at, CW_SAMPLE_PIECE);
	}
	if (filter == COMPRESS_FILTER_NONE) {
		n = ZSTD_compress2(ctx, out, CW_SAMPLE_BYTES, sample, CW_SAMPLE_BYTES);
		return ZSTD_isError(n) ? SIZE_MAX : n;
	}
	/* As cw_compress_planes() stores them: plane by plane, each at most its size. */
	compress_filter_apply(filter, sample, out, CW_SAMPLE_BYTES);
	memcpy(sample, out, CW_SAMPLE_BYTES);
	size_t total = 0, e = compress_filter_elem(filter), plane = CW_SAMPLE_BYTES / e;

	for (size_t k = 0; k < e; k++) {
		n = ZSTD_compress2(ctx, out, CW_SAMPLE_BYTES, sample + k * plane, plane);
		total += ZSTD_isError(n) || n > plane ? plane : n;
	}
	return total + 4 * e;
}

/* Worth running zstd? Less than 3% saved on the sample says no. */
static bool cw_sample_pays(size_t n)
{
	return n < CW_SAMPLE_BYTES - CW_SAMPLE_BYTES / 32;
}

static bool cw_worth_compressing(struct cw_worker *wk, ZSTD_CCtx *ctx, const uint8_t *src,
				 uint32_t len, enum compress_filter filter)
{
	return cw_sample_pays(cw_sample(wk, ctx, src, len, filter));
}

/*
 * The filter for a piece, or -1 to store it raw: the stream's own, or with
 * filter_auto the one whose sample compresses smallest (unfiltered at the
 * stream's level against byte planes, as cw_compress_planes stores them).
 * Weights in bf16 or fp32 take their byte grouping, text and code none.
 */
static int cw_choose_filter(struct cw_worker *wk, const uint8_t *src, uint32_t len)
{
	struct compress_writer *w = wk->w;
	enum compress_filter best = COMPRESS_FILTER_NONE;
	size_t n, best_n;

	if (!wk->pctx || !w->opts.filter_auto) {
		enum compress_filter f = wk->pctx ? w->opts.filter : COMPRESS_FILTER_NONE;

		return cw_worth_compressing(wk, f ? wk->pctx : wk->cctx, src, len, f) ? (int)f : -1;
	}
	best_n = cw_sample(wk, wk->cctx, src, len, COMPRESS_FILTER_NONE);
	if (best_n == 0)
		return COMPRESS_FILTER_NONE; /* too short to tell */
	/* Groups of 4 are tried only where groups of 2 already won (data of
	 * 4-byte elements gains from both, text and code from neither), and
	 * taken only for a clear gain: twice the planes cost more time, and on
	 * 2-byte data they come out about even. */
	for (int f = COMPRESS_FILTER_BYTEGROUP2; f < COMPRESS_FILTER_COUNT; f++) {
		n = cw_sample(wk, wk->pctx, src, len, (enum compress_filter)f);
		if (n >= best_n - (f > COMPRESS_FILTER_BYTEGROUP2 ? best_n / 32 : 0))
			break;
		best_n = n;
		best = (enum compress_filter)f;
	}
	return cw_sample_pays(best_n) ? (int)best : -1;
}

/*
 * Planes codec (FORMAT.md): the filtered chunk's E byte planes are compressed
 * one by one, and a plane that does not compress (the mantissa bytes of
 * weights) is stored as is instead of costing zstd time on every byte.
 * Returns the stored length, or 0 when the chunk is better stored raw.
 */
static uint32_t cw_compress_planes(struct cw_worker *wk, enum compress_filter filter,
				   const uint8_t *in, uint32_t len, uint8_t *out, uint32_t cap)
{
	unsigned int e = compress_filter_elem(filter);
	uint32_t n = len / e, tail = len - n * e, pos = 4 * e;
	bool any = false;

	if (n == 0 || cap < pos + tail)
		return 0;
	for (unsigned int k = 0; k < e; k++) {
		const uint8_t *plane = in + (size_t)k * n;
		uint32_t avail = cap - pos - tail, word;
		bool packed = false;
		size_t z = 0;

		if (cw_worth_compressing(wk, wk->pctx, plane, n, COMPRESS_FILTER_NONE)) {
			z = ZSTD_compress2(wk->pctx, out + pos,
					   avail < n - n / 32 ? avail : n - n / 32, plane, n);
			packed = !ZSTD_isError(z);
		}
		if (packed) {
			word = (uint32_t)z;
			any = true;
		} else {
			if (avail < n)
				return 0;
			memcpy(out + pos, plane, n);
			word = n | COMPRESS_PLANE_RAW;
			z = n;
		}
		word = htole32(word);
		memcpy(out + 4 * k, &word, 4);
		pos += (uint32_t)z;
	}
	memcpy(out + pos, in + (size_t)n * e, tail);
	pos += tail;
	return any && pos < cap ? pos : 0;
}

/* The block of the chunk's zero test at @at: CW_ZERO_BLOCK, or what is left. */
static uint32_t cw_block(uint32_t len, uint32_t at)
{
	return len - at < CW_ZERO_BLOCK ? len - at : CW_ZERO_BLOCK;
}

/* Appends the piece [@rel, @rel + @len) of the job's chunk. */
static void cw_add_piece(struct cw_job *j, uint32_t rel, uint32_t len, enum compress_codec codec)
{
	struct cw_piece *pc = &j->pieces[j->npieces++];

	memset(pc, 0, sizeof(*pc));
	pc->info.tag = j->info.tag;
	pc->info.offset = j->info.offset + rel;
	pc->info.raw_len = len;
	pc->info.codec = codec;
}

/*
 * Cuts the job's chunk into pieces at runs of zeros (CW_ZERO_RUN_MIN and
 * up; a chunk all zero is one zero piece whatever its size). A block with
 * data costs only its first bytes here; zero blocks are read once.
 */
static void cw_split(struct cw_job *j)
{
	const uint8_t *src = j->src;
	uint32_t len = j->info.raw_len, at = 0, data_at = 0;

	j->npieces = 0;
	while (at < len) {
		uint32_t z = at;

		while (at < len && compress_is_zero(src + at, cw_block(len, at)))
			at += cw_block(len, at);
		if (at == z) { /* data: on to the next block */
			at += cw_block(len, at);
			continue;
		}
		if (at - z < CW_ZERO_RUN_MIN && !(z == 0 && at == len))
			continue;
		if (j->npieces + 3 > CW_PIECES_MAX && at < len)
			break; /* the rest, zeros and all, stays one piece */
		if (z > data_at)
			cw_add_piece(j, data_at, z - data_at, COMPRESS_CODEC_RAW);
		cw_add_piece(j, z, at - z, COMPRESS_CODEC_ZERO);
		data_at = at;
	}
	if (data_at < len)
		cw_add_piece(j, data_at, len - data_at, COMPRESS_CODEC_RAW);
}

/*
 * Looks a hashed data piece up in the content table: true when its bytes
 * are stored already and it became a reference (nothing to write).
 */
static bool cw_claim(struct compress_writer *w, struct cw_piece *pc)
{
	bool hit;

	if (!w->opts.dedup)
		return false;
	hit = compress_dedup_claim(w->opts.dedup, w->opts.source, &pc->info);
	__atomic_fetch_add(&w->claims, 1, __ATOMIC_RELAXED);
	if (hit) {
		__atomic_fetch_add(&w->hits, 1, __ATOMIC_RELAXED);
		pc->out = NULL;
		pc->out_len = 0;
		pc->staged = false;
	}
	return hit;
}

/*
 * Whether raw pieces are hashed as they are written (cw_write_here) rather
 * than before: on a memory filesystem, while few lookups find their bytes
 * stored already. A piece found stored after its write was written for
 * nothing, so an incremental dump, where most are, hashes first.
 */
static bool cw_hash_late(struct compress_writer *w)
{
	uint64_t claims = __atomic_load_n(&w->claims, __ATOMIC_RELAXED);
	uint64_t hits = __atomic_load_n(&w->hits, __ATOMIC_RELAXED);

	return w->memory_fs && hits * 8 <= claims;
}

/*
 * Hashes a data piece; true when its bytes are stored already and it became
 * a reference (nothing to write).
 */
static bool cw_hash_claim(struct cw_worker *wk, struct cw_piece *pc, const uint8_t *src)
{
	struct compress_writer *w = wk->w;
	uint64_t t0 = compress_now_ns();

	pc->info.hash = compress_hash(src, pc->info.raw_len);
	wk->checksum_ns += compress_now_ns() - t0;
	wk->checksum_bytes += pc->info.raw_len;
	return cw_claim(w, pc);
}

/*
 * Stores a data piece whose hash is taken (or will be, as it is written):
 * compressed with @filter when that pays (@filter < 0: raw); sets what to
 * write.
 */
static void cw_store(struct cw_worker *wk, struct cw_job *j, struct cw_piece *pc, int filter)
{
	struct compress_writer *w = wk->w;
	uint32_t rel = (uint32_t)(pc->info.offset - j->info.offset), len = pc->info.raw_len;
	const uint8_t *src = j->src + rel;
	uint64_t t0, t1;
	uint8_t *stage;

	t0 = compress_now_ns();
	pc->info.codec = COMPRESS_CODEC_RAW;
	if (filter >= 0) {
		const void *in = src;
		size_t cap = len - len / 32, n;

		if (filter != COMPRESS_FILTER_NONE) {
			compress_filter_apply(filter, src, wk->scratch, len);
			in = wk->scratch;
			t1 = compress_now_ns();
			wk->filter_ns += t1 - t0;
			wk->filter_bytes += len;
		}
		/* A piece's staging room is where the piece sits in its chunk: pieces
		 * start on CW_ZERO_BLOCK boundaries and store at most their raw length. */
		if (j->staging < 0)
			j->staging = cw_get_staging(w);
		stage = cw_staging(w, j->staging) + rel;
		t0 = compress_now_ns(); /* waiting for a staging buffer is I/O back-pressure */
		if (filter != COMPRESS_FILTER_NONE) {
			n = cw_compress_planes(wk, filter, in, len, stage, (uint32_t)cap);
			if (n) {
				pc->info.codec = COMPRESS_CODEC_PLANES;
				pc->info.filter = (uint8_t)filter;
				pc->info.stored_len = (uint32_t)n;
			}
		} else {
			n = ZSTD_compress2(wk->cctx, stage, cap, in, len);
			if (!ZSTD_isError(n)) {
				pc->info.codec = COMPRESS_CODEC_ZSTD;
				pc->info.stored_len = (uint32_t)n;
			}
		}
		t1 = compress_now_ns();
		wk->codec_ns += t1 - t0;
		wk->codec_bytes += len;
	}

	if (pc->info.codec == COMPRESS_CODEC_ZSTD || pc->info.codec == COMPRESS_CODEC_PLANES) {
		stage = cw_staging(w, j->staging) + rel;
		pc->out = stage;
		pc->out_len = compress_align_up(pc->info.stored_len, COMPRESS_ALIGN);
		pc->staged = true;
		memset(stage + pc->info.stored_len, 0, pc->out_len - pc->info.stored_len);
	} else if (!w->direct || j->here || (((uintptr_t)src | len) % COMPRESS_ALIGN) == 0) {
		/* Written straight from the caller's buffer: no copy. */
		pc->info.stored_len = len;
		pc->out = src;
		pc->out_len = len;
		pc->staged = false;
	} else {
		/* O_DIRECT wants aligned memory and length: copy and pad. */
		if (j->staging < 0)
			j->staging = cw_get_staging(w);
		stage = cw_staging(w, j->staging) + rel;
		pc->info.stored_len = len;
		pc->out = stage;
		pc->out_len = compress_align_up(len, COMPRESS_ALIGN);
		pc->staged = true;
		t0 = compress_now_ns();
		memcpy(stage, src, len);
		memset(stage + len, 0, pc->out_len - len);
		wk->copy_ns += compress_now_ns() - t0;
		wk->copy_bytes += len;
	}
}

/*
 * Encodes a data piece: a reference when its bytes are stored already, else
 * compressed when that pays, else raw. With @late (cw_hash_late) a piece
 * that is to be stored raw is hashed only as it is written (cw_write_here);
 * pc->late says so.
 */
static void cw_encode(struct cw_worker *wk, struct cw_job *j, struct cw_piece *pc, bool late)
{
	struct compress_writer *w = wk->w;
	const uint8_t *src = j->src + (pc->info.offset - j->info.offset);
	int filter = -1;

	if (!late && cw_hash_claim(wk, pc, src))
		return;
	if (w->opts.level != COMPRESS_LEVEL_OFF)
		filter = cw_choose_filter(wk, src, pc->info.raw_len);
	if (late && filter >= 0 && cw_hash_claim(wk, pc, src))
		return; /* compressing it reads it all anyway: no point hashing late */
	cw_store(wk, j, pc, filter);
	pc->late = late && filter < 0;
}

/* Submits the current piece's write from where it stands. */
static int cw_submit_piece(struct compress_writer *w, struct cw_job *j)
{
	const struct cw_piece *pc = &j->pieces[j->cur];

	return compress_uring_write(&w->uring, j->buffered ? w->bfd : w->fd, pc->out + j->written,
				    pc->out_len - j->written, pc->info.file_offset + j->written,
				    pc->staged ? j->staging : -1, (uint64_t)(j - w->jobs));
}

/* The next piece with bytes to write from FROM on, or npieces. */
static unsigned int cw_next_data(const struct cw_job *j, unsigned int from)
{
	while (from < j->npieces && j->pieces[from].out_len == 0)
		from++;
	return from;
}

/* Bytes a worker writes at a time on a memory filesystem (as the reader's CR_READ_PIECE):
 * small enough to stay in the core's L2 cache from the write that reads them to the hash. */
#define CW_WRITE_PIECE (512u << 10)

/*
 * On a memory filesystem a write is a copy the CPU makes (as a read is, for
 * the reader's cr_read_here): the chunk's worker writes it itself through
 * the buffered descriptor, CW_WRITE_PIECE at a time, and hashes a late
 * piece step by step right after the write has read the bytes into cache,
 * instead of in a pass over the whole chunk from memory before. The H100
 * machine's raw dumps into tmpfs spent 0.20 CPU s per GB on that pass (5 GB/s
 * a thread, against 23.5 for the reader's in-cache hash) and 0.43 in
 * io_uring's workers copying (bench/RESULTS.md, issue 21). A late piece whose
 * bytes turn out to be stored already becomes a reference, and its range is
 * punched out of the file again.
 */
static void cw_write_here(struct cw_worker *wk, struct cw_job *j)
{
	struct compress_writer *w = wk->w;
	uint64_t io_ns = 0, io_bytes = 0;

	for (unsigned int i = 0; i < j->npieces; i++) {
		struct cw_piece *pc = &j->pieces[i];
		uint64_t off = pc->info.file_offset;
		uint32_t at = 0, len = pc->out_len;

		if (!len)
			continue;
		if (pc->late)
			compress_hasher_reset(wk->hasher, COMPRESS_VERSION);
		while (at < len) {
			uint32_t n = len - at < CW_WRITE_PIECE ? len - at : CW_WRITE_PIECE;
			uint64_t t0 = compress_now_ns(), t1;
			ssize_t got = pwrite(w->bfd, pc->out + at, n, (off_t)(off + at));

			t1 = compress_now_ns();
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				cw_fail_job(w, j, got < 0 ? -errno : -EIO,
					    got < 0 ? "writing"
						    : "write stored nothing (short write)");
				cw_job_done(w, j, false);
				return;
			}
			io_ns += t1 - t0;
			io_bytes += (uint64_t)got;
			if (pc->late) {
				compress_hasher_update(wk->hasher, pc->out + at, (size_t)got);
				wk->checksum_ns += compress_now_ns() - t1;
				wk->checksum_bytes += (uint64_t)got;
			}
			at += (uint32_t)got;
		}
		if (pc->late) {
			pc->info.hash = compress_hasher_digest(wk->hasher);
			if (cw_claim(w, pc)) {
				/* Whole pages only: the bytes around belong to other pieces. */
				uint64_t from = compress_align_up(off, COMPRESS_ALIGN);
				uint64_t to = (off + len) / COMPRESS_ALIGN * COMPRESS_ALIGN;

				if (to > from)
					fallocate(w->bfd,
						  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						  (off_t)from, (off_t)(to - from));
			}
		}
	}
	pthread_mutex_lock(&w->lock);
	w->io_ns += io_ns;
	w->io_bytes += io_bytes;
	pthread_mutex_unlock(&w->lock);
	cw_job_done(w, j, true);
}

static void cw_process(struct cw_worker *wk, struct cw_job *j)
{
	struct compress_writer *w = wk->w;
	uint64_t t0, off, total = 0;
	bool staged = false, late = cw_hash_late(w);
	int ret;

	j->here = w->memory_fs;
	t0 = compress_now_ns();
	cw_split(j);
	wk->zero_ns += compress_now_ns() - t0;
	wk->zero_bytes += j->info.raw_len;

	for (unsigned int i = 0; i < j->npieces; i++) {
		struct cw_piece *pc = &j->pieces[i];

		if (pc->info.codec == COMPRESS_CODEC_ZERO)
			continue;
		cw_encode(wk, j, pc, late);
		total += pc->out_len;
		staged |= pc->staged;
	}
	if (j->staging >= 0 && !staged) {
		/* Compression did not pay after all: the staging buffer goes back. */
		pthread_mutex_lock(&w->lock);
		cw_put_staging_locked(w, j->staging);
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		j->staging = -1;
	}
	if (total == 0) { /* all zeros: nothing to write */
		cw_job_done(w, j, true);
		return;
	}

	ret = cw_reserve(w, j, (uint32_t)total, &off);
	if (ret < 0) {
		cw_job_done(w, j, false);
		return;
	}
	for (unsigned int i = 0; i < j->npieces; i++) {
		struct cw_piece *pc = &j->pieces[i];

		if (pc->out_len) {
			pc->info.file_offset = off;
			off += pc->out_len;
		}
	}
	j->cur = cw_next_data(j, 0);
	j->written = 0;
	j->buffered = false;
	compress_rate_take(w->opts.rate, total);
	if (j->here) {
		cw_write_here(wk, j);
		return;
	}
	j->submit_ns = compress_now_ns();
	ret = cw_submit_piece(w, j);
	if (ret < 0) {
		cw_fail_job(w, j, ret, "submitting the write");
		cw_job_done(w, j, false);
	}
}

static void *cw_worker_main(void *arg)
{
	struct cw_worker *wk = arg;
	struct compress_writer *w = wk->w;
	struct cw_job *j;
	bool failed;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (!w->queue_head && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		j = w->queue_head;
		if (!j) {
			pthread_mutex_unlock(&w->lock);
			return NULL;
		}
		w->queue_head = j->next;
		if (!w->queue_head)
			w->queue_tail = NULL;
		failed = w->error != 0;
		pthread_mutex_unlock(&w->lock);

		if (failed)
			cw_job_done(w, j, false); /* the stream is lost: just return the buffer */
		else
			cw_process(wk, j);
		__atomic_store_n(&wk->cpu_ns, compress_thread_cpu_ns(), __ATOMIC_RELAXED);
	}
}

/* Takes write completions: short writes are continued, errors fail the stream. */
static void *cw_reaper_main(void *arg)
{
	struct compress_writer *w = arg;
	uint64_t ud;
	int res, ret;

	for (;;) {
		struct cw_job *j;

		ret = compress_uring_reap(&w->uring, &res, &ud);
		/* Up to the completion before this one: close enough for a total. */
		__atomic_store_n(&w->reaper_cpu_ns, compress_thread_cpu_ns(), __ATOMIC_RELAXED);
		if (ret < 0) {
			pthread_mutex_lock(&w->lock);
			cw_fail_locked(w, ret, "waiting for io_uring completions: %s",
				       strerror(-ret));
			pthread_mutex_unlock(&w->lock);
			return NULL; /* cannot happen with a live ring; finish() reports it */
		}
		if (ud == COMPRESS_URING_STOP)
			return NULL;
		j = &w->jobs[ud];
		if (res == -EINVAL && w->direct && !j->buffered) {
			/*
			 * O_DIRECT refused this write (for one, the kernel cuts a write at
			 * RLIMIT_FSIZE to an unaligned length, which O_DIRECT rejects):
			 * the buffered descriptor takes it instead.
			 */
			j->buffered = true;
			ret = cw_submit_piece(w, j);
			if (ret == 0)
				continue;
			res = ret;
		}
		if (res < 0) {
			cw_fail_job(w, j, res, "writing");
			cw_job_done(w, j, false);
			continue;
		}
		if (res == 0) {
			cw_fail_job(w, j, -EIO, "write stored nothing (short write)");
			cw_job_done(w, j, false);
			continue;
		}
		j->written += (uint32_t)res;
		if (j->written < j->pieces[j->cur].out_len ||
		    cw_next_data(j, j->cur + 1) < j->npieces) {
			/*
			 * Short write: continue where it stopped (registered buffers accept
			 * offsets); an O_DIRECT remainder off the block grid goes buffered.
			 * A piece written: the chunk's next piece follows.
			 */
			if (j->written == j->pieces[j->cur].out_len) {
				j->cur = cw_next_data(j, j->cur + 1);
				j->written = 0;
				j->buffered = false;
			} else if (j->written % COMPRESS_ALIGN)
				j->buffered = true;
			ret = cw_submit_piece(w, j);
			if (ret < 0) {
				cw_fail_job(w, j, ret, "continuing a write");
				cw_job_done(w, j, false);
			}
			continue;
		}
		pthread_mutex_lock(&w->lock);
		w->io_ns += compress_now_ns() - j->submit_ns;
		for (unsigned int i = 0; i < j->npieces; i++)
			w->io_bytes += j->pieces[i].out_len;
		pthread_mutex_unlock(&w->lock);
		cw_job_done(w, j, true);
	}
}

/*
 * Byte planes of weights (the exponent bytes) are low-entropy symbols with
 * few long matches: Huffman-coded literals give almost all the gain, and
 * zstd's match search mostly costs time. Negative levels search little but
 * also turn literal compression off (zstd lib/compress/zstd_compress.c,
 * ZSTD_resolveLiteralsCompressionMode); forcing it back on gives planes both
 * speed and ratio. Measured here on bf16 exponent planes: level 1, ratio
 * 2.71 at 0.2 GB/s; level -100 with literals, 2.89 at 0.6 GB/s; level -1000
 * with literals, 2.95 at 0.7 GB/s. So for levels up to
 * CW_PLANES_FAST_UPTO, planes use level -1000 with literals: a smaller image
 * and several times the speed; higher levels are taken as asked.
 * The parameter is experimental API, so all this happens only with the zstd
 * version this was compiled against; elsewhere the level applies as is.
 * Returns the level to use for planes.
 */
#define CW_PLANES_FAST_UPTO  5
#define CW_PLANES_FAST_LEVEL (-1000)

static int cw_planes_setup(ZSTD_CCtx *cctx, int level)
{
	if (ZSTD_versionNumber() != ZSTD_VERSION_NUMBER ||
	    ZSTD_isError(
		    ZSTD_CCtx_setParameter(cctx, ZSTD_c_literalCompressionMode, ZSTD_ps_enable)))
		return level;
	return level <= CW_PLANES_FAST_UPTO ? CW_PLANES_FAST_LEVEL : level;
}

static void cw_ctx_setup(ZSTD_CCtx *ctx, int level)
{
	ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, level);
	/* Chunks carry our own hash; the size lets the reader check the frame. */
	ZSTD_CCtx_setParameter(ctx, ZSTD_c_checksumFlag, 0);
	ZSTD_CCtx_setParameter(ctx, ZSTD_c_contentSizeFlag, 1);
}

static int cw_check_opts(const struct compress_writer_opts *o, struct compress_err *err)
{
	if (o->chunk_size < COMPRESS_CHUNK_MIN || o->chunk_size > COMPRESS_CHUNK_MAX ||
	    o->chunk_size % COMPRESS_ALIGN) {
		compress_err_set(err, "chunk size %u: not a multiple of %u in %u..%u",
				 o->chunk_size, COMPRESS_ALIGN, COMPRESS_CHUNK_MIN,
				 COMPRESS_CHUNK_MAX);
		return -EINVAL;
	}
	if (o->level != COMPRESS_LEVEL_OFF &&
	    (o->level < ZSTD_minCLevel() || o->level > ZSTD_maxCLevel())) {
		compress_err_set(err, "zstd level %d outside %d..%d", o->level, ZSTD_minCLevel(),
				 ZSTD_maxCLevel());
		return -EINVAL;
	}
	if ((unsigned int)o->filter >= COMPRESS_FILTER_COUNT) {
		compress_err_set(err, "unknown filter %u", (unsigned int)o->filter);
		return -EINVAL;
	}
	if (o->workers > COMPRESS_WORKERS_MAX || o->queue_depth > COMPRESS_QUEUE_DEPTH_MAX) {
		compress_err_set(err, "%u workers / queue depth %u: too many", o->workers,
				 o->queue_depth);
		return -EINVAL;
	}
	if (o->prealloc_step % COMPRESS_ALIGN) {
		compress_err_set(err, "preallocation step %llu not a multiple of %u",
				 (unsigned long long)o->prealloc_step, COMPRESS_ALIGN);
		return -EINVAL;
	}
	return 0;
}

/* Creates the temporary file (0600, mkostemp) and reopens it with O_DIRECT when allowed. */
static int cw_open(struct compress_writer *w, struct compress_err *err)
{
	int fd, dfd, ret;

	if (asprintf(&w->tmp_path, "%s.partial-XXXXXX", w->path) < 0) {
		w->tmp_path = NULL;
		return -ENOMEM;
	}
	fd = mkostemp(w->tmp_path, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		compress_err_set(err, "%s: creating temporary file %s: %s", w->path, w->tmp_path,
				 strerror(-ret));
		free(w->tmp_path);
		w->tmp_path = NULL;
		return ret;
	}
	w->fd = fd;
	w->bfd = fd;
	w->memory_fs = compress_on_memory_fs(fd);
	/*
	 * On tmpfs preallocation keeps no blocks together and only costs: each
	 * step allocates its pages under the inode lock the writes to the file
	 * wait for. H100 machine, 16 GiB of random data without compression
	 * into /dev/shm: 16.2-16.8 GB/s with it, 20.1-22.9 without
	 * (bench/RESULTS.md, session 5). A full tmpfs still fails the write.
	 */
	if (w->memory_fs)
		w->prealloc_ok = false;
	if (w->opts.direct_io) {
		/* Filesystems without O_DIRECT refuse it with EINVAL: stay buffered then. */
		dfd = open(w->tmp_path, O_WRONLY | O_DIRECT | O_CLOEXEC);
		if (dfd >= 0) {
			w->fd = dfd;
			w->direct = true;
		}
	}
	return 0;
}

static int cw_start(struct compress_writer *w, struct compress_err *err)
{
	struct iovec *iov;
	size_t i;
	int ret;

	w->jobs = calloc(w->njobs, sizeof(*w->jobs));
	w->pushes = calloc(w->njobs + 1, sizeof(*w->pushes));
	w->workers = calloc(w->nworkers, sizeof(*w->workers));
	w->free_staging = calloc(w->nstaging, sizeof(int));
	iov = calloc(w->nstaging, sizeof(*iov));
	if (!w->jobs || !w->pushes || !w->workers || !w->free_staging || !iov ||
	    posix_memalign(&w->staging_mem, COMPRESS_ALIGN,
			   (size_t)w->nstaging * w->staging_size)) {
		w->staging_mem = NULL;
		free(iov);
		compress_err_set(err, "%s: out of memory for %u staging buffers", w->path,
				 w->nstaging);
		return -ENOMEM;
	}
	for (i = 0; i < w->njobs; i++) {
		w->jobs[i].next = w->free_jobs;
		w->jobs[i].staging = -1;
		w->free_jobs = &w->jobs[i];
	}
	for (i = 0; i <= w->njobs; i++) {
		w->pushes[i].next = w->free_pushes;
		w->free_pushes = &w->pushes[i];
	}
	for (i = 0; i < w->nstaging; i++) {
		iov[i].iov_base = cw_staging(w, (int)i);
		iov[i].iov_len = w->staging_size;
		w->free_staging[w->nfree_staging++] = (int)(w->nstaging - 1 - i);
	}
	/*
	 * Fixed buffers save O_DIRECT a pin per write, nothing else; registering
	 * pins (and so allocates) every staging page up front, which took 0.2-0.7
	 * s for 16 files here. So only for O_DIRECT onto a real device, and not
	 * without compression, where staging only takes the rare chunk that
	 * O_DIRECT cannot write from the caller's buffer.
	 */
	ret = compress_uring_init(&w->uring, w->njobs, iov,
				  w->direct && !w->memory_fs && w->opts.level != COMPRESS_LEVEL_OFF
					  ? w->nstaging
					  : 0);
	free(iov);
	if (ret < 0) {
		compress_err_set(err, "%s: io_uring setup (%u entries): %s", w->path, w->njobs,
				 strerror(-ret));
		return ret;
	}
	ret = common_thread_start(&w->reaper, cw_reaper_main, w);
	if (ret < 0) {
		compress_err_set(err, "%s: starting the completion thread: %s", w->path,
				 strerror(-ret));
		return ret;
	}
	w->reaper_started = true;
	for (i = 0; i < w->nworkers; i++) {
		struct cw_worker *wk = &w->workers[i];

		wk->w = w;
		wk->cctx = ZSTD_createCCtx();
		wk->scratch = malloc(w->opts.chunk_size);
		wk->sample = malloc(2 * CW_SAMPLE_BYTES);
		if (w->memory_fs)
			wk->hasher = compress_hasher_new();
		if (!wk->cctx || !wk->scratch || !wk->sample || (w->memory_fs && !wk->hasher)) {
			compress_err_set(err, "%s: out of memory for worker %zu", w->path, i);
			return -ENOMEM;
		}
		if (w->opts.level != COMPRESS_LEVEL_OFF &&
		    (w->opts.filter_auto ? w->opts.level > 0
					 : w->opts.filter != COMPRESS_FILTER_NONE)) {
			wk->pctx = ZSTD_createCCtx();
			if (!wk->pctx) {
				compress_err_set(err, "%s: out of memory for worker %zu", w->path,
						 i);
				return -ENOMEM;
			}
			cw_ctx_setup(wk->pctx, cw_planes_setup(wk->pctx, w->opts.level));
		}
		if (w->opts.level != COMPRESS_LEVEL_OFF)
			cw_ctx_setup(wk->cctx, w->opts.level);
		ret = common_thread_start(&wk->thread, cw_worker_main, wk);
		if (ret < 0) {
			compress_err_set(err, "%s: starting worker %zu: %s", w->path, i,
					 strerror(-ret));
			return ret;
		}
		w->workers_started++;
	}
	return 0;
}

int compress_writer_new(const char *path, const struct compress_writer_opts *opts,
			struct compress_writer **out, struct compress_err *err)
{
	struct compress_writer_opts def;
	struct compress_writer *w;
	int ret;

	*out = NULL;
	if (!opts) {
		compress_writer_opts_default(&def);
		opts = &def;
	}
	ret = cw_check_opts(opts, err);
	if (ret < 0)
		return ret;
	w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path))) {
		free(w);
		compress_err_set(err, "%s: out of memory", path);
		return -ENOMEM;
	}
	w->fd = -1;
	w->bfd = -1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->opts = *opts;
	if (!w->opts.chunk_size)
		w->opts.chunk_size = COMPRESS_CHUNK_DEFAULT;
	if (!w->opts.prealloc_step)
		w->opts.prealloc_step = 64ull << 20;
	w->nworkers = opts->workers ? opts->workers : compress_online_cpus();
	/* A table holding chunks already (a parent's, or other streams'): expect
	 * lookups to find them, hash first (cw_hash_late). */
	if (opts->dedup && compress_dedup_count(opts->dedup))
		w->claims = w->hits = 1;
	/*
	 * One staging buffer per worker compressing and two writes in flight: on
	 * filesystems that serialise writes to one file (tmpfs, ext4 buffered)
	 * deeper queues only add waiting (measured on tmpfs: 4 in flight wrote
	 * random data 1.3-1.6x faster than 6); raise it for NVMe with O_DIRECT.
	 */
	w->nstaging = opts->queue_depth ? opts->queue_depth : w->nworkers + 2;
	w->njobs = w->nstaging + w->nworkers;
	w->staging_size = w->opts.chunk_size;
	w->cursor = COMPRESS_ALIGN; /* the header block */
	w->prealloc_end = COMPRESS_ALIGN;
	w->prealloc_ok = !opts->prealloc_off;

	ret = cw_open(w, err);
	if (ret == 0)
		ret = cw_start(w, err);
	if (ret < 0) {
		compress_writer_free(w);
		return ret;
	}
	*out = w;
	return 0;
}

int compress_writer_push(struct compress_writer *w, const void *buf, uint64_t len, uint64_t tag,
			 uint64_t offset, compress_done_fn done, void *cookie)
{
	const uint8_t *src = buf;
	struct cw_push *p;
	uint64_t pos = 0;
	int status;

	if ((!buf && len) || !done || offset > UINT64_MAX - len || w->stopping)
		return -EINVAL;

	pthread_mutex_lock(&w->lock);
	while (!w->free_pushes && !w->error)
		pthread_cond_wait(&w->cond, &w->lock);
	if (w->error || len == 0) {
		status = w->error;
		pthread_mutex_unlock(&w->lock);
		done(cookie, status);
		return status;
	}
	p = w->free_pushes;
	w->free_pushes = p->next;
	p->done = done;
	p->cookie = cookie;
	p->refs = 1;
	while (pos < len) {
		uint32_t n =
			(uint32_t)(len - pos < w->opts.chunk_size ? len - pos : w->opts.chunk_size);
		size_t blk = w->next_seq / CW_INDEX_BLOCK;
		struct cw_job *j;

		while (!w->free_jobs && !w->error)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->error)
			break;
		if (blk == w->nindex_blocks) {
			/* The hot path's only allocation: 192 KiB of index every 4096 chunks. */
			struct compress_chunk_info **nb, *b;

			nb = realloc(w->index_blocks, (blk + 1) * sizeof(*nb));
			b = malloc(CW_INDEX_BLOCK * sizeof(*b));
			if (nb)
				w->index_blocks = nb;
			if (!nb || !b) {
				free(b);
				cw_fail_locked(w, -ENOMEM, "out of memory for the index");
				break;
			}
			w->index_blocks[w->nindex_blocks++] = b;
		}
		j = w->free_jobs;
		w->free_jobs = j->next;
		w->in_flight++;
		memset(&j->info, 0, sizeof(j->info));
		j->next = NULL;
		j->push = p;
		j->src = src + pos;
		j->seq = w->next_seq++;
		j->staging = -1;
		j->info.tag = tag;
		j->info.offset = offset + pos;
		j->info.raw_len = n;
		p->refs++;
		if (w->queue_tail)
			w->queue_tail->next = j;
		else
			w->queue_head = j;
		w->queue_tail = j;
		pthread_cond_broadcast(&w->cond);
		pos += n;
	}
	status = w->error;
	pthread_mutex_unlock(&w->lock);

	/* Drop push()'s own reference: the buffer may already be done. */
	pthread_mutex_lock(&w->lock);
	if (--p->refs == 0) {
		p->next = w->free_pushes;
		w->free_pushes = p;
		pthread_cond_broadcast(&w->cond);
		status = w->error;
		pthread_mutex_unlock(&w->lock);
		done(cookie, status);
		return status;
	}
	pthread_mutex_unlock(&w->lock);
	return status;
}

/* Waits for the chunks in flight and stops all threads. Idempotent. */
unsigned int compress_writer_room(struct compress_writer *w)
{
	unsigned int room;

	pthread_mutex_lock(&w->lock);
	room = w->error || w->stopping ? 0 : w->njobs - w->in_flight;
	pthread_mutex_unlock(&w->lock);
	return room;
}

static void cw_stop(struct compress_writer *w)
{
	unsigned int i;

	pthread_mutex_lock(&w->lock);
	while (w->in_flight)
		pthread_cond_wait(&w->cond, &w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->workers_started; i++)
		pthread_join(w->workers[i].thread, NULL);
	w->workers_started = 0;
	if (w->reaper_started) {
		/* Nothing is in flight, so the SQ has room for the stop NOP. */
		if (compress_uring_stop(&w->uring) == 0)
			pthread_join(w->reaper, NULL);
		else
			pthread_detach(w->reaper);
		w->reaper_started = false;
	}
}

static int cw_extra_cmp(const void *a, const void *b)
{
	const struct cw_extra *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->info.offset < y->info.offset ? -1 : x->info.offset > y->info.offset;
}

/* Index, footer and header; then the file is complete under its temporary name. */
static int cw_write_tail(struct compress_writer *w, uint64_t *file_size)
{
	uint64_t count = w->next_seq + w->nextras, index_off = w->cursor, e = 0;
	size_t tail = compress_align_up(count * COMPRESS_ENTRY_BYTES + COMPRESS_FOOTER_BYTES,
					COMPRESS_ALIGN);
	struct compress_header h = {
		.version = COMPRESS_VERSION,
		.header_size = COMPRESS_ALIGN,
		.chunk_size = w->opts.chunk_size,
		.alignment = COMPRESS_ALIGN,
		.level = w->opts.level,
		.filter = w->opts.filter,
		.checksum_algo = COMPRESS_HASH_XXH3_128,
	};
	struct compress_footer f = {
		.version = COMPRESS_VERSION,
		.entry_size = COMPRESS_ENTRY_BYTES,
		.index_offset = index_off,
		.entry_count = count,
		.raw_bytes = w->raw_bytes,
	};
	uint8_t *buf, *hdr;
	int ret;

	if (posix_memalign((void **)&buf, COMPRESS_ALIGN, tail))
		return -ENOMEM;
	memset(buf, 0, tail);
	/* Push order; a chunk stored in pieces has them in offset order. */
	if (w->nextras)
		qsort(w->extras, w->nextras, sizeof(*w->extras), cw_extra_cmp);
	for (uint64_t i = 0, x = 0; i < w->next_seq; i++) {
		compress_entry_encode(cw_entry(w, i), buf + e++ * COMPRESS_ENTRY_BYTES);
		for (; x < w->nextras && w->extras[x].seq == i; x++)
			compress_entry_encode(&w->extras[x].info, buf + e++ * COMPRESS_ENTRY_BYTES);
	}
	assert(e == count);
	f.index_checksum = compress_checksum(buf, count * COMPRESS_ENTRY_BYTES);
	compress_footer_encode(&f, buf + tail - COMPRESS_FOOTER_BYTES);
	ret = common_write_all(w->fd, buf, tail, (int64_t)index_off);
	if (ret < 0) {
		snprintf(w->error_msg.msg, sizeof(w->error_msg.msg), "%s: writing the index: %s",
			 w->path, strerror(-ret));
		goto out;
	}
	/* The header goes last, so only a file whose every part was written has one. */
	assert(tail >= COMPRESS_ALIGN);
	hdr = buf;
	memset(hdr, 0, COMPRESS_ALIGN);
	compress_header_encode(&h, hdr);
	ret = common_write_all(w->fd, hdr, COMPRESS_ALIGN, 0);
	if (ret < 0) {
		snprintf(w->error_msg.msg, sizeof(w->error_msg.msg), "%s: writing the header: %s",
			 w->path, strerror(-ret));
		goto out;
	}
	*file_size = index_off + tail;
out:
	free(buf);
	return ret;
}

static int cw_sync_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd, ret = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return ret;
}

static void cw_fill_stats(struct compress_writer *w, struct compress_stats *s, uint64_t size)
{
	memset(s, 0, sizeof(*s));
	s->raw_bytes = w->raw_bytes;
	s->ref_bytes = w->ref_bytes;
	s->stored_bytes = w->stored_bytes;
	s->file_bytes = size;
	memcpy(s->chunks, w->chunks, sizeof(s->chunks));
	s->chunk_count = w->next_seq + w->nextras;
	for (unsigned int i = 0; i < w->nworkers && w->workers; i++) {
		struct cw_worker *wk = &w->workers[i];

		s->zero_ns += wk->zero_ns;
		s->zero_bytes += wk->zero_bytes;
		s->filter_ns += wk->filter_ns;
		s->filter_bytes += wk->filter_bytes;
		s->codec_ns += wk->codec_ns;
		s->codec_bytes += wk->codec_bytes;
		s->checksum_ns += wk->checksum_ns;
		s->checksum_bytes += wk->checksum_bytes;
		s->copy_ns += wk->copy_ns;
		s->copy_bytes += wk->copy_bytes;
		s->workers_cpu_ns += __atomic_load_n(&wk->cpu_ns, __ATOMIC_RELAXED);
	}
	s->workers = w->workers ? w->nworkers : 0;
	s->completion_cpu_ns = __atomic_load_n(&w->reaper_cpu_ns, __ATOMIC_RELAXED);
	s->io_ns = w->io_ns;
	s->io_bytes = w->io_bytes;
	s->direct_io = w->direct;
	s->registered_buffers = w->uring.registered;
}

int compress_writer_finish(struct compress_writer *w, struct compress_stats *stats,
			   struct compress_err *err)
{
	uint64_t size = 0;
	int ret;

	cw_stop(w);
	ret = w->error;
	if (ret == 0 && !w->finished) {
		ret = cw_write_tail(w, &size);
		/* Drop what preallocation put past the end (mode 0 had grown the size). */
		if (ret == 0 && ftruncate(w->fd, (off_t)size)) {
			ret = -errno;
			snprintf(w->error_msg.msg, sizeof(w->error_msg.msg),
				 "%s: truncating to %llu bytes: %s", w->path,
				 (unsigned long long)size, strerror(-ret));
		}
		if (ret == 0 && w->opts.fsync && fsync(w->fd)) {
			ret = -errno;
			snprintf(w->error_msg.msg, sizeof(w->error_msg.msg), "%s: fsync: %s",
				 w->path, strerror(-ret));
		}
		if (ret == 0 && rename(w->tmp_path, w->path)) {
			ret = -errno;
			snprintf(w->error_msg.msg, sizeof(w->error_msg.msg),
				 "%s: renaming %s into place: %s", w->path, w->tmp_path,
				 strerror(-ret));
		}
		if (ret == 0) {
			w->finished = true;
			if (w->opts.fsync) {
				ret = cw_sync_dir(w->path);
				if (ret < 0)
					snprintf(w->error_msg.msg, sizeof(w->error_msg.msg),
						 "%s: fsync of its folder: %s", w->path,
						 strerror(-ret));
			}
		}
		w->error = ret;
	}
	if (ret < 0) {
		compress_err_set(err, "%s", w->error_msg.msg);
		if (!w->finished && w->tmp_path)
			unlink(w->tmp_path);
	}
	if (stats)
		cw_fill_stats(w, stats, size);
	return ret;
}

void compress_writer_free(struct compress_writer *w)
{
	if (!w)
		return;
	cw_stop(w);
	if (w->fd >= 0)
		close(w->fd);
	if (w->bfd >= 0 && w->bfd != w->fd)
		close(w->bfd);
	if (!w->finished && w->tmp_path)
		unlink(w->tmp_path);
	compress_uring_exit(&w->uring);
	for (unsigned int i = 0; w->workers && i < w->nworkers; i++) {
		ZSTD_freeCCtx(w->workers[i].cctx);
		ZSTD_freeCCtx(w->workers[i].pctx);
		free(w->workers[i].scratch);
		compress_hasher_free(w->workers[i].hasher);
		free(w->workers[i].sample);
	}
	for (size_t i = 0; i < w->nindex_blocks; i++)
		free(w->index_blocks[i]);
	free(w->index_blocks);
	free(w->extras);
	free(w->workers);
	free(w->jobs);
	free(w->pushes);
	free(w->free_staging);
	free(w->staging_mem);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->tmp_path);
	free(w->path);
	free(w);
}
