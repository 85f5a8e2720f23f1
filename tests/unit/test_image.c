// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: image metadata round-trips with 64-bit sizes intact; a foreign
 * format version (a newer one, or format 1 without a checksum) and garbage
 * bytes are refused with a reason; every one-bit flip, truncation and
 * extension of a metadata or render-node file is refused as damage; names are
 * built and recognised alike, stream parts named as restore and the tool
 * expect, and names or part counts that leave the rules are refused.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common_crc32c.h"
#include "image.h"
#include "test_common.h"

static void test_round_trip(void)
{
	Vramstream__ProcessImage img = VRAMSTREAM__PROCESS_IMAGE__INIT;
	Vramstream__BoEntry bo = VRAMSTREAM__BO_ENTRY__INIT;
	Vramstream__BoEntry *bos[] = { &bo };
	Vramstream__ProcessImage *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[256] = "";

	img.pid = 4242;
	bo.addr = 0x7f0000000000ull;
	bo.size = 200ull << 30; /* an MI300-sized BO: beyond 32 bits */
	bo.offset = 0x123456789ull;
	bo.gpu_id = 0xbeef;
	bo.alloc_flags = 1;
	img.n_bos = 1;
	img.bos = bos;

	CHECK_EQ_INT(image_meta_encode(&img, &buf, &len), 0);
	CHECK(len > 0);
	CHECK_EQ_INT(image_meta_decode(buf, len, &back, why, sizeof(why)), 0);
	if (back) {
		CHECK_EQ_INT(back->format_version, IMAGE_FORMAT_VERSION);
		CHECK_EQ_INT(back->pid, 4242);
		CHECK_EQ_INT(back->n_bos, 1);
		CHECK(back->bos[0]->size == 200ull << 30);
		CHECK(back->bos[0]->addr == 0x7f0000000000ull);
		CHECK(back->bos[0]->offset == 0x123456789ull);
		CHECK_EQ_INT(back->bos[0]->gpu_id, 0xbeef);
	}
	image_meta_free(back);
	free(buf);
}

/* Re-frames @buf after a header edit, as a writer of that header would. */
static void reseal(uint8_t *buf, size_t len)
{
	uint32_t crc = common_crc32c(0, buf, len - 4);

	for (int i = 0; i < 4; i++)
		buf[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

static void test_foreign_version(void)
{
	Vramstream__ProcessImage img = VRAMSTREAM__PROCESS_IMAGE__INIT;
	Vramstream__ProcessImage *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[256] = "";

	/* EXPECT: a whole file from a newer release is refused naming both versions */
	CHECK_EQ_INT(image_meta_encode(&img, &buf, &len), 0);
	buf[4] = IMAGE_FORMAT_VERSION + 1;
	reseal(buf, len);
	CHECK_EQ_INT(image_meta_decode(buf, len, &back, why, sizeof(why)), -EPROTONOSUPPORT);
	CHECK(back == NULL);
	CHECK(strstr(why, "format version 3") != NULL && strstr(why, "reads version 2") != NULL);
	free(buf);

	/* EXPECT: a format 1 file (the bare message, no checksum) is refused as such */
	img.format_version = 1;
	len = vramstream__process_image__get_packed_size(&img);
	buf = malloc(len);
	vramstream__process_image__pack(&img, buf);
	CHECK_EQ_INT(image_meta_decode(buf, len, &back, why, sizeof(why)), -EPROTONOSUPPORT);
	CHECK(back == NULL && strstr(why, "version 1, which has no checksum") != NULL);
	free(buf);
}

static void test_garbage(void)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x42, 0, 0, 0, 0, 0,
					0,    0,    0,	  0,	0,    0,    0, 0, 0, 0 };
	Vramstream__ProcessImage *back = NULL;
	char why[256] = "";

	CHECK_EQ_INT(image_meta_decode(junk, sizeof(junk), &back, why, sizeof(why)), -EINVAL);
	CHECK(back == NULL);
	CHECK(strstr(why, "not a vramstream KFD metadata file") != NULL);
	/* Empty and short input: no room for the header. */
	CHECK_EQ_INT(image_meta_decode(junk, 0, &back, why, sizeof(why)), -EBADMSG);
	CHECK_EQ_INT(image_meta_decode(junk, 5, &back, NULL, 0), -EBADMSG);
}

/*
 * Every single-bit damage at every offset, every truncation and one byte
 * appended make @buf fail to decode, with a reason. Format 1 decoded most
 * of these into a message with a changed field (issue 23: a flipped queue
 * error word in the private data restored and hung).
 */
