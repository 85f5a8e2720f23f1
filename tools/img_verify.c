// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `verify DIR`: reads every chunk of every stream file (the reader's workers
 * decompress and check each chunk's checksum in parallel) and checks the metadata
 * against the streams: each BO with contents is covered by chunks of its
 * tag exactly once, no chunk belongs to no BO, every named stream exists.
 * Each problem names the file, and where there is one the chunk, the BO and
 * the offset.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img.h"
#include "img_runtime.h"
#include "plugin_kfd.h"

#define NONE UINT64_MAX

struct vproblem {
	char file[NAME_MAX + 1];
	uint64_t chunk, bo, bo_offset, file_offset; /* NONE when not applicable */
	char msg[700];
};

struct verify {
	const struct img_dir *d;
	bool all;
	struct vproblem *p;
	size_t n, cap;
	char (*notes)[700];
	size_t n_notes;
	uint64_t chunks, bytes;
	/* data scan of the current stream */
	const struct img_stream *s;
	uint64_t *bad;
	size_t n_bad, cap_bad;
};

static void problem(struct verify *v, const char *file, uint64_t chunk, uint64_t bo,
		    uint64_t bo_offset, uint64_t file_offset, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
static void problem(struct verify *v, const char *file, uint64_t chunk, uint64_t bo,
		    uint64_t bo_offset, uint64_t file_offset, const char *fmt, ...)
{
	struct vproblem *p;
	va_list ap;

	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct vproblem *np = realloc(v->p, cap * sizeof(*np));

		if (!np)
			return; /* keep what we have; the count below still says "damaged" */
		v->p = np;
		v->cap = cap;
	}
	p = &v->p[v->n++];
	snprintf(p->file, sizeof(p->file), "%s", file);
	p->chunk = chunk;
	p->bo = bo;
	p->bo_offset = bo_offset;
	p->file_offset = file_offset;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
}

static void note(struct verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct verify *v, const char *fmt, ...)
{
	char(*nn)[700] = realloc(v->notes, (v->n_notes + 1) * sizeof(*nn));
	va_list ap;

	if (!nn)
		return;
	v->notes = nn;
	va_start(ap, fmt);
	vsnprintf(v->notes[v->n_notes++], sizeof(*nn), fmt, ap);
	va_end(ap);
}

static void check_process(struct verify *v, unsigned int pi)
{
	const struct img_process *pr = &v->d->procs[pi];
	const Vramstream__ProcessImage *img = pr->img;

	if (!img) {
		problem(v, pr->name, NONE, NONE, NONE, NONE, "%s", pr->why);
		return;
	}
	/* RESTORE hands both back to KFD (plugin_restore.c); the plugin always writes them. */
	if (!img->has_num_objects || !img->has_priv_data)
		problem(v, pr->name, NONE, NONE, NONE, NONE,
			"no %s: metadata cut short or not written by the plugin",
			!img->has_priv_data ? "KFD private data" : "KFD object count");
	if (!img->n_devices)
		problem(v, pr->name, NONE, NONE, NONE, NONE, "no GPUs listed");
	for (size_t b = 0; b < img->n_bos; b++) {
		const Vramstream__BoEntry *e = img->bos[b];
		bool dev = false;

		for (size_t g = 0; g < img->n_devices; g++)
			dev |= img->devices[g]->gpu_id == e->gpu_id;
		if (!dev)
			problem(v, pr->name, NONE, b, NONE, NONE,
				"BO %zu names GPU 0x%x, which the image's device list lacks", b,
				e->gpu_id);
		if (kfd_bo_has_contents(e->alloc_flags) && !e->contents && e->size)
			problem(v, pr->name, NONE, b, NONE, NONE,
				"BO %zu (%s, %" PRIu64 " bytes) has no stored contents", b,
				kfd_bo_kind(e->alloc_flags), e->size);
		if (!e->contents)
			continue;
		/* Restore reads one stream per GPU (plugin_restore.c). */
		for (size_t o = 0; o < b; o++) {
			const Vramstream__BoEntry *f = img->bos[o];

			if (!f->contents)
				continue;
			if (f->gpu_id == e->gpu_id &&
			    strcmp(f->contents->stream_file, e->contents->stream_file)) {
				problem(v, pr->name, NONE, b, NONE, NONE,
					"BOs %zu and %zu of GPU 0x%x name two stream files (%s, "
					"%s)",
					o, b, e->gpu_id, f->contents->stream_file,
					e->contents->stream_file);
				break;
			}
			if (f->contents->tag == e->contents->tag &&
			    !strcmp(f->contents->stream_file, e->contents->stream_file)) {
				problem(v, pr->name, NONE, b, NONE, NONE,
					"BOs %zu and %zu both claim tag %" PRIu64 " of %s", o, b,
					e->contents->tag, e->contents->stream_file);
				break;
			}
		}
	}
}

