/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * compress/: the CPU half of a vramstream stream. Turns caller buffers into a
 * stream file (compress/FORMAT.md) and back, in parallel, with zstd and
 * io_uring. Knows nothing of GPUs or CRIU; see compress/README.md.
 *
 * Errors are negative errno values; every function that can fail for a reason
 * worth telling fills a caller message buffer (struct compress_err).
 *
 * Threads: one writer or reader object is driven by one caller thread at a
 * time; several objects may be used by several threads at once. Completion
 * callbacks run on the object's internal threads: they must be quick and must
 * not call back into the same object.
 */
#ifndef VRAMSTREAM_COMPRESS_H
#define VRAMSTREAM_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct compress_writer;
struct compress_reader;
struct compress_dedup;

/* Message buffer for errors: "file: chunk N (tag T, offset O): cause". */
struct compress_err {
	char msg[512];
};

/* Per-chunk codecs, as stored in the index (FORMAT.md). */
enum compress_codec {
	COMPRESS_CODEC_ZERO = 0,   /* all bytes zero, nothing stored */
	COMPRESS_CODEC_RAW = 1,	   /* stored as is */
	COMPRESS_CODEC_ZSTD = 2,   /* one zstd frame */
	COMPRESS_CODEC_PLANES = 3, /* filtered: each byte plane a zstd frame or raw */
	COMPRESS_CODEC_REF = 4,	   /* stored elsewhere: a chunk of a source with the same hash */
	COMPRESS_CODEC_COUNT
};

/* Filters applied before zstd (and undone after it). */
enum compress_filter {
	COMPRESS_FILTER_NONE = 0,
	COMPRESS_FILTER_BYTEGROUP2 = 1, /* group byte k of every 2-byte element */
	COMPRESS_FILTER_BYTEGROUP4 = 2, /* group byte k of every 4-byte element */
	COMPRESS_FILTER_COUNT
};

/*
 * Content hash of a chunk's raw bytes: XXH3-128 (FORMAT.md, "Content
 * hashes"). It is both the chunk's integrity check and its identity for
 * references; version 1 files carried a CRC32C instead (in lo, hi zero).
 */
struct compress_hash {
	uint64_t lo, hi;
};

struct compress_hash compress_hash(const void *buf, size_t len);

static inline bool compress_hash_eq(struct compress_hash a, struct compress_hash b)
{
	return a.lo == b.lo && a.hi == b.hi;
}

/* level value meaning "do not compress": zero detection and raw storage only. */
#define COMPRESS_LEVEL_OFF INT32_MIN

#define COMPRESS_CHUNK_MIN     (64u << 10)
#define COMPRESS_CHUNK_MAX     (256u << 20)
#define COMPRESS_CHUNK_DEFAULT (4u << 20)
/* Chunk sizes are multiples of this (the stream format's alignment, FORMAT.md). */
#define COMPRESS_CHUNK_ALIGN 4096u
/* Most compression workers and I/O queue depth a writer or reader takes. */
#define COMPRESS_WORKERS_MAX	 1024u
#define COMPRESS_QUEUE_DEPTH_MAX 4096u

/*
 * A byte-rate cap shared by any number of streams and threads, for I/O that
 * must leave the storage to others (a checkpoint of a job that keeps
 * running) and for benchmarks that model a slower device. NULL means none.
 */
struct compress_rate;
/* @bytes_per_sec 0 gives *out = NULL (no cap). */
int compress_rate_new(uint64_t bytes_per_sec, struct compress_rate **out);
void compress_rate_free(struct compress_rate *r);
/* Blocks for as long as @bytes take at the rate, after every I/O reserved
 * before (a device with that bandwidth). No-op for NULL. */
void compress_rate_take(struct compress_rate *r, uint64_t bytes);

