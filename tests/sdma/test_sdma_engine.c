// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sdma_engine against a GPU (the emulator's, or real hardware): for every GPU
 * in the KFD topology, allocate a VRAM BO through KFD, export it as a dmabuf,
 * import it into an engine, and move random bytes host -> BO -> host on
 * every lane at once, with odd sizes and offsets, copies larger than one
 * packet and than one IB; then CONST_FILL and the
 * argument checks. Every byte is compared, including canaries around each
 * destination range.
 *
 * Uses only KFD ioctls (linux/kfd_ioctl.h) to get the dmabuf and the sdma
 * module's public API for the rest.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kfd_ioctl.h>

#include "sdma_engine.h"
#include "test_common.h"

/* KFD 1.12 added EXPORT_DMABUF (kfd_ioctl.h version log); Debian 12 ships 1.11. */
#ifndef AMDKFD_IOC_EXPORT_DMABUF
struct kfd_ioctl_export_dmabuf_args {
	__u64 handle;
	__u32 flags;
	__u32 dmabuf_fd;
};
#define AMDKFD_IOC_EXPORT_DMABUF AMDKFD_IOWR(0x24, struct kfd_ioctl_export_dmabuf_args)
#endif

#define TOPOLOGY "/sys/class/kfd/kfd/topology/nodes"
#define BO_SIZE	 (8ULL << 20)
#define CANARY	 0x5a
#define WAIT_NS	 (30ULL * 1000000000ULL)
#define MAX_GPUS 8

struct gpu {
	uint32_t gpu_id;
	uint32_t render_minor;
};

static void print_debug(void *opaque, const char *msg)
{
	(void)opaque;
	fprintf(stderr, "sdma: %s\n", msg);
}

static int read_u32_file(const char *path, uint32_t *v)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%" SCNu32, v) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

static int read_property(const char *path, const char *key, uint32_t *v)
{
	char line[256], name[128];
	unsigned long long val;
	FILE *f = fopen(path, "r");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %llu", name, &val) == 2 && !strcmp(name, key)) {
			*v = (uint32_t)val;
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

static int find_gpus(struct gpu *gpus, int max)
{
	struct dirent *de;
	DIR *d = opendir(TOPOLOGY);
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max) {
		char path[512];
		uint32_t id = 0, minor = 0;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), TOPOLOGY "/%s/gpu_id", de->d_name);
		if (read_u32_file(path, &id) || !id)
			continue; /* CPU node */
		snprintf(path, sizeof(path), TOPOLOGY "/%s/properties", de->d_name);
		if (read_property(path, "drm_render_minor", &minor))
			continue;
		gpus[n].gpu_id = id;
		gpus[n].render_minor = minor;
		n++;
	}
	closedir(d);
	return n;
}

struct vram {
	uint64_t handle;
	int dmabuf_fd;
	void *va; /* CPU range reserved for the BO's GPU VA, as ROCr does */
};

/* KFD needs the process's VM on the GPU before it allocates there (kfd_bind_process_to_device). */
static int acquire_vm(int kfd, const struct gpu *g, int *drm_fd)
{
	struct kfd_ioctl_acquire_vm_args acq = { .gpu_id = g->gpu_id };
	char path[64];

	snprintf(path, sizeof(path), "/dev/dri/renderD%u", g->render_minor);
	*drm_fd = open(path, O_RDWR | O_CLOEXEC);
	if (*drm_fd < 0) {
		fprintf(stderr, "open %s: %s\n", path, strerror(errno));
		return -errno;
	}
	acq.drm_fd = (__u32)*drm_fd;
	if (ioctl(kfd, AMDKFD_IOC_ACQUIRE_VM, &acq)) {
		fprintf(stderr, "KFD ACQUIRE_VM gpu 0x%x: %s\n", g->gpu_id, strerror(errno));
		return -errno;
	}
	return 0;
}

