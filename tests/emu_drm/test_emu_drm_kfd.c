/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The whole GPU path, run under the emulator: a workload's VRAM BO, allocated through
 * KFD and filled through its CPU mapping (mmap of the render node at the BO's offset, as
 * libhsakmt maps VRAM), is exported as a dma-buf (AMDKFD_IOC_EXPORT_DMABUF), imported with
 * libdrm_amdgpu's public API, copied by SDMA into a pinned host buffer (a userptr BO) and back
 * after the host buffer changed, on both SDMA rings, byte-exact both ways. The import maps
 * nothing into the process, not even while a job on it runs (amdgpu_dma_buf.c:
 * amdgpu_gem_prime_import attaches the exporter's dma-buf, no CPU mapping). KFD keeps the
 * render file it acquired its VM from after the process closed every fd of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <amdgpu.h>
#include <amdgpu_drm.h>
#include <linux/kfd_ioctl.h>

/* AMDKFD_IOC_EXPORT_DMABUF (KFD 1.14, kernel 6.10) for older uapi headers. */
#include "emu_kfd_wire.h"

#include "emu_drm_maps.h"
#include "test_common.h"

#define COPY_MAX (1u << 22) /* SDMA 4.x COPY_LINEAR: 22-bit count of bytes - 1 */
#define BO_SIZE	 ((6u << 20) + 3 * 4096)
#define BO_VA	 0x200000000ull

static uint64_t rng_state = 0x13198a2e03707344ull;

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rng_state ^= rng_state << 13;
		rng_state ^= rng_state >> 7;
		rng_state ^= rng_state << 17;
		p[i] = (uint8_t)rng_state;
	}
}

