// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tune --plot FILE.svg: compression ratio against predicted checkpoint
 * time, one dot per setting, the Pareto front drawn as a line through its
 * points and the recommended setting ringed. Hand-written SVG 1.1: no
 * library to keep, and any browser shows it.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "img.h"

#define W  760
#define H  480
#define ML 70 /* margins: left, right, top, bottom */
#define MR 30
#define MT 50
#define MB 60

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about 6 ticks over SPAN. */
static double nice_step(double span)
{
	double raw = span / 6, p = pow(10, floor(log10(raw))), m = raw / p;

	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static int by_time(const void *a, const void *b)
{
	const struct img_tune_point *x = *(const struct img_tune_point *const *)a;
	const struct img_tune_point *y = *(const struct img_tune_point *const *)b;

	return x->dump_s < y->dump_s ? -1 : x->dump_s > y->dump_s;
}

static double finite_ratio(const struct img_tune_point *p)
{
	return isfinite(p->ratio) ? p->ratio : 0;
}

int img_plot_svg(const char *path, const struct img_tune_point *p, size_t n, double storage_gbps,
		 const char *title)
{
	double x0 = 0, x1 = 0, y0 = INFINITY, y1 = 0, xs, ys;
	const struct img_tune_point **front;
	size_t nf = 0;
	char lv[16];
	FILE *f;

	(void)storage_gbps;
	for (size_t i = 0; i < n; i++) {
		double r = finite_ratio(&p[i]);

		x1 = fmax(x1, p[i].dump_s);
		y0 = fmin(y0, r);
		y1 = fmax(y1, r);
	}
	if (!(x1 > 0))
		x1 = 1;
	xs = nice_step(x1 - x0);
	x1 = ceil(x1 / xs) * xs;
	if (!(y1 > y0)) {
		y0 = y0 - 0.5;
		y1 = y1 + 0.5;
	}
	ys = nice_step(y1 - y0);
	y0 = floor(y0 / ys) * ys;
	y1 = ceil(y1 / ys) * ys;

	front = calloc(n ? n : 1, sizeof(*front));
	if (!front)
		return -ENOMEM;
	f = fopen(path, "w");
	if (!f) {
		int e = -errno;

		free(front);
		return e;
	}
#define PX(v) (ML + ((v)-x0) / (x1 - x0) * (W - ML - MR))
#define PY(v) (H - MB - ((v)-y0) / (y1 - y0) * (H - MT - MB))
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		W, H, W, H);
	fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"14\">vramstream-img tune: ", ML);
	for (const char *c = title; *c; c++) {
		if (*c == '<')
			fputs("&lt;", f);
		else if (*c == '&')
			fputs("&amp;", f);
		else
			fputc(*c, f);
	}
	fputs("</text>\n", f);
	/* axes, grid and ticks */
	for (double v = x0; v <= x1 + xs / 2; v += xs)
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
			"<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
			PX(v), MT, PX(v), H - MB, PX(v), H - MB + 18, v);
	for (double v = y0; v <= y1 + ys / 2; v += ys)
		fprintf(f,
			"<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			"<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
			ML, PY(v), W - MR, PY(v), ML - 6, PY(v) + 4, v);
	fprintf(f,
		"<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
		"stroke=\"black\"/>\n",
		ML, MT, W - ML - MR, H - MT - MB);
	fprintf(f,
		"<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">predicted checkpoint time "
		"(s)</text>\n",
		(W + ML - MR) / 2, H - 18);
	fprintf(f,
		"<text x=\"18\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 18 %d)\">"
		"compression ratio</text>\n",
		(H + MT - MB) / 2, (H + MT - MB) / 2);
	/* the front, as a line in time order */
	for (size_t i = 0; i < n; i++)
		if (p[i].pareto)
			front[nf++] = &p[i];
	qsort(front, nf, sizeof(*front), by_time);
	if (nf > 1) {
		fputs("<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"", f);
		for (size_t i = 0; i < nf; i++)
			fprintf(f, "%s%.1f,%.1f", i ? " " : "", PX(front[i]->dump_s),
				PY(finite_ratio(front[i])));
		fputs("\"/>\n", f);
	}
	for (size_t i = 0; i < n; i++) {
		double x = PX(p[i].dump_s), y = PY(finite_ratio(&p[i]));

		fprintf(f,
			"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\">"
			"<title>level %s, %s, %u KiB chunks: ratio %.3f, %.3f s</title></circle>\n",
			x, y, p[i].pareto ? 5 : 3, p[i].pareto ? "#d62728" : "#888",
			img_fmt_level(lv, sizeof(lv), p[i].level), img_filter_name(p[i].filter),
			p[i].chunk_size >> 10, p[i].ratio, p[i].dump_s);
		if (p[i].pareto)
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">%s%s</text>\n",
				x + 7, y - 6, img_fmt_level(lv, sizeof(lv), p[i].level),
				p[i].filter ? "+bg" : "");
		if (p[i].recommended)
			fprintf(f,
				"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"10\" fill=\"none\" "
				"stroke=\"#1f77b4\" stroke-width=\"2\"/>"
				"<text x=\"%.1f\" y=\"%.1f\" fill=\"#1f77b4\">recommended</text>\n",
				x, y, x + 12, y + 16);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#d62728\">red: size/time Pareto front</text>\n",
		W - MR - 200, MT - 8);
	fputs("</svg>\n", f);
#undef PX
#undef PY
	free(front);
	if (fclose(f))
		return -errno;
	return 0;
}
