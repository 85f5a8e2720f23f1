/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * References between stream files (compress/FORMAT.md, "References"):
 * identical chunks stored once across two writers sharing a table, a
 * second stream written against a first (the parent) storing only what
 * changed, reads through references giving back the exact bytes, and
 * every way a reference can fail to resolve found by check_refs() and by
 * a read, naming the chunk and the source.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress.h"
#include "test_common.h"

#define CHUNK  (64u << 10)
#define NCHUNK 32u
#define LEN    ((uint64_t)CHUNK * NCHUNK)

static char dir[256];
static uint8_t *base, *changed, *back;

static void fill(uint8_t *p, uint64_t len, uint32_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

	for (uint64_t i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
}

static void done_cb(void *cookie, int status)
{
	if (status)
		*(int *)cookie = status;
}

static int write_level(const char *name, const uint8_t *data, uint64_t tag,
		       struct compress_dedup *d, uint16_t source, int level,
		       struct compress_stats *st)
{
	struct compress_writer_opts o;
	struct compress_writer *w;
	struct compress_err err = { "" };
	char path[512];
	int status = 0, ret;

	compress_writer_opts_default(&o);
	o.chunk_size = CHUNK;
	o.level = level;
	o.workers = 2;
	o.direct_io = false;
	o.dedup = d;
	o.source = source;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ret = compress_writer_new(path, &o, &w, &err);
	if (ret == 0)
		ret = compress_writer_push(w, data, LEN, tag, 0, done_cb, &status);
	if (ret == 0)
		ret = compress_writer_finish(w, st, &err);
	if (ret < 0)
		fprintf(stderr, "%s: %s\n", name, err.msg);
	compress_writer_free(w);
	return ret ? ret : status;
}

static int write_one(const char *name, const uint8_t *data, uint64_t tag, struct compress_dedup *d,
		     uint16_t source, struct compress_stats *st)
{
	return write_level(name, data, tag, d, source, 1, st);
}

static struct compress_reader *open_one(const char *name)
{
	struct compress_reader *r;
	struct compress_err err = { "" };
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (compress_reader_open(path, NULL, &r, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return NULL;
	}
	return r;
}

/* Reads every chunk of R into back[] by offset; 0 or the first error. */
static int read_all(struct compress_reader *r, struct compress_err *err)
{
	uint64_t n = compress_reader_chunk_count(r);
	struct compress_chunk_info ci;
	int status = 0, ret;

	for (uint64_t i = 0; i < n; i++) {
		compress_reader_chunk(r, i, &ci);
		ret = compress_reader_read(r, i, back + ci.offset, ci.raw_len, done_cb, &status);
		if (ret < 0)
			return ret;
	}
	ret = compress_reader_wait(r, err);
	return ret ? ret : status;
}

/* Two writers sharing a table: the second stores only references to the first. */
static void test_dedup_across_streams(void)
{
	struct compress_stats a, b;
	struct compress_dedup *d;
	struct compress_reader *r;
	struct compress_err err = { "" };

	CHECK_EQ_INT(compress_dedup_new(&d), 0);
	CHECK_EQ_INT(write_one("a.vrs", base, 1, d, 0, &a), 0);
	CHECK_EQ_INT(write_one("b.vrs", base, 2, d, 1, &b), 0);
	/* EXPECT: random data is stored once; its copy is all references. */
	CHECK_EQ_INT(a.ref_bytes, 0);
	CHECK_EQ_INT(b.ref_bytes, LEN);
	CHECK_EQ_INT(b.stored_bytes, 0);
	CHECK_EQ_INT(b.chunks[COMPRESS_CODEC_REF], NCHUNK);
	CHECK_EQ_INT(compress_dedup_count(d), NCHUNK);
	CHECK(compress_dedup_referenced(d, 0));
	CHECK(!compress_dedup_referenced(d, 1));
	compress_dedup_free(d);

	r = open_one("b.vrs");
	CHECK(r != NULL);
	if (!r)
		return;
	/* EXPECT: without its source a reference fails, naming the source number. */
	CHECK(compress_reader_check_refs(r, &err) < 0);
	CHECK(strstr(err.msg, "source 0") != NULL);
	CHECK(read_all(r, &err) < 0);
	CHECK(strstr(err.msg, "not attached") != NULL);
	/* A wrong source (b itself, as source 0: its chunks are references) is refused. */
	CHECK_EQ_INT(compress_reader_add_source(r, 0, AT_FDCWD, "/nonexistent/x.vrs", 0, &err),
		     -ENOENT);
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/b.vrs", dir);
		CHECK_EQ_INT(compress_reader_add_source(r, 0, AT_FDCWD, path, 0, &err), 0);
		CHECK(compress_reader_check_refs(r, &err) < 0);
		CHECK(strstr(err.msg, "no chunk at tag 1") != NULL);
	}
	compress_reader_free(r);

	r = open_one("b.vrs");
	if (!r)
		return;
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/a.vrs", dir);
		CHECK_EQ_INT(compress_reader_add_source(r, 0, AT_FDCWD, path, 0, &err), 0);
	}
	CHECK_EQ_INT(compress_reader_check_refs(r, &err), 0);
	memset(back, 0, LEN);
	CHECK_EQ_INT(read_all(r, &err), 0);
	/* EXPECT: the bytes read through references are the bytes written. */
	CHECK(memcmp(back, base, LEN) == 0);
	compress_reader_free(r);
}

