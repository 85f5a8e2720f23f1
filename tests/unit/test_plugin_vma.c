// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: device VMAs are re-created the way criu 4.1's open_filemap
 * (criu/files-reg.c) re-creates them with the plugin's UPDATE_VMA_MAP answer
 * (the new offset only when the hook returns 1; the returned fd only when the
 * VMA's file differs from the previous VMA's, else the previous fd), and
 * mapping each one through that fd at that offset shows the bytes of the BO
 * it showed when dumped: two GPUs whose BOs had the same mmap offset, a path
 * criu wrote as "//dev/dri/renderD129", a VMA covering part of a BO, a node
 * the image does not know (matched by address, as upstream criu's plugin
 * does); a /dev/kfd doorbell mapping gets the new GPU's id in its offset and
 * the restored KFD file; an offset no BO had fails with the address, path
 * and offset named.
 *
 * Restored GPUs are memfds standing for their render node files: a BO's
 * bytes sit in its GPU's memfd at its restored offset, as a DRM mmap at that
 * offset would show them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kfd_ioctl.h>

#include "plugin_vma.h"
#include "test_common.h"

#define KFD_DOORBELL   (0x3ULL << 62)
#define KFD_GPU_ID(id) ((uint64_t)(id) << 46)
#define GPU_SIZE       (8u << 20)

enum { BO_A, BO_B, BO_GTT, BO_DOORBELL, N_BOS };

/* Dumped on GPUs 0x1111 (renderD128) and 0x2222 (renderD129); restored with
 * 0x1111 -> dst 1 (gpu_id 0x4444) and 0x2222 -> dst 0 (gpu_id 0x3333). */
static const struct plugin_vma_bo bos[N_BOS] = {
	[BO_A] = { 0x7f0000000000, 0x10000, 0x100000, 0x300000, KFD_IOC_ALLOC_MEM_FLAGS_VRAM, 128,
		   0x4444, 1 },
	/* The same mmap offset on the other GPU: DRM offsets are per device. */
	[BO_B] = { 0x7f0000100000, 0x10000, 0x100000, 0x200000, KFD_IOC_ALLOC_MEM_FLAGS_VRAM, 129,
		   0x3333, 0 },
	[BO_GTT] = { 0x7f0000200000, 0x20000, 0x110000, 0x500000, KFD_IOC_ALLOC_MEM_FLAGS_GTT, 129,
		     0x3333, 0 },
	[BO_DOORBELL] = { 0x7f0000400000, 0x2000, KFD_DOORBELL | KFD_GPU_ID(0x1111),
			  KFD_DOORBELL | KFD_GPU_ID(0x4444), KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL, 128,
			  0x4444, 1 },
};

static uint8_t byte_of(unsigned int bo, uint64_t off)
{
	return (uint8_t)(bo * 64 + off / 4096 * 7 + off % 251);
}

static int make_gpu(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, GPU_SIZE)) {
		perror("memfd");
		exit(1);
	}
	return fd;
}

/* The BO's bytes where its restored GPU shows them. */
static void fill(const int *gpu_fd, unsigned int b)
{
	const struct plugin_vma_bo *bo = &bos[b];
	uint8_t *buf = malloc(bo->size);

	for (uint64_t i = 0; i < bo->size; i++)
		buf[i] = byte_of(b, i);
	if (pwrite(gpu_fd[bo->dst], buf, bo->size, (off_t)bo->new_offset) != (ssize_t)bo->size) {
		perror("pwrite");
		exit(1);
	}
	free(buf);
}

/* A VmaEntry as criu restores it; desc stands for its file (vma->vmfd). */
struct vma {
	const char *path;
	int desc;
	uint64_t start, len, pgoff;
};

/* criu/files-reg.c open_filemap's state (struct filemap_ctx). */
static struct {
	int desc, fd;
} ctx = { -1, -1 };

/* open_filemap, the plugin part: returns the hook's answer, sets *fd. */
static int open_filemap(const struct plugin_vma_map *m, struct vma *v, int *fd, char *why,
			size_t why_len)
{
	uint64_t new_pgoff = 0;
	int plugin_fd = -1, ret;

	ret = plugin_vma_update(m, v->path, v->start, v->pgoff, &new_pgoff, &plugin_fd, why,
				why_len);
	if (ret == 1)
		v->pgoff = new_pgoff;
	if (ctx.desc != v->desc) {
		/* criu opens the path itself when the plugin gave no fd: here
		 * that is no device at all. */
		if (ctx.fd >= 0)
			close(ctx.fd); /* the restorer closes it after its last VMA */
		ctx.fd = plugin_fd >= 0 ? plugin_fd : -1;
		ctx.desc = v->desc;
	} else if (plugin_fd >= 0) {
		close(plugin_fd); /* criu leaks it; the test does not */
	}
	*fd = ctx.fd;
	return ret;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return a >= 0 && b >= 0 && !fstat(a, &sa) && !fstat(b, &sb) && sa.st_ino == sb.st_ino &&
	       sa.st_dev == sb.st_dev;
}

/* The restorer's mmap: does the VMA show BO @b from @bo_off on? */
static bool shows(int fd, const struct vma *v, unsigned int b, uint64_t bo_off)
{
	uint8_t *p;
	bool ok = true;

	if (fd < 0)
		return false;
	p = mmap(NULL, v->len, PROT_READ, MAP_SHARED, fd, (off_t)v->pgoff);
	if (p == MAP_FAILED)
		return false;
	for (uint64_t i = 0; i < v->len && ok; i++)
		ok = p[i] == byte_of(b, bo_off + i);
	munmap(p, v->len);
	return ok;
}