static int vram_alloc(int kfd, uint32_t gpu_id, uint64_t size, struct vram *v)
{
	struct kfd_ioctl_alloc_memory_of_gpu_args alloc;
	struct kfd_ioctl_export_dmabuf_args exp;

	v->va = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v->va == MAP_FAILED)
		return -errno;
	memset(&alloc, 0, sizeof(alloc));
	alloc.va_addr = (uintptr_t)v->va;
	alloc.size = size;
	alloc.gpu_id = gpu_id;
	alloc.flags = KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_WRITABLE |
		      KFD_IOC_ALLOC_MEM_FLAGS_PUBLIC;
	if (ioctl(kfd, AMDKFD_IOC_ALLOC_MEMORY_OF_GPU, &alloc)) {
		fprintf(stderr, "KFD ALLOC_MEMORY_OF_GPU %" PRIu64 " bytes: %s\n", size,
			strerror(errno));
		return -errno;
	}
	v->handle = alloc.handle;
	memset(&exp, 0, sizeof(exp));
	exp.handle = alloc.handle;
	exp.flags = O_CLOEXEC;
	if (ioctl(kfd, AMDKFD_IOC_EXPORT_DMABUF, &exp)) {
		fprintf(stderr, "KFD EXPORT_DMABUF: %s\n", strerror(errno));
		return -errno;
	}
	v->dmabuf_fd = (int)exp.dmabuf_fd;
	return 0;
}

static void vram_free(int kfd, struct vram *v, uint64_t size)
{
	struct kfd_ioctl_free_memory_of_gpu_args fr = { .handle = v->handle };

	if (v->dmabuf_fd >= 0)
		close(v->dmabuf_fd);
	if (v->handle)
		CHECK_EQ_INT(ioctl(kfd, AMDKFD_IOC_FREE_MEMORY_OF_GPU, &fr), 0);
	if (v->va && v->va != MAP_FAILED)
		munmap(v->va, size);
}

/* Pseudo-random bytes (xorshift64*), 8 at a time: fast enough for megabytes per case. */
static void fill_random(uint8_t *p, uint64_t n, unsigned int *seed)
{
	uint64_t x = *seed * 0x9e3779b97f4a7c15ULL + 1, i, w;

	for (i = 0; i < n; i += 8) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		w = x * 0x2545f4914f6cdd1dULL;
		memcpy(p + i, &w, n - i < 8 ? n - i : 8);
	}
	*seed = (unsigned int)(x >> 32) ^ (unsigned int)x;
}

/* Index of the first byte of p[0..n) that differs from c, or n. */
static uint64_t first_not(const uint8_t *p, uint64_t n, uint8_t c)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (p[i] != c)
			return i;
	return n;
}

struct copy_case {
	uint64_t len, bo_off, src_off, dst_off;
};

/*
 * EXPECT: on every lane at once, host -> BO -> host moves exactly len bytes
 * (odd sizes and offsets, more than a packet, more than an IB) and leaves
 * every other destination byte alone.
 */
static void test_round_trips(struct sdma_engine *e, struct sdma_bo *bo, struct sdma_hostbuf *src,
			     struct sdma_hostbuf *dst, unsigned int *seed)
{
	static const struct copy_case cases[] = {
		{ 1, 0, 0, 0 },
		{ 3, 5, 7, 9 },
		{ 4097, 4096, 1, 4095 },
		{ (1 << 20) + 13, 3, 100, 4 },	/* odd tail after a dword bulk */
		{ (5 << 19) + 7, 4096, 8, 12 }, /* > one IB with max_ib_bytes 1 MiB */
		{ (4 << 20) + 256, 0, 0, 0 },	/* > one 4 MiB packet where lanes allow */
	};
	struct sdma_engine_info info;
	uint8_t *s = sdma_hostbuf_ptr(src), *d = sdma_hostbuf_ptr(dst);
	struct sdma_ticket tickets[2 * 64];
	unsigned int nl, l, c;
	uint64_t slice;

	sdma_engine_get_info(e, &info);
	nl = info.num_lanes;
	slice = (BO_SIZE / nl) & ~4095ULL;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint64_t len[64];

