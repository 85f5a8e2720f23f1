// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The image folder as the plugin writes it, read through image/image.h:
 * metadata per KFD file, render-node files, one stream per GPU (striped over
 * parts). Loading never
 * stops at a damaged file: the damage is recorded for info and verify.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "img.h"
#include "plugin_kfd.h"

int img_dir_stream(const struct img_dir *d, const char *name)
{
	for (unsigned int i = 0; i < d->n_streams; i++)
		if (!strcmp(d->streams[i].name, name))
			return (int)i;
	return -1;
}

static int ref_cmp(const void *a, const void *b)
{
	const struct img_bo_ref *x = a, *y = b;

	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	if (x->proc != y->proc)
		return x->proc < y->proc ? -1 : 1;
	return x->bo < y->bo ? -1 : x->bo > y->bo;
}

const struct img_bo_ref *img_stream_bo(const struct img_stream *s, uint64_t tag)
{
	size_t lo = 0, hi = s->n_bos;

	/* s->bos is sorted by tag (img_dir_open); the first of equal tags wins. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->bos[mid].tag < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n_bos && s->bos[lo].tag == tag ? &s->bos[lo] : NULL;
}

const Vramstream__BoEntry *img_bo(const struct img_dir *d, const struct img_bo_ref *ref)
{
	if (ref->gem)
		return &d->renders[ref->proc].entries[ref->bo];
	return d->procs[ref->proc].img->bos[ref->bo];
}

const Vramstream__ProcessImage *img_stream_owner(const struct img_dir *d,
						 const struct img_stream *s)
{
	if (!s->n_bos)
		return NULL;
	if (s->bos[0].gem)
		return d->renders[s->bos[0].proc].rf ? &d->renders[s->bos[0].proc].refs : NULL;
	return d->procs[s->bos[0].proc].img;
}

const char *img_bo_kind(const struct img_dir *d, const struct img_bo_ref *ref)
{
	return ref->gem ? "GEM" : kfd_bo_kind(img_bo(d, ref)->alloc_flags);
}

void img_render_sums(const struct img_dir *d, unsigned int r, uint64_t *bos, uint64_t *bytes,
		     uint64_t *stored, uint64_t *in_meta)
{
	const Vramstream__RenderFile *rf = d->renders[r].rf;

	*bos = *bytes = *stored = *in_meta = 0;
	for (size_t b = 0; rf && b < rf->n_bos; b++) {
		const Vramstream__ContentRef *c = rf->bos[b]->stream;
		int si;

		(*bos)++;
		*bytes += rf->bos[b]->size;
		if (rf->bos[b]->has_contents) {
			(*in_meta)++;
			*stored += rf->bos[b]->contents.len;
		}
		if (c && (si = img_dir_stream(d, c->stream_file)) >= 0)
			*stored += img_group_stored(d, si, c->tag);
	}
}

uint64_t img_group_stored(const struct img_dir *d, int g, uint64_t tag)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < d->n_streams; i++) {
		const struct img_bo_ref *ref;

		if (d->streams[i].group != g)
			continue;
		ref = img_stream_bo(&d->streams[i], tag);
		if (ref)
			sum += ref->stored;
	}
	return sum;
}

static int add_stream(struct img_dir *d, const char *name, bool exists)
{
	struct img_stream *s;
	int i = img_dir_stream(d, name);

	if (i >= 0) {
		d->streams[i].exists |= exists;
		return i;
	}
	s = realloc(d->streams, (d->n_streams + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	d->streams = s;
	s = &d->streams[d->n_streams];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->exists = exists;
	s->group = (int)d->n_streams;
	s->parts = 1;
	return (int)d->n_streams++;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void open_stream(struct img_dir *d, struct img_stream *s, unsigned int workers)
{
	struct compress_reader_opts ro;
	struct compress_chunk_info ci;
	struct compress_err cerr;
	struct img_bo_ref *ref;
	int fd;

	if (image_stream_name_check(s->name)) {
		s->error = -EINVAL;
		snprintf(s->why, sizeof(s->why), "%s: stream name leaves the image folder",
			 s->name);
		return;
	}
	if (!s->exists) {
		s->error = -ENOENT;
		snprintf(s->why, sizeof(s->why), "%s: missing from the image folder", s->name);
		return;
	}
	fd = openat(d->dirfd, s->name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		s->error = -errno;
		snprintf(s->why, sizeof(s->why), "%s: %s", s->name, strerror(errno));
		return;
	}
	compress_reader_opts_default(&ro);
	ro.workers = workers;
	s->error = compress_reader_open_fd(fd, s->name, &ro, &s->reader, &cerr);
	close(fd);
	if (s->error) {
		snprintf(s->why, sizeof(s->why), "%s", cerr.msg);
		s->reader = NULL;
		return;
	}
	s->level = compress_reader_level(s->reader);
	s->filter = compress_reader_filter(s->reader);
	s->chunk_count = compress_reader_chunk_count(s->reader);
	s->chunk_size = compress_reader_chunk_size(s->reader);
	for (uint64_t i = 0; i < s->chunk_count; i++) {
		compress_reader_chunk(s->reader, i, &ci);
		s->raw_bytes += ci.raw_len;
		s->stored_bytes += ci.stored_len;
		s->chunks[ci.codec]++;
		if (ci.filter != COMPRESS_FILTER_NONE)
			s->chunks_filtered++;
		ref = (struct img_bo_ref *)img_stream_bo(s, ci.tag);
		if (ref)
			ref->stored += ci.stored_len;
	}
	{
		struct stat st;

		if (fstatat(d->dirfd, s->name, &st, 0) == 0)
			s->file_bytes = (uint64_t)st.st_size;
	}
}

/*
 * The files a stream's references name, from its process's list, so reads
 * resolve them as a restore does; what they hold is counted by where it is.
 */
static void attach_sources(struct img_dir *d, struct img_stream *s)
{
	const Vramstream__ProcessImage *img;
	struct compress_chunk_info ci;
	int r;

	if (!s->reader || !(img = img_stream_owner(d, s)) || !img->n_sources)
		return;
	for (uint64_t i = 0; i < s->chunk_count; i++) {
		compress_reader_chunk(s->reader, i, &ci);
		if (ci.codec != COMPRESS_CODEC_REF)
			continue;
		for (size_t k = 0; k < img->n_sources; k++)
			if (img->sources[k]->id == ci.source) {
				if (img->sources[k]->depth)
					s->ref_parent_bytes += ci.raw_len;
				else
					s->ref_here_bytes += ci.raw_len;
				break;
			}
	}
	r = image_sources_attach(d->dirfd, img, s->reader, s->name, s->ref_why, sizeof(s->ref_why));
	if (r)
		s->ref_error = r;
}

void img_chain_describe(const struct img_dir *d, const struct img_process *p, char *buf, size_t len)
{
	char path[PATH_MAX], next[PATH_MAX];
	size_t used = 0;

	buf[0] = '\0';
	if (!p->img || !p->img->parent)
		return;
	snprintf(path, sizeof(path), "%s", p->img->parent);
	for (int depth = 0; depth < 64 && path[0]; depth++) {
		Vramstream__ProcessImage *img = NULL;
		const char *state = "";
		uint8_t *mbuf;
		size_t mlen;
		int fd, id;

		next[0] = '\0';
		fd = openat(d->dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			state = " (missing)";
		} else {
			id = image_find_kfd(fd, 0);
			if (id < 0) {
				state = " (not an image)";
			} else {
				char name[NAME_MAX + 1];
				unsigned int pid = 0;
				DIR *dir = NULL;
				struct dirent *de;
				int dup_fd = dup(fd);

				/* the metadata file of that id, whatever its pid */
				dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
				while (dir && (de = readdir(dir)))
					if (image_name_kind(de->d_name, &pid, &id) ==
					    IMAGE_FILE_KFD)
						break;
				if (dir)
					closedir(dir);
				image_kfd_name(pid, id, name, sizeof(name));
				if (!image_file_read(fd, name, &mbuf, &mlen)) {
					if (image_meta_decode(mbuf, mlen, &img, NULL, 0))
						state = " (damaged)";
					free(mbuf);
				}
			}
			close(fd);
		}
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s%s",
					 depth ? " <- " : "", path, state);
		if (img && img->parent) {
			if (img->parent[0] == '/')
				snprintf(next, sizeof(next), "%s", img->parent);
			else
				snprintf(next, sizeof(next), "%s/%s", path, img->parent);
		}
		image_meta_free(img);
		snprintf(path, sizeof(path), "%s", next);
	}
}

