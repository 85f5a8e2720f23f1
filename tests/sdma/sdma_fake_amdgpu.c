// SPDX-License-Identifier: GPL-2.0-or-later
/* Test double of libdrm_amdgpu for the engine's unit test; see sdma_fake_amdgpu.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <amdgpu.h>
#include <amdgpu_drm.h>

#include "sdma_fake_amdgpu.h"

#define FAKE_PAGE      4096ULL
#define FAKE_MAX_BOS   256
#define FAKE_MAX_LISTS 64
#define FAKE_RINGS     32

struct amdgpu_bo {
	struct amdgpu_device *dev;
	uint32_t handle;
	uint8_t *cpu;
	uint64_t size;
	bool owned;   /* cpu from aligned_alloc */
	bool mmapped; /* cpu from mmap of a dmabuf fd */
	int refs;
	uint64_t va; /* 0 = not mapped */
	uint64_t va_size;
};

struct amdgpu_va {
	uint64_t addr, size;
};

struct fake_job {
	uint64_t seq;
	uint64_t ib_va;
	uint32_t ib_bytes;
	uint32_t handles[8];
	unsigned int nhandles;
	int error; /* result once executed */
	bool done;
};

struct fake_ring {
	struct fake_job *jobs;
	uint64_t njobs;	   /* submitted; seq = index + 1 */
	uint64_t executed; /* jobs[0..executed) done */
};

struct amdgpu_context {
	struct amdgpu_device *dev;
	struct fake_ring rings[FAKE_RINGS];
};

struct fake_list {
	bool used;
	uint32_t handles[8];
	unsigned int n;
};

/* One device at a time; guarded by lock. */
struct amdgpu_device {
	pthread_mutex_t lock;
	struct fake_amdgpu_device_desc desc;
	struct amdgpu_bo *bos[FAKE_MAX_BOS];
	uint32_t next_handle;
	uint64_t next_va;
	struct fake_list lists[FAKE_MAX_LISTS];
	int fail_next;
	struct fake_amdgpu_stats stats;
};

static struct amdgpu_device fake_dev = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.desc = { 4, 0, 0x040402, 0x3, 5, 22, 0x3fff00 },
	.next_handle = 1,
	.next_va = 0x100000000ULL,
};

void fake_amdgpu_set_device(const struct fake_amdgpu_device_desc *desc)
{
	pthread_mutex_lock(&fake_dev.lock);
	fake_dev.desc = *desc;
	pthread_mutex_unlock(&fake_dev.lock);
}

void fake_amdgpu_fail_next_job(int err)
{
	pthread_mutex_lock(&fake_dev.lock);
	fake_dev.fail_next = err;
	pthread_mutex_unlock(&fake_dev.lock);
}

void fake_amdgpu_get_stats(struct fake_amdgpu_stats *stats)
{
	pthread_mutex_lock(&fake_dev.lock);
	*stats = fake_dev.stats;
	pthread_mutex_unlock(&fake_dev.lock);
}

void fake_amdgpu_reset_stats(void)
{
	pthread_mutex_lock(&fake_dev.lock);
	memset(&fake_dev.stats, 0, sizeof(fake_dev.stats));
	pthread_mutex_unlock(&fake_dev.lock);
}

static int fake_violation(struct amdgpu_device *dev, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records something the kernel or hardware would reject. Caller holds dev->lock. */
static int fake_violation(struct amdgpu_device *dev, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dev->stats.last_violation, sizeof(dev->stats.last_violation), fmt, ap);
	va_end(ap);
	dev->stats.violations++;
	fprintf(stderr, "fake amdgpu: %s\n", dev->stats.last_violation);
	return err;
}

static int fake_add_bo(struct amdgpu_device *dev, uint8_t *cpu, uint64_t size, bool owned,
		       bool mmapped, amdgpu_bo_handle *out)
{
	struct amdgpu_bo *bo;
	unsigned int i;

	for (i = 0; i < FAKE_MAX_BOS && dev->bos[i]; i++)
		;
	if (i == FAKE_MAX_BOS)
		return -ENOMEM;
	bo = calloc(1, sizeof(*bo));
	if (!bo)
		return -ENOMEM;
	bo->dev = dev;
	bo->handle = dev->next_handle++;
	bo->cpu = cpu;
	bo->size = size;
	bo->owned = owned;
	bo->mmapped = mmapped;
	bo->refs = 1;
	dev->bos[i] = bo;
	*out = bo;
	return 0;
}

