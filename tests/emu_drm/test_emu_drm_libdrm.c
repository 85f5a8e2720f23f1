/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The real libdrm_amdgpu (Debian's 2.4.114) on emulated render nodes, run under the emulator
 * (run_under_emu.sh, 2 GPUs): device init and queries report the emulated GPU; SDMA
 * COPY_LINEAR IBs move exact bytes between an imported dma-buf ("VRAM") and a userptr
 * buffer in both directions, on several rings at once; malformed and out-of-bounds packets
 * and the kernel's argument checks are rejected with its errnos; two GPUs do not share VAs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <amdgpu.h>
#include <amdgpu_drm.h>
#include <xf86drm.h>

#include "emu_drm_maps.h"
#include "test_common.h"

#define OP_COPY	 1
#define OP_FENCE 5
#define COPY_MAX (1u << 22) /* bytes per COPY_LINEAR on every SDMA 4.x (22-bit count) */

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill_random(void *p, size_t n)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rng();
}

/* COPY_LINEAR packets from the public layout (sdma_v4_0_emit_copy_buffer), split at 4 MiB. */
static size_t emit_copy(uint32_t *ib, uint64_t src, uint64_t dst, uint64_t bytes)
{
	size_t n = 0;

	while (bytes) {
		uint32_t chunk = bytes > COPY_MAX ? COPY_MAX : (uint32_t)bytes;

		ib[n++] = OP_COPY; /* sub-op 0: linear */
		ib[n++] = chunk - 1;
		ib[n++] = 0;
		ib[n++] = (uint32_t)src;
		ib[n++] = (uint32_t)(src >> 32);
		ib[n++] = (uint32_t)dst;
		ib[n++] = (uint32_t)(dst >> 32);
		src += chunk;
		dst += chunk;
		bytes -= chunk;
	}
	return n;
}

struct gpu {
	int fd;
	amdgpu_device_handle dev;
	amdgpu_bo_handle ib_bo;
	uint32_t *ib;
	uint64_t ib_va;
	amdgpu_va_handle ib_vah;
	amdgpu_context_handle ctx[2];
};

static uint64_t map_bo(struct gpu *g, amdgpu_bo_handle bo, uint64_t size, amdgpu_va_handle *vah)
{
	uint64_t va = 0;

	CHECK_EQ_INT(amdgpu_va_range_alloc(g->dev, amdgpu_gpu_va_range_general, size, 4096, 0, &va,
					   vah, 0),
		     0);
	CHECK_EQ_INT(amdgpu_bo_va_op(bo, 0, size, va, 0, AMDGPU_VA_OP_MAP), 0);
	return va;
}

/* With @close_original, the caller's fd is closed right after device init and the test goes
 * on with libdrm's dup of it: per-file state follows the open file, not the fd number. */
static void gpu_open(struct gpu *g, const char *node, bool close_original)
{
	struct amdgpu_bo_alloc_request req = { .alloc_size = 1 << 20,
					       .phys_alignment = 4096,
					       .preferred_heap = AMDGPU_GEM_DOMAIN_GTT };
	uint32_t major, minor;
	void *cpu = NULL;

	g->fd = open(node, O_RDWR | O_CLOEXEC);
	CHECK(g->fd >= 0);
	CHECK_EQ_INT(amdgpu_device_initialize(g->fd, &major, &minor, &g->dev), 0);
	if (!g->dev)
		exit(test_finish("emu_drm_libdrm"));
	CHECK_EQ_INT(major, 3);
	if (close_original) {
		close(g->fd);
		g->fd = amdgpu_device_get_fd(g->dev);
	}
	CHECK_EQ_INT(amdgpu_bo_alloc(g->dev, &req, &g->ib_bo), 0);
	CHECK_EQ_INT(amdgpu_bo_cpu_map(g->ib_bo, &cpu), 0);
	g->ib = cpu;
	g->ib_va = map_bo(g, g->ib_bo, req.alloc_size, &g->ib_vah);
	CHECK_EQ_INT(amdgpu_cs_ctx_create(g->dev, &g->ctx[0]), 0);
	CHECK_EQ_INT(amdgpu_cs_ctx_create(g->dev, &g->ctx[1]), 0);
}

/* Submit @ndw dwords at IB offset @ib_off (bytes) through amdgpu_cs_submit; wait if asked. */
static int submit(struct gpu *g, int c, unsigned int ring, size_t ib_off, size_t ndw, uint64_t *seq,
		  bool wait)
{
	struct amdgpu_cs_ib_info ib = { .ib_mc_address = g->ib_va + ib_off, .size = (uint32_t)ndw };
	struct amdgpu_cs_request req = {
		.ip_type = AMDGPU_HW_IP_DMA, .ring = ring, .number_of_ibs = 1, .ibs = &ib
	};
	struct amdgpu_cs_fence fence = { .context = g->ctx[c],
					 .ip_type = AMDGPU_HW_IP_DMA,
					 .ring = ring };
	uint32_t expired = 0;
	int r;

	r = amdgpu_cs_submit(g->ctx[c], 0, &req, 1);
	if (r)
		return r;
	if (seq)
		*seq = req.seq_no;
	if (!wait)
		return 0;
	fence.fence = req.seq_no;
	r = amdgpu_cs_query_fence_status(&fence, AMDGPU_TIMEOUT_INFINITE, 0, &expired);
	if (!r && !expired)
		r = -ETIME;
	return r;
}

/* EXPECT: device init and queries report the emulated MI210-like GPU; the sysfs tree libdrm
 * reads gives its PCI identity; two nodes are two devices. */
