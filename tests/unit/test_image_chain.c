// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: parents and references at the image level (image_chain.c), on
 * real folders: a dump finds its parent through criu's "parent" link (which
 * criu dump itself cannot make on kernels without memory tracking, so the
 * e2e test names its parents with VRAMSTREAM_PARENT), enters the parent's
 * chunks and records the files its references use; a restore check
 * attaches them, and names a missing or replaced parent file with the chunk
 * that needs it; a parent without content hashes, or none at all, is
 * reported and costs only space; VRAMSTREAM_FULL ignores the link; damaged
 * records of files are refused when the metadata is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress.h"
#include "image.h"
#include "test_common.h"

#define LEN   (1u << 20)
#define CHUNK (64u << 10)

static char root[PATH_MAX];
static uint8_t data[LEN];

static void done_cb(void *cookie, int status)
{
	(void)cookie;
	(void)status;
}

/* Writes one stream of data[] as tag 0 into @dir/@name, against @table; its stats in @st. */
static int write_stream_stats(const char *dir, const char *name, struct compress_dedup *table,
			      uint16_t source, struct compress_stats *st)
{
	struct compress_writer_opts o;
	struct compress_writer *w;
	struct compress_err err = { "" };
	char path[PATH_MAX * 2];
	int r;

	compress_writer_opts_default(&o);
	o.chunk_size = CHUNK;
	o.workers = 1;
	o.direct_io = false;
	o.dedup = table;
	o.source = source;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	r = compress_writer_new(path, &o, &w, &err);
	if (!r)
		r = compress_writer_push(w, data, LEN, 0, 0, done_cb, NULL);
	if (!r)
		r = compress_writer_finish(w, st, &err);
	if (r)
		fprintf(stderr, "%s\n", err.msg);
	compress_writer_free(w);
	return r;
}

static int write_stream(const char *dir, const char *name, struct compress_dedup *table,
			uint16_t source)
{
	return write_stream_stats(dir, name, table, source, NULL);
}

/* Writes the KFD metadata of a one-GPU image whose stream is @stream, with @img's sources. */
static int write_meta(int dirfd, Vramstream__ProcessImage *img, const char *stream)
{
	Vramstream__BoEntry bo = VRAMSTREAM__BO_ENTRY__INIT;
	Vramstream__BoEntry *bos[] = { &bo };
	Vramstream__ContentRef c = VRAMSTREAM__CONTENT_REF__INIT;
	char name[64];
	uint8_t *buf;
	size_t len;
	int r;

	c.stream_file = (char *)stream;
	c.tag = 0;
	bo.size = LEN;
	bo.contents = &c;
	img->pid = 7;
	img->n_bos = 1;
	img->bos = bos;
	r = image_meta_encode(img, &buf, &len);
	if (r)
		return r;
	image_kfd_name(7, 1, name, sizeof(name));
	r = image_file_write(dirfd, name, buf, len);
	free(buf);
	img->n_bos = 0;
	img->bos = NULL;
	return r;
}

