// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `tune DIR|FILE.vrs`: tries a grid of settings (zstd levels, fast negative
 * ones and off; byte-group filter on and off; chunk sizes) on a sample of
 * the image and predicts, for a storage bandwidth, the image size and the
 * checkpoint and restore times; marks the size/time Pareto front and
 * recommends one setting.
 *
 * Each setting runs the real stream writer (compress/, the same code the
 * plugin dumps with) over the sample into a temporary file in memory-backed
 * storage, then the real reader back, with the workers available: the
 * ratio is what a recompress with that setting gives on the sampled bytes,
 * and the speeds are this machine's.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img.h"

#define TUNE_MAX_GRID 16

struct tune_segment {
	struct compress_reader *r;
	uint64_t tag, offset, len;
	uint64_t buf_off; /* in the sample buffer */
};

struct tune_extent {
	struct compress_reader *r;
	uint64_t tag, start, end;
};

struct tune {
	int levels[TUNE_MAX_GRID];
	unsigned int n_levels;
	int filters[TUNE_MAX_GRID];
	unsigned int n_filters;
	uint32_t chunks[TUNE_MAX_GRID];
	unsigned int n_chunks;
	uint64_t sample_budget;
	double storage_gbps;
	unsigned int repeat; /* runs per setting; the fastest counts */
	const char *plot;
	char tmpdir[PATH_MAX];

	struct tune_extent *ext;
	size_t n_ext;
	uint64_t image_raw;
	uint64_t ref_bytes; /* raw bytes of reference chunks, left out of the prediction */
	struct tune_segment *seg;
	size_t n_seg;
	uint8_t *sample;
	uint64_t sample_len;
};