		fill_random(s, BO_SIZE, seed);
		memset(d, CANARY, BO_SIZE);
		for (l = 0; l < nl; l++) {
			const struct copy_case *k = &cases[c];
			uint64_t base = l * slice;
			uint64_t room =
				slice -
				(k->bo_off > k->dst_off
					 ? (k->bo_off > k->src_off ? k->bo_off : k->src_off)
					 : (k->dst_off > k->src_off ? k->dst_off : k->src_off));

			len[l] = k->len < room ? k->len : room;
			CHECK_EQ_INT(sdma_engine_copy_from_host(e, src, base + k->src_off, bo,
								base + k->bo_off, len[l], l,
								&tickets[2 * l]),
				     0);
			CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, base + k->bo_off, dst,
							      base + k->dst_off, len[l], l,
							      &tickets[2 * l + 1]),
				     0);
		}
		for (l = 0; l < 2 * nl; l++)
			CHECK_EQ_INT(sdma_engine_wait(e, &tickets[l], WAIT_NS), 0);
		for (l = 0; l < nl; l++) {
			const struct copy_case *k = &cases[c];
			uint64_t base = l * slice;
			uint8_t *out = d + base + k->dst_off;

			if (memcmp(out, s + base + k->src_off, len[l])) {
				fprintf(stderr, "case %u lane %u: %" PRIu64 " bytes differ\n", c, l,
					len[l]);
				CHECK(0);
			}
			CHECK_EQ_INT(first_not(d + base, k->dst_off, CANARY), k->dst_off);
			CHECK_EQ_INT(first_not(out + len[l], slice - k->dst_off - len[l], CANARY),
				     slice - k->dst_off - len[l]);
		}
	}
	printf("round trips: %u cases on %u lanes\n", c, nl);
}

/* EXPECT: if the dmabuf can be mmap()ed, it holds exactly what SDMA wrote. */
static void test_direct_view(struct sdma_engine *e, struct sdma_bo *bo, struct sdma_hostbuf *src,
			     int dmabuf_fd, unsigned int *seed)
{
	struct sdma_ticket t;
	uint8_t *view;

	fill_random(sdma_hostbuf_ptr(src), BO_SIZE, seed);
	CHECK_EQ_INT(sdma_engine_copy_from_host(e, src, 0, bo, 0, BO_SIZE, 0, &t), 0);
	CHECK_EQ_INT(sdma_engine_wait(e, &t, WAIT_NS), 0);
	view = mmap(NULL, BO_SIZE, PROT_READ, MAP_SHARED, dmabuf_fd, 0);
	if (view == MAP_FAILED) {
		printf("direct view: dmabuf mmap not available (%s), skipped\n", strerror(errno));
		return;
	}
	CHECK(!memcmp(view, sdma_hostbuf_ptr(src), BO_SIZE));
	munmap(view, BO_SIZE);
	printf("direct view: BO bytes match\n");
}

/* EXPECT: CONST_FILL writes the pattern over exactly the range, on any lane. */
static void test_fill(struct sdma_engine *e, struct sdma_bo *bo, struct sdma_hostbuf *dst)
{
	struct sdma_engine_info info;
	struct sdma_ticket t[3];
	uint8_t *d = sdma_hostbuf_ptr(dst);
	uint32_t word;
	uint64_t i;

	sdma_engine_get_info(e, &info);
	CHECK_EQ_INT(sdma_engine_fill(e, bo, 0, BO_SIZE, 0, 0, &t[0]), 0);
	/* Lanes run independently: the overlapping fill waits for the first. */
	CHECK_EQ_INT(sdma_engine_wait(e, &t[0], WAIT_NS), 0);
	CHECK_EQ_INT(sdma_engine_fill(e, bo, 4096 + 4, (5 << 20) + 8, 0xa5c3e1f0u,
				      info.num_lanes - 1, &t[1]),
		     0);
	CHECK_EQ_INT(sdma_engine_wait(e, &t[1], WAIT_NS), 0);
	memset(d, CANARY, BO_SIZE);
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, 0, dst, 0, BO_SIZE, 0, &t[2]), 0);
	CHECK_EQ_INT(sdma_engine_wait(e, &t[2], WAIT_NS), 0);
	CHECK_EQ_INT(first_not(d, 4100, 0), 4100);
	for (i = 4100; i < 4100 + (5 << 20) + 8; i += 4) {
		memcpy(&word, d + i, 4);
		if (word != 0xa5c3e1f0u) {
			CHECK_EQ_INT(word, 0xa5c3e1f0u);
			break;
		}
	}
	CHECK_EQ_INT(first_not(d + i, BO_SIZE - i, 0), BO_SIZE - i);
	printf("fill: ok\n");
}