struct compress_writer_opts {
	int level; /* zstd level (negative = fast levels) or COMPRESS_LEVEL_OFF */
	enum compress_filter filter;
	/* Per piece, the filter (none, bytegroup2, bytegroup4) whose trial on a
	 * sample compresses smallest; @filter is ignored. Levels 1 and up only:
	 * at fast (negative) levels a chunk is not filtered. */
	bool filter_auto;
	unsigned int workers;	  /* 0: number of online CPUs */
	uint32_t chunk_size;	  /* 0: COMPRESS_CHUNK_DEFAULT; multiple of 4096 */
	unsigned int queue_depth; /* staging buffers and I/O in flight; 0: workers + 2 */
	bool direct_io;		  /* try O_DIRECT, fall back to buffered I/O if refused */
	bool fsync;		  /* fsync the file and its folder before finish() succeeds */
	uint64_t prealloc_step; /* fallocate ahead in steps of this many bytes; 0: 64 MiB (never on
				   tmpfs) */
	bool prealloc_off;	/* no fallocate at all */
	struct compress_rate *rate; /* cap on the stream's writes (shared; not owned) */
	/*
	 * Content table shared by the streams of one image and loaded with the
	 * chunks of its parents (compress_dedup_*): a chunk whose bytes are
	 * already there is stored as a reference to them. NULL: store all.
	 * @source is this stream's number in the table (not owned).
	 */
	struct compress_dedup *dedup;
	uint16_t source;
};

/* Fills opts with defaults: level 1, no filter, all CPUs, 4 MiB chunks, direct I/O on. */
void compress_writer_opts_default(struct compress_writer_opts *opts);

/* Parses a level: an integer (zstd range, negative allowed) or "off". */
int compress_level_parse(const char *s, int *level);
/* Parses a filter name: "none", "bytegroup2", "bytegroup4" (or "2", "4"). */
int compress_filter_parse(const char *s, enum compress_filter *filter);
const char *compress_codec_name(enum compress_codec codec);
const char *compress_filter_name(enum compress_filter filter);
/* The writer's filter setting: a filter name as above, or "auto" (filter_auto). */
int compress_writer_filter_parse(const char *s, struct compress_writer_opts *o);
/* "auto" with filter_auto, else the filter's name. */
const char *compress_writer_filter_name(const struct compress_writer_opts *o);

/*
 * Called once a pushed buffer may be reused (all its chunks are on their way
 * to the file and no longer read from it). status is 0 or the stream's
 * negative errno (the buffer is returned either way).
 */
typedef void (*compress_done_fn)(void *cookie, int status);

/* Totals of a finished (or failed) stream. Times are summed over threads. */
struct compress_stats {
	uint64_t raw_bytes;    /* bytes pushed */
	uint64_t ref_bytes;    /* raw bytes of chunks stored as references (COMPRESS_CODEC_REF) */
	uint64_t stored_bytes; /* chunk payload bytes in the file (without padding) */
	uint64_t file_bytes;   /* final file size: header, chunks, padding, index, footer */
	uint64_t chunks[COMPRESS_CODEC_COUNT]; /* chunk count per codec */
	uint64_t chunk_count;
	/* busy nanoseconds per stage and the bytes each stage went over */
	uint64_t zero_ns, zero_bytes;
	uint64_t filter_ns, filter_bytes;
	uint64_t codec_ns, codec_bytes; /* compress (writer) or decompress (reader) */
	uint64_t checksum_ns, checksum_bytes;
	uint64_t io_ns, io_bytes;     /* submit-to-completion time of each I/O, summed */
	uint64_t copy_ns, copy_bytes; /* memcpy between staging and caller buffers */
	/* CPU time (user + system) of the object's own threads: the workers and
	 * the completion thread. The kernel's io_uring workers are not among them. */
	uint64_t workers_cpu_ns, completion_cpu_ns;
	unsigned int workers;
	bool direct_io;		 /* O_DIRECT was in use */
	bool registered_buffers; /* io_uring fixed buffers were in use */
};

/*
 * Creates PATH (0600) through a temporary name in the same folder; nothing
 * appears under PATH until compress_writer_finish() succeeds.
 */