static size_t emit_copy(uint32_t *ib, uint64_t src, uint64_t dst, uint64_t bytes)
{
	size_t n = 0;

	while (bytes) {
		uint32_t chunk = bytes > COPY_MAX ? COPY_MAX : (uint32_t)bytes;

		ib[n++] = 1; /* COPY, sub-op LINEAR (sdma_v4_0_emit_copy_buffer) */
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

static uint32_t first_gpu_id(void)
{
	FILE *f = fopen("/sys/class/kfd/kfd/topology/nodes/1/gpu_id", "r");
	unsigned int id = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%u", &id) != 1)
		id = 0;
	fclose(f);
	return id;
}

/* Copy [src, src+len) to dst on two rings (half each) and wait for both. */
static int sdma_copy(amdgpu_device_handle dev, amdgpu_context_handle ctx, uint32_t *ib,
		     uint64_t ib_va, uint64_t src, uint64_t dst, uint64_t len)
{
	struct amdgpu_cs_fence fences[2];
	uint64_t half = len / 2;
	uint32_t expired = 0, first = 0;
	int r;

	for (unsigned int ring = 0; ring < 2; ring++) {
		uint64_t off = ring ? half : 0, n = ring ? len - half : half;
		size_t ib_off = ring * 4096;
		struct amdgpu_cs_ib_info info = { .ib_mc_address = ib_va + ib_off };
		struct amdgpu_cs_request req = {
			.ip_type = AMDGPU_HW_IP_DMA, .ring = ring, .number_of_ibs = 1, .ibs = &info
		};

		info.size = (uint32_t)emit_copy(ib + ib_off / 4, src + off, dst + off, n);
		r = amdgpu_cs_submit(ctx, 0, &req, 1);
		if (r)
			return r;
		fences[ring] = (struct amdgpu_cs_fence){ .context = ctx,
							 .ip_type = AMDGPU_HW_IP_DMA,
							 .ring = ring,
							 .fence = req.seq_no };
	}
	r = amdgpu_cs_wait_fences(fences, 2, true, AMDGPU_TIMEOUT_INFINITE, &expired, &first);
	return r ? r : (expired ? 0 : -ETIME);
}

/* A copy of @len bytes that waits in a POLL_REGMEM (equal, sdma_v4_0_wait_reg_mem) until the
 * dword at @flag_va is 1; the maps seen while it waits in @during. */
static int gated_copy(amdgpu_context_handle ctx, uint32_t *ib, uint64_t ib_va,
		      volatile uint32_t *flag, uint64_t flag_va, uint64_t src, uint64_t dst,
		      uint64_t len, char *during, size_t cap)
{
	struct amdgpu_cs_ib_info info = { .ib_mc_address = ib_va };
	struct amdgpu_cs_request req = { .ip_type = AMDGPU_HW_IP_DMA,
					 .number_of_ibs = 1,
					 .ibs = &info };
	struct amdgpu_cs_fence f = { .context = ctx, .ip_type = AMDGPU_HW_IP_DMA };
	uint32_t expired = 0;
	size_t n = 0;
	int r;

	*flag = 0;
	ib[n++] = 8 | (3u << 28) | (1u << 31);
	ib[n++] = (uint32_t)flag_va;
	ib[n++] = (uint32_t)(flag_va >> 32);
	ib[n++] = 1;
	ib[n++] = 0xffffffffu;
	ib[n++] = (0xfffu << 16) | 10;
	n += emit_copy(ib + n, src, dst, len);
	info.size = (uint32_t)n;
	r = amdgpu_cs_submit(ctx, 0, &req, 1);
	if (r)
		return r;
	f.fence = req.seq_no;
	r = amdgpu_cs_query_fence_status(&f, 0, 0, &expired);
	if (!r && expired)
		r = -EBUSY; /* it did not wait */
	emu_maps_read(during, cap);
	*flag = 1;
	if (!r)
		r = amdgpu_cs_query_fence_status(&f, AMDGPU_TIMEOUT_INFINITE, 0, &expired);
	return r ? r : (expired ? 0 : -ETIME);
}

/*
 * KFD keeps the render file ACQUIRE_VM took (kfd_chardev.c: kfd_ioctl_acquire_vm,
 * fget(drm_fd): "On success, the PDD keeps the drm_file reference", until kfd_process.c:
 * kfd_process_destroy_pdds), so a process that closes every fd of it (and unmaps it) still
 * has the file, its GEM objects and their memory. Seen here: a GEM BO's bytes through a
 * dma-buf exported before the close, and an OFD lock taken on the file, which lasts as long
 * as the open file does (fs/locks.c: locks_remove_file at its last fput), against a new open
 * of the node. @drm is closed on return.
 */
static void test_file_kept_by_kfd(int drm)
{
	const size_t size = 64 * 1024;
	union drm_amdgpu_gem_create create = {
		.in = { .bo_size = size, .alignment = 4096, .domains = AMDGPU_GEM_DOMAIN_VRAM }
	};
	union drm_amdgpu_gem_mmap mm = { .in = { .handle = 0 } };
	struct drm_amdgpu_gem_va va = { 0 };
	struct drm_prime_handle prime = { .flags = O_RDWR | O_CLOEXEC };
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	uint8_t *bytes = malloc(size), *cpu;
	int other;

	CHECK(bytes != NULL);
	CHECK_EQ_INT(ioctl(drm, DRM_IOCTL_AMDGPU_GEM_CREATE, &create), 0);
	mm.in.handle = create.out.handle;
	CHECK_EQ_INT(ioctl(drm, DRM_IOCTL_AMDGPU_GEM_MMAP, &mm), 0);
	cpu = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, drm, (off_t)mm.out.addr_ptr);
	CHECK(cpu != MAP_FAILED);
	if (test_failures)
		return;
	fill_random(bytes, size);
	memcpy(cpu, bytes, size);
	munmap(cpu, size);
	va.handle = create.out.handle;
	va.operation = AMDGPU_VA_OP_MAP;
	va.flags = AMDGPU_VM_PAGE_READABLE | AMDGPU_VM_PAGE_WRITEABLE;
	va.va_address = BO_VA + (1ull << 30);
	va.map_size = size;
	CHECK_EQ_INT(ioctl(drm, DRM_IOCTL_AMDGPU_GEM_VA, &va), 0);
	prime.handle = create.out.handle;
	CHECK_EQ_INT(ioctl(drm, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime), 0);
	CHECK_EQ_INT(fcntl(drm, F_OFD_SETLK, &lk), 0);

	/* The last fd of the file in this process. */
	close(drm);

	other = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	CHECK(other >= 0);
	lk.l_type = F_WRLCK;
	CHECK_EQ_INT(fcntl(other, F_OFD_GETLK, &lk), 0);
	if (lk.l_type != F_WRLCK)
		fprintf(stderr, "the render file KFD acquired its VM from is gone\n");
	CHECK_EQ_INT(lk.l_type, F_WRLCK);
	cpu = mmap(NULL, size, PROT_READ, MAP_SHARED, prime.fd, 0);
	CHECK(cpu != MAP_FAILED);
	if (cpu != MAP_FAILED) {
		if (memcmp(cpu, bytes, size) != 0)
			fprintf(stderr, "the GEM BO's bytes are gone with the last fd\n");
		CHECK(memcmp(cpu, bytes, size) == 0);
		munmap(cpu, size);
	}
	close(other);
	close(prime.fd);
	free(bytes);
}

int main(void)
{
	struct kfd_ioctl_get_version_args ver = { 0 };
	struct kfd_ioctl_acquire_vm_args acq = { 0 };
	struct kfd_ioctl_alloc_memory_of_gpu_args alloc = { 0 };
	struct kfd_ioctl_export_dmabuf_args exp = { 0 };
	struct kfd_ioctl_free_memory_of_gpu_args fr = { 0 };
	struct amdgpu_bo_alloc_request ibreq = { .alloc_size = 65536,
						 .phys_alignment = 4096,
						 .preferred_heap = AMDGPU_GEM_DOMAIN_GTT };
	struct amdgpu_bo_import_result imp = { 0 };
	amdgpu_bo_handle ib_bo, vram_bo, host_bo;
	amdgpu_va_handle ib_vah, vram_vah, host_vah;
	uint64_t ib_va, vram_va, host_va;
	amdgpu_device_handle dev;
	amdgpu_context_handle ctx;
	uint32_t major, minor, gpu_id = first_gpu_id();
	uint8_t *vram_cpu, *host, *expect;
	static char before[1 << 16], during[1 << 16];
	void *ib_cpu;
	int kfd, drm;

	CHECK(gpu_id != 0);
	kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	drm = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	CHECK(kfd >= 0 && drm >= 0);
	if (test_failures)
		return test_finish("emu_drm_kfd");
	CHECK_EQ_INT(ioctl(kfd, AMDKFD_IOC_GET_VERSION, &ver), 0);
	acq.drm_fd = (uint32_t)drm;
	acq.gpu_id = gpu_id;
	CHECK_EQ_INT(ioctl(kfd, AMDKFD_IOC_ACQUIRE_VM, &acq), 0);
	/* kfd_ioctl_acquire_vm: "pdd->drm_file == drm_file ? 0 : -EBUSY", the same open file
	 * again is fine, another open of the same node is not. */
	CHECK_EQ_INT(ioctl(kfd, AMDKFD_IOC_ACQUIRE_VM, &acq), 0);
	acq.drm_fd = (uint32_t)open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	errno = 0;
	CHECK_EQ_INT(ioctl(kfd, AMDKFD_IOC_ACQUIRE_VM, &acq), -1);
	CHECK_EQ_INT(errno, EBUSY);
	close((int)acq.drm_fd);

	/* The workload's VRAM BO, filled through its CPU mapping. */
	alloc.va_addr = BO_VA;
	alloc.size = BO_SIZE;
	alloc.gpu_id = gpu_id;
	alloc.flags = KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_WRITABLE |
		      KFD_IOC_ALLOC_MEM_FLAGS_PUBLIC;
	CHECK_EQ_INT(ioctl(kfd, AMDKFD_IOC_ALLOC_MEMORY_OF_GPU, &alloc), 0);
	vram_cpu = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, drm,
			(off_t)alloc.mmap_offset);
	CHECK(vram_cpu != MAP_FAILED);
	if (test_failures)
		return test_finish("emu_drm_kfd");
	expect = malloc(BO_SIZE);
	fill_random(expect, BO_SIZE);
	memcpy(vram_cpu, expect, BO_SIZE);

	exp.handle = alloc.handle;
	exp.flags = O_RDWR | O_CLOEXEC;
	CHECK_EQ_INT(ioctl(kfd, AMDKFD_IOC_EXPORT_DMABUF, &exp), 0);

	/* The copy engine: only libdrm_amdgpu's public API from here. */
	CHECK_EQ_INT(amdgpu_device_initialize(drm, &major, &minor, &dev), 0);
	CHECK_EQ_INT(amdgpu_cs_ctx_create(dev, &ctx), 0);
	emu_maps_read(before, sizeof(before));
	CHECK_EQ_INT(amdgpu_bo_import(dev, amdgpu_bo_handle_type_dma_buf_fd,
				      (uint32_t)exp.dmabuf_fd, &imp),
		     0);
	CHECK_EQ_INT(imp.alloc_size, BO_SIZE);
	vram_bo = imp.buf_handle;
	emu_maps_read(during, sizeof(during));
	emu_maps_same(before, during, "the import");
	host = aligned_alloc(4096, BO_SIZE);
	memset(host, 0, BO_SIZE);
	CHECK_EQ_INT(amdgpu_create_bo_from_user_mem(dev, host, BO_SIZE, &host_bo), 0);
	CHECK_EQ_INT(amdgpu_bo_alloc(dev, &ibreq, &ib_bo), 0);
	CHECK_EQ_INT(amdgpu_bo_cpu_map(ib_bo, &ib_cpu), 0);
	CHECK_EQ_INT(amdgpu_va_range_alloc(dev, amdgpu_gpu_va_range_general, BO_SIZE, 4096, 0,
					   &vram_va, &vram_vah, 0),
		     0);
	CHECK_EQ_INT(amdgpu_va_range_alloc(dev, amdgpu_gpu_va_range_general, BO_SIZE, 4096, 0,
					   &host_va, &host_vah, 0),
		     0);
	CHECK_EQ_INT(amdgpu_va_range_alloc(dev, amdgpu_gpu_va_range_general, 65536, 4096, 0, &ib_va,
					   &ib_vah, 0),
		     0);
	CHECK_EQ_INT(amdgpu_bo_va_op(vram_bo, 0, BO_SIZE, vram_va, 0, AMDGPU_VA_OP_MAP), 0);
	CHECK_EQ_INT(amdgpu_bo_va_op(host_bo, 0, BO_SIZE, host_va, 0, AMDGPU_VA_OP_MAP), 0);
	CHECK_EQ_INT(amdgpu_bo_va_op(ib_bo, 0, 65536, ib_va, 0, AMDGPU_VA_OP_MAP), 0);
	if (test_failures)
		return test_finish("emu_drm_kfd");

	/* While a job on the import waits, nothing of it is mapped (what criu would see). */
	emu_maps_read(before, sizeof(before));
	CHECK_EQ_INT(gated_copy(ctx, (uint32_t *)ib_cpu + 4096, ib_va + 16384,
				(volatile uint32_t *)((uint8_t *)ib_cpu + 32768), ib_va + 32768,
				vram_va + 5, host_va + 3, (1u << 20) + 1, during, sizeof(during)),
		     0);
	emu_maps_same(before, during, "the job");
	CHECK(memcmp(host + 3, expect + 5, (1u << 20) + 1) == 0);

	/* Dump direction: VRAM -> pinned host buffer. */
	CHECK_EQ_INT(sdma_copy(dev, ctx, ib_cpu, ib_va, vram_va, host_va, BO_SIZE), 0);
	CHECK(memcmp(host, expect, BO_SIZE) == 0);

	/* Restore direction: the host buffer changes, SDMA writes it back into VRAM. */
	fill_random(expect, BO_SIZE);
	memcpy(host, expect, BO_SIZE);
	memset(vram_cpu, 0, BO_SIZE);
	CHECK_EQ_INT(sdma_copy(dev, ctx, ib_cpu, ib_va, host_va, vram_va, BO_SIZE), 0);
	CHECK(memcmp(vram_cpu, expect, BO_SIZE) == 0);

	CHECK_EQ_INT(amdgpu_bo_va_op(vram_bo, 0, BO_SIZE, vram_va, 0, AMDGPU_VA_OP_UNMAP), 0);
	CHECK_EQ_INT(amdgpu_bo_va_op(host_bo, 0, BO_SIZE, host_va, 0, AMDGPU_VA_OP_UNMAP), 0);
	CHECK_EQ_INT(amdgpu_bo_va_op(ib_bo, 0, 65536, ib_va, 0, AMDGPU_VA_OP_UNMAP), 0);
	amdgpu_va_range_free(vram_vah);
	amdgpu_va_range_free(host_vah);
	amdgpu_va_range_free(ib_vah);
	amdgpu_bo_cpu_unmap(ib_bo);
	amdgpu_bo_free(ib_bo);
	amdgpu_bo_free(host_bo);
	amdgpu_bo_free(vram_bo);
	amdgpu_cs_ctx_free(ctx);
	amdgpu_device_deinitialize(dev);
	close(exp.dmabuf_fd);
	munmap(vram_cpu, BO_SIZE);
	fr.handle = alloc.handle;
	CHECK_EQ_INT(ioctl(kfd, AMDKFD_IOC_FREE_MEMORY_OF_GPU, &fr), 0);
	free(host);
	free(expect);
	test_file_kept_by_kfd(drm);
	close(kfd);
	return test_finish("emu_drm_kfd");
}