/* EXPECT: out-of-range copies, bad lanes and unaligned fills are refused, nothing submitted. */
static void test_bad_args(struct sdma_engine *e, struct sdma_bo *bo, struct sdma_hostbuf *hb)
{
	struct sdma_engine_info info;
	struct sdma_ticket t = { 7, 7 };
	char msg[256];

	sdma_engine_get_info(e, &info);
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, BO_SIZE - 1, hb, 0, 2, 0, &t), -ERANGE);
	CHECK_EQ_INT(t.seq, 0);
	sdma_engine_last_error(e, msg, sizeof(msg));
	CHECK(strstr(msg, "outside") != NULL);
	CHECK_EQ_INT(sdma_engine_copy_from_host(e, hb, 1, bo, 0, BO_SIZE, 0, &t), -ERANGE);
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, UINT64_MAX, hb, 0, 2, 0, &t), -ERANGE);
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, 0, hb, 0, 8, info.num_lanes, &t), -EINVAL);
	CHECK_EQ_INT(sdma_engine_fill(e, bo, 2, 8, 0, 0, &t), -EINVAL);
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, 0, hb, 0, 0, 0, &t), 0); /* empty: no-op */
	CHECK_EQ_INT(sdma_engine_wait(e, &t, 0), 0);
}

/*
 * One engine on one GPU. lanes 0 takes the engine's defaults with small IBs
 * (two per lane, 1 MiB each, so big copies span and reuse IBs); otherwise
 * that many lanes over several contexts, with default IBs.
 */
static void test_gpu(int kfd, const struct gpu *g, unsigned int lanes, unsigned int *seed)
{
	struct sdma_engine_config cfg = { .num_lanes = lanes, .debug = print_debug };
	struct sdma_hostbuf *src = NULL, *dst = NULL;
	struct vram v = { .dmabuf_fd = -1 };
	struct sdma_engine_info info;
	struct sdma_engine *e = NULL;
	struct sdma_bo *bo = NULL;

	if (!lanes) {
		cfg.ibs_per_lane = 2;
		cfg.max_ib_bytes = 1 << 20;
	}
	CHECK_EQ_INT(vram_alloc(kfd, g->gpu_id, BO_SIZE, &v), 0);
	CHECK_EQ_INT(sdma_engine_open(g->render_minor, &cfg, &e), 0);
	if (!e || v.dmabuf_fd < 0)
		goto out;
	sdma_engine_get_info(e, &info);
	printf("gpu 0x%x renderD%u: %s (IP %u.%u.%u), %u SDMA instances, rings 0x%x, %u lanes\n",
	       g->gpu_id, g->render_minor, info.gen_name, info.ip_version >> 16,
	       (info.ip_version >> 8) & 0xff, info.ip_version & 0xff, info.num_instances,
	       info.available_rings, info.num_lanes);
	CHECK(info.num_lanes >= 1);
	if (lanes)
		CHECK_EQ_INT(info.num_lanes, lanes);

	CHECK_EQ_INT(sdma_bo_import_dmabuf(e, v.dmabuf_fd, &bo), 0);
	CHECK_EQ_INT(sdma_hostbuf_alloc(e, BO_SIZE, &src), 0);
	CHECK_EQ_INT(sdma_hostbuf_alloc(e, BO_SIZE, &dst), 0);
	if (!bo || !src || !dst)
		goto out;
	CHECK_EQ_INT(sdma_bo_size(bo), BO_SIZE);

	test_round_trips(e, bo, src, dst, seed);
	test_direct_view(e, bo, src, v.dmabuf_fd, seed);
	test_fill(e, bo, dst);
	test_bad_args(e, bo, dst);
	CHECK_EQ_INT(sdma_engine_drain(e, WAIT_NS), 0);
out:
	sdma_hostbuf_free(src);
	sdma_hostbuf_free(dst);
	sdma_bo_release(bo);
	sdma_engine_free(e);
	vram_free(kfd, &v, BO_SIZE);
}

int main(void)
{
	struct gpu gpus[MAX_GPUS];
	unsigned int seed = 20261125;
	int n, i, kfd;

	n = find_gpus(gpus, MAX_GPUS);
	if (n <= 0) {
		fprintf(stderr, "no GPU in %s (%d): run under the emulator or on a GPU\n", TOPOLOGY,
			n);
		return 1;
	}
	kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	if (kfd < 0) {
		fprintf(stderr, "open /dev/kfd: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		int drm_fd = -1;

		CHECK_EQ_INT(acquire_vm(kfd, &gpus[i], &drm_fd), 0);
		test_gpu(kfd, &gpus[i], 0, &seed);
		/* EXPECT: more lanes than one context has rings: extra contexts, same bytes. */
		if (i == 0)
			test_gpu(kfd, &gpus[i], 5, &seed);
		if (drm_fd >= 0)
			close(drm_fd);
	}
	close(kfd);
	return test_finish("test_sdma_engine");
}
