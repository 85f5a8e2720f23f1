/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * image/: the vramstream image folder, the files the plugin writes beside
 * criu's own images. This module alone knows their names, how a GPU's
 * stream is striped over parts, the limits and checks a reader applies to
 * what an image says, and the encoding of the metadata files with their
 * format version (image/README.md). Stream files themselves belong to
 * compress/ (compress/FORMAT.md); this module only names them.
 */
#ifndef VRAMSTREAM_IMAGE_H
#define VRAMSTREAM_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vramstream.pb-c.h"

/*
 * Bumped on any change an older reader would misread (proto/README.md).
 * 2: metadata files are framed with a magic, a length and a CRC32C over all
 * their bytes (image_meta.c); version 1 files, bare messages, are refused.
 */
#define IMAGE_FORMAT_VERSION 2

/* Files a GPU's stream may be striped over (ContentRef.parts). */
#define IMAGE_PARTS_MAX 16

/* Metadata files are KiB to MiB; anything larger is not ours. */
#define IMAGE_FILE_MAX (256u << 20)

/* ---- names (image_names.c) ---------------------------------------------------------------- */

/*
 * The names of the folder's files, written into @out (@len bytes); each
 * returns 0 or -ENAMETOOLONG:
 *   vramstream-kfd-<pid>-<id>.img         KFD metadata of criu file <id> of <pid>
 *   vramstream-kfd-<pid>-<id>-gpu<i>.vrs  stream of the image's GPU <i>
 *   vramstream-render-<id>.img            render-node file <id>
 *   vramstream-render-<id>.vrs            stream of its GEM BOs' contents
 */
int image_kfd_name(unsigned int pid, int id, char *out, size_t len);
int image_stream_name(unsigned int pid, int id, unsigned int gpu, char *out, size_t len);
int image_render_name(int id, char *out, size_t len);
int image_render_stream_name(int id, char *out, size_t len);

/*
 * The file of part @part of the stream named @base: part 0 is @base itself,
 * then "x.1.vrs", "x.2.vrs", ... for "x.vrs" ("x.1", ... for other names).
 */
int image_part_name(const char *base, unsigned int part, char *out, size_t len);

enum image_file_kind {
	IMAGE_FILE_OTHER = 0, /* not ours */
	IMAGE_FILE_KFD,	      /* KFD metadata: *pid and *id are set */
	IMAGE_FILE_RENDER,    /* render-node file: *id is set */
	IMAGE_FILE_STREAM,    /* a stream file or part ("*.vrs") */
	IMAGE_FILE_LEFTOVER,  /* a temporary file of an interrupted write */
	IMAGE_FILE_DMABUF,    /* a dma-buf file: *id is set */
};

/* What @name is in an image folder. @pid and @id may be NULL. */
enum image_file_kind image_name_kind(const char *name, unsigned int *pid, int *id);

/*
 * The criu file id of the KFD metadata file of @pid in folder @dirfd (of any
 * pid when @pid is 0), -ENOENT when there is none, or -errno.
 */
int image_find_kfd(int dirfd, unsigned int pid);

/*
 * Checks of what an image (or a peer) says, before it is used: a stream
 * name must be a plain file name in the image folder (not empty, no '/',
 * not "." or "..", at most NAME_MAX bytes); a stream has 1 to
 * IMAGE_PARTS_MAX parts. Each returns 0 or -EINVAL.
 */
int image_stream_name_check(const char *name);
int image_parts_check(unsigned int parts);

/* ---- files (image_meta.c) ----------------------------------------------------------------- */

/*
 * Serialise @img (its format_version is set here) into a newly allocated
 * buffer (free() it), framed with a magic, its length and a CRC32C over all
 * the file's bytes (image/README.md). Returns 0 or -ENOMEM.
 */
int image_meta_encode(Vramstream__ProcessImage *img, uint8_t **out, size_t *out_len);

/*
 * Check and parse a KFD metadata file: its integrity first (magic, length,
 * checksum), then its version, then the message. Returns 0 and a message
 * to free with image_meta_free(), -EBADMSG when the file is damaged
 * (truncated, extended, any byte changed), -EINVAL when it is not a KFD
 * metadata file at all, or -EPROTONOSUPPORT when its format version is not
 * ours; @why (may be NULL) receives a sentence saying what was wrong.
 */
int image_meta_decode(const uint8_t *buf, size_t len, Vramstream__ProcessImage **img, char *why,
		      size_t why_len);
void image_meta_free(Vramstream__ProcessImage *img);

/* The same for a render-node file. */
int image_render_encode(Vramstream__RenderFile *rf, uint8_t **out, size_t *out_len);
int image_render_decode(const uint8_t *buf, size_t len, Vramstream__RenderFile **rf, char *why,
			size_t why_len);
void image_render_free(Vramstream__RenderFile *rf);

/*
 * Checks every render-node file in folder @dirfd as image_render_decode()
 * does, so that restore finds a damaged one before it acts on any. Returns
 * 0 or the first failure's code, with @why naming the file and the cause.
 */
int image_render_check_all(int dirfd, char *why, size_t why_len);

