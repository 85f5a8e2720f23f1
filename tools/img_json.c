// SPDX-License-Identifier: GPL-2.0-or-later
/* A small pretty-printing JSON writer for --json output (RFC 8259). */
#include <assert.h>
#include <inttypes.h>
#include <math.h>

#include "img_util.h"

void img_json_init(struct img_json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->has_items[0] = false;
}

void img_json_escape(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Separator, newline and indentation before a value, then "key": when inside an object. */
static void json_item(struct img_json *j, const char *key)
{
	if (j->depth > 0) {
		fputs(j->has_items[j->depth] ? ",\n" : "\n", j->f);
		j->has_items[j->depth] = true;
		for (int i = 0; i < j->depth; i++)
			fputs("  ", j->f);
	}
	if (key) {
		img_json_escape(j->f, key);
		fputs(": ", j->f);
	}
}

static void json_open(struct img_json *j, const char *key, char c)
{
	json_item(j, key);
	fputc(c, j->f);
	assert(j->depth + 1 < IMG_JSON_MAX_DEPTH);
	j->has_items[++j->depth] = false;
}

static void json_close(struct img_json *j, char c)
{
	bool items = j->has_items[j->depth];

	assert(j->depth > 0);
	j->depth--;
	if (items) {
		fputc('\n', j->f);
		for (int i = 0; i < j->depth; i++)
			fputs("  ", j->f);
	}
	fputc(c, j->f);
	if (j->depth == 0)
		fputc('\n', j->f);
}

void img_json_obj_begin(struct img_json *j, const char *key)
{
	json_open(j, key, '{');
}

void img_json_obj_end(struct img_json *j)
{
	json_close(j, '}');
}

void img_json_arr_begin(struct img_json *j, const char *key)
{
	json_open(j, key, '[');
}

void img_json_arr_end(struct img_json *j)
{
	json_close(j, ']');
}

void img_json_str(struct img_json *j, const char *key, const char *val)
{
	json_item(j, key);
	if (val)
		img_json_escape(j->f, val);
	else
		fputs("null", j->f);
}

void img_json_u64(struct img_json *j, const char *key, uint64_t val)
{
	json_item(j, key);
	fprintf(j->f, "%" PRIu64, val);
}

void img_json_i64(struct img_json *j, const char *key, int64_t val)
{
	json_item(j, key);
	fprintf(j->f, "%" PRId64, val);
}

void img_json_double(struct img_json *j, const char *key, double val)
{
	json_item(j, key);
	if (isfinite(val))
		fprintf(j->f, "%.6g", val);
	else
		fputs("null", j->f);
}

void img_json_bool(struct img_json *j, const char *key, bool val)
{
	json_item(j, key);
	fputs(val ? "true" : "false", j->f);
}

void img_json_null(struct img_json *j, const char *key)
{
	json_item(j, key);
	fputs("null", j->f);
}
