/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vramstream-img internals: the image folder as the plugin writes it
 * (read through image/image.h; stream files through compress/compress.h), parallel chunk scans,
 * progress, and the subcommands. See tools/README.md.
 */
#ifndef VRAMSTREAM_IMG_H
#define VRAMSTREAM_IMG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "common_clock.h"
#include "common_size.h"

#include "compress.h"
#include "img_util.h"
#include "vramstream.pb-c.h"

/* Exit statuses (tools/README.md). */
#define IMG_EXIT_OK	 0
#define IMG_EXIT_PROBLEM 1 /* verify found damage; another command failed on the image */
#define IMG_EXIT_USAGE	 2

/* Options every subcommand takes. */
struct img_common {
	bool json;
	bool quiet;	      /* no progress even on a terminal */
	unsigned int workers; /* 0: the CPUs this process may run on */
};

struct img_progress;

/* ---- the image folder (img_image.c) ------------------------------------------------------ */

struct img_bo_ref {
	unsigned int proc; /* index into img_dir.procs (img_dir.renders when gem) */
	unsigned int bo;   /* index into that process's bos (the render file's when gem) */
	uint64_t tag;
	uint64_t stored; /* stored bytes of this BO's chunks in this stream file */
	bool gem;	 /* a GEM BO of a render-node file's stream */
};

struct img_stream {
	char name[NAME_MAX + 1];
	bool exists;			/* present in the folder */
	struct compress_reader *reader; /* NULL when missing or not readable */
	int error;			/* open error (negative errno) */
	char why[600];
	/* from the reader's index */
	uint64_t chunk_count, raw_bytes, stored_bytes, file_bytes;
	uint64_t chunks[COMPRESS_CODEC_COUNT];
	uint64_t chunks_filtered; /* zstd chunks with a byte-group filter */
	uint32_t chunk_size;
	/* from the header (compress_reader_level(), compress_reader_filter()) */
	int level;
	enum compress_filter filter;
	/* BOs whose contents name this stream, sorted by tag */
	struct img_bo_ref *bos;
	unsigned int n_bos;
	/* references (compress/FORMAT.md): raw bytes of chunks stored by another
	 * file of this image (dedup) or by a parent image's file */
	uint64_t ref_here_bytes, ref_parent_bytes;
	int ref_error; /* a file the references need is missing, replaced or damaged */
	char ref_why[600];
	/* A stream striped over several files (ContentRef.parts): part 0 is the named file,
	 * GROUP the index of that part's stream; the same BOs are listed on every part. */
	int group;
	unsigned int part, parts;
};

struct img_process {
	char name[NAME_MAX + 1]; /* vramstream-kfd-<pid>-<id>.img */
	unsigned int pid;
	int id;
	Vramstream__ProcessImage *img; /* NULL when it did not decode */
	int error;
	char why[600];
};

struct img_render {
	char name[NAME_MAX + 1];
	Vramstream__RenderFile *rf; /* NULL when it did not decode */
	char why[300];
	/* Each GEM BO as a BoEntry (its size, the file's GPU, its stream), for what reads
	 * streams' BOs alike (img_bo()). */
	Vramstream__BoEntry *entries;
	/* Its list of stream files (RenderFile.sources) as a ProcessImage's, for what resolves
	 * references alike (img_stream_owner()). */
	Vramstream__ProcessImage refs;
};

struct img_dir {
	char path[PATH_MAX];
	int dirfd;
	struct img_process *procs;
	unsigned int n_procs;
	struct img_render *renders;
	unsigned int n_renders;
	struct img_stream *streams;
	unsigned int n_streams;
	char (*leftovers)[NAME_MAX + 1]; /* temporary files of interrupted writers */
	unsigned int n_leftovers;
};

/*
 * Reads the folder: every metadata and render file, every stream file
 * (present or named by a BO), stream indexes opened with WORKERS reader
 * threads. Damage in single files is recorded in them, not returned: only a
 * folder that cannot be read fails (-errno, ERR says why).
 */
int img_dir_open(const char *path, unsigned int workers, struct img_dir **out, char *err,
		 size_t err_len);