int amdgpu_device_initialize(int fd, uint32_t *major_version, uint32_t *minor_version,
			     amdgpu_device_handle *device_handle)
{
	if (fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	*major_version = 3;
	*minor_version = 57;
	*device_handle = &fake_dev;
	return 0;
}

int amdgpu_device_deinitialize(amdgpu_device_handle dev)
{
	unsigned int i;

	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < FAKE_MAX_BOS; i++)
		if (dev->bos[i])
			fake_violation(dev, 0, "BO %u still allocated at deinitialize",
				       dev->bos[i]->handle);
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

int amdgpu_query_hw_ip_info(amdgpu_device_handle dev, unsigned type, unsigned ip_instance,
			    struct drm_amdgpu_info_hw_ip *info)
{
	if (type != AMDGPU_HW_IP_DMA || ip_instance)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->hw_ip_version_major = dev->desc.hw_ip_major;
	info->hw_ip_version_minor = dev->desc.hw_ip_minor;
	info->ib_start_alignment = 256;
	info->ib_size_alignment = 4;
	info->available_rings = dev->desc.available_rings;
	/* The ip_discovery_version word, after available_rings (kernel uapi). */
	memcpy((char *)&info->available_rings + 4, &dev->desc.discovery_version, 4);
	return 0;
}

int amdgpu_query_hw_ip_count(amdgpu_device_handle dev, unsigned type, uint32_t *count)
{
	if (type != AMDGPU_HW_IP_DMA)
		return -EINVAL;
	*count = dev->desc.instances;
	return 0;
}

int amdgpu_cs_ctx_create(amdgpu_device_handle dev, amdgpu_context_handle *context)
{
	struct amdgpu_context *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -ENOMEM;
	ctx->dev = dev;
	*context = ctx;
	return 0;
}

int amdgpu_cs_ctx_free(amdgpu_context_handle ctx)
{
	unsigned int i;

	pthread_mutex_lock(&ctx->dev->lock);
	for (i = 0; i < FAKE_RINGS; i++) {
		if (ctx->rings[i].executed < ctx->rings[i].njobs)
			fake_violation(
				ctx->dev, 0, "context freed with %llu jobs pending on ring %u",
				(unsigned long long)(ctx->rings[i].njobs - ctx->rings[i].executed),
				i);
		free(ctx->rings[i].jobs);
	}
	pthread_mutex_unlock(&ctx->dev->lock);
	free(ctx);
	return 0;
}

int amdgpu_bo_alloc(amdgpu_device_handle dev, struct amdgpu_bo_alloc_request *req,
		    amdgpu_bo_handle *buf_handle)
{
	uint64_t size = (req->alloc_size + FAKE_PAGE - 1) & ~(FAKE_PAGE - 1);
	uint8_t *cpu;
	int r;

	if (req->preferred_heap != AMDGPU_GEM_DOMAIN_GTT)
		return -EINVAL;
	cpu = aligned_alloc(FAKE_PAGE, size);
	if (!cpu)
		return -ENOMEM;
	memset(cpu, 0xcc, size);
	pthread_mutex_lock(&dev->lock);
	r = fake_add_bo(dev, cpu, size, true, false, buf_handle);
	pthread_mutex_unlock(&dev->lock);
	if (r)
		free(cpu);
	return r;
}

int amdgpu_create_bo_from_user_mem(amdgpu_device_handle dev, void *cpu, uint64_t size,
				   amdgpu_bo_handle *buf_handle)
{
	int r;

	pthread_mutex_lock(&dev->lock);
	/* amdgpu_gem_userptr_ioctl: offset and size must be page aligned. */
	if (((uintptr_t)cpu | size) & (FAKE_PAGE - 1))
		r = fake_violation(dev, -EINVAL, "userptr %p + %llu not page aligned", cpu,
				   (unsigned long long)size);
	else
		r = fake_add_bo(dev, cpu, size, false, false, buf_handle);
	pthread_mutex_unlock(&dev->lock);
	return r;
}

int amdgpu_bo_import(amdgpu_device_handle dev, enum amdgpu_bo_handle_type type,
		     uint32_t shared_handle, struct amdgpu_bo_import_result *output)
{
	struct stat st;
	void *cpu;
	int r;

	if (type != amdgpu_bo_handle_type_dma_buf_fd)
		return -EINVAL;
	if (fstat((int)shared_handle, &st))
		return -errno;
	cpu = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, (int)shared_handle,
		   0);
	if (cpu == MAP_FAILED)
		return -errno;
	pthread_mutex_lock(&dev->lock);
	r = fake_add_bo(dev, cpu, (uint64_t)st.st_size, false, true, &output->buf_handle);
	pthread_mutex_unlock(&dev->lock);
	if (r) {
		munmap(cpu, (size_t)st.st_size);
		return r;
	}
	output->alloc_size = (uint64_t)st.st_size;
	return 0;
}