static void test_paths(void)
{
	enum plugin_vma_dev dev;
	unsigned int minor = 0;

	CHECK(!plugin_vma_parse_path("/dev/dri/renderD128", &dev, &minor));
	CHECK(dev == PLUGIN_VMA_RENDER && minor == 128);
	CHECK(!plugin_vma_parse_path("//dev/dri/renderD129", &dev, &minor));
	CHECK(dev == PLUGIN_VMA_RENDER && minor == 129);
	CHECK(!plugin_vma_parse_path("/dev//dri///renderD130", &dev, &minor) && minor == 130);
	CHECK(!plugin_vma_parse_path("//dev/kfd", &dev, &minor) && dev == PLUGIN_VMA_KFD);
	CHECK_EQ_INT(plugin_vma_parse_path("/dev/dri/card0", &dev, &minor), -ENOTSUP);
	CHECK_EQ_INT(plugin_vma_parse_path("/dev/dri/renderD12x", &dev, &minor), -ENOTSUP);
	CHECK_EQ_INT(plugin_vma_parse_path("/dev/dri/renderD", &dev, &minor), -ENOTSUP);
	CHECK_EQ_INT(plugin_vma_parse_path("/dev/kfd2", &dev, &minor), -ENOTSUP);
	CHECK_EQ_INT(plugin_vma_parse_path("/usr/lib/libc.so.6", &dev, &minor), -ENOTSUP);
}

static void test_open_filemap(void)
{
	int gpu_fd[2] = { make_gpu("gpu-dst0"), make_gpu("gpu-dst1") };
	int kfd = make_gpu("kfd");
	const struct plugin_vma_map m = { bos, N_BOS, gpu_fd, 2, kfd };
	const struct plugin_vma_bo *a = &bos[BO_A], *b = &bos[BO_B], *g = &bos[BO_GTT];
	const struct plugin_vma_bo *d = &bos[BO_DOORBELL];
	/* In address order, as criu walks them. */
	struct vma v[] = {
		{ "/dev/dri/renderD128", 1, a->addr, a->size, a->old_offset },
		{ "//dev/dri/renderD129", 2, b->addr, b->size, b->old_offset },
		/* Same file as the previous VMA: criu keeps the previous fd. */
		{ "//dev/dri/renderD129", 2, g->addr + 0x8000, 0x10000, g->old_offset + 0x8000 },
		{ "/dev/kfd", 3, d->addr, d->size, d->old_offset },
		/* A node the image does not know, at BO_A's address. */
		{ "/dev/dri/renderD140", 4, a->addr + 0x4000, 0x4000, a->old_offset + 0x4000 },
		{ "/dev/dri/renderD128", 5, 0x7f0000600000, 0x1000, 0x900000 },
	};
	char why[512] = "";
	int fd;

	for (unsigned int i = 0; i < N_BOS; i++)
		if (bos[i].alloc_flags &
		    (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT))
			fill(gpu_fd, i);

	CHECK_EQ_INT(open_filemap(&m, &v[0], &fd, why, sizeof(why)), 1);
	CHECK_EQ_INT(v[0].pgoff, a->new_offset);
	CHECK(same_file(fd, gpu_fd[1]));
	CHECK(shows(fd, &v[0], BO_A, 0));

	CHECK_EQ_INT(open_filemap(&m, &v[1], &fd, why, sizeof(why)), 1);
	CHECK_EQ_INT(v[1].pgoff, b->new_offset);
	CHECK(same_file(fd, gpu_fd[0]));
	CHECK(shows(fd, &v[1], BO_B, 0));

	CHECK_EQ_INT(open_filemap(&m, &v[2], &fd, why, sizeof(why)), 1);
	CHECK_EQ_INT(v[2].pgoff, g->new_offset + 0x8000);
	CHECK(shows(fd, &v[2], BO_GTT, 0x8000));

	CHECK_EQ_INT(open_filemap(&m, &v[3], &fd, why, sizeof(why)), 1);
	CHECK_EQ_INT(v[3].pgoff, KFD_DOORBELL | KFD_GPU_ID(0x4444));
	CHECK(same_file(fd, kfd));

	CHECK_EQ_INT(open_filemap(&m, &v[4], &fd, why, sizeof(why)), 1);
	CHECK_EQ_INT(v[4].pgoff, a->new_offset + 0x4000);
	CHECK(shows(fd, &v[4], BO_A, 0x4000));

	why[0] = '\0';
	CHECK(open_filemap(&m, &v[5], &fd, why, sizeof(why)) < 0);
	CHECK(strstr(why, "0x7f0000600000") && strstr(why, "/dev/dri/renderD128") &&
	      strstr(why, "0x900000"));
	printf("unknown mapping: %s\n", why);

	/* A doorbell offset of a GPU no BO was on. */
	{
		struct vma k = { "/dev/kfd", 6, 0x7f0000800000, 0x2000,
				 KFD_DOORBELL | KFD_GPU_ID(0x9999) };

		CHECK(open_filemap(&m, &k, &fd, why, sizeof(why)) < 0);
		CHECK(strstr(why, "/dev/kfd") && strstr(why, "0x7f0000800000"));
	}
	/* Not ours: criu asks the next plugin. */
	{
		struct vma o = { "/usr/lib/x.so", 7, 0x1000, 0x1000, 0 };

		CHECK_EQ_INT(open_filemap(&m, &o, &fd, why, sizeof(why)), -ENOTSUP);
	}
	if (ctx.fd >= 0)
		close(ctx.fd);
	close(gpu_fd[0]);
	close(gpu_fd[1]);
	close(kfd);
}

int main(void)
{
	test_paths();
	test_open_filemap();
	return test_finish("plugin_vma");
}