static int ext_cmp(const void *a, const void *b)
{
	const struct tune_extent *x = a, *y = b;

	if (x->r != y->r)
		return x->r < y->r ? -1 : 1;
	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Every run of stored (and zero) chunks of every object, as one extent
 * each. Chunks stored as references (to a parent image, or to another
 * place in this one) are left out: a setting changes neither their cost in
 * the image (none) nor their time (a hash), so the prediction is for the
 * bytes the image stores itself (t->ref_bytes says how many are left out).
 */
static int tune_extents(struct tune *t, struct compress_reader **rs, unsigned int n_rs)
{
	size_t cap = 0, n = 0;

	for (unsigned int i = 0; i < n_rs; i++)
		cap += compress_reader_chunk_count(rs[i]);
	t->ext = calloc(cap ? cap : 1, sizeof(*t->ext));
	if (!t->ext)
		return -ENOMEM;
	for (unsigned int i = 0; i < n_rs; i++) {
		size_t first = n;

		for (uint64_t c = 0; c < compress_reader_chunk_count(rs[i]); c++) {
			struct compress_chunk_info ci;

			compress_reader_chunk(rs[i], c, &ci);
			if (ci.codec == COMPRESS_CODEC_REF) {
				t->ref_bytes += ci.raw_len;
				continue;
			}
			t->ext[n++] = (struct tune_extent){ rs[i], ci.tag, ci.offset,
							    ci.offset + ci.raw_len };
		}
		qsort(t->ext + first, n - first, sizeof(*t->ext), ext_cmp);
		size_t k = first;

		for (size_t j = first; j < n; j++) {
			if (k > first && t->ext[k - 1].tag == t->ext[j].tag &&
			    t->ext[j].start <= t->ext[k - 1].end) {
				if (t->ext[j].start < t->ext[k - 1].start)
					t->ext[k - 1].start = t->ext[j].start;
				if (t->ext[j].end > t->ext[k - 1].end)
					t->ext[k - 1].end = t->ext[j].end;
			} else {
				t->ext[k++] = t->ext[j];
			}
		}
		n = k;
	}
	t->n_ext = n;
	for (size_t i = 0; i < n; i++)
		t->image_raw += t->ext[i].end - t->ext[i].start;
	return 0;
}

static int tune_add_segment(struct tune *t, size_t *cap, const struct tune_extent *e, uint64_t off,
			    uint64_t len)
{
	if (t->n_seg == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct tune_segment *s = realloc(t->seg, nc * sizeof(*s));

		if (!s)
			return -ENOMEM;
		t->seg = s;
		*cap = nc;
	}
	t->seg[t->n_seg++] = (struct tune_segment){ e->r, e->tag, off, len, t->sample_len };
	t->sample_len += (len + 4095) / 4096 * 4096;
	return 0;
}

/*
 * Picks segments of SEG_LEN bytes (each at least the largest chunk size
 * tried) spread evenly over all objects, so the sample holds the image's
 * mix of zero, incompressible and compressible data in proportion.
 */
static int tune_pick(struct tune *t, uint64_t seg_len)
{
	size_t cap = 0;
	int r = 0;

	if (t->image_raw <= t->sample_budget) {
		for (size_t i = 0; i < t->n_ext && !r; i++)
			for (uint64_t o = t->ext[i].start; o < t->ext[i].end && !r; o += seg_len)
				r = tune_add_segment(t, &cap, &t->ext[i], o,
						     t->ext[i].end - o < seg_len ? t->ext[i].end - o
										 : seg_len);
		return r;
	}
	uint64_t n = t->sample_budget / seg_len ? t->sample_budget / seg_len : 1;
	double stride = (double)t->image_raw / (double)n;
	size_t ei = 0;
	uint64_t base = 0; /* virtual position of ext[ei].start */

	/*
	 * Stratified sampling: one segment from each of N equal strata of the image, at
	 * a pseudo-random place in it (fixed seed: runs repeat). An even stride alone
	 * would alias with data laid out in a period, such as one tensor shape per BO.
	 */
	for (uint64_t k = 0; k < n && !r; k++) {
		uint64_t h = k + 0x9e3779b97f4a7c15ull, pos, start, len;
		const struct tune_extent *e;

		h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
		h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
		h ^= h >> 31;
		pos = (uint64_t)((k + (double)(h >> 11) / 9007199254740992.0) * stride);
		while (ei < t->n_ext && pos >= base + (t->ext[ei].end - t->ext[ei].start)) {
			base += t->ext[ei].end - t->ext[ei].start;
			ei++;
		}
		if (ei == t->n_ext)
			break;
		e = &t->ext[ei];
		/* Aligned to the largest chunk from the object's start, as a dump cuts it. */
		start = e->start + (pos - base) / seg_len * seg_len;
		len = e->end - start < seg_len ? e->end - start : seg_len;
		/* Do not sample a byte twice when segments of a small object meet. */
		if (t->n_seg && t->seg[t->n_seg - 1].r == e->r &&
		    t->seg[t->n_seg - 1].tag == e->tag &&
		    t->seg[t->n_seg - 1].offset + t->seg[t->n_seg - 1].len > start)
			continue;
		r = tune_add_segment(t, &cap, e, start, len);
	}
	return r;
}

/*
 * Standard error of the ratio estimate raw/stored from the segments' own
 * spread (ratio estimator of a sample without replacement; no error when the
 * sample is the whole image).
 */
static double tune_stderr(const struct tune *t, const uint64_t *seg_stored, double ratio)
{
	double sr = 0, ss = 0, f, var = 0, fpc, n = (double)t->n_seg, mean_r;

	if (t->n_seg < 2 || !isfinite(ratio))
		return 0;
	for (size_t i = 0; i < t->n_seg; i++) {
		sr += (double)t->seg[i].len;
		ss += (double)seg_stored[i];
	}
	f = ss / sr;
	mean_r = sr / n;
	for (size_t i = 0; i < t->n_seg; i++) {
		double d = (double)seg_stored[i] - f * (double)t->seg[i].len;

		var += d * d;
	}
	var /= n - 1;
	fpc = 1.0 - sr / (double)t->image_raw;
	if (fpc < 0)
		fpc = 0;
	f = sqrt(fpc * var / n) / mean_r; /* standard error of stored/raw */
	return ratio * ratio * f;
}

static int tune_read_sample(struct tune *t, char *err, size_t err_len)
{
	struct compress_err cerr;

	t->sample = aligned_alloc(4096, t->sample_len ? t->sample_len : 4096);
	if (!t->sample) {
		snprintf(err, err_len, "out of memory for a %" PRIu64 "-byte sample",
			 t->sample_len);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_seg; i++) {
		const struct tune_segment *s = &t->seg[i];
		int r = img_read_range(s->r, s->tag, s->offset, s->len, t->sample + s->buf_off,
				       &cerr);

		if (r) {
			snprintf(err, err_len, "reading the sample: %s", cerr.msg);
			return r;
		}
	}
	return 0;
}

static void tune_push_done(void *cookie, int status)
{
	(void)cookie;
	(void)status;
}

/* Runs one setting over the sample: real writer, then real reader. */
static int tune_run(const struct img_common *c, struct tune *t, struct img_tune_point *p, char *err,
		    size_t err_len)
{
	struct compress_writer_opts wo;
	struct compress_reader_opts ro;
	struct compress_writer *w = NULL;
	struct compress_reader *r = NULL;
	struct compress_stats st;
	struct compress_err cerr;
	char path[PATH_MAX + 32];
	double t0;
	int ret;

	snprintf(path, sizeof(path), "%s/vramstream-img-tune-%d.vrs", t->tmpdir, (int)getpid());
	compress_writer_opts_default(&wo);
	wo.level = p->level;
	wo.filter_auto = p->filter == IMG_FILTER_AUTO;
	wo.filter = wo.filter_auto ? COMPRESS_FILTER_NONE : (enum compress_filter)p->filter;
	wo.chunk_size = p->chunk_size;
	wo.workers = c->workers;
	wo.direct_io = false;
	wo.prealloc_off = true;
	/* Times run from the first push and from the open index: setup is paid once per dump. */
	ret = compress_writer_new(path, &wo, &w, &cerr);
	t0 = common_now_s();
	for (size_t i = 0; i < t->n_seg && !ret; i++)
		ret = compress_writer_push(w, t->sample + t->seg[i].buf_off, t->seg[i].len, i,
					   t->seg[i].offset, tune_push_done, NULL);
	if (!ret)
		ret = compress_writer_finish(w, &st, &cerr);
	p->compress_s = common_now_s() - t0;
	compress_writer_free(w);
	if (ret) {
		snprintf(err, err_len, "trial write to %s: %s", path, cerr.msg);
		unlink(path);
		return ret;
	}
	p->sample_raw = st.raw_bytes;
	p->sample_stored = st.stored_bytes;

	compress_reader_opts_default(&ro);
	ro.workers = c->workers;
	ro.direct_io = false;
	ret = compress_reader_open(path, &ro, &r, &cerr);
	t0 = common_now_s();
	if (!ret)
		ret = img_scan(r, 2 * c->workers + 2, NULL, NULL, NULL);
	p->decompress_s = common_now_s() - t0;
	if (!ret) {
		uint64_t *seg_stored = calloc(t->n_seg, sizeof(*seg_stored));

		for (uint64_t i = 0; seg_stored && i < compress_reader_chunk_count(r); i++) {
			struct compress_chunk_info ci;

			compress_reader_chunk(r, i, &ci);
			if (ci.tag < t->n_seg)
				seg_stored[ci.tag] += ci.stored_len;
		}
		if (seg_stored && p->sample_stored)
			p->ratio_stderr = tune_stderr(
				t, seg_stored, (double)p->sample_raw / (double)p->sample_stored);
		free(seg_stored);
	}
	compress_reader_free(r);
	unlink(path);
	if (ret)
		snprintf(err, err_len, "trial read of %s: %s", path, cerr.msg);
	return ret;
}

static int parse_list(const char *s, const char *what, int kind, struct tune *t)
{
	char *copy = strdup(s), *save = NULL, *tok;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !r; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (kind == 0) {
			if (t->n_levels == TUNE_MAX_GRID ||
			    compress_level_parse(tok, &t->levels[t->n_levels]))
				r = -EINVAL;
			else
				t->n_levels++;
		} else if (kind == 1) {
			struct compress_writer_opts f = { 0 };

			if (t->n_filters == TUNE_MAX_GRID || compress_writer_filter_parse(tok, &f))
				r = -EINVAL;
			else
				t->filters[t->n_filters++] =
					f.filter_auto ? IMG_FILTER_AUTO : (int)f.filter;
		} else {
			if (t->n_chunks == TUNE_MAX_GRID || common_size_parse(tok, &v) ||
			    v < COMPRESS_CHUNK_MIN || v > COMPRESS_CHUNK_MAX || v % 4096)
				r = -EINVAL;
			else
				t->chunks[t->n_chunks++] = (uint32_t)v;
		}
	}
	free(copy);
	if (r)
		fprintf(stderr, "vramstream-img tune: bad %s list '%s'\n", what, s);
	return r;
}