int amdgpu_bo_export(amdgpu_bo_handle bo, enum amdgpu_bo_handle_type type, uint32_t *handle)
{
	if (type != amdgpu_bo_handle_type_kms)
		return -EINVAL;
	*handle = bo->handle;
	return 0;
}

int amdgpu_bo_cpu_map(amdgpu_bo_handle bo, void **cpu)
{
	*cpu = bo->cpu;
	return 0;
}

int amdgpu_bo_cpu_unmap(amdgpu_bo_handle bo)
{
	(void)bo;
	return 0;
}

int amdgpu_bo_free(amdgpu_bo_handle bo)
{
	struct amdgpu_device *dev = bo->dev;
	unsigned int i;

	pthread_mutex_lock(&dev->lock);
	if (--bo->refs > 0) {
		pthread_mutex_unlock(&dev->lock);
		return 0;
	}
	if (bo->va)
		fake_violation(dev, 0, "BO %u freed while mapped at 0x%llx", bo->handle,
			       (unsigned long long)bo->va);
	for (i = 0; i < FAKE_MAX_BOS; i++)
		if (dev->bos[i] == bo)
			dev->bos[i] = NULL;
	pthread_mutex_unlock(&dev->lock);
	if (bo->owned)
		free(bo->cpu);
	if (bo->mmapped)
		munmap(bo->cpu, bo->size);
	free(bo);
	return 0;
}

int amdgpu_va_range_alloc(amdgpu_device_handle dev, enum amdgpu_gpu_va_range va_range_type,
			  uint64_t size, uint64_t va_base_alignment, uint64_t va_base_required,
			  uint64_t *va_base_allocated, amdgpu_va_handle *va_range_handle,
			  uint64_t flags)
{
	struct amdgpu_va *va = calloc(1, sizeof(*va));
	uint64_t align = va_base_alignment ? va_base_alignment : FAKE_PAGE;

	if (!va)
		return -ENOMEM;
	pthread_mutex_lock(&dev->lock);
	va->addr = (dev->next_va + align - 1) / align * align;
	va->size = size;
	dev->next_va = va->addr + size + FAKE_PAGE; /* a guard page between ranges */
	pthread_mutex_unlock(&dev->lock);
	*va_base_allocated = va->addr;
	*va_range_handle = va;
	return 0;
}

int amdgpu_va_range_free(amdgpu_va_handle va)
{
	free(va);
	return 0;
}

int amdgpu_bo_va_op(amdgpu_bo_handle bo, uint64_t offset, uint64_t size, uint64_t addr,
		    uint64_t flags, uint32_t ops)
{
	struct amdgpu_device *dev = bo->dev;
	int r = 0;

	pthread_mutex_lock(&dev->lock);
	if (offset || (size & (FAKE_PAGE - 1)) || (addr & (FAKE_PAGE - 1)) ||
	    size > ((bo->size + FAKE_PAGE - 1) & ~(FAKE_PAGE - 1)))
		r = fake_violation(dev, -EINVAL,
				   "va_op on BO %u: offset %llu size %llu addr 0x%llx", bo->handle,
				   (unsigned long long)offset, (unsigned long long)size,
				   (unsigned long long)addr);
	else if (ops == AMDGPU_VA_OP_MAP && !bo->va) {
		bo->va = addr;
		bo->va_size = size;
	} else if (ops == AMDGPU_VA_OP_UNMAP && bo->va == addr) {
		bo->va = 0;
	} else {
		r = fake_violation(dev, -EINVAL, "va_op %u on BO %u at 0x%llx", ops, bo->handle,
				   (unsigned long long)addr);
	}
	pthread_mutex_unlock(&dev->lock);
	return r;
}

int amdgpu_bo_list_create_raw(amdgpu_device_handle dev, uint32_t n,
			      struct drm_amdgpu_bo_list_entry *buffers, uint32_t *result)
{
	unsigned int i, k;
	int r = -ENOMEM;