static void test_init(struct gpu *g0, struct gpu *g1)
{
	struct drm_amdgpu_info_hw_ip ip;
	struct amdgpu_gpu_info info;
	struct amdgpu_heap_info heap;
	drmDevicePtr d = NULL;
	uint32_t ver = 0, feat = 0, count = 0;
	struct stat st;

	CHECK_EQ_INT(fstat(g0->fd, &st), 0);
	CHECK(S_ISCHR(st.st_mode));
	CHECK_EQ_INT(major(st.st_rdev), 226);
	CHECK_EQ_INT(minor(st.st_rdev), 128);
	CHECK_EQ_INT(drmGetNodeTypeFromFd(g0->fd), DRM_NODE_RENDER);
	CHECK(g0->dev != g1->dev);

	CHECK_EQ_INT(amdgpu_query_gpu_info(g0->dev, &info), 0);
	CHECK_EQ_INT(info.asic_id, 0x740f);
	CHECK_EQ_INT(info.family_id, AMDGPU_FAMILY_AI);
	/* SDMA instances since "drm/amdgpu: update IP count INFO query" (2023). */
	CHECK_EQ_INT(amdgpu_query_hw_ip_count(g0->dev, AMDGPU_HW_IP_DMA, &count), 0);
	CHECK_EQ_INT(count, 2);
	CHECK_EQ_INT(amdgpu_query_hw_ip_info(g0->dev, AMDGPU_HW_IP_DMA, 0, &ip), 0);
	CHECK_EQ_INT(ip.hw_ip_version_major, 4);
	CHECK_EQ_INT(ip.available_rings, 0x3); /* 2 SDMA engines by default */
	CHECK_EQ_INT(amdgpu_query_firmware_version(g0->dev, AMDGPU_INFO_FW_SDMA, 0, 0, &ver, &feat),
		     0);
	CHECK_EQ_INT(ver, 8);
	CHECK_EQ_INT(amdgpu_query_firmware_version(g0->dev, AMDGPU_INFO_FW_SDMA, 0, 2, &ver, &feat),
		     -EINVAL);
	CHECK_EQ_INT(amdgpu_query_heap_info(g0->dev, AMDGPU_GEM_DOMAIN_VRAM, 0, &heap), 0);
	CHECK_EQ_INT(heap.heap_size, 64 << 20);

	CHECK_EQ_INT(drmGetDevice2(g1->fd, 0, &d), 0);
	if (d) {
		CHECK_EQ_INT(d->bustype, DRM_BUS_PCI);
		CHECK_EQ_INT(d->deviceinfo.pci->vendor_id, 0x1002);
		CHECK_EQ_INT(d->deviceinfo.pci->device_id, 0x740f);
		CHECK_EQ_INT(d->businfo.pci->bus, 4);
		CHECK(d->available_nodes & (1 << DRM_NODE_RENDER));
		drmFreeDevice(&d);
	}
}

struct bufs {
	size_t size;
	int memfd;
	uint8_t *vram_cpu; /* the dma-buf, mapped here to check the bytes */
	uint8_t *host;
	amdgpu_bo_handle vram, user;
	uint64_t vram_va, host_va;
	amdgpu_va_handle vram_vah, host_vah;
};

static void bufs_make(struct gpu *g, struct bufs *b, size_t size)
{
	struct amdgpu_bo_import_result imp = { 0 };

	b->size = size;
	/* A dma-buf as the emulator's daemon exports them for KFD BOs: a memfd. */
	b->memfd = memfd_create("test-vram", MFD_CLOEXEC);
	CHECK(b->memfd >= 0);
	CHECK_EQ_INT(ftruncate(b->memfd, (off_t)size), 0);
	b->vram_cpu = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b->memfd, 0);
	CHECK(b->vram_cpu != MAP_FAILED);
	CHECK_EQ_INT(amdgpu_bo_import(g->dev, amdgpu_bo_handle_type_dma_buf_fd, (uint32_t)b->memfd,
				      &imp),
		     0);
	CHECK_EQ_INT(imp.alloc_size, size);
	b->vram = imp.buf_handle;
	b->host = aligned_alloc(4096, size);
	CHECK(b->host != NULL);
	memset(b->host, 0, size);
	CHECK_EQ_INT(amdgpu_create_bo_from_user_mem(g->dev, b->host, size, &b->user), 0);
	b->vram_va = map_bo(g, b->vram, size, &b->vram_vah);
	b->host_va = map_bo(g, b->user, size, &b->host_vah);
}

static void bufs_free(struct bufs *b)
{
	CHECK_EQ_INT(amdgpu_bo_va_op(b->vram, 0, b->size, b->vram_va, 0, AMDGPU_VA_OP_UNMAP), 0);
	CHECK_EQ_INT(amdgpu_bo_va_op(b->user, 0, b->size, b->host_va, 0, AMDGPU_VA_OP_UNMAP), 0);
	amdgpu_va_range_free(b->vram_vah);
	amdgpu_va_range_free(b->host_vah);
	amdgpu_bo_free(b->vram);
	amdgpu_bo_free(b->user);
	munmap(b->vram_cpu, b->size);
	close(b->memfd);
	free(b->host);
}

/* EXPECT: VRAM -> userptr and userptr -> VRAM copies of random bytes at odd sizes and offsets
 * (several 4 MiB packets) land exactly, and nothing around them changes. */
static void test_copy_both_ways(struct gpu *g, struct bufs *b)
{
	const size_t so = 3, doff = 5, len = b->size - 4096 - 7;
	union drm_amdgpu_cs cs;
	struct drm_amdgpu_cs_chunk chunk;
	struct drm_amdgpu_cs_chunk_data data;
	uint64_t seq = 0;
	size_t n;

	fill_random(b->vram_cpu, b->size);
	memset(b->host, 0xa5, b->size);
	n = emit_copy(g->ib, b->vram_va + so, b->host_va + doff, len);
	CHECK(n > 7); /* more than one packet */
	CHECK_EQ_INT(submit(g, 0, 0, 0, n, &seq, true), 0);
	CHECK(memcmp(b->host + doff, b->vram_cpu + so, len) == 0);
	CHECK_EQ_INT(b->host[doff - 1], 0xa5);
	CHECK_EQ_INT(b->host[doff + len], 0xa5);

	/* Back, through amdgpu_cs_submit_raw2 with a hand-built IB chunk. */
	fill_random(b->host, b->size);
	memset(b->vram_cpu, 0x3c, b->size);
	n = emit_copy(g->ib, b->host_va + 1, b->vram_va + 4093, len);
	memset(&chunk, 0, sizeof(chunk));
	memset(&data, 0, sizeof(data));
	chunk.chunk_id = AMDGPU_CHUNK_ID_IB;
	chunk.length_dw = sizeof(struct drm_amdgpu_cs_chunk_ib) / 4;
	chunk.chunk_data = (uintptr_t)&data;
	data.ib_data.va_start = g->ib_va;
	data.ib_data.ib_bytes = (uint32_t)n * 4;
	data.ib_data.ip_type = AMDGPU_HW_IP_DMA;
	data.ib_data.ring = 1;
	CHECK_EQ_INT(amdgpu_cs_submit_raw2(g->dev, g->ctx[0], 0, 1, &chunk, &seq), 0);
	{
		struct amdgpu_cs_fence f = {
			.context = g->ctx[0], .ip_type = AMDGPU_HW_IP_DMA, .ring = 1, .fence = seq
		};
		uint32_t expired = 0;

		CHECK_EQ_INT(amdgpu_cs_query_fence_status(&f, AMDGPU_TIMEOUT_INFINITE, 0, &expired),
			     0);
		CHECK_EQ_INT(expired, 1);
	}
	CHECK(memcmp(b->vram_cpu + 4093, b->host + 1, len) == 0);
	CHECK_EQ_INT(b->vram_cpu[4092], 0x3c);
	CHECK_EQ_INT(b->vram_cpu[4093 + len], 0x3c);
	(void)cs;
}