void img_dir_free(struct img_dir *d);
/*
 * The chain of parent folders of process P's image, as this folder reaches
 * them, "a <- b <- c" (nearest first), each marked "(missing)" or "(not an
 * image)" where it cannot be read; "" for a full image.
 */
void img_chain_describe(const struct img_dir *d, const struct img_process *p, char *buf,
			size_t len);
int img_dir_stream(const struct img_dir *d, const char *name);
/* The BO whose contents are chunks TAG of stream S, or NULL. */
const struct img_bo_ref *img_stream_bo(const struct img_stream *s, uint64_t tag);
const Vramstream__BoEntry *img_bo(const struct img_dir *d, const struct img_bo_ref *ref);
/* The image whose list of stream files stream S's references name (a KFD metadata file's, or a
 * render-node file's as one), NULL when S has no BOs or its file did not decode. */
const Vramstream__ProcessImage *img_stream_owner(const struct img_dir *d,
						 const struct img_stream *s);
/* What BO REF is, for messages: its KFD kind, or "GEM". */
const char *img_bo_kind(const struct img_dir *d, const struct img_bo_ref *ref);
/* GEM BOs of render file R, their bytes and the stored bytes of their chunks; *in_meta those
 * whose bytes the metadata holds (older images; BOs the kernel does not export). */
void img_render_sums(const struct img_dir *d, unsigned int r, uint64_t *bos, uint64_t *bytes,
		     uint64_t *stored, uint64_t *in_meta);
/* Stored bytes of BO REF's chunks over all parts of stream group G. */
uint64_t img_group_stored(const struct img_dir *d, int g, uint64_t tag);

/* ---- parallel scans (img_scan.c) --------------------------------------------------------- */

/* Called on the scanning thread with each chunk once read (STATUS 0) or failed. */
typedef int (*img_scan_fn)(void *ctx, uint64_t chunk, const struct compress_chunk_info *ci,
			   const void *data, int status);

/*
 * Reads chunks FIRST..FIRST+COUNT-1 of R (all when COUNT is UINT64_MAX), up to
 * DEPTH at once, verified by the reader's workers; FN (may be NULL) sees each
 * in completion order. Returns FN's first non-zero return, else 0 (failed
 * chunks reach FN with their status and do not stop the scan).
 */
int img_scan(struct compress_reader *r, unsigned int depth, img_scan_fn fn, void *ctx,
	     struct img_progress *prog);

/*
 * Reads bytes [OFFSET, OFFSET+LEN) of object TAG from R into DST, from
 * however many chunks they span. Returns 0, -ENOENT if a byte has no chunk,
 * or the read's error (ERR says which chunk).
 */
int img_read_range(struct compress_reader *r, uint64_t tag, uint64_t offset, uint64_t len,
		   void *dst, struct compress_err *err);
/*
 * The same without the final wait: chunks wholly inside the range are queued
 * (the caller waits with compress_reader_wait()), chunks sticking out of it
 * are read at once into SCRATCH (the stream's chunk size) and their overlap
 * copied.
 */
int img_read_range_start(struct compress_reader *r, uint64_t tag, uint64_t offset, uint64_t len,
			 void *dst, void *scratch, struct compress_err *err);

/* ---- progress on stderr (img_progress.c) ------------------------------------------------- */

struct img_progress {
	bool on;
	const char *what;
	uint64_t total, done;
	double t0, last;
};

/* Progress is shown only when stderr is a terminal and QUIET is false. */
void img_progress_start(struct img_progress *p, bool quiet, const char *what, uint64_t total);
void img_progress_add(struct img_progress *p, uint64_t bytes);
void img_progress_end(struct img_progress *p);
unsigned int img_cpus(void);

/* ---- subcommands ------------------------------------------------------------------------- */

int img_cmd_info(const struct img_common *c, int argc, char **argv);
int img_cmd_verify(const struct img_common *c, int argc, char **argv);
int img_cmd_recompress(const struct img_common *c, int argc, char **argv);
int img_cmd_tune(const struct img_common *c, int argc, char **argv);
int img_cmd_unpause(const struct img_common *c, int argc, char **argv);

/* tune's plot (img_plot.c): stored size against checkpoint time, the front highlighted. */
int img_plot_svg(const char *path, const struct img_tune_point *p, size_t n, double storage_gbps,
		 const char *title);

#endif
