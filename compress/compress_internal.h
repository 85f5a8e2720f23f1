/* SPDX-License-Identifier: GPL-2.0-or-later */
/* compress/ internals: format codec, filters, the io_uring wrapper, object bodies. */
#ifndef VRAMSTREAM_COMPRESS_INTERNAL_H
#define VRAMSTREAM_COMPRESS_INTERNAL_H

#include <endian.h>
#include <liburing.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <zstd.h>

#include "common_err.h"
#include "common_io.h"
#include "common_thread.h"
#include "compress.h"

/* ---- format (FORMAT.md) ---------------------------------------------------------------- */

#define COMPRESS_MAGIC		 "VRSTREAM" /* header magic, 8 bytes */
#define COMPRESS_FOOTER_MAGIC	 "VRSTRIDX" /* footer magic, 8 bytes */
#define COMPRESS_VERSION	 2	    /* written; version 1 is still read */
#define COMPRESS_ALIGN		 4096u /* header size, chunk and index alignment, file size unit */
#define COMPRESS_HEADER_BYTES	 64    /* encoded header fields at the start of the header block */
#define COMPRESS_FOOTER_BYTES	 64
#define COMPRESS_ENTRY_BYTES	 64 /* version 2 */
#define COMPRESS_ENTRY_BYTES_V1	 48
#define COMPRESS_CHECKSUM_CRC32C 1	     /* version 1 chunk checksums */
#define COMPRESS_HASH_XXH3_128	 2	     /* version 2 content hashes */
#define COMPRESS_PLANE_RAW	 0x80000000u /* planes codec: plane stored as is */

_Static_assert(COMPRESS_ALIGN == COMPRESS_CHUNK_ALIGN, "chunk alignment is the format\'s");

struct compress_header {
	uint32_t version;
	uint32_t header_size;
	uint32_t chunk_size;
	uint32_t alignment;
	int32_t level;
	uint32_t filter;
	uint32_t checksum_algo;
	uint32_t flags;
};

struct compress_footer {
	uint32_t version;
	uint32_t entry_size;
	uint64_t index_offset;
	uint64_t entry_count;
	uint64_t index_checksum;
	uint64_t raw_bytes;
};

void compress_header_encode(const struct compress_header *h, uint8_t out[COMPRESS_HEADER_BYTES]);
int compress_header_decode(const uint8_t *buf, size_t len, struct compress_header *h, char *why,
			   size_t why_len);
void compress_footer_encode(const struct compress_footer *f, uint8_t out[COMPRESS_FOOTER_BYTES]);
int compress_footer_decode(const uint8_t *buf, size_t len, struct compress_footer *f, char *why,
			   size_t why_len);
/* Checks the footer's index location against the file size and header. */
int compress_footer_check(const struct compress_footer *f, const struct compress_header *h,
			  uint64_t file_size, char *why, size_t why_len);
/* Index entry size of a file of @version (0 for a version not read). */
unsigned int compress_entry_bytes(uint32_t version);
void compress_entry_encode(const struct compress_chunk_info *e, uint8_t out[COMPRESS_ENTRY_BYTES]);
/*
 * Decodes and checks one entry (of the header's version) against the header
 * and the data area [header, data_end).
 */
int compress_entry_decode(const uint8_t *buf, const struct compress_header *h, uint64_t data_end,
			  struct compress_chunk_info *e, char *why, size_t why_len);

/*
 * Metadata checksum comparison. Fuzz builds (clang's libFuzzer convention,
 * also zstd's) accept any header, footer and index checksum so mutations reach
 * the field checks behind them; chunk data checksums are always enforced.
 */
static inline bool compress_meta_sum_ok(uint64_t stored, uint64_t computed)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	(void)stored;
	(void)computed;
	return true;
#else
	return stored == computed;
#endif
}

static inline uint64_t compress_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* CRC32C continuing from CRC (0 to start), SSE4.2 when the CPU has it; _sw: tables only. */
uint32_t compress_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t compress_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* A chunk's hash taken piece by piece: XXH3-128, or version 1's CRC32C. */
struct compress_hasher;
struct compress_hasher *compress_hasher_new(void);
void compress_hasher_free(struct compress_hasher *h);
void compress_hasher_reset(struct compress_hasher *h, uint32_t version);
void compress_hasher_update(struct compress_hasher *h, const void *buf, size_t len);
struct compress_hash compress_hasher_digest(struct compress_hasher *h);

/* The hash a file of @version keeps per chunk: XXH3-128, or for version 1 CRC32C in lo. */
struct compress_hash compress_hash_of(uint32_t version, const void *buf, size_t len);

