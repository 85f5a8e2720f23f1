// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: the highest fd of a task is read from criu's images as criu writes
 * them (head magic, image magic, length-prefixed FdinfoEntry messages, the
 * task's fd table named by files_id in ids-<pid>.img), also from images
 * without the head magic (CRTOOLS_IMAGES_V1) and with fields the reader does
 * not know; an empty table gives -1; a wrong magic, a length past the end, a
 * truncated varint or an entry without fd is refused, never read past.
 * EXPECT: the VMAs criu's restore asks UPDATE_VMA_MAP about are counted
 * from mm-<pid>.img's MmEntry: those with VMA_EXT_PLUGIN, VMA_AREA_REGULAR
 * and a file mapping status (private or shared, not anonymous shared),
 * among fields the reader skips; a VMA without status, a truncated entry or
 * another image is refused.
 * EXPECT: the process tree's root is the first PstreeEntry's pid of
 * pstree.img; an image without entries, of another kind or with pid 0 is
 * refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin_criu_img.h"
#include "test_common.h"

struct img {
	uint8_t b[4096];
	size_t n;
};

static void put_u32(struct img *im, uint32_t v)
{
	memcpy(im->b + im->n, &v, 4);
	im->n += 4;
}

static size_t varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

/* FdinfoEntry{id, flags, type, fd} and, with @xattr, field 5 (a string). */
static void put_fdinfo(struct img *im, uint32_t id, uint32_t fd, const char *xattr)
{
	uint8_t m[256];
	size_t n = 0;

	m[n++] = 1 << 3;
	n += varint(m + n, id);
	m[n++] = 2 << 3;
	n += varint(m + n, 02);
	m[n++] = 3 << 3;
	n += varint(m + n, 1);
	m[n++] = 4 << 3;
	n += varint(m + n, fd);
	if (xattr) {
		m[n++] = 5 << 3 | 2;
		n += varint(m + n, strlen(xattr));
		memcpy(m + n, xattr, strlen(xattr));
		n += strlen(xattr);
	}
	put_u32(im, (uint32_t)n);
	memcpy(im->b + im->n, m, n);
	im->n += n;
}

static void test_fdinfo(void)
{
	struct img im = { .n = 0 };
	int max = 0;

	put_u32(&im, CRIU_IMG_COMMON_MAGIC);
	put_u32(&im, CRIU_IMG_FDINFO_MAGIC);
	CHECK_EQ_INT(criu_img_fdinfo_max_fd(im.b, im.n, &max), 0);
	CHECK_EQ_INT(max, -1);
	put_fdinfo(&im, 7, 0, NULL);
	put_fdinfo(&im, 9, 605, "system_u:object_r:x:s0");
	put_fdinfo(&im, 8, 3, NULL);
	CHECK_EQ_INT(criu_img_fdinfo_max_fd(im.b, im.n, &max), 0);
	CHECK_EQ_INT(max, 605);

	/* A truncation is refused unless it falls between entries. */
	for (size_t cut = 0, ok = 0; cut < im.n; cut++) {
		int r = criu_img_fdinfo_max_fd(im.b, cut, &max);

		CHECK(r == -EINVAL || (r == 0 && max <= 605));
		ok += !r;
		if (cut == im.n - 1)
			CHECK_EQ_INT(ok, 3); /* the magic alone, after one, after two */
	}
	/* A length past the end. */
	{
		struct img bad = im;

		memset(bad.b + 8, 0xff, 4);
		CHECK_EQ_INT(criu_img_fdinfo_max_fd(bad.b, bad.n, &max), -EINVAL);
	}
	/* Another image's magic. */
	{
		struct img ids = { .n = 0 };

		put_u32(&ids, CRIU_IMG_COMMON_MAGIC);
		put_u32(&ids, CRIU_IMG_IDS_MAGIC);
		CHECK_EQ_INT(criu_img_fdinfo_max_fd(ids.b, ids.n, &max), -EINVAL);
	}
	/* CRTOOLS_IMAGES_V1: no head magic. */
	{
		struct img v1 = { .n = 0 };

		put_u32(&v1, CRIU_IMG_FDINFO_MAGIC);
		put_fdinfo(&v1, 1, 42, NULL);
		CHECK_EQ_INT(criu_img_fdinfo_max_fd(v1.b, v1.n, &max), 0);
		CHECK_EQ_INT(max, 42);
	}
	/* An entry without fd, and one whose varint never ends. */
	{
		struct img e = { .n = 0 };
		const uint8_t no_fd[] = { 1 << 3, 5 }, endless[] = { 4 << 3, 0xff, 0xff };

		put_u32(&e, CRIU_IMG_FDINFO_MAGIC);
		put_u32(&e, sizeof(no_fd));
		memcpy(e.b + e.n, no_fd, sizeof(no_fd));
		e.n += sizeof(no_fd);
		CHECK_EQ_INT(criu_img_fdinfo_max_fd(e.b, e.n, &max), -EINVAL);
		e.n = 4;
		put_u32(&e, sizeof(endless));
		memcpy(e.b + e.n, endless, sizeof(endless));
		e.n += sizeof(endless);
		CHECK_EQ_INT(criu_img_fdinfo_max_fd(e.b, e.n, &max), -EINVAL);
	}
}

static void write_file(int dirfd, const char *name, const struct img *im)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, im->b, im->n) != (ssize_t)im->n) {
		perror(name);
		exit(1);
	}
	close(fd);
}