/* EXPECT: four entities (2 contexts x 2 rings) copying disjoint slices at once all land. */
static void test_rings_at_once(struct gpu *g, struct bufs *b)
{
	struct amdgpu_cs_fence fences[4];
	size_t slice = b->size / 4, off = 0;
	uint32_t expired = 0, first = 0;

	fill_random(b->vram_cpu, b->size);
	memset(b->host, 0, b->size);
	for (int i = 0; i < 4; i++) {
		size_t ndw = emit_copy(g->ib + off / 4, b->vram_va + i * slice,
				       b->host_va + i * slice, slice - (size_t)i);
		uint64_t seq = 0;

		CHECK_EQ_INT(submit(g, i / 2, i % 2, off, ndw, &seq, false), 0);
		fences[i] = (struct amdgpu_cs_fence){ .context = g->ctx[i / 2],
						      .ip_type = AMDGPU_HW_IP_DMA,
						      .ring = i % 2,
						      .fence = seq };
		off += (ndw * 4 + 255) & ~(size_t)255;
	}
	CHECK_EQ_INT(
		amdgpu_cs_wait_fences(fences, 4, true, AMDGPU_TIMEOUT_INFINITE, &expired, &first),
		0);
	CHECK_EQ_INT(expired, 1);
	for (int i = 0; i < 4; i++) {
		CHECK(memcmp(b->host + i * slice, b->vram_cpu + i * slice, slice - (size_t)i) == 0);
		if (i)
			CHECK_EQ_INT(b->host[i * slice + slice - i], 0);
	}
}

/* EXPECT: malformed packets, out-of-bounds and unmapped addresses fail the submission, and
 * nothing is written; the kernel's argument checks give its errnos. */
static void test_rejects(struct gpu *g, struct bufs *b)
{
	struct drm_amdgpu_gem_va va;
	amdgpu_bo_handle bo;
	size_t n;
	void *p;

	memset(b->host, 0, b->size);
	fill_random(b->vram_cpu, b->size);
	/* Unknown opcode after a valid copy: the whole IB is refused, the copy did not run. */
	n = emit_copy(g->ib, b->vram_va, b->host_va, 4096);
	g->ib[n++] = 0x63;
	CHECK_EQ_INT(submit(g, 0, 0, 0, n, NULL, true), -EINVAL);
	CHECK_EQ_INT(b->host[0], 0);
	/* A count beyond the 30 bits of the default GPU's SDMA 4.4 (emu_sdma_exec.c). */
	n = emit_copy(g->ib, b->vram_va, b->host_va, 4096);
	g->ib[1] = 1u << 30;
	CHECK_EQ_INT(submit(g, 0, 0, 0, n, NULL, true), -EINVAL);
	/* One byte past the end of the userptr BO's mapping (the last VA range allocated; the
	 * VRAM BO's range is followed by it, so running off VRAM lands in mapped memory, as on
	 * hardware). Nothing is written, not even the part that fits. */
	n = emit_copy(g->ib, b->vram_va, b->host_va + 1, b->size);
	CHECK_EQ_INT(submit(g, 0, 0, 0, n, NULL, true), -EFAULT);
	CHECK_EQ_INT(b->host[1], 0);
	CHECK_EQ_INT(b->host[b->size / 2], 0);
	/* An unmapped destination. */
	n = emit_copy(g->ib, b->vram_va, 0x7f0000000000ull, 4096);
	CHECK_EQ_INT(submit(g, 0, 0, 0, n, NULL, true), -EFAULT);
	/* A truncated packet. */
	n = emit_copy(g->ib, b->vram_va, b->host_va, 4096);
	CHECK_EQ_INT(submit(g, 0, 0, 0, n - 2, NULL, true), -EINVAL);
	/* Ring 2 of the DMA IP: contexts have 2 DMA entities (amdgpu_ctx_num_entities). */
	n = emit_copy(g->ib, b->vram_va, b->host_va, 4096);
	CHECK_EQ_INT(submit(g, 0, 2, 0, n, NULL, true), -EINVAL);
	/* An IB not 32-byte aligned. */
	CHECK_EQ_INT(submit(g, 0, 0, 4, n, NULL, true), -EINVAL);

	/* amdgpu_gem_userptr_ioctl: unaligned address -EINVAL. */
	CHECK_EQ_INT(amdgpu_create_bo_from_user_mem(g->dev, b->host + 8, 4096, &bo), -EINVAL);
	/* ... and, with ANONONLY, a file-backed mapping -EPERM (amdgpu_ttm_tt_get_user_pages). */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, b->memfd, 0);
	CHECK(p != MAP_FAILED);
	CHECK_EQ_INT(amdgpu_create_bo_from_user_mem(g->dev, p, 4096, &bo), -EPERM);
	munmap(p, 4096);
	/* amdgpu_vm_bo_map: overlapping an existing mapping is -EINVAL. */
	CHECK_EQ_INT(amdgpu_bo_va_op(b->user, 0, 4096, b->vram_va + 8192, 0, AMDGPU_VA_OP_MAP),
		     -EINVAL);
	/* ... an offset past the BO -EINVAL; unmapping where nothing is mapped -ENOENT. */
	CHECK_EQ_INT(
		amdgpu_bo_va_op(b->user, b->size, 4096, 0x7f0000000000ull, 0, AMDGPU_VA_OP_MAP),
		-EINVAL);
	CHECK_EQ_INT(amdgpu_bo_va_op(b->user, 0, 4096, 0x7f0000000000ull, 0, AMDGPU_VA_OP_UNMAP),
		     -ENOENT);
	/* amdgpu_gem_va_ioctl: an unknown handle -ENOENT; the reserved bottom -EINVAL. */
	memset(&va, 0, sizeof(va));
	va.handle = 0xdead;
	va.operation = AMDGPU_VA_OP_MAP;
	va.flags = AMDGPU_VM_PAGE_READABLE;
	va.va_address = 0x7f0000000000ull;
	va.map_size = 4096;
	CHECK_EQ_INT(drmCommandWriteRead(g->fd, DRM_AMDGPU_GEM_VA, &va, sizeof(va)), -ENOENT);
	va.va_address = 4096;
	CHECK_EQ_INT(drmCommandWriteRead(g->fd, DRM_AMDGPU_GEM_VA, &va, sizeof(va)), -EINVAL);
	/* drm_gem_handle_delete: closing an unknown handle -EINVAL. */
	errno = 0;
	CHECK_EQ_INT(drmCloseBufferHandle(g->fd, 0xdead), -1);
	CHECK_EQ_INT(errno, EINVAL);
	/* amdgpu_mode_dumb_mmap: CPU mapping a userptr BO -EPERM. */
	CHECK_EQ_INT(amdgpu_bo_cpu_map(b->user, &p), -EPERM);
}