static void check_every_damage(uint8_t *buf, size_t len,
			       int (*decode)(const uint8_t *, size_t, char *, size_t))
{
	char why[256];
	uint8_t *longer = malloc(len + 1);

	for (size_t off = 0; off < len; off++) {
		for (int bit = 0; bit < 8; bit += 7) {
			buf[off] ^= (uint8_t)(1u << bit);
			why[0] = 0;
			if (!decode(buf, len, why, sizeof(why)) || !why[0]) {
				fprintf(stderr, "byte %zu bit %d: damage not found\n", off, bit);
				CHECK(0);
			}
			buf[off] ^= (uint8_t)(1u << bit);
		}
	}
	for (size_t cut = 0; cut < len; cut++)
		CHECK(decode(buf, cut, why, sizeof(why)) < 0);
	memcpy(longer, buf, len);
	longer[len] = 0;
	CHECK(decode(longer, len + 1, why, sizeof(why)) == -EBADMSG);
	CHECK(strstr(why, "truncated or extended") != NULL);
	CHECK_EQ_INT(decode(buf, len, why, sizeof(why)), 0);
	free(longer);
}

static int decode_meta(const uint8_t *buf, size_t len, char *why, size_t why_len)
{
	Vramstream__ProcessImage *img = NULL;
	int r = image_meta_decode(buf, len, &img, why, why_len);

	image_meta_free(img);
	return r;
}

static int decode_render(const uint8_t *buf, size_t len, char *why, size_t why_len)
{
	Vramstream__RenderFile *rf = NULL;
	int r = image_render_decode(buf, len, &rf, why, why_len);

	image_render_free(rf);
	return r;
}

static void test_damage(void)
{
	Vramstream__ProcessImage img = VRAMSTREAM__PROCESS_IMAGE__INIT;
	Vramstream__BoEntry bo = VRAMSTREAM__BO_ENTRY__INIT;
	Vramstream__BoEntry *bos[] = { &bo };
	Vramstream__RenderFile rf = VRAMSTREAM__RENDER_FILE__INIT;
	uint8_t priv[96], *buf = NULL;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(priv); i++)
		priv[i] = (uint8_t)(i * 7);
	img.pid = 4242;
	bo.addr = 0x7f0000001000ull;
	bo.size = 4096;
	bo.gpu_id = 0xbeef;
	img.n_bos = 1;
	img.bos = bos;
	img.has_priv_data = 1;
	img.priv_data.data = priv;
	img.priv_data.len = sizeof(priv);
	CHECK_EQ_INT(image_meta_encode(&img, &buf, &len), 0);
	check_every_damage(buf, len, decode_meta);
	/* EXPECT: one kind's file is not taken for the other's */
	CHECK_EQ_INT(decode_render(buf, len, NULL, 0), -EINVAL);
	free(buf);

	rf.gpu_id = 0xbeef;
	rf.render_minor = 129;
	CHECK_EQ_INT(image_render_encode(&rf, &buf, &len), 0);
	check_every_damage(buf, len, decode_render);
	free(buf);
}

static void test_render(void)
{
	Vramstream__RenderFile rf = VRAMSTREAM__RENDER_FILE__INIT, *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[256] = "";

	rf.gpu_id = 0xbeef;
	rf.render_minor = 129;
	CHECK_EQ_INT(image_render_encode(&rf, &buf, &len), 0);
	CHECK_EQ_INT(image_render_decode(buf, len, &back, why, sizeof(why)), 0);
	if (back)
		CHECK_EQ_INT(back->render_minor, 129);
	image_render_free(back);
	/* EXPECT: a render file from a newer release is refused with both versions */
	buf[4] = IMAGE_FORMAT_VERSION + 1;
	reseal(buf, len);
	back = NULL;
	CHECK_EQ_INT(image_render_decode(buf, len, &back, why, sizeof(why)), -EPROTONOSUPPORT);
	CHECK(back == NULL && strstr(why, "format version 3") != NULL);
	free(buf);
}

