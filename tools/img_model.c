// SPDX-License-Identifier: GPL-2.0-or-later
/* BO coverage checks and the size/time model behind `tune`. */
#include <math.h>
#include <stdlib.h>

#include "img_util.h"

static int extent_cmp(const void *a, const void *b)
{
	const struct img_extent *x = a, *y = b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

static void cover_add(struct img_cover_problem *out, size_t max, size_t *count,
		      enum img_cover_kind kind, uint64_t offset, uint64_t len, uint64_t chunk,
		      unsigned int part)
{
	if (*count < max)
		out[*count] = (struct img_cover_problem){ kind, offset, len, chunk, part };
	(*count)++;
}

size_t img_cover_check(struct img_extent *ext, size_t n, uint64_t size,
		       struct img_cover_problem *out, size_t max)
{
	uint64_t pos = 0;
	size_t count = 0;

	if (n > 1)
		qsort(ext, n, sizeof(*ext), extent_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct img_extent *e = &ext[i];
		uint64_t end = e->offset + e->len;

		if (e->offset > pos && pos < size)
			cover_add(out, max, &count, IMG_COVER_GAP, pos,
				  (e->offset < size ? e->offset : size) - pos, e->chunk, e->part);
		else if (e->offset < pos)
			cover_add(out, max, &count, IMG_COVER_OVERLAP, e->offset, pos - e->offset,
				  e->chunk, e->part);
		if (end > size || end < e->offset)
			cover_add(out, max, &count, IMG_COVER_BEYOND, e->offset, e->len, e->chunk,
				  e->part);
		if (end > pos)
			pos = end;
	}
	if (pos < size)
		cover_add(out, max, &count, IMG_COVER_GAP, pos, size - pos, UINT64_MAX, 0);
	return count;
}

void img_model_predict(struct img_tune_point *p, size_t n, uint64_t image_raw, double storage_gbps)
{
	for (size_t i = 0; i < n; i++) {
		struct img_tune_point *t = &p[i];
		double frac =
			t->sample_raw ? (double)t->sample_stored / (double)t->sample_raw : 1.0;
		double write_s = (double)image_raw * frac / (storage_gbps * 1e9);

		t->ratio = t->sample_stored ? (double)t->sample_raw / (double)t->sample_stored
					    : INFINITY;
		t->compress_gbps =
			t->compress_s > 0 ? t->sample_raw / t->compress_s / 1e9 : INFINITY;
		t->decompress_gbps =
			t->decompress_s > 0 ? t->sample_raw / t->decompress_s / 1e9 : INFINITY;
		t->image_stored = (double)image_raw * frac;
		t->dump_s = fmax((double)image_raw / (t->compress_gbps * 1e9), write_s);
		t->restore_s = fmax((double)image_raw / (t->decompress_gbps * 1e9), write_s);
	}
}

void img_model_pareto(struct img_tune_point *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p[i].pareto = true;
		for (size_t j = 0; j < n && p[i].pareto; j++) {
			if (j == i)
				continue;
			if (p[j].image_stored <= p[i].image_stored && p[j].dump_s <= p[i].dump_s &&
			    (p[j].image_stored < p[i].image_stored || p[j].dump_s < p[i].dump_s))
				p[i].pareto = false;
		}
	}
}

int img_model_recommend(struct img_tune_point *p, size_t n)
{
	double tmin = INFINITY;
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		p[i].recommended = false;
		if (p[i].dump_s < tmin)
			tmin = p[i].dump_s;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i].dump_s > tmin * 1.05)
			continue;
		if (best < 0 || p[i].image_stored < p[best].image_stored ||
		    (p[i].image_stored == p[best].image_stored && p[i].dump_s < p[best].dump_s))
			best = (int)i;
	}
	if (best >= 0)
		p[best].recommended = true;
	return best;
}