int compress_writer_new(const char *path, const struct compress_writer_opts *opts,
			struct compress_writer **out, struct compress_err *err);

/*
 * Queues LEN bytes of BUF, raw bytes of the caller's object TAG starting at
 * OFFSET in it. BUF is split into chunks of at most the chunk size; it must
 * stay untouched until DONE(COOKIE, status) is called, which may happen on an
 * internal thread or, when every chunk is already done (or LEN is 0), inside
 * push() on the caller's thread. Blocks while the
 * writer's queue is full. Returns the stream's error once it has failed (DONE
 * is still called for BUF unless the return is -EINVAL for bad arguments).
 */
int compress_writer_push(struct compress_writer *w, const void *buf, uint64_t len, uint64_t tag,
			 uint64_t offset, compress_done_fn done, void *cookie);

/*
 * How many chunks push() can queue right now without blocking (0 once the
 * stream has failed), so a caller with several streams can feed the one
 * with room instead of waiting on a busy one. Safe from any thread.
 */
unsigned int compress_writer_room(struct compress_writer *w);

/*
 * Waits for all pushed data, writes index and footer, fsyncs if asked and
 * renames the file into place. On failure the temporary file is removed.
 * Either way STATS (may be NULL) gets the totals. Does not free W.
 */
int compress_writer_finish(struct compress_writer *w, struct compress_stats *stats,
			   struct compress_err *err);

/*
 * Stops W (waiting for chunks in flight) and frees it; if finish() did not
 * succeed, the temporary file is removed. NULL is fine.
 */
void compress_writer_free(struct compress_writer *w);

/* One index entry as the reader exposes it. */
struct compress_chunk_info {
	uint64_t tag;
	uint64_t offset;      /* within the tagged object */
	uint64_t file_offset; /* of the stored bytes (0 for zero chunks) */
	uint32_t raw_len;
	uint32_t stored_len;
	enum compress_codec codec;
	enum compress_filter filter;
	struct compress_hash hash; /* of the raw bytes (0 for zero chunks) */
	/* COMPRESS_CODEC_REF only: the chunk of the same bytes in source @source */
	uint16_t source;
	uint64_t src_tag, src_offset;
};

struct compress_reader_opts {
	unsigned int workers;	  /* 0: online CPUs */
	unsigned int queue_depth; /* 0: workers + 2 */
	bool direct_io;
	struct compress_rate *rate; /* cap on the stream's reads (shared; not owned) */
};

void compress_reader_opts_default(struct compress_reader_opts *opts);

/* Opens and validates header, footer and index of PATH. */
int compress_reader_open(const char *path, const struct compress_reader_opts *opts,
			 struct compress_reader **out, struct compress_err *err);
/* Same on an open file descriptor (duplicated; NAME is used in messages). */
int compress_reader_open_fd(int fd, const char *name, const struct compress_reader_opts *opts,
			    struct compress_reader **out, struct compress_err *err);

uint64_t compress_reader_chunk_count(const struct compress_reader *r);
uint32_t compress_reader_chunk_size(const struct compress_reader *r);
/* The zstd level (or COMPRESS_LEVEL_OFF) and default filter the writer
 * recorded in the header; informative only (FORMAT.md, "Header"). */
int compress_reader_level(const struct compress_reader *r);
enum compress_filter compress_reader_filter(const struct compress_reader *r);
int compress_reader_chunk(const struct compress_reader *r, uint64_t index,
			  struct compress_chunk_info *info);
/* Index of the chunk of TAG that covers OFFSET, or -ENOENT. */
int64_t compress_reader_find(const struct compress_reader *r, uint64_t tag, uint64_t offset);

/*
 * Queues reading chunk INDEX into DST (at least its raw_len bytes; exactly those
 * are written, so neighbouring chunks may be read into one buffer). DONE is
 * called from an internal thread once DST holds the verified bytes (status 0)
 * or with a negative errno; the message is kept for compress_reader_wait().
 * Blocks while the reader's queue is full.
 */