static const char *fmt_chunk(char *buf, size_t len, uint32_t v)
{
	if (v % (1u << 20) == 0)
		snprintf(buf, len, "%uM", v >> 20);
	else
		snprintf(buf, len, "%uK", v >> 10);
	return buf;
}

static void tune_print(const struct img_common *c, const struct tune *t, const char *src,
		       struct img_tune_point *p, size_t n, int best)
{
	char b1[32], b2[32], lv[16], ch[16];

	if (c->json) {
		struct img_json j;

		img_json_init(&j, stdout);
		img_json_obj_begin(&j, NULL);
		img_json_str(&j, "image", src);
		img_json_u64(&j, "image_raw_bytes", t->image_raw);
		img_json_u64(&j, "referenced_bytes", t->ref_bytes);
		img_json_u64(&j, "sample_bytes", p[0].sample_raw);
		img_json_u64(&j, "sample_segments", t->n_seg);
		img_json_u64(&j, "workers", c->workers);
		img_json_u64(&j, "repeat", t->repeat);
		img_json_double(&j, "storage_gbps", t->storage_gbps);
		img_json_arr_begin(&j, "settings");
		for (size_t i = 0; i < n; i++) {
			img_json_obj_begin(&j, NULL);
			img_json_str(&j, "level", img_fmt_level(lv, sizeof(lv), p[i].level));
			img_json_str(&j, "filter", img_filter_name(p[i].filter));
			img_json_u64(&j, "chunk_size", p[i].chunk_size);
			img_json_u64(&j, "sample_raw_bytes", p[i].sample_raw);
			img_json_u64(&j, "sample_stored_bytes", p[i].sample_stored);
			img_json_double(&j, "ratio", p[i].ratio);
			img_json_double(&j, "ratio_stderr", p[i].ratio_stderr);
			img_json_double(&j, "compress_gbps", p[i].compress_gbps);
			img_json_double(&j, "decompress_gbps", p[i].decompress_gbps);
			img_json_u64(&j, "predicted_image_bytes",
				     (uint64_t)llround(p[i].image_stored));
			img_json_double(&j, "predicted_checkpoint_s", p[i].dump_s);
			img_json_double(&j, "predicted_restore_s", p[i].restore_s);
			img_json_bool(&j, "pareto", p[i].pareto);
			img_json_bool(&j, "recommended", p[i].recommended);
			img_json_obj_end(&j);
		}
		img_json_arr_end(&j);
		if (best >= 0) {
			img_json_obj_begin(&j, "recommended");
			img_json_str(&j, "level", img_fmt_level(lv, sizeof(lv), p[best].level));
			img_json_str(&j, "filter", img_filter_name(p[best].filter));
			img_json_u64(&j, "chunk_size", p[best].chunk_size);
			img_json_obj_end(&j);
		}
		img_json_obj_end(&j);
		return;
	}