static void load_process(struct img_dir *d, struct img_process *p)
{
	uint8_t *buf;
	size_t len;

	p->error = image_file_read(d->dirfd, p->name, &buf, &len);
	if (p->error) {
		snprintf(p->why, sizeof(p->why), "%s: %s", p->name, strerror(-p->error));
		return;
	}
	p->error = image_meta_decode(buf, len, &p->img, p->why, sizeof(p->why));
	free(buf);
	if (p->error) {
		char why[sizeof(p->why)];

		snprintf(why, sizeof(why), "%s", p->why);
		snprintf(p->why, sizeof(p->why), "%.80s: %.500s", p->name, why);
		p->img = NULL;
	}
}

static void load_render(struct img_dir *d, struct img_render *rd)
{
	uint8_t *buf;
	size_t len;
	char why[200];
	int r = image_file_read(d->dirfd, rd->name, &buf, &len);

	if (r) {
		snprintf(rd->why, sizeof(rd->why), "%.200s: %s", rd->name, strerror(-r));
		return;
	}
	r = image_render_decode(buf, len, &rd->rf, why, sizeof(why));
	free(buf);
	if (r) {
		snprintf(rd->why, sizeof(rd->why), "%.200s: %s", rd->name, why);
		rd->rf = NULL;
		return;
	}
	vramstream__process_image__init(&rd->refs);
	rd->refs.n_sources = rd->rf->n_sources;
	rd->refs.sources = rd->rf->sources;
	rd->entries = calloc(rd->rf->n_bos ? rd->rf->n_bos : 1, sizeof(*rd->entries));
	for (size_t b = 0; rd->entries && b < rd->rf->n_bos; b++) {
		vramstream__bo_entry__init(&rd->entries[b]);
		rd->entries[b].size = rd->rf->bos[b]->size;
		rd->entries[b].gpu_id = rd->rf->gpu_id;
		rd->entries[b].contents = rd->rf->bos[b]->stream;
	}
}

