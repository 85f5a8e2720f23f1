/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The image tool's pure helpers, kept apart from any I/O so unit tests can
 * run them: JSON writer, aligned tables, number formatting, a chunking-free
 * content digest, BO coverage checks and the size/time model of `tune`.
 */
#ifndef VRAMSTREAM_IMG_UTIL_H
#define VRAMSTREAM_IMG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "compress.h"

/* ---- JSON (img_json.c) ------------------------------------------------------------------- */

#define IMG_JSON_MAX_DEPTH 32

/* A pretty-printing JSON writer. KEY is the member name inside objects, NULL in arrays. */
struct img_json {
	FILE *f;
	int depth;
	bool has_items[IMG_JSON_MAX_DEPTH];
};

void img_json_init(struct img_json *j, FILE *f);
void img_json_obj_begin(struct img_json *j, const char *key);
void img_json_obj_end(struct img_json *j);
void img_json_arr_begin(struct img_json *j, const char *key);
void img_json_arr_end(struct img_json *j);
void img_json_str(struct img_json *j, const char *key, const char *val);
void img_json_u64(struct img_json *j, const char *key, uint64_t val);
void img_json_i64(struct img_json *j, const char *key, int64_t val);
/* Non-finite values are written as null (JSON has no NaN). */
void img_json_double(struct img_json *j, const char *key, double val);
void img_json_bool(struct img_json *j, const char *key, bool val);
void img_json_null(struct img_json *j, const char *key);
/* Writes S as a JSON string literal (quotes, escapes, \u00XX for control bytes). */
void img_json_escape(FILE *f, const char *s);

/* ---- tables and numbers (img_table.c) ---------------------------------------------------- */

#define IMG_TABLE_MAX_COLS 24

/* Columns sized to their widest cell; ALIGN per column: 'l' or 'r'. */
struct img_table {
	unsigned int ncols;
	const char *head[IMG_TABLE_MAX_COLS];
	char align[IMG_TABLE_MAX_COLS];
	char **cells; /* row-major, ncols per row */
	size_t ncells, cap;
};

/* ALIGN is a string of 'l'/'r', one per column; the headers follow. */
int img_table_init(struct img_table *t, const char *align, ...);
/* Appends the next cell (rows wrap every ncols cells). Returns 0 or -ENOMEM. */
int img_table_cell(struct img_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void img_table_print(const struct img_table *t, FILE *f, unsigned int indent);
void img_table_free(struct img_table *t);

/* "5.00 MiB", "812 B": binary units, three significant digits. */
const char *img_fmt_bytes(char *buf, size_t len, uint64_t bytes);
/* "1", "-5", "off" for a compress level (COMPRESS_LEVEL_OFF). */
const char *img_fmt_level(char *buf, size_t len, int level);

/* ---- content digest (img_digest.c) ------------------------------------------------------- */

/*
 * A digest of an object's bytes that does not depend on how they were cut
 * into chunks: sum over the object's little-endian 8-byte words w_i (word i
 * covers bytes 8i..8i+7) of w_i * K^i, modulo 2^64, K odd. The digest of a
 * piece at any offset is its share of that sum, so pieces add up to the
 * object's digest in any order. Any one changed word changes it.
 * Recompress uses it to prove that the new stream holds the old bytes.
 */
uint64_t img_digest_piece(uint64_t offset, const void *buf, size_t len);

/* ---- coverage (img_model.c) -------------------------------------------------------------- */

struct img_extent {
	uint64_t offset;
	uint64_t len;
	uint64_t chunk;	   /* chunk index in its stream file, for messages */
	unsigned int part; /* which file of a striped stream holds it */
};

enum img_cover_kind {
	IMG_COVER_GAP,	   /* [offset, offset+len) of the BO is in no chunk */
	IMG_COVER_OVERLAP, /* chunk starts at offset, inside the previous chunk */
	IMG_COVER_BEYOND,  /* chunk reaches past the BO's end */
};

struct img_cover_problem {
	enum img_cover_kind kind;
	uint64_t offset;
	uint64_t len;
	uint64_t chunk;	   /* the chunk concerned (for a gap: the next chunk, or UINT64_MAX) */
	unsigned int part; /* the file of a striped stream that holds that chunk */
};

/*
 * Checks that the extents (sorted here by offset) cover [0, size) exactly
 * once. Writes up to MAX problems to OUT and returns how many there are in
 * all.
 */
size_t img_cover_check(struct img_extent *ext, size_t n, uint64_t size,
		       struct img_cover_problem *out, size_t max);

/* ---- tune model (img_model.c) ------------------------------------------------------------ */

/* A tune point's filter: the writer's filter_auto (plugin VRAMSTREAM_FILTER=auto). */
#define IMG_FILTER_AUTO COMPRESS_FILTER_COUNT

/* "auto", or compress_filter_name(). */
static inline const char *img_filter_name(int filter)
{
	return filter == IMG_FILTER_AUTO ? "auto"
					 : compress_filter_name((enum compress_filter)filter);
}

struct img_tune_point {
	/* setting */
	int level;
	int filter; /* enum compress_filter, or IMG_FILTER_AUTO */
	uint32_t chunk_size;
	/* measured on the sample */
	uint64_t sample_raw, sample_stored;
	double compress_s, decompress_s; /* wall time over the sample */
	double ratio_stderr; /* sampling error of ratio (1 sigma), from the segments' spread */
	/* derived by img_model_predict() */
	double ratio;	      /* sample_raw / sample_stored */
	double compress_gbps; /* sample_raw / compress_s, in 1e9 bytes/s */
	double decompress_gbps;
	double image_stored; /* predicted stored bytes for the whole image */
	double dump_s;	     /* predicted checkpoint time */
	double restore_s;    /* predicted restore time */
	bool pareto;	     /* on the stored-size/checkpoint-time front */
	bool recommended;
};

/*
 * For an image of IMAGE_RAW bytes written to storage of STORAGE_GBPS: the
 * checkpoint's CPU and storage stages overlap, so its time is the slower of
 * compressing every byte and writing the stored bytes (DESIGN.md,
 * "Performance model"); restore likewise with decompression and reading.
 */
void img_model_predict(struct img_tune_point *p, size_t n, uint64_t image_raw, double storage_gbps);
/* Marks the points no other point beats in both stored size and checkpoint time. */
void img_model_pareto(struct img_tune_point *p, size_t n);
/*
 * Marks and returns the recommended point: among those within 5% of the
 * fastest predicted checkpoint, the one with the smallest image (ties: the
 * faster). -1 when N is 0.
 */
int img_model_recommend(struct img_tune_point *p, size_t n);

#endif