	struct img_table tb;

	printf("tune %s: %s in %zu object(s); sample %s in %zu segment(s); %u worker(s); "
	       "storage %.2f GB/s\n",
	       src, img_fmt_bytes(b1, sizeof(b1), t->image_raw), t->n_ext,
	       img_fmt_bytes(b2, sizeof(b2), p[0].sample_raw), t->n_seg, c->workers,
	       t->storage_gbps);
	if (t->ref_bytes)
		printf("  %s more are references to chunks stored elsewhere (parent images, or "
		       "once for several places in this one): they cost no space and only a hash "
		       "whatever the setting, and are left out below\n",
		       img_fmt_bytes(b1, sizeof(b1), t->ref_bytes));
	img_table_init(&tb, "lllrrrrrrl", "LEVEL", "FILTER", "CHUNK", "RATIO", "COMPRESS GB/S",
		       "DECOMPRESS GB/S", "IMAGE", "CHECKPOINT S", "RESTORE S", "PARETO");
	for (size_t i = 0; i < n; i++) {
		img_table_cell(&tb, "%s", img_fmt_level(lv, sizeof(lv), p[i].level));
		img_table_cell(&tb, "%s", img_filter_name(p[i].filter));
		img_table_cell(&tb, "%s", fmt_chunk(ch, sizeof(ch), p[i].chunk_size));
		if (isinf(p[i].ratio))
			img_table_cell(&tb, "all zero");
		else
			img_table_cell(&tb, "%.3f", p[i].ratio);
		img_table_cell(&tb, "%.2f", p[i].compress_gbps);
		img_table_cell(&tb, "%.2f", p[i].decompress_gbps);
		img_table_cell(&tb, "%s",
			       img_fmt_bytes(b1, sizeof(b1), (uint64_t)p[i].image_stored));
		img_table_cell(&tb, "%.3f", p[i].dump_s);
		img_table_cell(&tb, "%.3f", p[i].restore_s);
		img_table_cell(&tb, "%s",
			       p[i].recommended ? "front, recommended"
			       : p[i].pareto	? "front"
						: "-");
	}
	img_table_print(&tb, stdout, 2);
	img_table_free(&tb);
	if (best >= 0) {
		printf("recommended for %.2f GB/s storage: --level %s --filter %s --chunk-size %s "
		       "(checkpoint %.3f s, image %s, ratio %.3f +- %.3f)\n",
		       t->storage_gbps, img_fmt_level(lv, sizeof(lv), p[best].level),
		       img_filter_name(p[best].filter),
		       fmt_chunk(ch, sizeof(ch), p[best].chunk_size), p[best].dump_s,
		       img_fmt_bytes(b1, sizeof(b1), (uint64_t)p[best].image_stored), p[best].ratio,
		       p[best].ratio_stderr);
		printf("  plugin: VRAMSTREAM_LEVEL=%s VRAMSTREAM_FILTER=%s "
		       "VRAMSTREAM_CHUNK_SIZE=%s%s\n",
		       img_fmt_level(lv, sizeof(lv), p[best].level),
		       p[best].filter == COMPRESS_FILTER_BYTEGROUP2   ? "2"
		       : p[best].filter == COMPRESS_FILTER_BYTEGROUP4 ? "4"
		       : p[best].filter == IMG_FILTER_AUTO	      ? "auto"
								      : "none",
		       fmt_chunk(ch, sizeof(ch), p[best].chunk_size),
		       p[best].chunk_size > (8u << 20) ? " (and VRAMSTREAM_BUFFER_SIZE >= it)"
						       : "");
	}
	printf("checkpoint/restore = max(CPU, storage) per DESIGN.md's model; GPU copies not "
	       "included; +- is the sample's standard error\n");
}