/* Dedup table (compress_dedup.c): @e (a stored chunk about to be written, of source
 * @source) is either entered and false returned, or its bytes are already in the
 * table and @e becomes a reference to them (true). */
bool compress_dedup_claim(struct compress_dedup *d, uint16_t source, struct compress_chunk_info *e);

/* ---- filters and helpers ------------------------------------------------------------- */

/* Element size of a filter (1 for none). */
unsigned int compress_filter_elem(enum compress_filter f);
/* Groups byte k of every element together: out = bytes 0 of all elements, bytes 1, ... */
void compress_filter_apply(enum compress_filter f, const void *src, void *dst, size_t len);
void compress_filter_undo(enum compress_filter f, const void *src, void *dst, size_t len);
bool compress_is_zero(const void *buf, size_t len);

uint64_t compress_now_ns(void);
/* CPU time of the calling thread (0 when it cannot be read). */
uint64_t compress_thread_cpu_ns(void);
unsigned int compress_online_cpus(void);
/* tmpfs or ramfs: every read and write of @fd is a memory copy, O_DIRECT or not. */
bool compress_on_memory_fs(int fd);
/* struct compress_err is common_err.h's caller buffer with its size fixed:
 * the message is written in one step, by the one formatter of the tree. */
#define compress_err_set(err, ...)                                                                 \
	common_errf((err) ? (err)->msg : NULL, sizeof((err)->msg), __VA_ARGS__)

/* ---- io_uring wrapper (every io_uring call lives in compress_uring.c) --------------------- */

/*
 * One ring per writer or reader. Submissions come from several threads and are
 * serialised by sq_lock; completions are reaped by exactly one thread.
 */
struct compress_uring {
	struct io_uring ring;
	pthread_mutex_t sq_lock; /* guards the submission queue */
	bool ready;
	bool registered; /* fixed buffers registered */
};

#define COMPRESS_URING_STOP UINT64_MAX /* user_data of the NOP that stops the reaper */

int compress_uring_init(struct compress_uring *u, unsigned int entries, const struct iovec *bufs,
			unsigned int nbufs);
void compress_uring_exit(struct compress_uring *u);
/* buf_index < 0: plain write/read; otherwise the registered buffer holding BUF. */
int compress_uring_write(struct compress_uring *u, int fd, const void *buf, unsigned int len,
			 uint64_t off, int buf_index, uint64_t user_data);
/*
 * @worker: run the read on io_uring's own worker threads (IOSQE_ASYNC). A
 * buffered read of cached pages otherwise completes inline, copied by the
 * thread that submits, which for the reader is the caller's one thread.
 */
int compress_uring_read(struct compress_uring *u, int fd, void *buf, unsigned int len, uint64_t off,
			int buf_index, bool worker, uint64_t user_data);
int compress_uring_stop(struct compress_uring *u);
/* Waits for one completion: its result and user_data. */
int compress_uring_reap(struct compress_uring *u, int *res, uint64_t *user_data);

/* ---- writer ------------------------------------------------------------------------ */

struct cw_push; /* one caller buffer in flight */
struct cw_job;	/* one chunk in flight */

/* Index entries live in blocks that never move, so workers fill them without a lock. */
#define CW_INDEX_BLOCK 4096

struct cw_extra {
	uint64_t seq; /* of the chunk the entry is a piece of */
	struct compress_chunk_info info;
};

struct cw_worker {
	struct compress_writer *w;
	pthread_t thread;
	ZSTD_CCtx *cctx; /* unfiltered chunks, at the stream's level */
	ZSTD_CCtx *pctx; /* byte planes of filtered chunks (cw_planes_setup); NULL unfiltered */
	void *scratch;	 /* filter output, chunk_size bytes */
	void *sample;	 /* compressibility trial: sample and its output */
	/* stage times, only this thread writes them; summed after join */
	uint64_t zero_ns, zero_bytes, filter_ns, filter_bytes, codec_ns, codec_bytes;
	uint64_t checksum_ns, checksum_bytes;
	uint64_t copy_ns, copy_bytes;
	uint64_t cpu_ns;		/* the thread's CPU time after its last job (atomic) */
	struct compress_hasher *hasher; /* memory_fs: raw pieces hashed as they are written */
};