static void test_task(void)
{
	char dir[] = "/tmp/vramstream-criu-img.XXXXXX", why[256] = "";
	struct img ids = { .n = 0 }, fdi = { .n = 0 };
	uint8_t m[32];
	size_t n = 0;
	int dirfd, max = 0;

	if (!mkdtemp(dir) || (dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror(dir);
		exit(1);
	}
	/* TaskKobjIdsEntry{vm_id 1, files_id 33, fs_id 3, sighand_id 4, pid_ns_id 5}. */
	for (unsigned int f = 1; f <= 5; f++) {
		m[n++] = (uint8_t)(f << 3);
		n += varint(m + n, f == 2 ? 33 : f);
	}
	put_u32(&ids, CRIU_IMG_COMMON_MAGIC);
	put_u32(&ids, CRIU_IMG_IDS_MAGIC);
	put_u32(&ids, (uint32_t)n);
	memcpy(ids.b + ids.n, m, n);
	ids.n += n;
	write_file(dirfd, "ids-1234.img", &ids);

	CHECK_EQ_INT(criu_img_task_max_fd(dirfd, 1234, &max, why, sizeof(why)), -ENOENT);
	CHECK(strstr(why, "fdinfo-33.img"));
	put_u32(&fdi, CRIU_IMG_COMMON_MAGIC);
	put_u32(&fdi, CRIU_IMG_FDINFO_MAGIC);
	put_fdinfo(&fdi, 1, 2, NULL);
	put_fdinfo(&fdi, 2, 600, NULL);
	write_file(dirfd, "fdinfo-33.img", &fdi);
	CHECK_EQ_INT(criu_img_task_max_fd(dirfd, 1234, &max, why, sizeof(why)), 0);
	CHECK_EQ_INT(max, 600);
	CHECK_EQ_INT(criu_img_task_max_fd(dirfd, 99, &max, why, sizeof(why)), -ENOENT);
	CHECK(strstr(why, "ids-99.img"));

	unlinkat(dirfd, "ids-1234.img", 0);
	unlinkat(dirfd, "fdinfo-33.img", 0);
	close(dirfd);
	rmdir(dir);
}

/* criu/include/image.h */
#define VMA_AREA_REGULAR (1u << 0)
#define VMA_FILE_PRIVATE (1u << 6)
#define VMA_FILE_SHARED	 (1u << 7)
#define VMA_ANON_SHARED	 (1u << 8)
#define VMA_ANON_PRIVATE (1u << 9)
#define VMA_EXT_PLUGIN	 (1u << 27)

/* VmaEntry{start, end, pgoff, shmid, prot, flags, status, fd (sint64), fdflags} into @m. */
static size_t put_vma(uint8_t *m, uint64_t start, uint32_t status, bool with_status)
{
	size_t n = 0;

	m[n++] = 1 << 3;
	n += varint(m + n, start);
	m[n++] = 2 << 3;
	n += varint(m + n, start + 0x1000);
	m[n++] = 3 << 3;
	n += varint(m + n, 0xcf1c400000000000ull);
	m[n++] = 4 << 3;
	n += varint(m + n, 7);
	m[n++] = 5 << 3;
	n += varint(m + n, 3);
	m[n++] = 6 << 3;
	n += varint(m + n, 1);
	if (with_status) {
		m[n++] = 7 << 3;
		n += varint(m + n, status);
	}
	m[n++] = 8 << 3;
	n += varint(m + n, 1); /* zigzag -1 */
	m[n++] = 10 << 3;
	n += varint(m + n, 02);
	return n;
}

/* MmEntry{mm_start_code.., exe_file_id, mm_saved_auxv x2, vmas..., dumpable} */
static void put_mm(struct img *im, const uint32_t *status, size_t n_vmas, bool with_status)
{
	uint8_t m[2048], v[128];
	size_t n = 0;

	for (unsigned int f = 1; f <= 11; f++) {
		m[n++] = (uint8_t)(f << 3);
		n += varint(m + n, 0x55a878ac6000ull + f);
	}
	m[n++] = 12 << 3;
	n += varint(m + n, 10);
	for (int i = 0; i < 2; i++) {
		m[n++] = 13 << 3;
		n += varint(m + n, 0x21 + (uint64_t)i);
	}
	for (size_t i = 0; i < n_vmas; i++) {
		size_t vn = put_vma(v, 0x200000000000ull + (i << 20), status[i], with_status);

		m[n++] = 14 << 3 | 2;
		n += varint(m + n, vn);
		memcpy(m + n, v, vn);
		n += vn;
	}
	m[n++] = 15 << 3;
	n += varint(m + n, 1);
	put_u32(im, (uint32_t)n);
	memcpy(im->b + im->n, m, n);
	im->n += n;
}

static void test_mm(void)
{
	const uint32_t dev_shared = VMA_AREA_REGULAR | VMA_FILE_SHARED | VMA_EXT_PLUGIN;
	const uint32_t dev_private = VMA_AREA_REGULAR | VMA_FILE_PRIVATE | VMA_EXT_PLUGIN;
	const uint32_t status[] = {
		dev_shared,
		VMA_AREA_REGULAR | VMA_FILE_PRIVATE,		     /* a library */
		dev_private,					     /* KFD doorbells */
		VMA_AREA_REGULAR | VMA_ANON_PRIVATE,		     /* heap */
		VMA_AREA_REGULAR | VMA_ANON_SHARED | VMA_EXT_PLUGIN, /* not a file map */
		VMA_FILE_SHARED | VMA_EXT_PLUGIN,		     /* not regular */
		dev_shared | (1u << 28),			     /* VMA_CLOSE, as dumped */
	};
	struct img im = { .n = 0 }, other = { .n = 0 }, bare = { .n = 0 };
	unsigned int n = 99;

	put_u32(&im, CRIU_IMG_COMMON_MAGIC);
	put_u32(&im, CRIU_IMG_MM_MAGIC);
	CHECK_EQ_INT(criu_img_mm_plugin_vmas(im.b, im.n, &n), -EINVAL); /* no MmEntry */
	put_mm(&im, status, sizeof(status) / sizeof(status[0]), true);
	CHECK_EQ_INT(criu_img_mm_plugin_vmas(im.b, im.n, &n), 0);
	CHECK_EQ_INT(n, 3);
	for (size_t cut = 8; cut < im.n; cut++)
		CHECK_EQ_INT(criu_img_mm_plugin_vmas(im.b, cut, &n), -EINVAL);

	put_u32(&other, CRIU_IMG_COMMON_MAGIC);
	put_u32(&other, CRIU_IMG_FDINFO_MAGIC);
	put_mm(&other, status, 1, true);
	CHECK_EQ_INT(criu_img_mm_plugin_vmas(other.b, other.n, &n), -EINVAL);

	/* CRTOOLS_IMAGES_V1; a VmaEntry without its required status. */
	put_u32(&bare, CRIU_IMG_MM_MAGIC);
	put_mm(&bare, status, 0, true);
	CHECK_EQ_INT(criu_img_mm_plugin_vmas(bare.b, bare.n, &n), 0);
	CHECK_EQ_INT(n, 0);
	bare.n = 4;
	put_mm(&bare, status, 2, false);
	CHECK_EQ_INT(criu_img_mm_plugin_vmas(bare.b, bare.n, &n), -EINVAL);
}

static void test_task_mm(void)
{
	const uint32_t status[] = { VMA_AREA_REGULAR | VMA_FILE_SHARED | VMA_EXT_PLUGIN };
	char dir[] = "/tmp/vramstream-criu-img.XXXXXX", why[256] = "";
	struct img mm = { .n = 0 };
	unsigned int n = 0;
	int dirfd;

	if (!mkdtemp(dir) || (dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror(dir);
		exit(1);
	}
	CHECK_EQ_INT(criu_img_task_plugin_vmas(dirfd, 1234, &n, why, sizeof(why)), -ENOENT);
	CHECK(strstr(why, "mm-1234.img"));
	put_u32(&mm, CRIU_IMG_COMMON_MAGIC);
	put_u32(&mm, CRIU_IMG_MM_MAGIC);
	put_mm(&mm, status, 1, true);
	write_file(dirfd, "mm-1234.img", &mm);
	CHECK_EQ_INT(criu_img_task_plugin_vmas(dirfd, 1234, &n, why, sizeof(why)), 0);
	CHECK_EQ_INT(n, 1);
	unlinkat(dirfd, "mm-1234.img", 0);
	close(dirfd);
	rmdir(dir);
}

/* PstreeEntry{pid, ppid, pgid, sid, threads...}. */
static void put_pstree(struct img *im, uint32_t pid, uint32_t ppid)
{
	uint8_t m[64];
	size_t n = 0;

	m[n++] = 1 << 3;
	n += varint(m + n, pid);
	m[n++] = 2 << 3;
	n += varint(m + n, ppid);
	m[n++] = 3 << 3;
	n += varint(m + n, pid);
	m[n++] = 4 << 3;
	n += varint(m + n, pid);
	m[n++] = 5 << 3;
	n += varint(m + n, pid);
	put_u32(im, (uint32_t)n);
	memcpy(im->b + im->n, m, n);
	im->n += n;
}

static void test_pstree(void)
{
	struct img im = { .n = 0 }, other = { .n = 0 }, zero = { .n = 0 };
	uint32_t root = 0;

	put_u32(&im, CRIU_IMG_COMMON_MAGIC);
	put_u32(&im, CRIU_IMG_PSTREE_MAGIC);
	CHECK_EQ_INT(criu_img_pstree_root(im.b, im.n, &root), -EINVAL);
	put_pstree(&im, 70123, 0);
	put_pstree(&im, 70124, 70123);
	CHECK_EQ_INT(criu_img_pstree_root(im.b, im.n, &root), 0);
	CHECK_EQ_INT(root, 70123);
	CHECK_EQ_INT(criu_img_pstree_root(im.b, 12, &root), -EINVAL);

	put_u32(&other, CRIU_IMG_COMMON_MAGIC);
	put_u32(&other, CRIU_IMG_IDS_MAGIC);
	put_pstree(&other, 5, 0);
	CHECK_EQ_INT(criu_img_pstree_root(other.b, other.n, &root), -EINVAL);
	put_u32(&zero, CRIU_IMG_PSTREE_MAGIC);
	put_pstree(&zero, 0, 0);
	CHECK_EQ_INT(criu_img_pstree_root(zero.b, zero.n, &root), -EINVAL);
}

int main(void)
{
	test_fdinfo();
	test_task();
	test_mm();
	test_task_mm();
	test_pstree();
	return test_finish("plugin_criu_img");
}