int compress_reader_read(struct compress_reader *r, uint64_t index, void *dst, uint64_t dst_len,
			 compress_done_fn done, void *cookie);
/*
 * compress_reader_read() that never waits: -EAGAIN, with nothing queued,
 * when the reader has no slot free now, or no staging buffer for a chunk
 * that needs one (compressed chunks; compress_reader_room() counts slots
 * only). A caller feeding several readers from one thread tries another
 * instead of stopping on a full one.
 */
int compress_reader_try_read(struct compress_reader *r, uint64_t index, void *dst, uint64_t dst_len,
			     compress_done_fn done, void *cookie);

/*
 * How many reads compress_reader_read() takes right now without blocking, so
 * a caller with several files can read from one with room. Safe from any
 * thread.
 */
unsigned int compress_reader_room(struct compress_reader *r);

/* Waits until every queued read is done; returns the first error of them. */
int compress_reader_wait(struct compress_reader *r, struct compress_err *err);

/* Reads one chunk synchronously (queues it and waits). */
int compress_reader_read_sync(struct compress_reader *r, uint64_t index, void *dst,
			      uint64_t dst_len, struct compress_err *err);

/*
 * References (COMPRESS_CODEC_REF entries) name a source by number; the
 * caller, which knows what the numbers stand for, attaches each source file
 * a reference of R uses. The source's header, footer and index are checked
 * as at open. Reads of a reference then read the source's chunk (its hash
 * checked against the reference's), with R's own workers and buffers.
 * @identity, when not 0, is the source's compress_reader_identity() as
 * recorded: a file of that name with another index is refused (-ESTALE).
 */
int compress_reader_add_source(struct compress_reader *r, uint16_t source, int dirfd,
			       const char *path, uint64_t identity, struct compress_err *err);
/*
 * Checks, before any chunk is read, that every reference of R resolves: its
 * source attached, a chunk there at the named tag and offset, of the same
 * length and hash, itself stored (not a reference). The first failure names
 * the reference and the source file.
 */
int compress_reader_check_refs(struct compress_reader *r, struct compress_err *err);
/* The index checksum of the file's footer: what the file's index is (for records of sources). */
uint64_t compress_reader_identity(const struct compress_reader *r);
/* Format version of the file (1 or 2); version 1 has CRC32C, not content hashes. */
unsigned int compress_reader_version(const struct compress_reader *r);

/* Stats of the reads done so far (codec_* = decompression). */
void compress_reader_stats(const struct compress_reader *r, struct compress_stats *stats);

void compress_reader_free(struct compress_reader *r);

/*
 * The content table of deduplication (FORMAT.md, "References"): which chunk
 * (source number, tag, offset) holds the bytes of a given hash and length.
 * Shared by the writers of one image, safe from any thread.
 */
int compress_dedup_new(struct compress_dedup **out);
void compress_dedup_free(struct compress_dedup *d);
/*
 * Enters every stored chunk of R as source @source. A reference of R (to
 * R's own source k) enters the chunk it names as source @ref_map[k]; one
 * whose k is past @nref_map or maps to UINT16_MAX is left out. Version 1
 * files have no content hashes: -EPROTONOSUPPORT, nothing entered.
 */
int compress_dedup_add_reader(struct compress_dedup *d, const struct compress_reader *r,
			      uint16_t source, const uint16_t *ref_map, unsigned int nref_map);
/* Chunks in the table. */
uint64_t compress_dedup_count(const struct compress_dedup *d);
/* Whether some writer's chunk became a reference to a chunk of @source. */
bool compress_dedup_referenced(const struct compress_dedup *d, uint16_t source);

/* CRC32C of LEN bytes (RFC 3720), the checksum of headers, footers, indexes and metadata. */
uint64_t compress_checksum(const void *buf, size_t len);

#endif
