// SPDX-License-Identifier: GPL-2.0-or-later
/* Aligned text tables and number formatting for the tool's human output. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "img_util.h"

int img_table_init(struct img_table *t, const char *align, ...)
{
	va_list ap;

	memset(t, 0, sizeof(*t));
	t->ncols = (unsigned int)strlen(align);
	if (!t->ncols || t->ncols > IMG_TABLE_MAX_COLS)
		return -EINVAL;
	va_start(ap, align);
	for (unsigned int i = 0; i < t->ncols; i++) {
		t->align[i] = align[i];
		t->head[i] = va_arg(ap, const char *);
	}
	va_end(ap);
	return 0;
}

int img_table_cell(struct img_table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (t->ncells == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **c = realloc(t->cells, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	t->cells[t->ncells++] = s;
	return 0;
}

static void table_row(const struct img_table *t, FILE *f, unsigned int indent, const size_t *w,
		      const char *const *row, size_t n)
{
	fprintf(f, "%*s", (int)indent, "");
	for (size_t c = 0; c < n; c++) {
		bool last = c + 1 == t->ncols;
		int width = (int)w[c];

		if (t->align[c] == 'r')
			fprintf(f, "%*s", width, row[c]);
		else if (last)
			fputs(row[c], f);
		else
			fprintf(f, "%-*s", width, row[c]);
		if (!last)
			fputs("  ", f);
	}
	fputc('\n', f);
}

void img_table_print(const struct img_table *t, FILE *f, unsigned int indent)
{
	size_t w[IMG_TABLE_MAX_COLS];

	for (unsigned int c = 0; c < t->ncols; c++)
		w[c] = strlen(t->head[c]);
	for (size_t i = 0; i < t->ncells; i++) {
		size_t l = strlen(t->cells[i]);

		if (l > w[i % t->ncols])
			w[i % t->ncols] = l;
	}
	table_row(t, f, indent, w, t->head, t->ncols);
	for (size_t i = 0; i < t->ncells; i += t->ncols) {
		size_t n = t->ncells - i < t->ncols ? t->ncells - i : t->ncols;

		table_row(t, f, indent, w, (const char *const *)&t->cells[i], n);
	}
}

void img_table_free(struct img_table *t)
{
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

const char *img_fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

const char *img_fmt_level(char *buf, size_t len, int level)
{
	if (level == COMPRESS_LEVEL_OFF)
		snprintf(buf, len, "off");
	else
		snprintf(buf, len, "%d", level);
	return buf;
}