/*
 * Equal chunks within one stream and a table empty at the start: each is
 * stored once, the rest are references. On a memory filesystem the writer
 * hashes raw chunks as it writes them, so the first copies found equal are
 * written before they turn into references: their pages are punched out
 * again, and the file holds no more than what it stores.
 */
static void test_dup_within_stream(void)
{
	struct compress_stats st;
	struct compress_dedup *d;
	struct compress_reader *r;
	struct compress_err err = { "" };
	uint8_t *dup = malloc(LEN);
	char path[512];
	struct stat sb;

	memcpy(dup, base, LEN / 2);
	memcpy(dup + LEN / 2, base, LEN / 2); /* chunks 16..31 repeat 0..15 */
	CHECK_EQ_INT(compress_dedup_new(&d), 0);
	/* Uncompressed: chunks this small are always tried with zstd, and hashed first. */
	CHECK_EQ_INT(write_level("dup.vrs", dup, 7, d, 0, COMPRESS_LEVEL_OFF, &st), 0);
	compress_dedup_free(d);
	/* EXPECT: half the chunks are references, the other half stored raw */
	CHECK_EQ_INT(st.chunks[COMPRESS_CODEC_REF], NCHUNK / 2);
	CHECK_EQ_INT(st.ref_bytes, LEN / 2);
	CHECK_EQ_INT(st.stored_bytes, LEN / 2);
	snprintf(path, sizeof(path), "%s/dup.vrs", dir);
	CHECK_EQ_INT(stat(path, &sb), 0);
	/* EXPECT: no pages kept for the copies (header, index and footer: 64 KiB) */
	CHECK((uint64_t)sb.st_blocks * 512 <= st.stored_bytes + (64u << 10));

	r = open_one("dup.vrs");
	CHECK(r != NULL);
	if (!r) {
		free(dup);
		return;
	}
	CHECK_EQ_INT(compress_reader_add_source(r, 0, AT_FDCWD, path, 0, &err), 0);
	memset(back, 0, LEN);
	CHECK_EQ_INT(read_all(r, &err), 0);
	/* EXPECT: every byte back, through the references too */
	CHECK(memcmp(back, dup, LEN) == 0);
	compress_reader_free(r);
	free(dup);
}

/*
 * A parent and a child: the child written against a table holding the
 * parent's chunks stores only the chunks that changed; a grandchild written
 * against the child (its references mapped to the parent) stores nothing.
 */