/*
 * Reads the whole file @name in folder @dirfd into a new buffer (free()
 * it). Returns 0, -EFBIG past IMAGE_FILE_MAX, or -errno.
 */
int image_file_read(int dirfd, const char *name, uint8_t **out, size_t *out_len);

/*
 * Writes @len bytes to @name in @dirfd, 0600, through ".NAME.tmp", an fsync
 * and a rename, so @name is whole or absent. Returns 0 or -errno.
 */
int image_file_write(int dirfd, const char *name, const void *buf, size_t len);

/* ---- parents and references (image_chain.c) ------------------------------------------------ */

struct compress_dedup;
struct compress_reader;

/*
 * Numbers of the files references name (StreamSource.id, compress/FORMAT.md
 * "References"): part @p of the image's @i-th GPU stream is
 * IMAGE_SOURCE_OWN(i, p); files of parent images are numbered from
 * IMAGE_SOURCE_PARENT up to IMAGE_SOURCE_MAX.
 */
#define IMAGE_SOURCE_OWN(i, p) ((uint16_t)((i)*IMAGE_PARTS_MAX + (p)))
#define IMAGE_SOURCE_GPUS_MAX  64u
#define IMAGE_SOURCE_PARENT    (IMAGE_SOURCE_GPUS_MAX * IMAGE_PARTS_MAX)
#define IMAGE_SOURCE_MAX       65535u
/* Longest name of a file in an image folder, with its NUL. */
#define IMAGE_NAME_MAX 256

struct image_source {
	uint16_t id;
	unsigned int depth; /* 1: a file of the parent, 2: of its parent, ... */
	char *path;	    /* as this image's folder reaches it */
	uint64_t identity;  /* index checksum (compress_reader_identity) */
};

/* What a dump refers to: the content table and the parent's files in it. */
struct image_parent {
	struct compress_dedup *table; /* NULL: every chunk stored, as before */
	char path[4096];	      /* the parent folder as recorded; "" none */
	struct image_source *sources; /* files of the parent chain, numbered */
	size_t n_sources, cap_sources;
	unsigned int images; /* KFD metadata files found in the parent folder */
	uint64_t chunks;     /* chunks entered from the parent's files */
	char note[1024];     /* what of the parent could not be used, and why */
	/* storage of the records image_parent_record() hands out */
	Vramstream__StreamSource *rec, **rec_ptrs;
	char *rec_names;
};

/*
 * Prepares the references of a dump into folder @dirfd. The parent is
 * @parent (relative to the folder, or absolute), else criu's "parent" link
 * in the folder if there is one, none when @full. Every KFD metadata file
 * in the parent folder, of any process, is entered with the stream files it
 * lists; a parent that cannot serve (older format, unreadable file) is
 * left out with a sentence in @p->note, and its chunks are stored again.
 * A table is made when there is a parent or @dedup. Returns 0, or -errno
 * with @why when the parent named cannot be opened at all.
 */
int image_parent_open(int dirfd, const char *parent, bool full, bool dedup, struct image_parent *p,
		      char *why, size_t why_len);
/*
 * Records in @img, after the dump, the files its references may name: part
 * k of stream @streams[i] (of @parts[i] parts) as IMAGE_SOURCE_OWN(i, k),
 * and the parent files some chunk refers to; and the parent folder. @img
 * points into @p until image_parent_close().
 */
int image_parent_record(struct image_parent *p, Vramstream__ProcessImage *img,
			const char *const *streams, const unsigned int *parts,
			unsigned int n_streams);
void image_parent_close(struct image_parent *p);

/*
 * Opens stream file @path (relative to @dirfd) to look at its index or read
 * a little: one worker, no O_DIRECT. Returns 0 or -errno with @err naming
 * the file.
 */
struct compress_err;
int image_stream_index_open(int dirfd, const char *path, struct compress_reader **out,
			    struct compress_err *err);

/*
 * Attaches to @r (part @stream of one of @img's streams) every file its
 * references name, as @img lists them, opened relative to @dirfd, and
 * checks that every reference resolves (compress_reader_check_refs()). A
 * missing, replaced or damaged file is named with the chunk that needs it.
 */
int image_sources_attach(int dirfd, const Vramstream__ProcessImage *img, struct compress_reader *r,
			 const char *stream, char *why, size_t why_len);
/* The same for every stream part of @img, so a restore fails before any BO is written. */
int image_sources_check(int dirfd, const Vramstream__ProcessImage *img, char *why, size_t why_len);

/* ---- dma-buf files (image_names.c, image_meta.c) --------------------------------------- */

/* "vramstream-dmabuf-<id>.img": the dma-buf fd that is criu file <id>. */
int image_dmabuf_name(int id, char *out, size_t len);

/* Encoded, framed and checked as image_render_encode() and _decode() do. */
int image_dmabuf_encode(Vramstream__DmabufFile *df, uint8_t **out, size_t *out_len);
int image_dmabuf_decode(const uint8_t *buf, size_t len, Vramstream__DmabufFile **df, char *why,
			size_t why_len);
void image_dmabuf_free(Vramstream__DmabufFile *df);

#endif