	if (n > 8)
		return -EINVAL;
	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < FAKE_MAX_LISTS; i++) {
		if (dev->lists[i].used)
			continue;
		dev->lists[i].used = true;
		dev->lists[i].n = n;
		for (k = 0; k < n; k++)
			dev->lists[i].handles[k] = buffers[k].bo_handle;
		*result = i + 1;
		r = 0;
		break;
	}
	pthread_mutex_unlock(&dev->lock);
	return r;
}

int amdgpu_bo_list_destroy_raw(amdgpu_device_handle dev, uint32_t list)
{
	int r = 0;

	pthread_mutex_lock(&dev->lock);
	if (!list || list > FAKE_MAX_LISTS || !dev->lists[list - 1].used)
		r = -EINVAL;
	else
		dev->lists[list - 1].used = false;
	pthread_mutex_unlock(&dev->lock);
	return r;
}

/* The BO mapped over [va, va + len) if the job's list holds it; caller holds dev->lock. */
static uint8_t *fake_resolve(struct amdgpu_device *dev, const struct fake_job *job, uint64_t va,
			     uint64_t len)
{
	unsigned int i, k;

	for (i = 0; i < FAKE_MAX_BOS; i++) {
		struct amdgpu_bo *bo = dev->bos[i];

		if (!bo || !bo->va || va < bo->va || va - bo->va > bo->size ||
		    len > bo->size - (va - bo->va))
			continue;
		for (k = 0; k < job->nhandles; k++)
			if (job->handles[k] == bo->handle)
				return bo->cpu + (va - bo->va);
		fake_violation(dev, 0, "job %llu: BO %u at 0x%llx is not in its BO list",
			       (unsigned long long)job->seq, bo->handle, (unsigned long long)va);
		return NULL;
	}
	fake_violation(dev, 0, "job %llu: [0x%llx, +%llu) is not mapped by one BO",
		       (unsigned long long)job->seq, (unsigned long long)va,
		       (unsigned long long)len);
	return NULL;
}

/* Runs a job's IB, read now from the IB BO. Caller holds dev->lock. */
static int fake_execute(struct amdgpu_device *dev, struct fake_job *job)
{
	const uint32_t *ib = (const uint32_t *)fake_resolve(dev, job, job->ib_va, job->ib_bytes);
	uint32_t i = 0, ndw = job->ib_bytes / 4;
	uint64_t mask = (1ULL << dev->desc.count_bits) - 1;

	dev->stats.jobs++;
	if (dev->fail_next) {
		int err = dev->fail_next;

		dev->fail_next = 0;
		return err;
	}
	if (!ib)
		return -EFAULT;
	while (i < ndw) {
		uint32_t op = ib[i] & 0xff, sub = (ib[i] >> 8) & 0xff;

		if (op == 0 && !(ib[i] >> 16)) {
			i++;
		} else if (op == 1 && sub == 0 && i + 7 <= ndw && !(ib[i] >> 16) && !ib[i + 2]) {
			uint64_t n = (ib[i + 1] & mask) + 1;
			uint64_t src = ib[i + 3] | (uint64_t)ib[i + 4] << 32;
			uint64_t dst = ib[i + 5] | (uint64_t)ib[i + 6] << 32;
			uint8_t *s, *d;

			if (ib[i + 1] & ~mask || n > dev->desc.copy_max_bytes)
				return fake_violation(dev, -EINVAL, "COPY_LINEAR of %llu bytes",
						      (unsigned long long)(ib[i + 1] + 1ULL));
			s = fake_resolve(dev, job, src, n);
			d = fake_resolve(dev, job, dst, n);
			if (!s || !d)
				return -EFAULT;
			memmove(d, s, n);
			dev->stats.packets_copy++;
			if (n > dev->stats.max_copy_packet)
				dev->stats.max_copy_packet = n;
			i += 7;
		} else if (op == 11 && (ib[i] >> 30) == 2 && i + 5 <= ndw) {
			uint64_t dst = ib[i + 1] | (uint64_t)ib[i + 2] << 32;
			uint64_t n = (ib[i + 4] & mask) + 1, k;
			uint8_t *d;

			if ((n & 3) || (dst & 3))
				return fake_violation(dev, -EINVAL, "CONST_FILL unaligned");
			d = fake_resolve(dev, job, dst, n);
			if (!d)
				return -EFAULT;
			for (k = 0; k < n; k += 4)
				memcpy(d + k, &ib[i + 3], 4);
			dev->stats.packets_fill++;
			i += 5;
		} else {
			return fake_violation(dev, -EINVAL,
					      "job %llu: bad packet 0x%08x at dword %u",
					      (unsigned long long)job->seq, ib[i], i);
		}
	}
	return 0;
}