/* EXPECT: the second GPU's VM does not contain the first GPU's mappings. */
static void test_gpus_apart(struct gpu *g0, struct gpu *g1, struct bufs *b)
{
	size_t n;

	memset(b->host, 0, b->size);
	fill_random(b->vram_cpu, 4096);
	n = emit_copy(g1->ib, b->vram_va, b->host_va, 4096);
	CHECK_EQ_INT(submit(g1, 0, 0, 0, n, NULL, true), -EFAULT);
	CHECK_EQ_INT(b->host[0], 0);
	/* The same IB on the first GPU works. */
	memcpy(g0->ib, g1->ib, n * 4);
	CHECK_EQ_INT(submit(g0, 0, 0, 0, n, NULL, true), 0);
	CHECK(memcmp(b->host, b->vram_cpu, 4096) == 0);
}

static size_t emit_poll_eq(uint32_t *ib, uint64_t va, uint32_t ref)
{
	/* POLL_REGMEM (sdma_v4_0_wait_reg_mem): memory poll, function 3 (equal). */
	ib[0] = 8 | (3u << 28) | (1u << 31);
	ib[1] = (uint32_t)va;
	ib[2] = (uint32_t)(va >> 32);
	ib[3] = ref;
	ib[4] = 0xffffffffu;
	ib[5] = (0xfffu << 16) | 10;
	return 6;
}

static size_t emit_fence(uint32_t *ib, uint64_t va, uint32_t value)
{
	ib[0] = OP_FENCE;
	ib[1] = (uint32_t)va;
	ib[2] = (uint32_t)(va >> 32);
	ib[3] = value;
	return 4;
}

/* EXPECT: a job waiting in POLL_REGMEM reports busy; a job depending on it does not run
 * before it; both complete once the CPU writes the value; a user fence receives the
 * sequence number; a mapping removed while a job waits makes that job's fence fail
 * with -EFAULT, reported by the wait. */
static void test_fences(struct gpu *g, struct bufs *b)
{
	volatile uint32_t *flag = (volatile uint32_t *)((uint8_t *)g->ib + 0x80000);
	uint64_t flag_va = g->ib_va + 0x80000, seq_a = 0, seq_b = 0;
	struct amdgpu_cs_ib_info ib = { .ib_mc_address = g->ib_va + 4096 };
	struct amdgpu_cs_request req = { .ip_type = AMDGPU_HW_IP_DMA,
					 .number_of_ibs = 1,
					 .ibs = &ib };
	struct amdgpu_cs_fence fa = { .context = g->ctx[0], .ip_type = AMDGPU_HW_IP_DMA };
	struct amdgpu_cs_fence fb = { .context = g->ctx[1], .ip_type = AMDGPU_HW_IP_DMA };
	struct amdgpu_bo_alloc_request fr = { .alloc_size = 4096,
					      .phys_alignment = 4096,
					      .preferred_heap = AMDGPU_GEM_DOMAIN_GTT };
	amdgpu_bo_handle fence_bo, x_bo;
	amdgpu_va_handle x_vah;
	uint64_t x_va;
	uint32_t expired = 0;
	void *fcpu = NULL;
	size_t n;

	flag[0] = 0;
	flag[1] = 0;
	fill_random(b->vram_cpu, 4096);
	memset(b->host, 0, 8192);
	n = emit_poll_eq(g->ib, flag_va, 1);
	n += emit_copy(g->ib + n, b->vram_va, b->host_va, 4096);
	CHECK_EQ_INT(submit(g, 0, 0, 0, n, &seq_a, false), 0);
	fa.fence = seq_a;
	CHECK_EQ_INT(amdgpu_cs_query_fence_status(&fa, 0, 0, &expired), 0);
	CHECK_EQ_INT(expired, 0);

	/* B on another context depends on A and writes flag[1]; it has a user fence. */
	CHECK_EQ_INT(amdgpu_bo_alloc(g->dev, &fr, &fence_bo), 0);
	CHECK_EQ_INT(amdgpu_bo_cpu_map(fence_bo, &fcpu), 0);
	memset(fcpu, 0, 4096);
	ib.size = (uint32_t)emit_fence(g->ib + 1024, flag_va + 4, 0x1234);
	req.number_of_dependencies = 1;
	req.dependencies = &fa;
	req.fence_info.handle = fence_bo;
	req.fence_info.offset = 2; /* in 64-bit units */
	CHECK_EQ_INT(amdgpu_cs_submit(g->ctx[1], 0, &req, 1), 0);
	seq_b = req.seq_no;
	fb.fence = seq_b;
	usleep(20000);
	CHECK_EQ_INT(flag[1], 0);
	CHECK_EQ_INT(amdgpu_cs_query_fence_status(&fb, 0, 0, &expired), 0);
	CHECK_EQ_INT(expired, 0);

	flag[0] = 1;
	CHECK_EQ_INT(amdgpu_cs_query_fence_status(&fb, AMDGPU_TIMEOUT_INFINITE, 0, &expired), 0);
	CHECK_EQ_INT(expired, 1);
	CHECK_EQ_INT(flag[1], 0x1234);
	CHECK_EQ_INT(((volatile uint64_t *)fcpu)[2], seq_b);
	CHECK_EQ_INT(amdgpu_cs_query_fence_status(&fa, 0, 0, &expired), 0);
	CHECK_EQ_INT(expired, 1);
	CHECK(memcmp(b->host, b->vram_cpu, 4096) == 0);
	amdgpu_bo_cpu_unmap(fence_bo);
	amdgpu_bo_free(fence_bo);

	/* A job that waits, then copies from a BO unmapped meanwhile, fails at run time. */
	CHECK_EQ_INT(amdgpu_bo_alloc(g->dev, &fr, &x_bo), 0);
	x_va = map_bo(g, x_bo, 4096, &x_vah);
	flag[0] = 0;
	n = emit_poll_eq(g->ib, flag_va, 2);
	n += emit_copy(g->ib + n, x_va, b->host_va + 4096, 4096);
	CHECK_EQ_INT(submit(g, 0, 0, 0, n, &seq_a, false), 0);
	CHECK_EQ_INT(amdgpu_bo_va_op(x_bo, 0, 4096, x_va, 0, AMDGPU_VA_OP_UNMAP), 0);
	flag[0] = 2;
	fa.fence = seq_a;
	CHECK_EQ_INT(amdgpu_cs_query_fence_status(&fa, AMDGPU_TIMEOUT_INFINITE, 0, &expired),
		     -EFAULT);
	amdgpu_va_range_free(x_vah);
	amdgpu_bo_free(x_bo);
}