/*
 * Every BO of stream group G (a stream and its parts) is covered exactly once
 * by chunks of its tag, over all the group's files.
 */
static void check_coverage(struct verify *v, int g)
{
	const struct img_dir *d = v->d;
	const struct img_stream *base = &d->streams[g];
	struct img_extent **ext = calloc(base->n_bos ? base->n_bos : 1, sizeof(*ext));
	size_t *n_ext = calloc(base->n_bos ? base->n_bos : 1, sizeof(*n_ext));
	int *part_of = calloc(base->parts, sizeof(*part_of));
	struct compress_chunk_info ci;
	uint64_t total = 0;

	if (!ext || !n_ext || !part_of)
		goto out;
	for (unsigned int i = 0; i < d->n_streams; i++)
		if (d->streams[i].group == g && d->streams[i].reader) {
			total += d->streams[i].chunk_count;
			if (d->streams[i].part < base->parts)
				part_of[d->streams[i].part] = (int)i;
		}
	for (unsigned int b = 0; b < base->n_bos; b++)
		if (!(ext[b] = malloc((total ? total : 1) * sizeof(**ext))))
			goto out;
	for (unsigned int i = 0; i < d->n_streams; i++) {
		const struct img_stream *s = &d->streams[i];

		if (s->group != g || !s->reader)
			continue;
		for (uint64_t c = 0; c < s->chunk_count; c++) {
			const struct img_bo_ref *ref;

			compress_reader_chunk(s->reader, c, &ci);
			ref = img_stream_bo(base, ci.tag);
			if (!ref) {
				problem(v, s->name, c, NONE, ci.offset, ci.file_offset,
					"chunk %" PRIu64 " holds tag %" PRIu64
					", which no BO names",
					c, ci.tag);
				continue;
			}
			ext[ref - base->bos][n_ext[ref - base->bos]++] =
				(struct img_extent){ ci.offset, ci.raw_len, c, s->part };
		}
	}
	for (unsigned int b = 0; b < base->n_bos; b++) {
		const struct img_bo_ref *ref = &base->bos[b];
		const Vramstream__BoEntry *e = img_bo(d, ref);
		struct img_cover_problem cp[8];
		size_t np = img_cover_check(ext[b], n_ext[b], e->size, cp, 8);

		for (size_t i = 0; i < np && i < 8; i++) {
			const struct img_stream *s =
				cp[i].chunk == UINT64_MAX ? base : &d->streams[part_of[cp[i].part]];
			struct compress_chunk_info ni = { 0 };
			uint64_t fo = NONE;

			if (cp[i].chunk != UINT64_MAX &&
			    !compress_reader_chunk(s->reader, cp[i].chunk, &ni))
				fo = ni.file_offset;
			switch (cp[i].kind) {
			case IMG_COVER_GAP:
				problem(v, s->name, cp[i].chunk == UINT64_MAX ? NONE : cp[i].chunk,
					ref->bo, cp[i].offset, fo,
					"BO %u (%s, %" PRIu64 " bytes, tag %" PRIu64
					"): bytes %" PRIu64 "..%" PRIu64 " are in no chunk%s",
					ref->bo, img_bo_kind(d, ref), e->size, ref->tag,
					cp[i].offset, cp[i].offset + cp[i].len - 1,
					base->parts > 1 ? " of any part" : "");
				break;
			case IMG_COVER_OVERLAP:
				problem(v, s->name, cp[i].chunk, ref->bo, cp[i].offset, fo,
					"BO %u (tag %" PRIu64 "): chunk %" PRIu64
					" overlaps the chunk before it by %" PRIu64 " bytes",
					ref->bo, ref->tag, cp[i].chunk, cp[i].len);
				break;
			case IMG_COVER_BEYOND:
				problem(v, s->name, cp[i].chunk, ref->bo, cp[i].offset, fo,
					"BO %u (tag %" PRIu64 ", %" PRIu64 " bytes): chunk %" PRIu64
					" reaches past its end",
					ref->bo, ref->tag, e->size, cp[i].chunk);
				break;
			}
		}
		if (np > 8)
			problem(v, base->name, NONE, ref->bo, NONE, NONE,
				"BO %u: %zu more coverage problems", ref->bo, np - 8);
	}
out:
	if (ext)
		for (unsigned int b = 0; b < base->n_bos; b++)
			free(ext[b]);
	free(ext);
	free(n_ext);
	free(part_of);
}

