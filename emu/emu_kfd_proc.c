// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-process KFD state (the kernel's struct kfd_process, kfd_process.c):
 * created when a process first opens /dev/kfd, with one process-device
 * (pdd) per GPU its device cgroup lets it use (kfd_create_process ->
 * create_process -> kfd_init_apertures, which skips a GPU when
 * kfd_devcgroup_check_permission fails: emu_devcgroup.c), freed when the
 * process exits (the kernel frees it from the mm's
 * release notifier). BOs are the kernel's kgd_mem objects: VRAM and GTT
 * contents live in the GPU's aperture file at the BO's DRM offset
 * (emu_daemon_aperture.c), doorbell and MMIO pages in memfds.
 */
#include <errno.h>
#include <linux/kcmp.h>
#include <linux/kfd_ioctl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "emu_daemon_internal.h"

#include "emu_devcgroup.h"
#include "emu_root.h"

struct emu_kproc *emu_kproc_find(struct emu_daemon *d, pid_t pid)
{
	struct emu_kproc *p;

	for (p = d->procs; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static bool emu_kproc_gone(const struct emu_kproc *p)
{
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

int emu_kproc_open(struct emu_daemon *d, pid_t pid, struct emu_kproc **out)
{
	struct emu_kproc *p = emu_kproc_find(d, pid);
	unsigned int i;

	/* A restored process reuses its pid: drop what the dead one left. */
	if (p && emu_kproc_gone(p)) {
		emu_kproc_free(d, p);
		p = NULL;
	}
	if (p) {
		*out = p;
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (p->pidfd < 0) {
		int err = -errno;

		free(p);
		return err;
	}
	p->pid = pid;
	p->next_queue_id = 0;
	p->next_event_id = 1;
	for (i = 0; i < EMU_MAX_GPUS; i++) {
		p->pdd[i].present = i < d->cfg.num_gpus &&
				    !emu_devcgroup_check(pid, d->cfg.gpus[i].render_minor);
		p->n_pdds += p->pdd[i].present;
		p->pdd[i].user_gpu_id = p->pdd[i].present ? d->cfg.gpus[i].gpu_id : 0;
		/* idr_alloc starts at 1 for kfd handles (kfd_process_device_create_obj_handle) */
		p->pdd[i].next_idr = 1;
		p->pdd[i].drm_fd = -1;
		p->doorbell_fd[i] = -1;
	}
	p->next = d->procs;
	d->procs = p;
	*out = p;
	return 0;
}

void emu_kproc_free(struct emu_daemon *d, struct emu_kproc *p)
{
	struct emu_kproc **pp;
	unsigned int i;

	for (pp = &d->procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	while (p->bos)
		emu_bo_free(d, p, p->bos);
	while (p->queues) {
		struct emu_queue *q = p->queues;

		p->queues = q->next;
		free(q);
	}
	while (p->events) {
		struct emu_event *e = p->events;

		p->events = e->next;
		free(e);
	}
	for (i = 0; i < EMU_MAX_GPUS; i++) {
		if (p->doorbell_fd[i] >= 0)
			close(p->doorbell_fd[i]);
		/* kfd_process_destroy_pdds: fput(pdd->drm_file), "This may release the vm if
		 * application already close the drm node". */
		if (p->pdd[i].drm_fd >= 0)
			close(p->pdd[i].drm_fd);
	}
	emu_root_kfd_node_remove(d->root, p->pid);
	close(p->pidfd);
	free(p);
	emu_gem_kfd_released(d);
}

bool emu_same_file(int a, int b)
{
	pid_t self = getpid();

	return a >= 0 && b >= 0 && syscall(SYS_kcmp, self, self, KCMP_FILE, a, b) == 0;
}

bool emu_kproc_holds_file(struct emu_daemon *d, int fd)
{
	for (struct emu_kproc *p = d->procs; p; p = p->next)
		for (unsigned int i = 0; i < EMU_MAX_GPUS; i++)
			if (emu_same_file(p->pdd[i].drm_fd, fd))
				return true;
	return false;
}

void emu_kproc_reap(struct emu_daemon *d)
{
	struct emu_kproc *p = d->procs, *next;

	for (; p; p = next) {
		next = p->next;
		if (emu_kproc_gone(p))
			emu_kproc_free(d, p);
	}
}

/*
 * kfd_process_device_data_by_id: pdds are looked up by the user-visible
 * gpu_id, so an ioctl naming a GPU the process has no pdd for (one its
 * device cgroup denied) fails as one naming no GPU at all.
 */
int emu_kproc_gpu_by_user_id(const struct emu_kproc *p, uint32_t user_gpu_id)
{
	unsigned int i;

	if (!user_gpu_id)
		return -1;
	for (i = 0; i < EMU_MAX_GPUS; i++)
		if (p->pdd[i].present && p->pdd[i].user_gpu_id == user_gpu_id)
			return (int)i;
	return -1;
}

int emu_daemon_gpu_by_id(const struct emu_daemon *d, uint32_t gpu_id)
{
	unsigned int i;

	for (i = 0; i < d->cfg.num_gpus; i++)
		if (d->cfg.gpus[i].gpu_id == gpu_id)
			return (int)i;
	return -1;
}

struct emu_bo *emu_bo_find(struct emu_kproc *p, unsigned int gpu_index, uint32_t idr)
{
	struct emu_bo *bo;

	for (bo = p->bos; bo; bo = bo->next)
		if (bo->gpu_index == gpu_index && bo->idr == idr)
			return bo;
	return NULL;
}

static bool emu_bo_has_memfd(uint32_t flags)
{
	return flags & (KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL | KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP);
}

static bool emu_bo_in_aperture(uint32_t flags)
{
	return flags & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT);
}

/*
 * amdgpu_amdkfd_gpuvm_alloc_memory_of_gpu: the BO and its handle. idr < 0
 * picks the next free handle, else that exact one (CRIU restore keeps
 * handles: criu_restore_memory_of_gpu's idr_alloc(handle, handle + 1), which
 * fails with -ENOMEM when taken).
 */
int emu_bo_new(struct emu_daemon *d, struct emu_kproc *p, unsigned int gpu_index, uint64_t va,
	       uint64_t size, uint32_t flags, uint64_t user_addr, int idr, struct emu_bo **out)
{
	struct emu_pdd *pdd = &p->pdd[gpu_index];
	uint64_t aligned = (size + EMU_PAGE - 1) & ~(EMU_PAGE - 1);
	struct emu_bo *bo;
	int err;

	if (idr >= 0 && emu_bo_find(p, gpu_index, (uint32_t)idr))
		return -ENOMEM;
	/* amdgpu_amdkfd_reserve_mem_limit: VRAM beyond the device's size is -ENOMEM */
	if ((flags & KFD_IOC_ALLOC_MEM_FLAGS_VRAM) &&
	    d->vram_used[gpu_index] + aligned > d->cfg.gpus[gpu_index].vram_size)
		return -ENOMEM;
	bo = calloc(1, sizeof(*bo));
	if (!bo)
		return -ENOMEM;
	bo->gpu_index = gpu_index;
	bo->va = va;
	bo->size = size;
	bo->flags = flags;
	bo->user_addr = user_addr;
	bo->memfd = -1;
	bo->cpu = NULL;
	if (emu_bo_has_memfd(flags)) {
		char name[64];

		snprintf(name, sizeof(name), "emu-bo-gpu%u-pid%d", gpu_index, (int)p->pid);
		bo->memfd = memfd_create(name, MFD_CLOEXEC);
		if (bo->memfd < 0) {
			err = -errno;
			goto fail;
		}
		if (ftruncate(bo->memfd, (off_t)aligned) != 0) {
			err = -errno;
			goto fail;
		}
		bo->cpu = mmap(NULL, aligned, PROT_READ | PROT_WRITE, MAP_SHARED, bo->memfd, 0);
		if (bo->cpu == MAP_FAILED) {
			bo->cpu = NULL;
			err = -ENOMEM;
			goto fail;
		}
	}
	if (flags & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)) {
		/* amdgpu_bo_mmap_offset: a DRM vma offset, unique on the device */
		if (!d->next_mmap_offset[gpu_index])
			d->next_mmap_offset[gpu_index] = EMU_DRM_MMAP_OFFSET_START;
		bo->mmap_offset = d->next_mmap_offset[gpu_index];
		err = emu_daemon_aperture_place(d, bo, aligned);
		if (err)
			goto fail;
		d->next_mmap_offset[gpu_index] += aligned;
	} else if (flags & KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL) {
		bo->mmap_offset = EMU_KFD_MMAP_TYPE_DOORBELL |
				  EMU_KFD_MMAP_GPU_ID(d->cfg.gpus[gpu_index].gpu_id);
	} else if (flags & KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP) {
		bo->mmap_offset =
			EMU_KFD_MMAP_TYPE_MMIO | EMU_KFD_MMAP_GPU_ID(d->cfg.gpus[gpu_index].gpu_id);
	} else {
		bo->mmap_offset = user_addr;
	}
	if (idr >= 0) {
		bo->idr = (uint32_t)idr;
		if ((uint32_t)idr >= pdd->next_idr)
			pdd->next_idr = (uint32_t)idr + 1;
	} else {
		bo->idr = pdd->next_idr++;
	}
	if (flags & KFD_IOC_ALLOC_MEM_FLAGS_VRAM)
		d->vram_used[gpu_index] += aligned;
	bo->next = p->bos;
	p->bos = bo;
	*out = bo;
	return 0;
fail:
	if (bo->memfd >= 0)
		close(bo->memfd);
	free(bo);
	return err;
}

void emu_bo_free(struct emu_daemon *d, struct emu_kproc *p, struct emu_bo *bo)
{
	uint64_t aligned = (bo->size + EMU_PAGE - 1) & ~(EMU_PAGE - 1);
	struct emu_bo **pp;

	for (pp = &p->bos; *pp; pp = &(*pp)->next) {
		if (*pp == bo) {
			*pp = bo->next;
			break;
		}
	}
	if (bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_VRAM)
		d->vram_used[bo->gpu_index] -= aligned;
	if (emu_bo_in_aperture(bo->flags))
		emu_daemon_aperture_release(d, bo, aligned);
	else if (bo->cpu)
		munmap(bo->cpu, aligned);
	if (bo->memfd >= 0)
		close(bo->memfd);
	free(bo);
}

struct emu_bo *emu_bo_by_offset(struct emu_daemon *d, unsigned int gpu_index, uint64_t off,
				struct emu_kproc **owner)
{
	struct emu_kproc *p;
	struct emu_bo *bo;

	for (p = d->procs; p; p = p->next) {
		for (bo = p->bos; bo; bo = bo->next) {
			if (bo->gpu_index == gpu_index && bo->cpu &&
			    emu_bo_in_aperture(bo->flags) && bo->mmap_offset == off) {
				if (owner)
					*owner = p;
				return bo;
			}
		}
	}
	return NULL;
}

bool emu_kproc_queues_run(const struct emu_kproc *p)
{
	return p->evict_count == 0;
}