/* EXPECT: a VRAM BO made with AMDGPU_GEM_CREATE_NO_CPU_ACCESS has no CPU mapping, and none
 * appears in the process while an SDMA job on it is in flight (waiting in a POLL_REGMEM
 * before its copies), as hardware SDMA reaches VRAM without one (amdgpu_gem_object_mmap
 * refuses such BOs); the job's copies into the BO, within it and out of it land exactly;
 * a user fence in such a BO receives the job's sequence number. */
static void test_no_cpu_access(struct gpu *g, struct bufs *b)
{
	const size_t size = (2u << 20) + 4096, len = (1u << 20) + 3;
	volatile uint32_t *flag = (volatile uint32_t *)((uint8_t *)g->ib + 0x80000);
	uint64_t flag_va = g->ib_va + 0x80000, seq = 0, nca_va, fence_va, got_seq = 0;
	struct amdgpu_bo_alloc_request req = { .alloc_size = size,
					       .phys_alignment = 4096,
					       .preferred_heap = AMDGPU_GEM_DOMAIN_VRAM,
					       .flags = AMDGPU_GEM_CREATE_NO_CPU_ACCESS };
	struct amdgpu_cs_ib_info ib = { .ib_mc_address = g->ib_va };
	struct amdgpu_cs_request cs = { .ip_type = AMDGPU_HW_IP_DMA,
					.number_of_ibs = 1,
					.ibs = &ib };
	struct amdgpu_cs_fence f = { .context = g->ctx[0], .ip_type = AMDGPU_HW_IP_DMA };
	static char before[1 << 16], during[1 << 16];
	amdgpu_bo_handle nca, fence_bo;
	amdgpu_va_handle nca_vah, fence_vah;
	uint32_t expired = 0;
	void *cpu = NULL;
	size_t n;

	CHECK_EQ_INT(amdgpu_bo_alloc(g->dev, &req, &nca), 0);
	CHECK(amdgpu_bo_cpu_map(nca, &cpu) != 0); /* GEM_MMAP: -EPERM */
	nca_va = map_bo(g, nca, size, &nca_vah);
	req.alloc_size = 4096;
	CHECK_EQ_INT(amdgpu_bo_alloc(g->dev, &req, &fence_bo), 0);
	fence_va = map_bo(g, fence_bo, 4096, &fence_vah);

	fill_random(b->host, 2 * len);
	memset(b->host + 2 * len, 0x5a, 2 * len);
	flag[0] = 0;
	n = emit_poll_eq(g->ib, flag_va, 3);
	n += emit_copy(g->ib + n, b->host_va, nca_va + 7, len);
	n += emit_copy(g->ib + n, nca_va + 7, nca_va + 7 + len, len);
	n += emit_copy(g->ib + n, nca_va + 7 + len, b->host_va + 2 * len + 1, len);
	ib.size = (uint32_t)n;
	cs.fence_info.handle = fence_bo;
	cs.fence_info.offset = 2; /* in 64-bit units */

	emu_maps_read(before, sizeof(before));
	CHECK_EQ_INT(amdgpu_cs_submit(g->ctx[0], 0, &cs, 1), 0);
	seq = cs.seq_no;
	f.fence = seq;
	CHECK_EQ_INT(amdgpu_cs_query_fence_status(&f, 0, 0, &expired), 0);
	CHECK_EQ_INT(expired, 0);
	/* What criu would see if it froze the process now. */
	emu_maps_read(during, sizeof(during));
	emu_maps_same(before, during, "the job");

	flag[0] = 3;
	CHECK_EQ_INT(amdgpu_cs_query_fence_status(&f, AMDGPU_TIMEOUT_INFINITE, 0, &expired), 0);
	CHECK_EQ_INT(expired, 1);
	CHECK(memcmp(b->host + 2 * len + 1, b->host, len) == 0);
	CHECK_EQ_INT(b->host[2 * len], 0x5a);
	CHECK_EQ_INT(b->host[3 * len + 1], 0x5a);

	/* The fence value went into the BO after the job's packets; read it back. */
	n = emit_copy(g->ib, fence_va + 16, b->host_va + 4 * len, 8);
	CHECK_EQ_INT(submit(g, 0, 0, 0, n, NULL, true), 0);
	memcpy(&got_seq, b->host + 4 * len, 8);
	CHECK_EQ_INT(got_seq, seq);
	emu_maps_read(during, sizeof(during));
	emu_maps_same(before, during, "the job");

	CHECK_EQ_INT(amdgpu_bo_va_op(nca, 0, size, nca_va, 0, AMDGPU_VA_OP_UNMAP), 0);
	CHECK_EQ_INT(amdgpu_bo_va_op(fence_bo, 0, 4096, fence_va, 0, AMDGPU_VA_OP_UNMAP), 0);
	amdgpu_va_range_free(nca_vah);
	amdgpu_va_range_free(fence_vah);
	amdgpu_bo_free(nca);
	amdgpu_bo_free(fence_bo);
}