/* The BO's stream, parts and all, with REF as one of its BOs. */
static int add_bo_stream(struct img_dir *d, const Vramstream__ContentRef *c, struct img_bo_ref ref)
{
	unsigned int parts = c->has_parts && c->parts ? c->parts : 1;

	for (unsigned int pt = 0; pt < parts && pt < IMAGE_PARTS_MAX; pt++) {
		char pname[NAME_MAX + 1];
		struct img_bo_ref *refs;
		struct img_stream *s;
		int si, g;

		if (image_part_name(c->stream_file, pt, pname, sizeof(pname)))
			continue;
		si = add_stream(d, pname, false);
		if (si < 0)
			return -ENOMEM;
		g = pt ? img_dir_stream(d, c->stream_file) : si;
		s = &d->streams[si];
		s->group = g;
		s->part = pt;
		s->parts = parts;
		refs = realloc(s->bos, (s->n_bos + 1) * sizeof(*refs));
		if (!refs)
			return -ENOMEM;
		s->bos = refs;
		s->bos[s->n_bos++] = ref;
	}
	return 0;
}

/* Collects the folder's names by kind, sorted, so output is stable. */
static int scan_names(struct img_dir *d, char ***names, size_t *n)
{
	int dup_fd = openat(d->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	size_t cap = 0;
	DIR *dir;

	*names = NULL;
	*n = 0;
	if (dup_fd < 0)
		return -errno;
	dir = fdopendir(dup_fd);
	if (!dir) {
		close(dup_fd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		if (image_name_kind(de->d_name, NULL, NULL) == IMAGE_FILE_OTHER)
			continue;
		if (*n == cap) {
			char **nn = realloc(*names, (cap = cap ? cap * 2 : 16) * sizeof(*nn));

			if (!nn)
				goto nomem;
			*names = nn;
		}
		if (!((*names)[*n] = strdup(de->d_name)))
			goto nomem;
		(*n)++;
	}
	closedir(dir);
	if (*n > 1)
		qsort(*names, *n, sizeof(**names), name_cmp);
	return 0;
nomem:
	closedir(dir);
	return -ENOMEM;
}

int img_dir_open(const char *path, unsigned int workers, struct img_dir **out, char *err,
		 size_t err_len)
{
	struct img_dir *d = calloc(1, sizeof(*d));
	char **names = NULL;
	size_t n = 0;
	int r;

	if (!d)
		return -ENOMEM;
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->dirfd < 0) {
		r = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		free(d);
		return r;
	}
	r = scan_names(d, &names, &n);
	if (r) {
		snprintf(err, err_len, "%s: listing the folder: %s", path, strerror(-r));
		goto fail;
	}
	d->procs = calloc(n ? n : 1, sizeof(*d->procs));
	d->renders = calloc(n ? n : 1, sizeof(*d->renders));
	d->leftovers = calloc(n ? n : 1, sizeof(*d->leftovers));
	if (!d->procs || !d->renders || !d->leftovers)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		const char *nm = names[i];
		unsigned int pid;
		int id;

		switch (image_name_kind(nm, &pid, &id)) {
		case IMAGE_FILE_LEFTOVER:
			snprintf(d->leftovers[d->n_leftovers++], NAME_MAX + 1, "%s", nm);
			break;
		case IMAGE_FILE_KFD: {
			struct img_process *p = &d->procs[d->n_procs++];

			snprintf(p->name, sizeof(p->name), "%s", nm);
			p->pid = pid;
			p->id = id;
			break;
		}
		case IMAGE_FILE_RENDER:
			snprintf(d->renders[d->n_renders++].name, NAME_MAX + 1, "%s", nm);
			break;
		case IMAGE_FILE_STREAM:
			if (add_stream(d, nm, true) < 0)
				goto nomem;
			break;
		case IMAGE_FILE_DMABUF: /* checked by restore; nothing to inspect */
		case IMAGE_FILE_OTHER:
			break;
		}
	}
	for (unsigned int i = 0; i < d->n_procs; i++) {
		struct img_process *p = &d->procs[i];

		load_process(d, p);
		if (!p->img)
			continue;
		for (size_t b = 0; b < p->img->n_bos; b++) {
			const Vramstream__BoEntry *e = p->img->bos[b];

			if (e->contents &&
			    add_bo_stream(d, e->contents,
					  (struct img_bo_ref){ .proc = i,
							       .bo = (unsigned int)b,
							       .tag = e->contents->tag }))
				goto nomem;
		}
	}
	for (unsigned int i = 0; i < d->n_renders; i++) {
		const Vramstream__RenderFile *rf;

		load_render(d, &d->renders[i]);
		rf = d->renders[i].rf;
		for (size_t b = 0; rf && b < rf->n_bos; b++)
			if (rf->bos[b]->stream &&
			    add_bo_stream(d, rf->bos[b]->stream,
					  (struct img_bo_ref){ .proc = i,
							       .bo = (unsigned int)b,
							       .tag = rf->bos[b]->stream->tag,
							       .gem = true }))
				goto nomem;
	}
	for (unsigned int i = 0; i < d->n_streams; i++)
		if (d->streams[i].n_bos > 1)
			qsort(d->streams[i].bos, d->streams[i].n_bos, sizeof(*d->streams[i].bos),
			      ref_cmp);
	for (unsigned int i = 0; i < d->n_streams; i++) {
		open_stream(d, &d->streams[i], workers);
		attach_sources(d, &d->streams[i]);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	*out = d;
	return 0;
nomem:
	r = -ENOMEM;
	snprintf(err, err_len, "%s: out of memory", path);
fail:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	img_dir_free(d);
	return r;
}

void img_dir_free(struct img_dir *d)
{
	if (!d)
		return;
	for (unsigned int i = 0; i < d->n_procs; i++)
		image_meta_free(d->procs[i].img);
	for (unsigned int i = 0; i < d->n_renders; i++) {
		image_render_free(d->renders[i].rf);
		free(d->renders[i].entries);
	}
	for (unsigned int i = 0; i < d->n_streams; i++) {
		compress_reader_free(d->streams[i].reader);
		free(d->streams[i].bos);
	}
	if (d->dirfd >= 0)
		close(d->dirfd);
	free(d->procs);
	free(d->renders);
	free(d->streams);
	free(d->leftovers);
	free(d);
}