static void test_parent_chain(void)
{
	struct compress_stats p, c, g;
	struct compress_dedup *d;
	struct compress_reader *r;
	struct compress_err err = { "" };
	char path[512];
	uint16_t map[2];
	uint64_t id_p;

	CHECK_EQ_INT(write_one("p.vrs", base, 5, NULL, 0, &p), 0);
	CHECK_EQ_INT(p.ref_bytes, 0);

	/* the child: source 0 is the child itself, source 1 the parent */
	CHECK_EQ_INT(compress_dedup_new(&d), 0);
	r = open_one("p.vrs");
	if (!r)
		return;
	CHECK_EQ_INT(compress_dedup_add_reader(d, r, 1, NULL, 0), 0);
	id_p = compress_reader_identity(r);
	compress_reader_free(r);
	CHECK_EQ_INT(write_one("c.vrs", changed, 5, d, 0, &c), 0);
	compress_dedup_free(d);
	/* EXPECT: 3 chunks changed, so 3 are stored and the rest refer to the parent. */
	CHECK_EQ_INT(c.ref_bytes, LEN - 3ull * CHUNK);
	CHECK_EQ_INT(c.chunks[COMPRESS_CODEC_REF], NCHUNK - 3);

	/* the grandchild: source 0 itself, 1 the child, 2 the parent */
	CHECK_EQ_INT(compress_dedup_new(&d), 0);
	r = open_one("c.vrs");
	if (!r)
		return;
	map[0] = 1; /* the child's own chunks */
	map[1] = 2; /* the child's parent */
	CHECK_EQ_INT(compress_dedup_add_reader(d, r, 1, map, 2), 0);
	compress_reader_free(r);
	CHECK_EQ_INT(write_one("g.vrs", changed, 5, d, 0, &g), 0);
	compress_dedup_free(d);
	CHECK_EQ_INT(g.ref_bytes, LEN);

	/* EXPECT: the grandchild reads back through both files. */
	r = open_one("g.vrs");
	if (!r)
		return;
	snprintf(path, sizeof(path), "%s/c.vrs", dir);
	CHECK_EQ_INT(compress_reader_add_source(r, 1, AT_FDCWD, path, 0, &err), 0);
	snprintf(path, sizeof(path), "%s/p.vrs", dir);
	CHECK_EQ_INT(compress_reader_add_source(r, 2, AT_FDCWD, path, 0, &err), 0);
	CHECK_EQ_INT(compress_reader_check_refs(r, &err), 0);
	memset(back, 0, LEN);
	CHECK_EQ_INT(read_all(r, &err), 0);
	CHECK(memcmp(back, changed, LEN) == 0);
	compress_reader_free(r);

	/* EXPECT: a parent replaced by other data is found before any read. */
	fill(back, LEN, 7);
	CHECK_EQ_INT(write_one("p.vrs", back, 5, NULL, 0, &p), 0);
	r = open_one("g.vrs");
	if (!r)
		return;
	snprintf(path, sizeof(path), "%s/c.vrs", dir);
	CHECK_EQ_INT(compress_reader_add_source(r, 1, AT_FDCWD, path, 0, &err), 0);
	snprintf(path, sizeof(path), "%s/p.vrs", dir);
	/* EXPECT: with the identity the image recorded, the replaced file is refused at once. */
	CHECK_EQ_INT(compress_reader_add_source(r, 2, AT_FDCWD, path, id_p, &err), -ESTALE);
	CHECK(strstr(err.msg, "dumped again") != NULL);
	CHECK_EQ_INT(compress_reader_add_source(r, 2, AT_FDCWD, path, 0, &err), 0);
	CHECK(compress_reader_check_refs(r, &err) < 0);
	CHECK(strstr(err.msg, "holds other bytes") != NULL);
	compress_reader_free(r);
}

/* A stored chunk damaged in the parent is caught by the read through the reference. */
static void test_damaged_source(void)
{
	struct compress_stats st;
	struct compress_dedup *d;
	struct compress_reader *r;
	struct compress_chunk_info ci;
	struct compress_err err = { "" };
	char path[512];
	uint8_t byte;
	int fd;

	CHECK_EQ_INT(write_one("dp.vrs", base, 9, NULL, 0, &st), 0);
	CHECK_EQ_INT(compress_dedup_new(&d), 0);
	r = open_one("dp.vrs");
	if (!r)
		return;
	CHECK_EQ_INT(compress_dedup_add_reader(d, r, 1, NULL, 0), 0);
	compress_reader_chunk(r, 4, &ci);
	compress_reader_free(r);
	CHECK_EQ_INT(write_one("dc.vrs", base, 9, d, 0, &st), 0);
	compress_dedup_free(d);

	snprintf(path, sizeof(path), "%s/dp.vrs", dir);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pread(fd, &byte, 1, (off_t)ci.file_offset + 100) == 1);
	byte ^= 0x40;
	CHECK(pwrite(fd, &byte, 1, (off_t)ci.file_offset + 100) == 1);
	close(fd);

	r = open_one("dc.vrs");
	if (!r)
		return;
	CHECK_EQ_INT(compress_reader_add_source(r, 1, AT_FDCWD, path, 0, &err), 0);
	CHECK_EQ_INT(compress_reader_check_refs(r, &err), 0); /* the index is intact */
	CHECK(read_all(r, &err) < 0);
	/* EXPECT: the message names the referring file and the damaged source. */
	CHECK(strstr(err.msg, "dc.vrs") != NULL);
	CHECK(strstr(err.msg, "dp.vrs") != NULL);
	CHECK(strstr(err.msg, "checksum mismatch") != NULL);
	compress_reader_free(r);
}

/* Usage: test_compress_dedup [FOLDER] (default /tmp; /dev/shm takes the tmpfs read path). */
int main(int argc, char **argv)
{
	char cmd[300];

	snprintf(dir, sizeof(dir), "%s/test_compress_dedup.XXXXXX", argc > 1 ? argv[1] : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	base = malloc(LEN);
	changed = malloc(LEN);
	back = malloc(LEN);
	if (!base || !changed || !back)
		return 1;
	fill(base, LEN, 1);
	memcpy(changed, base, LEN);
	fill(changed + 2ull * CHUNK, CHUNK, 2);
	fill(changed + 17ull * CHUNK, CHUNK, 3);
	fill(changed + 31ull * CHUNK, CHUNK, 4);

	test_dedup_across_streams();
	test_dup_within_stream();
	test_parent_chain();
	test_damaged_source();

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(base);
	free(changed);
	free(back);
	return test_finish("compress_dedup");
}