static void test_names(void)
{
	char name[64], part[64];
	unsigned int pid = 0;
	int id = 0;

	CHECK_EQ_INT(image_kfd_name(4242, 7, name, sizeof(name)), 0);
	CHECK(!strcmp(name, "vramstream-kfd-4242-7.img"));
	CHECK_EQ_INT(image_name_kind(name, &pid, &id), IMAGE_FILE_KFD);
	CHECK_EQ_INT(pid, 4242);
	CHECK_EQ_INT(id, 7);
	CHECK_EQ_INT(image_render_name(9, name, sizeof(name)), 0);
	CHECK_EQ_INT(image_name_kind(name, NULL, &id), IMAGE_FILE_RENDER);
	CHECK_EQ_INT(id, 9);
	/* EXPECT: a dma-buf file is named after its criu file id, like a render-node file */
	CHECK_EQ_INT(image_dmabuf_name(11, name, sizeof(name)), 0);
	CHECK(!strcmp(name, "vramstream-dmabuf-11.img"));
	CHECK_EQ_INT(image_name_kind(name, NULL, &id), IMAGE_FILE_DMABUF);
	CHECK_EQ_INT(id, 11);
	CHECK_EQ_INT(image_stream_name(4242, 7, 1, name, sizeof(name)), 0);
	CHECK(!strcmp(name, "vramstream-kfd-4242-7-gpu1.vrs"));
	CHECK_EQ_INT(image_name_kind(name, NULL, NULL), IMAGE_FILE_STREAM);
	/* EXPECT: part 0 is the stream's own name, then x.1.vrs, x.2.vrs, ... */
	CHECK_EQ_INT(image_part_name(name, 0, part, sizeof(part)), 0);
	CHECK(!strcmp(part, name));
	CHECK_EQ_INT(image_part_name(name, 2, part, sizeof(part)), 0);
	CHECK(!strcmp(part, "vramstream-kfd-4242-7-gpu1.2.vrs"));
	CHECK_EQ_INT(image_name_kind(part, NULL, NULL), IMAGE_FILE_STREAM);
	CHECK_EQ_INT(image_part_name("plain", 3, part, sizeof(part)), 0);
	CHECK(!strcmp(part, "plain.3"));
	CHECK_EQ_INT(image_part_name(name, 2, part, 10), -ENAMETOOLONG);
	/* EXPECT: temporary files of interrupted writes are leftovers, not images */
	CHECK_EQ_INT(image_name_kind(".vramstream-kfd-1-2.img.tmp", NULL, NULL),
		     IMAGE_FILE_LEFTOVER);
	CHECK_EQ_INT(image_name_kind("vramstream-kfd-1-2-gpu0.vrs.partial-abc123", NULL, NULL),
		     IMAGE_FILE_LEFTOVER);
	CHECK_EQ_INT(image_name_kind(".vramstream-kfd-1-2-gpu0.vrs.recompress", NULL, NULL),
		     IMAGE_FILE_LEFTOVER);
	CHECK_EQ_INT(image_name_kind("vramstream-kfd-1-2.imgx", NULL, NULL), IMAGE_FILE_OTHER);
	CHECK_EQ_INT(image_name_kind("vramstream-kfd-x-2.img", NULL, NULL), IMAGE_FILE_OTHER);
	CHECK_EQ_INT(image_name_kind("core-1.img", NULL, NULL), IMAGE_FILE_OTHER);
}

static void test_checks(void)
{
	char long_name[NAME_MAX + 2];

	CHECK_EQ_INT(image_stream_name_check("vramstream-kfd-1-2-gpu0.vrs"), 0);
	CHECK_EQ_INT(image_stream_name_check(""), -EINVAL);
	CHECK_EQ_INT(image_stream_name_check("."), -EINVAL);
	CHECK_EQ_INT(image_stream_name_check(".."), -EINVAL);
	CHECK_EQ_INT(image_stream_name_check("../etc/passwd"), -EINVAL);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	CHECK_EQ_INT(image_stream_name_check(long_name), -EINVAL);
	CHECK_EQ_INT(image_parts_check(0), -EINVAL);
	CHECK_EQ_INT(image_parts_check(1), 0);
	CHECK_EQ_INT(image_parts_check(IMAGE_PARTS_MAX), 0);
	CHECK_EQ_INT(image_parts_check(IMAGE_PARTS_MAX + 1), -EINVAL);
}

/* Writes through the temporary name, reads back, finds the KFD file by pid. */
static void test_files(void)
{
	char dir[] = "/tmp/test_image.XXXXXX", name[64];
	uint8_t *buf = NULL;
	size_t len = 0;
	int dirfd;

	CHECK(mkdtemp(dir) != NULL);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dirfd >= 0);
	CHECK_EQ_INT(image_find_kfd(dirfd, 0), -ENOENT);
	image_kfd_name(4242, 7, name, sizeof(name));
	CHECK_EQ_INT(image_file_write(dirfd, name, "abc", 3), 0);
	CHECK_EQ_INT(image_file_read(dirfd, name, &buf, &len), 0);
	CHECK(len == 3 && buf && !memcmp(buf, "abc", 3));
	free(buf);
	CHECK_EQ_INT(image_find_kfd(dirfd, 4242), 7);
	CHECK_EQ_INT(image_find_kfd(dirfd, 0), 7);
	CHECK_EQ_INT(image_find_kfd(dirfd, 4243), -ENOENT);
	CHECK_EQ_INT(image_file_read(dirfd, "missing", &buf, &len), -ENOENT);
	unlinkat(dirfd, name, 0);
	close(dirfd);
	rmdir(dir);
}

int main(void)
{
	test_round_trip();
	test_foreign_version();
	test_garbage();
	test_damage();
	test_render();
	test_names();
	test_checks();
	test_files();
	return test_finish("test_image");
}