int amdgpu_cs_submit_raw2(amdgpu_device_handle dev, amdgpu_context_handle ctx,
			  uint32_t bo_list_handle, int num_chunks,
			  struct drm_amdgpu_cs_chunk *chunks, uint64_t *seq_no)
{
	const struct drm_amdgpu_cs_chunk_ib *ib;
	struct fake_list *list;
	struct fake_ring *ring;
	struct fake_job *job;
	int r = 0;

	pthread_mutex_lock(&dev->lock);
	if (num_chunks != 1 || chunks[0].chunk_id != AMDGPU_CHUNK_ID_IB ||
	    chunks[0].length_dw != sizeof(*ib) / 4) {
		r = fake_violation(dev, -EINVAL, "submission without exactly one IB chunk");
		goto out;
	}
	ib = (const struct drm_amdgpu_cs_chunk_ib *)(uintptr_t)chunks[0].chunk_data;
	if (!bo_list_handle || bo_list_handle > FAKE_MAX_LISTS ||
	    !dev->lists[bo_list_handle - 1].used) {
		r = fake_violation(dev, -ENOENT, "unknown BO list %u", bo_list_handle);
		goto out;
	}
	list = &dev->lists[bo_list_handle - 1];
	if (ib->ip_type != AMDGPU_HW_IP_DMA || ib->ip_instance || ib->ring >= FAKE_RINGS ||
	    !(dev->desc.available_rings & (1u << ib->ring))) {
		r = fake_violation(dev, -EINVAL, "IB for ip %u instance %u ring %u", ib->ip_type,
				   ib->ip_instance, ib->ring);
		goto out;
	}
	if ((ib->va_start & 255) || !ib->ib_bytes || (ib->ib_bytes % 64)) {
		r = fake_violation(dev, -EINVAL, "IB at 0x%llx of %u bytes: misaligned or unpadded",
				   (unsigned long long)ib->va_start, ib->ib_bytes);
		goto out;
	}
	ring = &ctx->rings[ib->ring];
	job = realloc(ring->jobs, (ring->njobs + 1) * sizeof(*job));
	if (!job) {
		r = -ENOMEM;
		goto out;
	}
	ring->jobs = job;
	job = &ring->jobs[ring->njobs];
	memset(job, 0, sizeof(*job));
	job->seq = ++ring->njobs;
	job->ib_va = ib->va_start;
	job->ib_bytes = ib->ib_bytes;
	job->nhandles = list->n;
	memcpy(job->handles, list->handles, sizeof(job->handles));
	if (ring->njobs - ring->executed > dev->stats.max_pending)
		dev->stats.max_pending = (unsigned int)(ring->njobs - ring->executed);
	*seq_no = job->seq;
out:
	pthread_mutex_unlock(&dev->lock);
	return r;
}

/*
 * With a timeout, runs the ring up to the fence; without one, runs one job
 * (the device makes progress between polls). Reports the fence's own result.
 */
int amdgpu_cs_query_fence_status(struct amdgpu_cs_fence *fence, uint64_t timeout_ns, uint64_t flags,
				 uint32_t *expired)
{
	struct amdgpu_device *dev = fence->context->dev;
	struct fake_ring *ring;
	int r = 0;

	if (fence->ip_type != AMDGPU_HW_IP_DMA || fence->ring >= FAKE_RINGS)
		return -EINVAL;
	pthread_mutex_lock(&dev->lock);
	ring = &fence->context->rings[fence->ring];
	if (fence->fence > ring->njobs) {
		r = fake_violation(dev, -EINVAL, "fence %llu never submitted",
				   (unsigned long long)fence->fence);
		goto out;
	}
	if (!timeout_ns && ring->executed < fence->fence) {
		struct fake_job *job = &ring->jobs[ring->executed++];

		job->error = fake_execute(dev, job);
		job->done = true;
	}
	while (timeout_ns && ring->executed < fence->fence) {
		struct fake_job *job = &ring->jobs[ring->executed++];

		job->error = fake_execute(dev, job);
		job->done = true;
	}
	*expired = ring->executed >= fence->fence;
	if (*expired && fence->fence)
		r = ring->jobs[fence->fence - 1].error;
out:
	pthread_mutex_unlock(&dev->lock);
	return r;
}