static int open_dir(const char *name)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	mkdir(path, 0700);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int main(void)
{
	Vramstream__ProcessImage img = VRAMSTREAM__PROCESS_IMAGE__INIT;
	Vramstream__BoEntry child_bo = VRAMSTREAM__BO_ENTRY__INIT;
	Vramstream__BoEntry *child_bos[] = { &child_bo };
	Vramstream__ContentRef child_ref = VRAMSTREAM__CONTENT_REF__INIT;
	struct image_parent p;
	char why[1024], dir[PATH_MAX * 2], stream[64];
	const char *streams[1];
	unsigned int parts[1] = { 1 };
	int pfd, cfd, r;

	snprintf(root, sizeof(root), "/tmp/test_image_chain.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	for (size_t i = 0; i < LEN; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	image_stream_name(7, 1, 0, stream, sizeof(stream));
	streams[0] = stream;

	/* A parent image: full, its own stream listed as source 0. */
	pfd = open_dir("p");
	snprintf(dir, sizeof(dir), "%s/p", root);
	CHECK_EQ_INT(image_parent_open(pfd, NULL, false, true, &p, why, sizeof(why)), 0);
	CHECK(p.table != NULL && !p.path[0]);
	CHECK_EQ_INT(write_stream(dir, stream, p.table, IMAGE_SOURCE_OWN(0, 0)), 0);
	CHECK_EQ_INT(image_parent_record(&p, &img, streams, parts, 1), 0);
	CHECK_EQ_INT(img.n_sources, 1);
	CHECK(img.parent == NULL);
	CHECK_EQ_INT(write_meta(pfd, &img, stream), 0);
	image_parent_close(&p);

	/* A child with criu's link: the parent is found and its chunks entered. */
	cfd = open_dir("c");
	CHECK_EQ_INT(symlinkat("../p", cfd, "parent"), 0);
	snprintf(dir, sizeof(dir), "%s/c", root);
	CHECK_EQ_INT(image_parent_open(cfd, "", false, true, &p, why, sizeof(why)), 0);
	CHECK(!strcmp(p.path, "parent"));
	CHECK_EQ_INT(p.images, 1);
	CHECK_EQ_INT(p.chunks, LEN / CHUNK);
	CHECK_EQ_INT(p.note[0], 0);
	data[5] ^= 1; /* one chunk changed */
	CHECK_EQ_INT(write_stream(dir, stream, p.table, IMAGE_SOURCE_OWN(0, 0)), 0);
	img = (Vramstream__ProcessImage)VRAMSTREAM__PROCESS_IMAGE__INIT;
	CHECK_EQ_INT(image_parent_record(&p, &img, streams, parts, 1), 0);
	/* EXPECT: its own stream and the parent's, which its references use. */
	CHECK_EQ_INT(img.n_sources, 2);
	if (img.n_sources == 2) {
		CHECK(!strcmp(img.sources[1]->path, "parent/vramstream-kfd-7-1-gpu0.vrs"));
		CHECK_EQ_INT(img.sources[1]->depth, 1);
		CHECK(img.sources[1]->identity != 0);
	}
	CHECK(img.parent && !strcmp(img.parent, "parent"));
	img.n_bos = 1;
	img.bos = child_bos;
	child_ref.stream_file = stream;
	child_bo.contents = &child_ref;
	CHECK_EQ_INT(image_sources_check(cfd, &img, why, sizeof(why)), 0);
	/* EXPECT: the parent's stream replaced by another dump is refused, named. */
	snprintf(dir, sizeof(dir), "%s/p", root);
	data[LEN - 1] ^= 1;
	CHECK_EQ_INT(write_stream(dir, stream, NULL, 0), 0);
	r = image_sources_check(cfd, &img, why, sizeof(why));
	CHECK_EQ_INT(r, -ESTALE);
	CHECK(strstr(why, "parent/vramstream-kfd-7-1-gpu0.vrs (replaced)") != NULL);
	CHECK(strstr(why, "needed by chunk") != NULL);
	/* EXPECT: ... and a missing one too. */
	snprintf(dir, sizeof(dir), "%s/p/%s", root, stream);
	unlink(dir);
	r = image_sources_check(cfd, &img, why, sizeof(why));
	CHECK_EQ_INT(r, -ENOENT);
	CHECK(strstr(why, "(missing)") != NULL);
	image_parent_close(&p);

	/* EXPECT: VRAMSTREAM_FULL ignores the link: no parent, still a table. */
	CHECK_EQ_INT(image_parent_open(cfd, "", true, true, &p, why, sizeof(why)), 0);
	CHECK(!p.path[0] && p.table != NULL && p.chunks == 0);
	image_parent_close(&p);
	/* ... and without dedup nothing at all. */
	CHECK_EQ_INT(image_parent_open(cfd, "", true, false, &p, why, sizeof(why)), 0);
	CHECK(p.table == NULL);
	image_parent_close(&p);

	/* EXPECT: a parent that lists no content hashes (an older image) is a note. */
	img = (Vramstream__ProcessImage)VRAMSTREAM__PROCESS_IMAGE__INIT;
	CHECK_EQ_INT(write_meta(pfd, &img, stream), 0);
	CHECK_EQ_INT(image_parent_open(cfd, "../p", false, true, &p, why, sizeof(why)), 0);
	CHECK(strstr(p.note, "no content hashes") != NULL);
	CHECK_EQ_INT(p.chunks, 0);
	image_parent_close(&p);
	/* EXPECT: a parent named but absent fails, naming it. */
	CHECK_EQ_INT(image_parent_open(cfd, "../nothing", false, true, &p, why, sizeof(why)),
		     -ENOENT);
	CHECK(strstr(why, "../nothing") != NULL);
	image_parent_close(&p);
	/* EXPECT: an image cannot be its own parent. */
	CHECK_EQ_INT(image_parent_open(cfd, ".", false, true, &p, why, sizeof(why)), -EINVAL);
	image_parent_close(&p);

	/*
	 * EXPECT: a parent whose second stream refers to its first, with the first
	 * gone: the dump notes it and stores those bytes itself rather than refer to
	 * the second's references, which no restore could follow.
	 */
	{
		const char *two[2] = { "vramstream-kfd-7-1-gpu0.vrs",
				       "vramstream-kfd-7-1-gpu1.vrs" };
		unsigned int two_parts[2] = { 1, 1 };
		struct compress_stats st;
		int p2fd = open_dir("p2"), c2fd = open_dir("c2");

		snprintf(dir, sizeof(dir), "%s/p2", root);
		img = (Vramstream__ProcessImage)VRAMSTREAM__PROCESS_IMAGE__INIT;
		CHECK_EQ_INT(image_parent_open(p2fd, NULL, true, true, &p, why, sizeof(why)), 0);
		CHECK_EQ_INT(write_stream(dir, two[0], p.table, IMAGE_SOURCE_OWN(0, 0)), 0);
		CHECK_EQ_INT(write_stream(dir, two[1], p.table, IMAGE_SOURCE_OWN(1, 0)), 0);
		CHECK_EQ_INT(image_parent_record(&p, &img, two, two_parts, 2), 0);
		CHECK_EQ_INT(write_meta(p2fd, &img, two[1]), 0);
		image_parent_close(&p);
		CHECK_EQ_INT(unlinkat(p2fd, two[0], 0), 0);

		CHECK_EQ_INT(image_parent_open(c2fd, "../p2", false, true, &p, why, sizeof(why)),
			     0);
		CHECK(strstr(p.note, "file not used") != NULL);
		snprintf(dir, sizeof(dir), "%s/c2", root);
		CHECK_EQ_INT(write_stream_stats(dir, stream, p.table, IMAGE_SOURCE_OWN(0, 0), &st),
			     0);
		CHECK_EQ_INT(st.ref_bytes, 0);
		image_parent_close(&p);
		close(p2fd);
		close(c2fd);
	}

	/* EXPECT: records with a number out of range or listed twice are damage. */
	{
		Vramstream__StreamSource a = VRAMSTREAM__STREAM_SOURCE__INIT;
		Vramstream__StreamSource b = VRAMSTREAM__STREAM_SOURCE__INIT;
		Vramstream__StreamSource *srcs[] = { &a, &b };
		Vramstream__ProcessImage *back = NULL;
		uint8_t *buf;
		size_t len;

		a.id = 3;
		a.path = "x.vrs";
		b.id = 3;
		b.path = "y.vrs";
		img.n_sources = 2;
		img.sources = srcs;
		CHECK_EQ_INT(image_meta_encode(&img, &buf, &len), 0);
		CHECK_EQ_INT(image_meta_decode(buf, len, &back, why, sizeof(why)), -EBADMSG);
		CHECK(strstr(why, "twice") != NULL);
		free(buf);
		b.id = 70000;
		CHECK_EQ_INT(image_meta_encode(&img, &buf, &len), 0);
		CHECK_EQ_INT(image_meta_decode(buf, len, &back, why, sizeof(why)), -EBADMSG);
		free(buf);
		b.id = 4;
		b.path = "../escape.vrs"; /* a file of this image must be in its folder */
		CHECK_EQ_INT(image_meta_encode(&img, &buf, &len), 0);
		CHECK_EQ_INT(image_meta_decode(buf, len, &back, why, sizeof(why)), -EBADMSG);
		free(buf);
		b.has_depth = 1;
		b.depth = 1;
		CHECK_EQ_INT(image_meta_encode(&img, &buf, &len), 0);
		CHECK_EQ_INT(image_meta_decode(buf, len, &back, why, sizeof(why)), 0);
		image_meta_free(back);
		free(buf);
	}

	close(pfd);
	close(cfd);
	snprintf(dir, sizeof(dir), "rm -rf '%s'", root);
	if (system(dir))
		fprintf(stderr, "could not remove %s\n", root);
	return test_finish("image_chain");
}