/* A GEM BO of @size bytes made in a render file of its own on @node (a separate open, so the
 * importer's file does not own it), filled with random bytes through its CPU mapping; its
 * dma-buf in *@dmabuf, its bytes in @bytes. */
static void exporter_make(const char *node, size_t size, uint8_t *bytes, int *file, int *dmabuf)
{
	union drm_amdgpu_gem_create create;
	union drm_amdgpu_gem_mmap mm;
	struct drm_prime_handle prime;
	void *cpu;

	*file = open(node, O_RDWR | O_CLOEXEC);
	CHECK(*file >= 0);
	memset(&create, 0, sizeof(create));
	create.in.bo_size = size;
	create.in.alignment = 4096;
	create.in.domains = AMDGPU_GEM_DOMAIN_VRAM;
	CHECK_EQ_INT(drmCommandWriteRead(*file, DRM_AMDGPU_GEM_CREATE, &create, sizeof(create)), 0);
	memset(&mm, 0, sizeof(mm));
	mm.in.handle = create.out.handle;
	CHECK_EQ_INT(drmCommandWriteRead(*file, DRM_AMDGPU_GEM_MMAP, &mm, sizeof(mm)), 0);
	cpu = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *file, (off_t)mm.out.addr_ptr);
	CHECK(cpu != MAP_FAILED);
	fill_random(bytes, size);
	if (cpu != MAP_FAILED) {
		memcpy(cpu, bytes, size);
		munmap(cpu, size);
	}
	memset(&prime, 0, sizeof(prime));
	prime.handle = create.out.handle;
	prime.flags = DRM_CLOEXEC | DRM_RDWR;
	CHECK_EQ_INT(drmIoctl(*file, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime), 0);
	*dmabuf = prime.fd;
}

/* EXPECT: an imported dma-buf is not mapped in the importing process (amdgpu_dma_buf.c:
 * amdgpu_gem_prime_import maps nothing), neither after the import nor while an SDMA job
 * copies into it, within it and out of it; for a GEM BO of another file of the same GPU and
 * of another GPU alike. The bytes land exactly, as the exporter sees them. */
static void test_import_unmapped(struct gpu *g0, struct gpu *g1, struct bufs *b)
{
	const size_t size = (2u << 20) + 4096, len = (1u << 20) + 3;
	volatile uint32_t *flag = (volatile uint32_t *)((uint8_t *)g0->ib + 0x80000);
	uint64_t flag_va = g0->ib_va + 0x80000, imp_va, imp1_va, host1_va;
	struct amdgpu_cs_ib_info ib = { .ib_mc_address = g0->ib_va };
	struct amdgpu_cs_request cs = { .ip_type = AMDGPU_HW_IP_DMA,
					.number_of_ibs = 1,
					.ibs = &ib };
	struct amdgpu_cs_fence f = { .context = g0->ctx[0], .ip_type = AMDGPU_HW_IP_DMA };
	struct amdgpu_bo_import_result imp = { 0 }, imp1 = { 0 };
	static char before[1 << 16], during[1 << 16];
	amdgpu_va_handle imp_vah, imp1_vah, host1_vah;
	amdgpu_bo_handle host1_bo;
	uint8_t *bytes = malloc(size), *host1 = aligned_alloc(4096, size), *back;
	int exp_file, dmabuf;
	uint32_t expired = 0;
	size_t n;

	CHECK(bytes && host1);
	exporter_make("/dev/dri/renderD128", size, bytes, &exp_file, &dmabuf);
	if (test_failures)
		return;
	emu_maps_read(before, sizeof(before));
	CHECK_EQ_INT(
		amdgpu_bo_import(g0->dev, amdgpu_bo_handle_type_dma_buf_fd, (uint32_t)dmabuf, &imp),
		0);
	CHECK_EQ_INT(amdgpu_bo_import(g1->dev, amdgpu_bo_handle_type_dma_buf_fd, (uint32_t)dmabuf,
				      &imp1),
		     0);
	emu_maps_read(during, sizeof(during));
	emu_maps_same(before, during, "the imports");
	imp_va = map_bo(g0, imp.buf_handle, size, &imp_vah);

	/* GPU 0: host -> import, import -> import, import -> host, behind a poll. */
	fill_random(b->host, 2 * len);
	memset(b->host + 2 * len, 0x5a, 2 * len);
	flag[0] = 0;
	n = emit_poll_eq(g0->ib, flag_va, 3);
	n += emit_copy(g0->ib + n, b->host_va, imp_va + 7, len);
	n += emit_copy(g0->ib + n, imp_va + 7, imp_va + 7 + len, len);
	n += emit_copy(g0->ib + n, imp_va + 7 + len, b->host_va + 2 * len + 1, len);
	ib.size = (uint32_t)n;
	CHECK_EQ_INT(amdgpu_cs_submit(g0->ctx[0], 0, &cs, 1), 0);
	f.fence = cs.seq_no;
	CHECK_EQ_INT(amdgpu_cs_query_fence_status(&f, 0, 0, &expired), 0);
	CHECK_EQ_INT(expired, 0);
	/* What criu would see if it froze the process now. */
	emu_maps_read(during, sizeof(during));
	emu_maps_same(before, during, "the job");
	flag[0] = 3;
	CHECK_EQ_INT(amdgpu_cs_query_fence_status(&f, AMDGPU_TIMEOUT_INFINITE, 0, &expired), 0);
	CHECK_EQ_INT(expired, 1);
	CHECK(memcmp(b->host + 2 * len + 1, b->host, len) == 0);
	CHECK_EQ_INT(b->host[2 * len], 0x5a);
	CHECK_EQ_INT(b->host[3 * len + 1], 0x5a);
	/* The exporter's BO holds what the job wrote, and its bytes around it. */
	memcpy(bytes + 7, b->host, len);
	memcpy(bytes + 7 + len, b->host, len);
	back = mmap(NULL, size, PROT_READ, MAP_SHARED, dmabuf, 0);
	CHECK(back != MAP_FAILED);
	if (back != MAP_FAILED) {
		CHECK(memcmp(back, bytes, size) == 0);
		munmap(back, size);
	}

	/* GPU 1 reads the same buffer, GPU 0's, through its own import. */
	memset(host1, 0, size);
	CHECK_EQ_INT(amdgpu_create_bo_from_user_mem(g1->dev, host1, size, &host1_bo), 0);
	imp1_va = map_bo(g1, imp1.buf_handle, size, &imp1_vah);
	host1_va = map_bo(g1, host1_bo, size, &host1_vah);
	n = emit_copy(g1->ib, imp1_va, host1_va, size);
	emu_maps_read(before, sizeof(before));
	CHECK_EQ_INT(submit(g1, 0, 0, 0, n, NULL, true), 0);
	CHECK(memcmp(host1, bytes, size) == 0);
	emu_maps_read(during, sizeof(during));
	emu_maps_same(before, during, "the job");

	CHECK_EQ_INT(amdgpu_bo_va_op(imp.buf_handle, 0, size, imp_va, 0, AMDGPU_VA_OP_UNMAP), 0);
	CHECK_EQ_INT(amdgpu_bo_va_op(imp1.buf_handle, 0, size, imp1_va, 0, AMDGPU_VA_OP_UNMAP), 0);
	CHECK_EQ_INT(amdgpu_bo_va_op(host1_bo, 0, size, host1_va, 0, AMDGPU_VA_OP_UNMAP), 0);
	amdgpu_va_range_free(imp_vah);
	amdgpu_va_range_free(imp1_vah);
	amdgpu_va_range_free(host1_vah);
	amdgpu_bo_free(imp.buf_handle);
	amdgpu_bo_free(imp1.buf_handle);
	amdgpu_bo_free(host1_bo);
	close(dmabuf);
	close(exp_file);
	free(bytes);
	free(host1);
}