static int scan_chunk(void *ctx, uint64_t chunk, const struct compress_chunk_info *ci,
		      const void *data, int status)
{
	struct verify *v = ctx;

	(void)data;
	v->chunks++;
	if (!status) {
		v->bytes += ci->raw_len;
		return 0;
	}
	if (v->n_bad == v->cap_bad) {
		size_t cap = v->cap_bad ? v->cap_bad * 2 : 16;
		uint64_t *nb = realloc(v->bad, cap * sizeof(*nb));

		if (!nb)
			return -ENOMEM;
		v->bad = nb;
		v->cap_bad = cap;
	}
	v->bad[v->n_bad++] = chunk;
	return v->all ? 0 : 1; /* without --all the first damaged chunk ends the scan */
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void check_data(struct verify *v, struct img_stream *s, unsigned int depth,
		       struct img_progress *prog)
{
	uint8_t *buf;

	v->s = s;
	v->n_bad = 0;
	if (img_scan(s->reader, depth, scan_chunk, v, prog) < 0)
		problem(v, s->name, NONE, NONE, NONE, NONE, "out of memory while reading");
	if (!v->n_bad)
		return;
	qsort(v->bad, v->n_bad, sizeof(*v->bad), u64_cmp);
	buf = aligned_alloc(4096, (s->chunk_size + 4095) / 4096 * 4096);
	for (size_t i = 0; i < v->n_bad; i++) {
		struct compress_chunk_info ci;
		const struct img_bo_ref *ref;
		struct compress_err cerr = { .msg = "unreadable" };
		const char *cause;
		char bo[160];

		compress_reader_chunk(s->reader, v->bad[i], &ci);
		/* The scan kept only the status; read again for the reader's reason. */
		if (buf)
			compress_reader_read_sync(s->reader, v->bad[i], buf, s->chunk_size, &cerr);
		cause = strstr(cerr.msg, "): ");
		cause = cause ? cause + 3 : cerr.msg;
		ref = img_stream_bo(s, ci.tag);
		if (ref)
			snprintf(bo, sizeof(bo), "BO %u (%s, GPU 0x%x)", ref->bo,
				 img_bo_kind(v->d, ref), img_bo(v->d, ref)->gpu_id);
		else
			snprintf(bo, sizeof(bo), "tag %" PRIu64 " (no BO)", ci.tag);
		problem(v, s->name, v->bad[i], ref ? ref->bo : NONE, ci.offset, ci.file_offset,
			"chunk %" PRIu64 " of %s, BO offset %" PRIu64 ", file offset %" PRIu64
			", %s, %u bytes: %s",
			v->bad[i], bo, ci.offset, ci.file_offset, compress_codec_name(ci.codec),
			ci.raw_len, cause);
	}
	free(buf);
}

static void verify_json(const struct verify *v, double secs)
{
	struct img_json j;

	img_json_init(&j, stdout);
	img_json_obj_begin(&j, NULL);
	img_json_str(&j, "image_dir", v->d->path);
	img_json_bool(&j, "ok", v->n == 0);
	img_json_u64(&j, "streams", v->d->n_streams);
	img_json_u64(&j, "chunks_read", v->chunks);
	img_json_u64(&j, "bytes_verified", v->bytes);
	img_json_double(&j, "seconds", secs);
	img_json_arr_begin(&j, "problems");
	for (size_t i = 0; i < v->n; i++) {
		const struct vproblem *p = &v->p[i];

		img_json_obj_begin(&j, NULL);
		img_json_str(&j, "file", p->file);
		if (p->chunk != NONE)
			img_json_u64(&j, "chunk", p->chunk);
		else
			img_json_null(&j, "chunk");
		if (p->bo != NONE)
			img_json_u64(&j, "bo", p->bo);
		else
			img_json_null(&j, "bo");
		if (p->bo_offset != NONE)
			img_json_u64(&j, "bo_offset", p->bo_offset);
		else
			img_json_null(&j, "bo_offset");
		if (p->file_offset != NONE)
			img_json_u64(&j, "file_offset", p->file_offset);
		else
			img_json_null(&j, "file_offset");
		img_json_str(&j, "message", p->msg);
		img_json_obj_end(&j);
	}
	img_json_arr_end(&j);
	img_json_arr_begin(&j, "notes");
	for (size_t i = 0; i < v->n_notes; i++)
		img_json_str(&j, NULL, v->notes[i]);
	img_json_arr_end(&j);
	img_json_obj_end(&j);
}

static void verify_usage(FILE *f)
{
	fprintf(f, "usage: vramstream-img verify [--all] [--json] [--workers N] DIR\n"
		   "  reads every chunk and checks checksums and metadata; exit status 0 only\n"
		   "  when all is well, 1 on damage; --all lists every problem, not the first\n");
}

int img_cmd_verify(const struct img_common *c, int argc, char **argv)
{
	static const struct option opts[] = { { "all", no_argument, NULL, 'a' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct verify v = { 0 };
	struct img_progress prog;
	struct img_runtime rt;
	struct img_dir *d;
	uint64_t total = 0;
	double t0;
	char err[600];
	int o;

	while ((o = getopt_long(argc, argv, "ah", opts, NULL)) != -1) {
		if (o == 'a') {
			v.all = true;
		} else if (o == 'h') {
			verify_usage(stdout);
			return IMG_EXIT_OK;
		} else {
			verify_usage(stderr);
			return IMG_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		verify_usage(stderr);
		return IMG_EXIT_USAGE;
	}
	t0 = common_now_s();
	if (img_runtime_open(argv[optind], &rt, err, sizeof(err)) ||
	    img_dir_open(rt.dir, c->workers, &d, err, sizeof(err))) {
		fprintf(stderr, "vramstream-img verify: %s\n", err);
		img_runtime_close(&rt);
		return IMG_EXIT_PROBLEM;
	}
	v.d = d;
	if (!d->n_procs)
		problem(&v, ".", NONE, NONE, NONE, NONE,
			"%s holds no vramstream metadata (vramstream-kfd-*.img)", d->path);
	for (unsigned int i = 0; i < d->n_procs; i++)
		check_process(&v, i);
	for (unsigned int i = 0; i < d->n_renders; i++)
		if (!d->renders[i].rf)
			problem(&v, d->renders[i].name, NONE, NONE, NONE, NONE, "%s",
				d->renders[i].why);
	for (unsigned int i = 0; i < d->n_streams; i++) {
		struct img_stream *s = &d->streams[i];

		if (s->error && !s->n_bos) {
			note(&v,
			     "%s (a stream file that no metadata names; restore does not read it)",
			     s->why);
			continue;
		}
		if (s->error) {
			problem(&v, s->name, NONE, s->bos[0].bo, NONE, NONE, "%s", s->why);
			continue;
		}
		if (s->ref_error) {
			problem(&v, s->name, NONE, s->bos[0].bo, NONE, NONE, "%s", s->ref_why);
			continue;
		}
		if (!s->n_bos)
			note(&v, "%s: stream file that no metadata names (not used by restore)",
			     s->name);
		else if (s->group == (int)i)
			check_coverage(&v, (int)i);
		total += s->raw_bytes;
	}
	for (unsigned int i = 0; i < d->n_leftovers; i++)
		note(&v, "%s: temporary file of an interrupted write (not part of the image)",
		     d->leftovers[i]);

	img_progress_start(&prog, c->quiet, "verify", total);
	for (unsigned int i = 0; i < d->n_streams && (v.all || !v.n); i++)
		if (d->streams[i].reader && !d->streams[i].ref_error)
			check_data(&v, &d->streams[i], 2 * c->workers + 2, &prog);
	img_progress_end(&prog);

	if (c->json) {
		verify_json(&v, common_now_s() - t0);
	} else {
		double secs = common_now_s() - t0;
		char b[32];

		for (size_t i = 0; i < v.n_notes; i++)
			printf("note: %s\n", v.notes[i]);
		for (size_t i = 0; i < v.n && (v.all || i == 0); i++)
			printf("%s: %s\n", v.p[i].file, v.p[i].msg);
		if (v.n)
			printf("FAILED: %s: %zu problem(s)%s\n", d->path, v.n,
			       v.all || v.n == 1 ? "" : " (the first shown; --all lists them)");
		else
			printf("ok: %s: %u process(es), %u stream file(s), %" PRIu64
			       " chunks, %s verified in %.2f s (%.2f GB/s), metadata consistent\n",
			       d->path, d->n_procs, d->n_streams, v.chunks,
			       img_fmt_bytes(b, sizeof(b), v.bytes), secs,
			       secs > 0 ? v.bytes / secs / 1e9 : 0.0);
	}
	o = v.n ? IMG_EXIT_PROBLEM : IMG_EXIT_OK;
	free(v.p);
	free(v.notes);
	free(v.bad);
	img_dir_free(d);
	img_runtime_close(&rt);
	return o;
}
