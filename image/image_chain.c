/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Parents and references (image/README.md, "Incremental images"). A dump
 * enters the stored chunks of its parent image into a content table
 * (compress_dedup) shared by its writers, so a chunk whose bytes the parent
 * (or an older image the parent refers to) already stores is written as a
 * reference. The image's metadata lists every file its references may
 * name, by number, path and identity (StreamSource); a restore attaches
 * those files to its readers and checks that every reference resolves
 * before any BO is written.
 *
 * References always name the file that stores the bytes: a parent's own
 * references are entered as what they name, so a chain of any depth
 * resolves in one step, and the paths recorded run through the parent
 * ("parent/parent/x.vrs" under criu's links).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress.h"
#include "image.h"

#define WHY(...) snprintf(why, why_len, __VA_ARGS__)

static char *path_join(const char *dir, const char *name)
{
	char *s;

	if (name[0] == '/' || !dir[0])
		return strdup(name);
	if (asprintf(&s, "%s/%s", dir, name) < 0)
		return NULL;
	return s;
}

static void note_add(struct image_parent *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note_add(struct image_parent *p, const char *fmt, ...)
{
	size_t n = strlen(p->note);
	va_list ap;

	if (n && n + 2 < sizeof(p->note)) {
		strcpy(p->note + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(p->note + n, sizeof(p->note) - n, fmt, ap);
	va_end(ap);
}

/* A new source of the parent chain: our number for it, or -ENOSPC past the limit. */
static int source_add(struct image_parent *p, const char *path, unsigned int depth,
		      uint64_t identity)
{
	struct image_source *s;

	if (p->n_sources >= IMAGE_SOURCE_MAX - IMAGE_SOURCE_PARENT)
		return -ENOSPC;
	if (p->n_sources == p->cap_sources) {
		size_t cap = p->cap_sources ? p->cap_sources * 2 : 16;
		struct image_source *n = realloc(p->sources, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->sources = n;
		p->cap_sources = cap;
	}
	s = &p->sources[p->n_sources];
	s->path = strdup(path);
	if (!s->path)
		return -ENOMEM;
	s->id = (uint16_t)(IMAGE_SOURCE_PARENT + p->n_sources);
	s->depth = depth;
	s->identity = identity;
	p->n_sources++;
	return s->id;
}

/*
 * Enters one of the parent's KFD metadata files: its own stream files'
 * chunks, its references as what they name. @pdir is the parent as our
 * folder reaches it, @pfd the parent folder.
 */
static int enter_parent_image(struct image_parent *p, int pfd, const char *pdir, const char *name)
{
	Vramstream__ProcessImage *img = NULL;
	struct compress_reader **rd = NULL;
	uint16_t *map = NULL;
	uint32_t map_len = 0;
	char why[300];
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = image_file_read(pfd, name, &buf, &len);
	if (r == 0)
		r = image_meta_decode(buf, len, &img, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", strerror(-r));
	free(buf);
	if (r) {
		note_add(p, "parent %s/%s not used (%s)", pdir, name, why);
		return 0;
	}
	if (img->n_sources == 0) {
		for (size_t i = 0; i < img->n_bos; i++)
			if (img->bos[i]->contents) {
				note_add(p,
					 "parent %s/%s has no content hashes (written before "
					 "stream format 2): its chunks are stored again",
					 pdir, name);
				break;
			}
		goto out;
	}
	for (size_t i = 0; i < img->n_sources; i++)
		if (img->sources[i]->id >= map_len)
			map_len = img->sources[i]->id + 1;
	map = malloc(map_len * sizeof(*map));
	if (!map) {
		r = -ENOMEM;
		goto out;
	}
	memset(map, 0xff, map_len * sizeof(*map)); /* UINT16_MAX: left out */
	for (size_t i = 0; i < img->n_sources; i++) {
		const Vramstream__StreamSource *s = img->sources[i];
		char *path = path_join(pdir, s->path);

		if (!path) {
			r = -ENOMEM;
			goto out;
		}
		/* A file of the parent itself gets its identity once it is opened below. */
		r = source_add(p, path, s->depth + 1, s->depth ? s->identity : 0);
		free(path);
		if (r == -ENOSPC) {
			note_add(p, "more than %u parent files: the rest are not referred to",
				 IMAGE_SOURCE_MAX - IMAGE_SOURCE_PARENT);
			r = 0;
			break;
		}
		if (r < 0)
			goto out;
		map[s->id] = (uint16_t)r;
		r = 0;
	}
	/*
	 * The parent's own files, opened before any is entered: a reference of one
	 * of them into another that cannot be read must not be entered either, or
	 * this dump would refer to bytes no restore can reach.
	 */
	rd = calloc(img->n_sources, sizeof(*rd));
	if (!rd) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < img->n_sources; i++) {
		const Vramstream__StreamSource *s = img->sources[i];
		struct compress_err err = { "" };

		if (s->depth != 0 || map[s->id] == UINT16_MAX)
			continue;
		r = image_stream_index_open(pfd, s->path, &rd[i], &err);
		if (r == 0 && compress_reader_version(rd[i]) < 2) {
			snprintf(err.msg, sizeof(err.msg),
				 "%s: stream format 1 has no content hashes", s->path);
			compress_reader_free(rd[i]);
			rd[i] = NULL;
			r = -EPROTONOSUPPORT;
		}
		if (r) {
			note_add(p, "parent %s: file not used (%s): its chunks are stored again",
				 pdir, err.msg);
			map[s->id] = UINT16_MAX;
			r = 0;
		}
	}
	for (size_t i = 0; i < img->n_sources; i++) {
		uint16_t id = map[img->sources[i]->id];

		if (!rd[i])
			continue;
		if (id != UINT16_MAX &&
		    compress_dedup_add_reader(p->table, rd[i], id, map, map_len) == 0) {
			p->sources[id - IMAGE_SOURCE_PARENT].identity =
				compress_reader_identity(rd[i]);
			p->chunks += compress_reader_chunk_count(rd[i]);
		}
		compress_reader_free(rd[i]);
	}
out:
	free(rd);
	free(map);
	image_meta_free(img);
	return r;
}

int image_stream_index_open(int dirfd, const char *path, struct compress_reader **out,
			    struct compress_err *err)
{
	struct compress_reader_opts o;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC), r;

	*out = NULL;
	if (fd < 0) {
		r = -errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(-r));
		return r;
	}
	compress_reader_opts_default(&o);
	o.workers = 1;
	o.queue_depth = 1;
	o.direct_io = false;
	r = compress_reader_open_fd(fd, path, &o, out, err);
	close(fd);
	return r;
}

int image_parent_open(int dirfd, const char *parent, bool full, bool dedup, struct image_parent *p,
		      char *why, size_t why_len)
{
	char link[PATH_MAX];
	struct dirent *de;
	struct stat st, own;
	int pfd = -1, lfd, r = 0;
	ssize_t n;
	DIR *d;

	memset(p, 0, sizeof(*p));
	if (full)
		parent = NULL;
	else if (!parent || !parent[0]) {
		/* criu dump --prev-images-dir leaves a "parent" symlink (criu/image.c,
		 * open_image_dir: symlinkat(opts.img_parent, dir, CR_PARENT_LINK)). */
		n = readlinkat(dirfd, "parent", link, sizeof(link) - 1);
		parent = n > 0 ? "parent" : NULL;
	}
	if (!parent && !dedup)
		return 0;
	r = compress_dedup_new(&p->table);
	if (r) {
		WHY("out of memory for the content table");
		return r;
	}
	if (!parent)
		return 0;
	if (strlen(parent) >= sizeof(p->path)) {
		WHY("parent image folder %.64s...: name too long", parent);
		return -ENAMETOOLONG;
	}
	strcpy(p->path, parent);
	pfd = openat(dirfd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0) {
		r = -errno;
		WHY("parent image folder %s (relative to the image folder): %s", parent,
		    strerror(-r));
		return r;
	}
	if (fstat(pfd, &st) == 0 && fstat(dirfd, &own) == 0 && own.st_dev == st.st_dev &&
	    own.st_ino == st.st_ino) {
		close(pfd);
		WHY("parent image folder %s is the image folder itself", parent);
		return -EINVAL;
	}
	lfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (!d) {
		r = -errno;
		if (lfd >= 0)
			close(lfd);
		close(pfd);
		WHY("parent image folder %s: %s", parent, strerror(-r));
		return r;
	}
	while ((de = readdir(d))) {
		if (image_name_kind(de->d_name, NULL, NULL) != IMAGE_FILE_KFD)
			continue;
		p->images++;
		r = enter_parent_image(p, pfd, parent, de->d_name);
		if (r)
			break;
	}
	closedir(d);
	close(pfd);
	if (r) {
		WHY("parent image folder %s: %s", parent, strerror(-r));
		return r;
	}
	if (!p->images)
		note_add(p, "parent %s holds no vramstream image: every chunk is stored", parent);
	return 0;
}

int image_parent_record(struct image_parent *p, Vramstream__ProcessImage *img,
			const char *const *streams, const unsigned int *parts,
			unsigned int n_streams)
{
	size_t n = 0, cap = p->n_sources;
	Vramstream__StreamSource *s;

	for (unsigned int i = 0; i < n_streams; i++)
		cap += parts[i];
	free(p->rec);
	free(p->rec_ptrs);
	free(p->rec_names);
	p->rec = calloc(cap ? cap : 1, sizeof(*p->rec));
	p->rec_ptrs = calloc(cap ? cap : 1, sizeof(*p->rec_ptrs));
	p->rec_names = calloc(cap ? cap : 1, IMAGE_NAME_MAX);
	if (!p->rec || !p->rec_ptrs || !p->rec_names)
		return -ENOMEM;
	for (unsigned int i = 0; i < n_streams; i++) {
		for (unsigned int k = 0; k < parts[i]; k++) {
			char *name = p->rec_names + n * IMAGE_NAME_MAX;

			if (image_part_name(streams[i], k, name, IMAGE_NAME_MAX))
				return -ENAMETOOLONG;
			s = &p->rec[n];
			vramstream__stream_source__init(s);
			s->id = IMAGE_SOURCE_OWN(i, k);
			s->path = name;
			s->has_depth = 1;
			s->depth = 0;
			p->rec_ptrs[n++] = s;
		}
	}
	for (size_t i = 0; i < p->n_sources; i++) {
		const struct image_source *src = &p->sources[i];

		/* Only the parent files a chunk of this dump refers to. */
		if (!p->table || !compress_dedup_referenced(p->table, src->id))
			continue;
		s = &p->rec[n];
		vramstream__stream_source__init(s);
		s->id = src->id;
		s->path = src->path;
		s->has_depth = 1;
		s->depth = src->depth;
		s->has_identity = 1;
		s->identity = src->identity;
		p->rec_ptrs[n++] = s;
	}
	img->n_sources = n;
	img->sources = p->rec_ptrs;
	img->parent = p->path[0] ? p->path : NULL;
	return 0;
}

void image_parent_close(struct image_parent *p)
{
	for (size_t i = 0; i < p->n_sources; i++)
		free(p->sources[i].path);
	free(p->sources);
	free(p->rec);
	free(p->rec_ptrs);
	free(p->rec_names);
	compress_dedup_free(p->table);
	memset(p, 0, sizeof(*p));
}

/* The record of source @id in @img, or NULL. */
static const Vramstream__StreamSource *source_find(const Vramstream__ProcessImage *img, uint32_t id)
{
	for (size_t i = 0; i < img->n_sources; i++)
		if (img->sources[i]->id == id)
			return img->sources[i];
	return NULL;
}

int image_sources_attach(int dirfd, const Vramstream__ProcessImage *img, struct compress_reader *r,
			 const char *stream, char *why, size_t why_len)
{
	uint64_t n = compress_reader_chunk_count(r);
	uint64_t attached[65536 / 64] = { 0 };
	struct compress_err err = { "" };
	struct compress_chunk_info ci;
	int ret;

	for (uint64_t i = 0; i < n; i++) {
		const Vramstream__StreamSource *s;

		compress_reader_chunk(r, i, &ci);
		if (ci.codec != COMPRESS_CODEC_REF ||
		    attached[ci.source / 64] >> (ci.source % 64) & 1)
			continue;
		s = source_find(img, ci.source);
		if (!s) {
			WHY("%s: chunk %llu (tag %llu, offset %llu) refers to file number %u, which "
			    "the image's metadata does not list (damaged image)",
			    stream, (unsigned long long)i, (unsigned long long)ci.tag,
			    (unsigned long long)ci.offset, ci.source);
			return -EBADMSG;
		}
		ret = compress_reader_add_source(r, ci.source, dirfd, s->path,
						 s->has_identity ? s->identity : 0, &err);
		if (ret) {
			const char *what = s->depth == 0   ? "file of this image"
					   : s->depth == 1 ? "parent image's file"
							   : "older image's file";

			WHY("%s %s (%s), needed by chunk %llu of %s (tag %llu, offset %llu)%s%s: %s",
			    what, s->path,
			    ret == -ENOENT   ? "missing"
			    : ret == -ESTALE ? "replaced"
					     : "unreadable",
			    (unsigned long long)i, stream, (unsigned long long)ci.tag,
			    (unsigned long long)ci.offset, img->parent ? "; parent folder " : "",
			    img->parent ? img->parent : "", err.msg);
			return ret;
		}
		attached[ci.source / 64] |= 1ull << (ci.source % 64);
	}
	ret = compress_reader_check_refs(r, &err);
	if (ret)
		WHY("%s", err.msg);
	return ret;
}

int image_sources_check(int dirfd, const Vramstream__ProcessImage *img, char *why, size_t why_len)
{
	for (size_t b = 0; b < img->n_bos; b++) {
		const Vramstream__ContentRef *c = img->bos[b]->contents;
		unsigned int parts;
		bool seen = false;

		if (!c)
			continue;
		for (size_t e = 0; e < b && !seen; e++)
			seen = img->bos[e]->contents &&
			       !strcmp(img->bos[e]->contents->stream_file, c->stream_file);
		if (seen)
			continue;
		parts = c->has_parts ? c->parts : 1;
		for (unsigned int k = 0; k < parts; k++) {
			struct compress_reader *r;
			struct compress_err err = { "" };
			char name[IMAGE_NAME_MAX];
			int ret;

			if (image_part_name(c->stream_file, k, name, sizeof(name)))
				return -ENAMETOOLONG;
			ret = image_stream_index_open(dirfd, name, &r, &err);
			if (ret) {
				WHY("%s", err.msg);
				return ret;
			}
			ret = image_sources_attach(dirfd, img, r, name, why, why_len);
			compress_reader_free(r);
			if (ret)
				return ret;
		}
	}
	return 0;
}