/* EXPECT: a GEM BO made on one GPU, exported as a dma-buf and imported on the other, is the
 * same memory: SDMA on the second GPU reads what the CPU wrote through the first one's mmap;
 * a BO list names BOs of the file, and an unknown list is -ENOENT. */
static void test_prime_and_lists(struct gpu *g0, struct gpu *g1, struct bufs *b)
{
	struct amdgpu_bo_alloc_request req = { .alloc_size = 3 * 4096 + 100,
					       .phys_alignment = 4096,
					       .preferred_heap = AMDGPU_GEM_DOMAIN_VRAM };
	struct amdgpu_bo_import_result imp = { 0 };
	struct drm_amdgpu_cs_chunk chunk;
	struct drm_amdgpu_cs_chunk_data data;
	amdgpu_bo_handle bo, list_bos[2];
	amdgpu_bo_list_handle list;
	amdgpu_va_handle vah_host, vah_bo;
	uint64_t va_host, va_bo, seq = 0;
	uint32_t shared = 0;
	void *cpu = NULL;
	uint8_t *host;
	size_t n;

	CHECK_EQ_INT(amdgpu_bo_alloc(g0->dev, &req, &bo), 0);
	CHECK_EQ_INT(amdgpu_bo_cpu_map(bo, &cpu), 0);
	fill_random(cpu, 3 * 4096);
	CHECK_EQ_INT(amdgpu_bo_export(bo, amdgpu_bo_handle_type_dma_buf_fd, &shared), 0);
	CHECK_EQ_INT(amdgpu_bo_import(g1->dev, amdgpu_bo_handle_type_dma_buf_fd, shared, &imp), 0);
	CHECK_EQ_INT(imp.alloc_size, 4 * 4096);

	host = aligned_alloc(4096, 4 * 4096);
	memset(host, 0, 4 * 4096);
	CHECK_EQ_INT(amdgpu_create_bo_from_user_mem(g1->dev, host, 4 * 4096, &list_bos[1]), 0);
	list_bos[0] = imp.buf_handle;
	va_bo = map_bo(g1, imp.buf_handle, 4 * 4096, &vah_bo);
	va_host = map_bo(g1, list_bos[1], 4 * 4096, &vah_host);
	CHECK_EQ_INT(amdgpu_bo_list_create(g1->dev, 2, list_bos, NULL, &list), 0);
	{
		struct amdgpu_cs_ib_info ib = { .ib_mc_address = g1->ib_va };
		struct amdgpu_cs_request r = { .ip_type = AMDGPU_HW_IP_DMA,
					       .number_of_ibs = 1,
					       .ibs = &ib,
					       .resources = list };
		struct amdgpu_cs_fence f = { .context = g1->ctx[0], .ip_type = AMDGPU_HW_IP_DMA };
		uint32_t expired = 0;

		ib.size = (uint32_t)emit_copy(g1->ib, va_bo, va_host, 3 * 4096);
		CHECK_EQ_INT(amdgpu_cs_submit(g1->ctx[0], 0, &r, 1), 0);
		f.fence = r.seq_no;
		CHECK_EQ_INT(amdgpu_cs_query_fence_status(&f, AMDGPU_TIMEOUT_INFINITE, 0, &expired),
			     0);
		CHECK(memcmp(host, cpu, 3 * 4096) == 0);
	}
	/* amdgpu_cs_parser_bos: an unknown BO list handle -ENOENT. */
	n = emit_copy(g1->ib, va_bo, va_host, 4096);
	memset(&chunk, 0, sizeof(chunk));
	memset(&data, 0, sizeof(data));
	chunk.chunk_id = AMDGPU_CHUNK_ID_IB;
	chunk.length_dw = sizeof(struct drm_amdgpu_cs_chunk_ib) / 4;
	chunk.chunk_data = (uintptr_t)&data;
	data.ib_data.va_start = g1->ib_va;
	data.ib_data.ib_bytes = (uint32_t)n * 4;
	data.ib_data.ip_type = AMDGPU_HW_IP_DMA;
	CHECK_EQ_INT(amdgpu_cs_submit_raw2(g1->dev, g1->ctx[0], 0xdead, 1, &chunk, &seq), -ENOENT);
	/* ... and a GFX IB is not executed by the emulator (it reports no GFX rings). */
	data.ib_data.ip_type = AMDGPU_HW_IP_GFX;
	CHECK_EQ_INT(amdgpu_cs_submit_raw2(g1->dev, g1->ctx[0], 0, 1, &chunk, &seq), -EINVAL);
	/* A userptr BO cannot be exported (amdgpu_gem_prime_export: EPERM). libdrm's prime
	 * helpers return drmIoctl's -1 and leave the cause in errno. */
	errno = 0;
	CHECK(amdgpu_bo_export(list_bos[1], amdgpu_bo_handle_type_dma_buf_fd, &shared) != 0);
	CHECK_EQ_INT(errno, EPERM);
	/* PRIME import of something that is not a dma-buf: EINVAL (dma_buf_get). */
	errno = 0;
	CHECK(amdgpu_bo_import(g1->dev, amdgpu_bo_handle_type_dma_buf_fd, (uint32_t)g1->fd, &imp) !=
	      0);
	CHECK_EQ_INT(errno, EINVAL);

	CHECK_EQ_INT(amdgpu_bo_list_destroy(list), 0);
	CHECK_EQ_INT(amdgpu_bo_va_op(list_bos[0], 0, 4 * 4096, va_bo, 0, AMDGPU_VA_OP_UNMAP), 0);
	CHECK_EQ_INT(amdgpu_bo_va_op(list_bos[1], 0, 4 * 4096, va_host, 0, AMDGPU_VA_OP_UNMAP), 0);
	amdgpu_va_range_free(vah_bo);
	amdgpu_va_range_free(vah_host);
	amdgpu_bo_free(list_bos[0]);
	amdgpu_bo_free(list_bos[1]);
	amdgpu_bo_cpu_unmap(bo);
	amdgpu_bo_free(bo);
	free(host);
	(void)b;
}