static void tune_usage(FILE *f)
{
	fprintf(f,
		"usage: vramstream-img tune DIR|FILE.vrs [--storage-gbps G] [--sample SIZE]\n"
		"         [--levels L,...] [--filters F,...] [--chunk-sizes S,...] [--plot "
		"FILE.svg]\n"
		"         [--repeat N]\n"
		"  defaults: --storage-gbps 2 --sample 64M --levels off,-5,-1,1,3,6,9\n"
		"            --filters none,bytegroup2 --chunk-sizes 1M,4M,8M --repeat 1\n"
		"  filters: none, bytegroup2, bytegroup4, auto (the plugin's default: per chunk)\n"
		"  --repeat N: run each setting N times and keep the fastest\n"
		"  trial files go to $TMPDIR, else /tmp (unlinked before they reach the disk)\n");
}

int img_cmd_tune(const struct img_common *c, int argc, char **argv)
{
	static const struct option opts[] = { { "storage-gbps", required_argument, NULL, 's' },
					      { "sample", required_argument, NULL, 'S' },
					      { "levels", required_argument, NULL, 'l' },
					      { "filters", required_argument, NULL, 'f' },
					      { "chunk-sizes", required_argument, NULL, 'c' },
					      { "plot", required_argument, NULL, 'p' },
					      { "repeat", required_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct tune t = { .sample_budget = 64u << 20, .storage_gbps = 2.0, .repeat = 1 };
	struct compress_reader **rs = NULL, *single = NULL;
	struct img_tune_point *pts = NULL;
	struct img_dir *d = NULL;
	struct img_progress prog;
	unsigned int n_rs = 0;
	size_t n_pts = 0;
	uint32_t max_chunk = 0;
	char err[1200] = "";
	struct stat st;
	const char *src, *tmp;
	int o, ret = IMG_EXIT_PROBLEM, best;

	while ((o = getopt_long(argc, argv, "s:S:l:f:c:p:r:h", opts, NULL)) != -1) {
		char *end;

		switch (o) {
		case 's':
			t.storage_gbps = strtod(optarg, &end);
			if (*end || !(t.storage_gbps > 0) || !isfinite(t.storage_gbps)) {
				fprintf(stderr, "vramstream-img tune: bad --storage-gbps '%s'\n",
					optarg);
				return IMG_EXIT_USAGE;
			}
			break;
		case 'S':
			if (common_size_parse(optarg, &t.sample_budget) ||
			    t.sample_budget < (64u << 10)) {
				fprintf(stderr,
					"vramstream-img tune: bad --sample '%s' (at least 64K)\n",
					optarg);
				return IMG_EXIT_USAGE;
			}
			break;
		case 'l':
			if (parse_list(optarg, "level", 0, &t))
				return IMG_EXIT_USAGE;
			break;
		case 'f':
			if (parse_list(optarg, "filter", 1, &t))
				return IMG_EXIT_USAGE;
			break;
		case 'c':
			if (parse_list(optarg, "chunk size", 2, &t))
				return IMG_EXIT_USAGE;
			break;
		case 'p':
			t.plot = optarg;
			break;
		case 'r':
			t.repeat = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || t.repeat < 1 || t.repeat > 100) {
				fprintf(stderr, "vramstream-img tune: bad --repeat '%s' (1..100)\n",
					optarg);
				return IMG_EXIT_USAGE;
			}
			break;
		case 'h':
			tune_usage(stdout);
			return IMG_EXIT_OK;
		default:
			tune_usage(stderr);
			return IMG_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		tune_usage(stderr);
		return IMG_EXIT_USAGE;
	}
	if (!t.n_levels)
		parse_list("off,-5,-1,1,3,6,9", "level", 0, &t);
	if (!t.n_filters)
		parse_list("none,bytegroup2", "filter", 1, &t);
	if (!t.n_chunks)
		parse_list("1M,4M,8M", "chunk size", 2, &t);
	for (unsigned int i = 0; i < t.n_chunks; i++)
		if (t.chunks[i] > max_chunk)
			max_chunk = t.chunks[i];
	tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(t.tmpdir, sizeof(t.tmpdir), "%s", tmp);

	src = argv[optind];
	if (stat(src, &st)) {
		snprintf(err, sizeof(err), "%s: %s", src, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		if (img_dir_open(src, c->workers, &d, err, sizeof(err)))
			goto out;
		rs = calloc(d->n_streams ? d->n_streams : 1, sizeof(*rs));
		if (!rs)
			goto out;
		for (unsigned int i = 0; i < d->n_streams; i++)
			if (d->streams[i].reader)
				rs[n_rs++] = d->streams[i].reader;
	} else {
		struct compress_reader_opts ro;
		struct compress_err cerr;

		compress_reader_opts_default(&ro);
		ro.workers = c->workers;
		if (compress_reader_open(src, &ro, &single, &cerr)) {
			snprintf(err, sizeof(err), "%s", cerr.msg);
			goto out;
		}
		rs = &single;
		n_rs = 1;
	}
	if (!n_rs) {
		snprintf(err, sizeof(err), "%s: no readable stream file to sample", src);
		goto out;
	}
	if (tune_extents(&t, rs, n_rs) || tune_pick(&t, max_chunk) ||
	    tune_read_sample(&t, err, sizeof(err)))
		goto out;
	if (!t.n_seg) {
		snprintf(err, sizeof(err), "%s: the streams hold no data", src);
		goto out;
	}

	pts = calloc((size_t)t.n_levels * t.n_filters * t.n_chunks, sizeof(*pts));
	if (!pts)
		goto out;
	for (unsigned int l = 0; l < t.n_levels; l++)
		for (unsigned int f = 0; f < t.n_filters; f++) {
			/* Filters only apply before zstd: "off" is tried once. */
			if (t.levels[l] == COMPRESS_LEVEL_OFF && f > 0)
				continue;
			for (unsigned int k = 0; k < t.n_chunks; k++)
				pts[n_pts++] = (struct img_tune_point){
					.level = t.levels[l],
					.filter = t.levels[l] == COMPRESS_LEVEL_OFF ? 0
										    : t.filters[f],
					.chunk_size = t.chunks[k],
				};
		}
	img_progress_start(&prog, c->quiet, "tune", (uint64_t)n_pts * t.repeat * t.sample_len);
	for (size_t i = 0; i < n_pts; i++) {
		double best_c = INFINITY, best_d = INFINITY;

		/* Best of --repeat runs: other load on the machine only ever slows a run down. */
		for (unsigned int k = 0; k < t.repeat; k++) {
			if (tune_run(c, &t, &pts[i], err, sizeof(err))) {
				img_progress_end(&prog);
				goto out;
			}
			best_c = fmin(best_c, pts[i].compress_s);
			best_d = fmin(best_d, pts[i].decompress_s);
			img_progress_add(&prog, t.sample_len);
		}
		pts[i].compress_s = best_c;
		pts[i].decompress_s = best_d;
	}
	img_progress_end(&prog);
	img_model_predict(pts, n_pts, t.image_raw, t.storage_gbps);
	img_model_pareto(pts, n_pts);
	best = img_model_recommend(pts, n_pts);
	tune_print(c, &t, src, pts, n_pts, best);
	if (t.plot) {
		char title[PATH_MAX + 64];

		snprintf(title, sizeof(title), "%s at %.2f GB/s storage, %u worker(s)", src,
			 t.storage_gbps, c->workers);
		o = img_plot_svg(t.plot, pts, n_pts, t.storage_gbps, title);
		if (o) {
			snprintf(err, sizeof(err), "%s: %s", t.plot, strerror(-o));
			goto out;
		}
	}
	ret = IMG_EXIT_OK;
out:
	if (ret)
		fprintf(stderr, "vramstream-img tune: %s\n", err[0] ? err : "out of memory");
	free(pts);
	free(t.ext);
	free(t.seg);
	free(t.sample);
	if (single)
		compress_reader_free(single);
	else
		free(rs);
	img_dir_free(d);
	return ret;
}