struct compress_writer {
	/* immutable after new() */
	struct compress_writer_opts opts;
	char *path;	/* final name */
	char *tmp_path; /* temporary name, until finish() renames it */
	int fd;		/* O_DIRECT when direct */
	int bfd;	/* buffered descriptor of the same file (== fd when not direct) */
	bool direct;
	bool memory_fs; /* tmpfs or ramfs: every write is a copy, O_DIRECT or not */
	/* Content-table lookups of data pieces, and how many found their bytes
	 * stored already (atomic): decides whether raw pieces are hashed before
	 * or after their write (cw_hash_late). */
	uint64_t claims, hits;
	unsigned int nworkers;
	unsigned int njobs;
	unsigned int nstaging;
	uint32_t staging_size;
	void *staging_mem; /* nstaging * staging_size, aligned */
	struct cw_job *jobs;
	struct cw_push *pushes;
	struct cw_worker *workers;
	struct compress_uring uring;
	pthread_t reaper;
	bool reaper_started;
	unsigned int workers_started;

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;  /* any change below */
	struct cw_job *free_jobs;
	struct cw_push *free_pushes;
	struct cw_job *queue_head, *queue_tail; /* ready for a worker */
	int *free_staging;			/* stack of free staging buffer indexes */
	unsigned int nfree_staging;
	unsigned int in_flight; /* jobs taken from the free list and not yet returned */
	bool stopping;
	int error; /* first error of the stream, negative errno */
	struct compress_err error_msg;
	uint64_t next_seq; /* chunks pushed so far; a chunk's first entry is index slot seq */
	struct compress_chunk_info **index_blocks;
	size_t nindex_blocks;
	/* Further entries of chunks stored in pieces (runs of zeros split out),
	 * merged after their chunk's first entry when the index is written. */
	struct cw_extra *extras;
	size_t nextras, extras_cap;
	uint64_t cursor;       /* next free file offset for chunk data */
	uint64_t prealloc_end; /* file preallocated up to here */
	bool prealloc_ok;
	uint64_t raw_bytes, ref_bytes, stored_bytes, io_ns, io_bytes;
	uint64_t chunks[COMPRESS_CODEC_COUNT];
	uint64_t reaper_cpu_ns; /* the completion thread's CPU time (atomic) */
	bool finished;		/* finish() renamed the file into place */
};

/* ---- reader ------------------------------------------------------------------------ */

struct cr_job;

struct cr_worker {
	struct compress_reader *r;
	pthread_t thread;
	ZSTD_DCtx *dctx;
	void *scratch;
	uint64_t filter_ns, filter_bytes, codec_ns, codec_bytes, checksum_ns, checksum_bytes;
	uint64_t copy_ns, copy_bytes;
	uint64_t read_ns, read_bytes;	/* reads this worker did itself (memory_fs) */
	uint64_t cpu_ns;		/* the thread's CPU time after its last job (atomic) */
	struct compress_hasher *hasher; /* for hashes taken piece by piece (NULL: whole chunks) */
};

struct cr_sorted {
	uint64_t tag, offset, index;
};

/* A stream file as the reader holds it: the reader's own, or a source of its references. */
struct cr_file {
	char *name;
	int fd;		/* buffered */
	int dfd;	/* O_DIRECT, or -1 */
	bool memory_fs; /* the file is in memory (tmpfs): reads are copies */
	uint64_t file_size;
	struct compress_header header;
	struct compress_footer footer;
	struct compress_chunk_info *entries;
	struct cr_sorted *sorted; /* entries by (tag, offset) */
};

struct compress_reader {
	/* immutable after open */
	struct compress_rate *rate; /* opts.rate: cap on chunk reads */
	bool direct_io;		    /* opts.direct_io, for sources too */
	struct cr_file f;	    /* the reader's file */
	/* attached before reads start (compress_reader_add_source), indexed by number */
	struct cr_file **sources;
	unsigned int nsources;
	unsigned int nworkers, njobs, nstaging;
	uint32_t staging_size;
	void *staging_mem;
	struct cr_job *jobs;
	struct cr_worker *workers;
	struct compress_uring uring;
	pthread_t reaper;
	bool reaper_started;
	unsigned int workers_started;
	bool registered;

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	struct cr_job *free_jobs;
	struct cr_job *queue_head, *queue_tail; /* data in hand, for a worker */
	int *free_staging;
	unsigned int nfree_staging;
	unsigned int in_flight;
	bool stopping;
	int error;
	struct compress_err error_msg;
	uint64_t io_ns, io_bytes, raw_bytes, ref_bytes, stored_bytes;
	uint64_t chunks[COMPRESS_CODEC_COUNT];
	uint64_t reaper_cpu_ns; /* the completion thread's CPU time (atomic) */
};

#endif