struct stress_arg {
	struct gpu *g;
	struct bufs *b;
	int index;
	amdgpu_context_handle ctx;
	int failures;
};

/* One thread: its own context and IB slice, its own data slice, copies both ways. */
static void *stress_main(void *p)
{
	struct stress_arg *a = p;
	const size_t slice = 256 * 1024, len = slice - 13 * (size_t)a->index;
	uint32_t *ib = a->g->ib + (0x40000 + a->index * 4096) / 4;
	uint64_t ib_va = a->g->ib_va + 0x40000 + a->index * 4096;
	uint8_t *vram = a->b->vram_cpu + a->index * slice, *host = a->b->host + a->index * slice;
	uint64_t vram_va = a->b->vram_va + a->index * slice,
		 host_va = a->b->host_va + a->index * slice;
	uint64_t state = 0x9e3779b97f4a7c15ull * (uint64_t)(a->index + 1);

	for (int it = 0; it < 16; it++) {
		bool up = it & 1;
		struct amdgpu_cs_ib_info info = { .ib_mc_address = ib_va };
		struct amdgpu_cs_request req = { .ip_type = AMDGPU_HW_IP_DMA,
						 .ring = (unsigned int)(it + a->index) % 2,
						 .number_of_ibs = 1,
						 .ibs = &info };
		struct amdgpu_cs_fence f = { .context = a->ctx, .ip_type = AMDGPU_HW_IP_DMA };
		uint8_t *src = up ? host : vram, *dst = up ? vram : host;
		uint32_t expired = 0;

		for (size_t i = 0; i < len; i++) {
			state ^= state << 13;
			state ^= state >> 7;
			state ^= state << 17;
			src[i] = (uint8_t)state;
		}
		memset(dst, 0, len);
		info.size = (uint32_t)(up ? emit_copy(ib, host_va, vram_va, len)
					  : emit_copy(ib, vram_va, host_va, len));
		if (amdgpu_cs_submit(a->ctx, 0, &req, 1)) {
			a->failures++;
			continue;
		}
		f.ring = req.ring;
		f.fence = req.seq_no;
		if (amdgpu_cs_query_fence_status(&f, AMDGPU_TIMEOUT_INFINITE, 0, &expired) ||
		    !expired || memcmp(dst, src, len) != 0)
			a->failures++;
	}
	return NULL;
}

/* EXPECT: 6 threads, each with its own context, submitting and waiting on both rings at
 * once, all move exact bytes. */
static void test_threads(struct gpu *g, struct bufs *b)
{
	struct stress_arg args[6];
	pthread_t th[6];

	for (int i = 0; i < 6; i++) {
		args[i] = (struct stress_arg){ .g = g, .b = b, .index = i };
		CHECK_EQ_INT(amdgpu_cs_ctx_create(g->dev, &args[i].ctx), 0);
	}
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(pthread_create(&th[i], NULL, stress_main, &args[i]), 0);
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(args[i].failures, 0);
		amdgpu_cs_ctx_free(args[i].ctx);
	}
}

static void gpu_close(struct gpu *g)
{
	amdgpu_cs_ctx_free(g->ctx[0]);
	amdgpu_cs_ctx_free(g->ctx[1]);
	CHECK_EQ_INT(amdgpu_bo_va_op(g->ib_bo, 0, 1 << 20, g->ib_va, 0, AMDGPU_VA_OP_UNMAP), 0);
	amdgpu_va_range_free(g->ib_vah);
	amdgpu_bo_cpu_unmap(g->ib_bo);
	amdgpu_bo_free(g->ib_bo);
	if (g->fd != amdgpu_device_get_fd(g->dev))
		close(g->fd);
	CHECK_EQ_INT(amdgpu_device_deinitialize(g->dev), 0);
}

int main(void)
{
	struct gpu g0, g1;
	struct bufs b;

	memset(&g0, 0, sizeof(g0));
	memset(&g1, 0, sizeof(g1));
	gpu_open(&g0, "/dev/dri/renderD128", false);
	gpu_open(&g1, "/dev/dri/renderD129", true);
	if (test_failures)
		return test_finish("emu_drm_libdrm");
	test_init(&g0, &g1);
	bufs_make(&g0, &b, (9u << 20) + 4096 * 3);
	test_copy_both_ways(&g0, &b);
	test_rings_at_once(&g0, &b);
	test_threads(&g0, &b);
	test_rejects(&g0, &b);
	test_fences(&g0, &b);
	test_no_cpu_access(&g0, &b);
	test_import_unmapped(&g0, &g1, &b);
	test_gpus_apart(&g0, &g1, &b);
	test_prime_and_lists(&g0, &g1, &b);
	bufs_free(&b);
	gpu_close(&g1);
	gpu_close(&g0);
	return test_finish("emu_drm_libdrm");
}
