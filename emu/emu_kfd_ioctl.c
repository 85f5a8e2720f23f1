// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's KFD ioctls, following drivers/gpu/drm/amd/amdkfd/kfd_chardev.c
 * (each handler names the kernel function whose rules it copies). CRIU ops
 * are in emu_kfd_criu.c. Payload layout: emu_kfd_wire.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kfd_ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "emu_daemon_internal.h"
#include "emu_kfd_wire.h"

struct emu_kctx {
	struct emu_daemon *d;
	struct emu_kproc *p;
	const struct emu_dreq *rq;
	struct emu_drep *rep;
	void *args;	      /* the reply's copy of the argument struct */
	const uint8_t *extra; /* request payload after the struct */
	size_t extra_len;
};

static uint64_t emu_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* kfd_bind_process_to_device: a pdd without a VM (no ACQUIRE_VM yet) is -ENODEV. */
static int emu_kfd_bind(struct emu_kproc *p, int gpu)
{
	if (gpu < 0)
		return -EINVAL;
	return p->pdd[gpu].vm_acquired ? 0 : -ENODEV;
}

/* kfd_ioctl_get_process_apertures_new (apertures of kfd_flat_memory.c: kfd_init_apertures_v9) */
static void emu_kfd_aperture(struct emu_kctx *c, unsigned int gpu,
			     struct kfd_process_device_apertures *a)
{
	memset(a, 0, sizeof(*a));
	a->gpu_id = c->d->cfg.gpus[gpu].gpu_id;
	a->lds_base = EMU_LDS_BASE_V9;
	a->lds_limit = EMU_APP_LIMIT(EMU_LDS_BASE_V9);
	a->scratch_base = EMU_SCRATCH_BASE_V9;
	a->scratch_limit = EMU_APP_LIMIT(EMU_SCRATCH_BASE_V9);
	a->gpuvm_base = EMU_SVM_USER_BASE;
	a->gpuvm_limit = EMU_GPUVM_LIMIT;
}

/* The process's pdds, in GPU order: its device cgroup's GPUs (kfd_init_apertures). */
static unsigned int emu_kfd_pdd_gpus(const struct emu_kctx *c, unsigned int *gpus)
{
	unsigned int i, n = 0;

	for (i = 0; i < c->d->cfg.num_gpus; i++)
		if (c->p->pdd[i].present)
			gpus[n++] = i;
	return n;
}

/* kfd_ioctl_get_process_apertures_new: one entry per pdd (p->n_pdds). */
static int emu_kfd_apertures_new(struct emu_kctx *c)
{
	struct kfd_ioctl_get_process_apertures_new_args *a = c->args;
	unsigned int gpus[EMU_MAX_GPUS], n = emu_kfd_pdd_gpus(c, gpus), i;
	struct kfd_process_device_apertures *pa;
	size_t base = sizeof(*a);
	int err;

	if (a->num_of_nodes == 0) {
		a->num_of_nodes = n;
		return 0;
	}
	if (a->num_of_nodes < n)
		n = a->num_of_nodes;
	err = emu_drep_alloc(c->rep, base + n * sizeof(*pa));
	if (err)
		return err;
	a = (void *)c->rep->payload;
	memcpy(a, c->rq->payload, base);
	c->args = a;
	pa = (void *)(c->rep->payload + base);
	for (i = 0; i < n; i++)
		emu_kfd_aperture(c, gpus[i], &pa[i]);
	a->num_of_nodes = n;
	return 0;
}

static int emu_kfd_apertures_old(struct emu_kctx *c)
{
	struct kfd_ioctl_get_process_apertures_args *a = c->args;
	unsigned int gpus[EMU_MAX_GPUS], n = emu_kfd_pdd_gpus(c, gpus), i;

	a->num_of_nodes = 0;
	for (i = 0; i < n && i < NUM_OF_SUPPORTED_GPUS; i++) {
		emu_kfd_aperture(c, gpus[i], &a->process_apertures[i]);
		a->num_of_nodes++;
	}
	return 0;
}

/* kfd_ioctl_acquire_vm */
static int emu_kfd_acquire_vm(struct emu_kctx *c)
{
	struct kfd_ioctl_acquire_vm_args *a = c->args;
	int gpu = emu_kproc_gpu_by_user_id(c->p, a->gpu_id);
	int32_t minor;

	if (c->extra_len < sizeof(minor))
		return -EINVAL;
	memcpy(&minor, c->extra, sizeof(minor));
	struct emu_pdd *pdd;

	/* fget(drm_fd) failed, or the file is not a render node (the shim sends a render
	 * node's file, nothing else) */
	if (minor < 0 || c->rq->nfds < 1)
		return -EINVAL;
	if (gpu < 0)
		return -EINVAL;
	pdd = &c->p->pdd[gpu];
	/* "pdd->drm_file == drm_file ? 0 : -EBUSY": the same open file, not the same node */
	if (pdd->vm_acquired)
		return emu_same_file(pdd->drm_fd, c->rq->fds[0]) ? 0 : -EBUSY;
	/* amdgpu_amdkfd_gpuvm_acquire_process_vm: the VM must be this device's */
	if ((uint32_t)minor != c->d->cfg.gpus[gpu].render_minor)
		return -EINVAL;
	/* "On success, the PDD keeps the drm_file reference" (until kfd_process_destroy_pdds) */
	pdd->drm_fd = fcntl(c->rq->fds[0], F_DUPFD_CLOEXEC, 0);
	if (pdd->drm_fd < 0)
		return -ENOMEM;
	pdd->vm_acquired = true;
	return 0;
}

/* kfd_ioctl_alloc_memory_of_gpu */
static int emu_kfd_alloc(struct emu_kctx *c)
{
	struct kfd_ioctl_alloc_memory_of_gpu_args *a = c->args;
	int gpu = emu_kproc_gpu_by_user_id(c->p, a->gpu_id);
	uint64_t user_addr = 0;
	struct emu_bo *bo;
	int err;

	if (a->size == 0)
		return -EINVAL;
	if (gpu < 0)
		return -EINVAL;
	err = emu_kfd_bind(c->p, gpu);
	if (err)
		return err;
	if ((a->flags & KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL) && a->size != EMU_DOORBELL_SLICE)
		return -EINVAL;
	if ((a->flags & KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP) && a->size != EMU_PAGE)
		return -EINVAL;
	if (a->flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR) {
		/* amdgpu_amdkfd_gpuvm_alloc_memory_of_gpu: userptr needs an address */
		if (!a->mmap_offset)
			return -EINVAL;
		user_addr = a->mmap_offset;
		/* init_user_pages -> amdgpu_ttm_tt_get_user_pages: no VMA is -EFAULT */
		err = emu_mem_proc_check(c->p->pid, user_addr, a->size);
		if (err)
			return -EFAULT;
	} else if (!(a->flags &
		     (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT |
		      KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL | KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP))) {
		return -EINVAL;
	}
	err = emu_bo_new(c->d, c->p, (unsigned int)gpu, a->va_addr, a->size, a->flags, user_addr,
			 -1, &bo);
	if (err)
		return err;
	a->handle = EMU_MAKE_HANDLE(a->gpu_id, bo->idr);
	a->mmap_offset = bo->mmap_offset;
	return 0;
}

static struct emu_bo *emu_kfd_bo_by_handle(struct emu_kctx *c, uint64_t handle, int *gpu)
{
	*gpu = emu_kproc_gpu_by_user_id(c->p, EMU_HANDLE_GPU_ID(handle));
	if (*gpu < 0)
		return NULL;
	return emu_bo_find(c->p, (unsigned int)*gpu, EMU_HANDLE_IDR(handle));
}

/* kfd_ioctl_free_memory_of_gpu */
static int emu_kfd_free(struct emu_kctx *c)
{
	struct kfd_ioctl_free_memory_of_gpu_args *a = c->args;
	struct emu_bo *bo;
	int gpu;

	bo = emu_kfd_bo_by_handle(c, a->handle, &gpu);
	if (!bo)
		return -EINVAL;
	/* amdgpu_amdkfd_gpuvm_free_memory_of_gpu: a BO still mapped is -EBUSY */
	if (bo->mapped_mask)
		return -EBUSY;
	emu_bo_free(c->d, c->p, bo);
	return 0;
}

static bool emu_kfd_va_conflict(struct emu_kproc *p, struct emu_bo *self, unsigned int gpu)
{
	struct emu_bo *bo;

	for (bo = p->bos; bo; bo = bo->next) {
		if (bo == self || !(bo->mapped_mask & (1u << gpu)))
			continue;
		if (self->va < bo->va + bo->size && bo->va < self->va + self->size)
			return true;
	}
	return false;
}

/*
 * amdgpu_amdkfd_gpuvm_map_memory_to_gpu(peer): the MAP ioctl and CRIU RESTORE
 * (criu_restore_bo) both come here. kfd_mem_attach adds another GPU's VRAM, doorbell
 * or MMIO BO to @peer's VM only within an XGMI hive or where the owner is peer
 * accessible (emu_config_peer_vram_ok), else -EINVAL; amdgpu_vm_bo_map refuses a VA
 * range that overlaps another mapping in that VM (-EINVAL). Mapping twice is a no-op
 * (kfd_mem_is_attached).
 */
int emu_kfd_map_bo(struct emu_daemon *d, struct emu_kproc *p, struct emu_bo *bo, unsigned int peer)
{
	if (!p->pdd[peer].vm_acquired) /* kfd_bind_process_to_device: no VM yet */
		return -ENODEV;
	if (bo->mapped_mask & (1u << peer))
		return 0;
	if ((bo->flags & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL |
			  KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP)) &&
	    !emu_config_peer_vram_ok(&d->cfg, bo->gpu_index, peer))
		return -EINVAL;
	if (emu_kfd_va_conflict(p, bo, peer))
		return -EINVAL;
	bo->mapped_mask |= 1u << peer;
	return 0;
}

/* kfd_ioctl_map_memory_to_gpu / kfd_ioctl_unmap_memory_from_gpu */
static int emu_kfd_map(struct emu_kctx *c, bool map)
{
	struct kfd_ioctl_map_memory_to_gpu_args *a = c->args;
	const uint32_t *ids = (const uint32_t *)c->extra;
	struct emu_bo *bo;
	uint32_t i;
	int gpu, err;

	if (!a->n_devices || a->n_success > a->n_devices)
		return -EINVAL;
	if (c->extra_len < a->n_devices * sizeof(uint32_t))
		return -EFAULT;
	gpu = emu_kproc_gpu_by_user_id(c->p, EMU_HANDLE_GPU_ID(a->handle));
	if (gpu < 0)
		return -EINVAL;
	if (map) {
		err = emu_kfd_bind(c->p, gpu);
		if (err)
			return err;
	}
	bo = emu_bo_find(c->p, (unsigned int)gpu, EMU_HANDLE_IDR(a->handle));
	if (!bo)
		return -ENOMEM; /* kfd_process_device_translate_handle failed */
	for (i = a->n_success; i < a->n_devices; i++) {
		int peer = emu_kproc_gpu_by_user_id(c->p, ids[i]);

		if (peer < 0)
			return -EINVAL;
		if (map) {
			err = emu_kfd_map_bo(c->d, c->p, bo, (unsigned int)peer);
			if (err)
				return err;
		} else {
			bo->mapped_mask &= ~(1u << peer);
		}
		a->n_success = i + 1;
	}
	return 0;
}

/* kfd_chardev.c: set_queue_properties_from_user + kfd_ioctl_create_queue */
static int emu_kfd_create_queue(struct emu_kctx *c)
{
	struct kfd_ioctl_create_queue_args *a = c->args;
	int gpu = emu_kproc_gpu_by_user_id(c->p, a->gpu_id);
	struct emu_queue *q, *it;
	uint32_t id;

	if (a->queue_percentage > KFD_MAX_QUEUE_PERCENTAGE)
		return -EINVAL;
	if (a->queue_priority > KFD_MAX_QUEUE_PRIORITY)
		return -EINVAL;
	if (a->ring_size && (a->ring_size & (a->ring_size - 1)))
		return -EINVAL;
	if (a->queue_type != KFD_IOC_QUEUE_TYPE_COMPUTE &&
	    a->queue_type != KFD_IOC_QUEUE_TYPE_COMPUTE_AQL &&
	    a->queue_type != KFD_IOC_QUEUE_TYPE_SDMA &&
	    a->queue_type != KFD_IOC_QUEUE_TYPE_SDMA_XGMI)
		return -EMU_ENOTSUPP;
	if (gpu < 0)
		return -EINVAL;
	if (emu_kfd_bind(c->p, gpu))
		return -ESRCH;
	/* The emulator's executor needs a ring of whole 64-byte packets. */
	if (a->ring_size < 64 || !a->ring_base_address)
		return -EINVAL;
	/*
	 * kfd_device_queue_manager.c: allocate_sdma_queue finds no free XGMI SDMA queue on a
	 * GPU without XGMI SDMA engines (kfd_device.c: kfd_get_num_xgmi_sdma_engines) and
	 * fails with -ENOMEM.
	 */
	if (a->queue_type == KFD_IOC_QUEUE_TYPE_SDMA_XGMI &&
	    !c->d->cfg.gpus[gpu].num_sdma_xgmi_engines)
		return -ENOMEM;
	/* pqm_create_queue: find_available_queue_slot takes the lowest free id */
	for (id = 0;; id++) {
		for (it = c->p->queues; it; it = it->next)
			if (it->id == id)
				break;
		if (!it)
			break;
	}
	if (id >= 1024) /* KFD_MAX_NUM_OF_QUEUES_PER_PROCESS */
		return -ENOMEM;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->id = id;
	q->gpu_index = (unsigned int)gpu;
	q->type = a->queue_type;
	q->priority = a->queue_priority;
	q->percentage = a->queue_percentage;
	q->ring_base = a->ring_base_address;
	q->ring_size = a->ring_size;
	q->rptr_addr = a->read_pointer_address;
	q->wptr_addr = a->write_pointer_address;
	q->rptr = 0;
	q->next = c->p->queues;
	c->p->queues = q;
	a->queue_id = id;
	/* Which engines ROCr picked shows in the daemon log (tests read it). */
	if (q->type == KFD_IOC_QUEUE_TYPE_SDMA || q->type == KFD_IOC_QUEUE_TYPE_SDMA_XGMI)
		fprintf(stderr, "emu-daemon: pid %d %s queue %u on GPU %d\n", (int)c->p->pid,
			q->type == KFD_IOC_QUEUE_TYPE_SDMA ? "SDMA" : "SDMA_XGMI", id, gpu);
	/* doorbell offset for mmap: type, gpu_id, and the queue's slot in the 2-page frame */
	a->doorbell_offset =
		EMU_KFD_MMAP_TYPE_DOORBELL | EMU_KFD_MMAP_GPU_ID(a->gpu_id) | (uint64_t)id * 8;
	return 0;
}

static struct emu_queue *emu_kfd_queue_find(struct emu_kproc *p, uint32_t id,
					    struct emu_queue ***link)
{
	struct emu_queue **pp;

	for (pp = &p->queues; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			if (link)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

/* kfd_ioctl_destroy_queue -> pqm_destroy_queue: unknown id is -EINVAL */
static int emu_kfd_destroy_queue(struct emu_kctx *c)
{
	struct kfd_ioctl_destroy_queue_args *a = c->args;
	struct emu_queue **link, *q = emu_kfd_queue_find(c->p, a->queue_id, &link);

	if (!q)
		return -EINVAL;
	*link = q->next;
	free(q);
	return 0;
}

/* kfd_ioctl_update_queue */
static int emu_kfd_update_queue(struct emu_kctx *c)
{
	struct kfd_ioctl_update_queue_args *a = c->args;
	struct emu_queue *q;

	if (a->queue_percentage > KFD_MAX_QUEUE_PERCENTAGE)
		return -EINVAL;
	if (a->queue_priority > KFD_MAX_QUEUE_PRIORITY)
		return -EINVAL;
	if (a->ring_size && (a->ring_size & (a->ring_size - 1)))
		return -EINVAL;
	q = emu_kfd_queue_find(c->p, a->queue_id, NULL);
	if (!q)
		return -EINVAL;
	q->ring_base = a->ring_base_address;
	q->ring_size = a->ring_size;
	q->percentage = a->queue_percentage;
	q->priority = a->queue_priority;
	return 0;
}

static struct emu_event *emu_kfd_event_find(struct emu_kproc *p, uint32_t id)
{
	struct emu_event *e;

	for (e = p->events; e; e = e->next)
		if (e->id == id)
			return e;
	return NULL;
}

/* kfd_events.c: UNSIGNALED_EVENT_SLOT, the value of a slot whose event has not fired */
#define EMU_EVENT_SLOT_UNSIGNALED UINT64_MAX

/* The event page's slot of event id, or NULL (no page, or id past it). */
static uint64_t *emu_kfd_event_slot(struct emu_kproc *p, uint32_t id)
{
	struct emu_bo *bo;

	if (!p->event_page_set)
		return NULL;
	bo = emu_bo_find(p, p->event_page_gpu, p->event_page_idr);
	if (!bo || !bo->cpu || ((uint64_t)id + 1) * 8 > bo->size)
		return NULL;
	return (uint64_t *)bo->cpu + id;
}

/* kfd_events.c: event_can_be_gpu_signaled */
static bool emu_kfd_event_gpu_signaled(const struct emu_event *e)
{
	return e->type == KFD_IOC_EVENT_SIGNAL || e->type == KFD_IOC_EVENT_DEBUG_EVENT;
}

/*
 * kfd_events.c: kfd_kmap_event_page. A dGPU process allocates its event page
 * itself and names it by its BO handle (gpu_id << 32 | idr); the kernel maps
 * it (amdgpu_amdkfd_gpuvm_map_gtt_bo_to_kernel: GTT BOs only) and keeps it
 * (kfd_event_page_set). A second page, an unknown GPU or handle are -EINVAL.
 */
int emu_kfd_event_page_set(struct emu_kproc *p, uint64_t handle)
{
	int gpu = emu_kproc_gpu_by_user_id(p, (uint32_t)(handle >> 32));
	struct emu_bo *bo;

	if (p->event_page_set)
		return -EINVAL;
	if (gpu < 0)
		return -EINVAL;
	if (emu_kfd_bind(p, gpu))
		return -ESRCH;
	bo = emu_bo_find(p, (unsigned int)gpu, (uint32_t)handle);
	if (!bo || !(bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_GTT) || !bo->cpu)
		return -EINVAL;
	p->event_page_set = true;
	p->event_page_gpu = (unsigned int)gpu;
	p->event_page_idr = (uint32_t)handle;
	p->event_page_handle = handle;
	return 0;
}

/*
 * kfd_chardev.c: kfd_ioctl_create_event: the event page handle comes with
 * a dGPU process's first event (kfd_kmap_event_page, above); then
 * kfd_event_create: signal events get a slot in that page, set to
 * UNSIGNALED_EVENT_SLOT.
 */
static int emu_kfd_create_event(struct emu_kctx *c)
{
	struct kfd_ioctl_create_event_args *a = c->args;
	struct emu_event *e;
	uint64_t *slot;
	int err;

	if (a->event_page_offset) {
		err = emu_kfd_event_page_set(c->p, a->event_page_offset);
		if (err)
			return err;
	}
	if (c->p->next_event_id >= KFD_SIGNAL_EVENT_LIMIT)
		return -ENOSPC;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->id = c->p->next_event_id++;
	e->type = a->event_type;
	e->auto_reset = a->auto_reset;
	e->node_id = a->node_id;
	e->next = c->p->events;
	c->p->events = e;
	slot = emu_kfd_event_slot(c->p, e->id);
	if (slot && emu_kfd_event_gpu_signaled(e))
		__atomic_store_n(slot, EMU_EVENT_SLOT_UNSIGNALED, __ATOMIC_RELEASE);
	a->event_id = e->id;
	a->event_trigger_data = e->id;
	a->event_slot_index = e->id;
	a->event_page_offset = EMU_KFD_MMAP_TYPE_EVENTS;
	return 0;
}

/* kfd_events.c: set_event_from_interrupt (acknowledge_signal, then set_event) */
static void emu_kfd_event_fire(struct emu_kproc *p, struct emu_event *e)
{
	uint64_t *slot = emu_kfd_event_slot(p, e->id);

	if (!emu_kfd_event_gpu_signaled(e))
		return;
	if (slot)
		__atomic_store_n(slot, EMU_EVENT_SLOT_UNSIGNALED, __ATOMIC_RELEASE);
	e->signaled = 1;
}

/*
 * kfd_events.c: kfd_signal_event_interrupt with all 28 id bits valid (SDMA
 * TRAP's int_context): the event with that id fires if its slot says it was
 * signaled (lookup_signaled_event_by_partial_id); otherwise every signal
 * event whose slot is no longer UNSIGNALED_EVENT_SLOT fires.
 */
void emu_kfd_event_interrupt(struct emu_kproc *p, uint32_t event_id)
{
	struct emu_event *e = emu_kfd_event_find(p, event_id);
	uint64_t *slot;

	if (e) {
		slot = emu_kfd_event_slot(p, e->id);
		if (!slot || __atomic_load_n(slot, __ATOMIC_ACQUIRE) != EMU_EVENT_SLOT_UNSIGNALED) {
			emu_kfd_event_fire(p, e);
			return;
		}
	}
	for (e = p->events; e; e = e->next) {
		slot = emu_kfd_event_slot(p, e->id);
		if (slot && __atomic_load_n(slot, __ATOMIC_ACQUIRE) != EMU_EVENT_SLOT_UNSIGNALED)
			emu_kfd_event_fire(p, e);
	}
}

static int emu_kfd_event_op(struct emu_kctx *c, unsigned int nr)
{
	uint32_t id = *(const uint32_t *)c->args; /* event_id is first in all three structs */
	struct emu_event *e = emu_kfd_event_find(c->p, id), **pp;

	if (!e)
		return -EINVAL;
	if (nr == _IOC_NR(AMDKFD_IOC_SET_EVENT)) {
		e->signaled = 1;
	} else if (nr == _IOC_NR(AMDKFD_IOC_RESET_EVENT)) {
		e->signaled = 0;
	} else {
		for (pp = &c->p->events; *pp != e; pp = &(*pp)->next)
			;
		*pp = e->next;
		free(e);
	}
	return 0;
}

/*
 * kfd_events.c: kfd_wait_on_events. The daemon answers at once (timeout 0
 * semantics); the shim repeats the request until the caller's timeout.
 */
static int emu_kfd_wait_events(struct emu_kctx *c)
{
	struct kfd_ioctl_wait_events_args *a = c->args;
	size_t base = sizeof(*a), n = a->num_events;
	struct kfd_event_data *ev;
	unsigned int i, done = 0;
	int err;

	if (c->extra_len < n * sizeof(*ev))
		return -EFAULT;
	err = emu_drep_alloc(c->rep, base + n * sizeof(*ev));
	if (err)
		return err;
	memcpy(c->rep->payload, c->rq->payload, base + n * sizeof(*ev));
	a = (void *)c->rep->payload;
	c->args = a;
	ev = (void *)(c->rep->payload + base);
	for (i = 0; i < n; i++) {
		struct emu_event *e = emu_kfd_event_find(c->p, ev[i].event_id);

		if (!e)
			return -EINVAL;
		if (e->signaled) {
			done++;
			if (e->auto_reset)
				e->signaled = 0;
		}
	}
	a->wait_result = (a->wait_for_all ? done == n : done > 0) ? KFD_IOC_WAIT_RESULT_COMPLETE
								  : KFD_IOC_WAIT_RESULT_TIMEOUT;
	return 0;
}

static struct emu_bo *emu_kfd_bo_by_fd(struct emu_kctx *c, int fd, unsigned int *gpu)
{
	struct emu_bo *bo = emu_bo_by_dmabuf(c->d, fd, NULL);

	if (bo)
		*gpu = bo->gpu_index;
	return bo;
}

/* kfd_ioctl_get_dmabuf_info: only our own (KFD/amdgpu) dmabufs are known */
static int emu_kfd_dmabuf_info(struct emu_kctx *c)
{
	struct kfd_ioctl_get_dmabuf_info_args *a = c->args;
	struct emu_bo *bo;
	unsigned int gpu;

	if (c->rq->nfds != 1)
		return -EINVAL;
	bo = emu_kfd_bo_by_fd(c, c->rq->fds[0], &gpu);
	if (!bo)
		return -EINVAL;
	a->size = bo->size;
	a->gpu_id = c->d->cfg.gpus[gpu].gpu_id;
	a->flags = bo->flags;
	a->metadata_size = 0;
	return 0;
}

/* kfd_ioctl_export_dmabuf: VRAM and GTT BOs, a dma-buf each (emu_bo_dmabuf). */
static int emu_kfd_export_dmabuf(struct emu_kctx *c)
{
	struct kfd_ioctl_export_dmabuf_args *a = c->args;
	struct emu_bo *bo;
	int gpu, fd;

	if (emu_daemon_gpu_by_id(c->d, EMU_HANDLE_GPU_ID(a->handle)) < 0 &&
	    emu_kproc_gpu_by_user_id(c->p, EMU_HANDLE_GPU_ID(a->handle)) < 0)
		return -EINVAL;
	bo = emu_kfd_bo_by_handle(c, a->handle, &gpu);
	if (!bo)
		return -EINVAL;
	if (!(bo->flags & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)))
		return -EINVAL;
	fd = emu_bo_dmabuf(c->d, bo);
	if (fd < 0)
		return fd;
	return emu_drep_add_fd(c->rep, fd);
}

static int emu_kfd_gpu_only(struct emu_kctx *c, uint32_t gpu_id, bool bind)
{
	int gpu = emu_kproc_gpu_by_user_id(c->p, gpu_id);

	if (gpu < 0)
		return -EINVAL;
	return bind && emu_kfd_bind(c->p, gpu) ? -ESRCH : 0;
}

static int emu_kfd_dispatch(struct emu_kctx *c, unsigned long request)
{
	unsigned int nr = _IOC_NR(request);

	switch (nr) {
	case _IOC_NR(AMDKFD_IOC_GET_VERSION): {
		struct kfd_ioctl_get_version_args *a = c->args;

		a->major_version = KFD_IOCTL_MAJOR_VERSION;
		a->minor_version = KFD_IOCTL_MINOR_VERSION;
		return 0;
	}
	case _IOC_NR(AMDKFD_IOC_CREATE_QUEUE):
		return emu_kfd_create_queue(c);
	case _IOC_NR(AMDKFD_IOC_DESTROY_QUEUE):
		return emu_kfd_destroy_queue(c);
	case _IOC_NR(AMDKFD_IOC_UPDATE_QUEUE):
		return emu_kfd_update_queue(c);
	case _IOC_NR(AMDKFD_IOC_SET_MEMORY_POLICY): {
		struct kfd_ioctl_set_memory_policy_args *a = c->args;

		if ((a->default_policy != KFD_IOC_CACHE_POLICY_COHERENT &&
		     a->default_policy != KFD_IOC_CACHE_POLICY_NONCOHERENT) ||
		    (a->alternate_policy != KFD_IOC_CACHE_POLICY_COHERENT &&
		     a->alternate_policy != KFD_IOC_CACHE_POLICY_NONCOHERENT))
			return -EINVAL;
		return emu_kfd_gpu_only(c, a->gpu_id, true);
	}
	case _IOC_NR(AMDKFD_IOC_GET_CLOCK_COUNTERS): {
		struct kfd_ioctl_get_clock_counters_args *a = c->args;

		a->gpu_clock_counter = emu_now_ns(CLOCK_MONOTONIC_RAW);
		a->cpu_clock_counter = emu_now_ns(CLOCK_MONOTONIC_RAW);
		a->system_clock_counter = emu_now_ns(CLOCK_BOOTTIME);
		a->system_clock_freq = 1000000000;
		return 0;
	}
	case _IOC_NR(AMDKFD_IOC_GET_PROCESS_APERTURES):
		return emu_kfd_apertures_old(c);
	case _IOC_NR(AMDKFD_IOC_GET_PROCESS_APERTURES_NEW):
		return emu_kfd_apertures_new(c);
	case _IOC_NR(AMDKFD_IOC_CREATE_EVENT):
		return emu_kfd_create_event(c);
	case _IOC_NR(AMDKFD_IOC_DESTROY_EVENT):
	case _IOC_NR(AMDKFD_IOC_SET_EVENT):
	case _IOC_NR(AMDKFD_IOC_RESET_EVENT):
		return emu_kfd_event_op(c, nr);
	case _IOC_NR(AMDKFD_IOC_WAIT_EVENTS):
		return emu_kfd_wait_events(c);
	case _IOC_NR(AMDKFD_IOC_DBG_REGISTER_DEPRECATED):
	case _IOC_NR(AMDKFD_IOC_DBG_UNREGISTER_DEPRECATED):
	case _IOC_NR(AMDKFD_IOC_DBG_ADDRESS_WATCH_DEPRECATED):
	case _IOC_NR(AMDKFD_IOC_DBG_WAVE_CONTROL_DEPRECATED):
		return -EPERM;
	case _IOC_NR(AMDKFD_IOC_SET_SCRATCH_BACKING_VA): {
		struct kfd_ioctl_set_scratch_backing_va_args *a = c->args;

		return emu_kfd_gpu_only(c, a->gpu_id, true);
	}
	case _IOC_NR(AMDKFD_IOC_GET_TILE_CONFIG): {
		struct kfd_ioctl_get_tile_config_args *a = c->args;
		int err = emu_kfd_gpu_only(c, a->gpu_id, false);

		a->num_tile_configs = 0;
		a->num_macro_tile_configs = 0;
		a->gb_addr_config = 0;
		a->num_banks = 0;
		a->num_ranks = 0;
		return err;
	}
	case _IOC_NR(AMDKFD_IOC_SET_TRAP_HANDLER): {
		struct kfd_ioctl_set_trap_handler_args *a = c->args;

		return emu_kfd_gpu_only(c, a->gpu_id, true);
	}
	case _IOC_NR(AMDKFD_IOC_ACQUIRE_VM):
		return emu_kfd_acquire_vm(c);
	case _IOC_NR(AMDKFD_IOC_ALLOC_MEMORY_OF_GPU):
		return emu_kfd_alloc(c);
	case _IOC_NR(AMDKFD_IOC_FREE_MEMORY_OF_GPU):
		return emu_kfd_free(c);
	case _IOC_NR(AMDKFD_IOC_MAP_MEMORY_TO_GPU):
		return emu_kfd_map(c, true);
	case _IOC_NR(AMDKFD_IOC_UNMAP_MEMORY_FROM_GPU):
		return emu_kfd_map(c, false);
	case _IOC_NR(AMDKFD_IOC_SET_CU_MASK): {
		struct kfd_ioctl_set_cu_mask_args *a = c->args;

		if (a->num_cu_mask % 32 || !a->num_cu_mask)
			return -EINVAL;
		return emu_kfd_queue_find(c->p, a->queue_id, NULL) ? 0 : -EINVAL;
	}
	case _IOC_NR(AMDKFD_IOC_GET_QUEUE_WAVE_STATE):
		return emu_kfd_queue_find(
			       c->p,
			       ((struct kfd_ioctl_get_queue_wave_state_args *)c->args)->queue_id,
			       NULL)
			       ? 0
			       : -EINVAL;
	case _IOC_NR(AMDKFD_IOC_GET_DMABUF_INFO):
		return emu_kfd_dmabuf_info(c);
	case _IOC_NR(AMDKFD_IOC_IMPORT_DMABUF):
		return -EINVAL; /* not emulated: no foreign dmabufs exist here */
	case _IOC_NR(AMDKFD_IOC_ALLOC_QUEUE_GWS): {
		struct kfd_ioctl_alloc_queue_gws_args *a = c->args;

		a->first_gws = 0;
		return emu_kfd_queue_find(c->p, a->queue_id, NULL) ? 0 : -EINVAL;
	}
	case _IOC_NR(AMDKFD_IOC_SMI_EVENTS):
		return -EINVAL;
	case _IOC_NR(AMDKFD_IOC_SVM):
		return -EPERM; /* as a kernel without CONFIG_HSA_AMD_SVM */
	case _IOC_NR(AMDKFD_IOC_SET_XNACK_MODE): {
		struct kfd_ioctl_set_xnack_mode_args *a = c->args;

		if (a->xnack_enabled < 0) {
			a->xnack_enabled = 0;
			return 0;
		}
		return a->xnack_enabled ? -EPERM : 0;
	}
	case _IOC_NR(AMDKFD_IOC_CRIU_OP):
		return emu_kfd_criu_op(c->d, c->p, c->rq, c->rep);
	case _IOC_NR(AMDKFD_IOC_AVAILABLE_MEMORY): {
		struct kfd_ioctl_get_available_memory_args *a = c->args;
		int gpu = emu_kproc_gpu_by_user_id(c->p, a->gpu_id);

		if (gpu < 0)
			return -EINVAL;
		a->available = c->d->cfg.gpus[gpu].vram_size - c->d->vram_used[gpu];
		return 0;
	}
	case _IOC_NR(AMDKFD_IOC_EXPORT_DMABUF):
		return emu_kfd_export_dmabuf(c);
	}
	return -EINVAL;
}

/*
 * kfd_ioctl (kfd_chardev.c), in its order:
 *  - unknown numbers are -ENOTTY;
 *  - "Only the process that opened /dev/kfd can use the file descriptor":
 *    process->lead_thread != current->group_leader is -EBADF, unless the
 *    ioctl is flagged KFD_IOC_FLAG_CHECKPOINT_RESTORE (AMDKFD_IOC_CRIU_OP
 *    alone) and ptrace_parent(process->lead_thread) == current, the caller
 *    traces the opener's leader. Whoever traces it qualifies, criu or not;
 *    once a tracer exits the task is detached (kernel/ptrace.c,
 *    exit_ptrace) and its KFD state, paused queues included, stays as it
 *    was: nothing here undoes a pause when the pausing criu dies, as nothing
 *    in the kernel does (kfd_release only drops a reference);
 *  - a CRIU op needs capable(CAP_CHECKPOINT_RESTORE) or
 *    capable(CAP_SYS_ADMIN), else -EACCES.
 * The kernel compares tasks; here both sides are host pids: SO_PEERCRED's,
 * and TracerPid as the daemon's (host) /proc shows it (fs/proc/array.c,
 * task_state: task_tgid_nr_ns(tracer, ns) in the namespace of that /proc).
 * /proc names the tracer's thread group, not its thread, so another thread
 * of the tracing process passes here where the kernel answers -EBADF: the
 * one place this check is looser than the kernel's.
 */
int emu_kfd_handle_ioctl(struct emu_daemon *d, const struct emu_dreq *rq, struct emu_drep *rep)
{
	unsigned long request = (unsigned long)rq->req.arg0;
	unsigned int nr = _IOC_NR(request);
	size_t size = _IOC_SIZE(request);
	struct emu_kctx c = { .d = d, .rq = rq, .rep = rep };
	int err;

	if (nr < AMDKFD_COMMAND_START || nr >= EMU_KFD_COMMAND_END)
		return -ENOTTY;
	if (rq->req.payload_len < size)
		return -EFAULT;
	c.p = emu_kproc_find(d, (pid_t)rq->req.owner_pid);
	if (!c.p)
		return -EBADF;
	if (rq->caller != c.p->pid &&
	    !(nr == _IOC_NR(AMDKFD_IOC_CRIU_OP) && emu_mem_tracer(c.p->pid) == rq->caller))
		return -EBADF;
	if (nr == _IOC_NR(AMDKFD_IOC_CRIU_OP) && !emu_mem_capable_criu(rq->caller))
		return -EACCES;
	/* The reply starts as a copy of the argument struct; some handlers grow it. */
	err = emu_drep_alloc(rep, size);
	if (err)
		return err;
	memcpy(rep->payload, rq->payload, size);
	c.args = rep->payload;
	c.extra = rq->payload + size;
	c.extra_len = rq->req.payload_len - size;
	return emu_kfd_dispatch(&c, request);
}

/*
 * kfd_mmap: the doorbell, events and MMIO pages of /dev/kfd. Doorbell and
 * MMIO offsets are checked here (kfd_mmap: the gpu_id in the offset must be
 * a device of the process, else -EINVAL) and the caller maps its own KFD
 * node (emu_kfd.c says how); writes to them are not watched (the executor
 * polls write pointers instead). The events page is a memfd per process.
 */
int emu_kfd_handle_mmap(struct emu_daemon *d, const struct emu_dreq *rq, struct emu_drep *rep)
{
	uint64_t off = rq->req.arg0, type = off & EMU_KFD_MMAP_TYPE_MASK;
	struct emu_kproc *p = emu_kproc_find(d, (pid_t)rq->req.owner_pid);
	int gpu, fd;

	if (!p)
		return -EBADF;
	if (type == EMU_KFD_MMAP_TYPE_DOORBELL || type == EMU_KFD_MMAP_TYPE_MMIO) {
		/* kfd_mmap: kfd_device_by_id, the device's own gpu_id (CRIU restore
		 * gives offsets with it: criu_restore_memory_of_gpu) */
		gpu = emu_daemon_gpu_by_id(d, EMU_KFD_MMAP_GET_GPU_ID(off));
		if (gpu < 0)
			return -ENODEV;
		if (rq->req.arg1 > EMU_DOORBELL_SLICE)
			return -EINVAL;
		return 0;
	} else if (type == EMU_KFD_MMAP_TYPE_EVENTS) {
		gpu = 0;
	} else {
		return -EINVAL;
	}
	if (p->doorbell_fd[gpu] < 0) {
		int m = memfd_create("emu-kfd-page", MFD_CLOEXEC);

		if (m < 0)
			return -errno;
		if (ftruncate(m, 1 << 20) != 0) {
			close(m);
			return -ENOMEM;
		}
		p->doorbell_fd[gpu] = m;
	}
	fd = fcntl(p->doorbell_fd[gpu], F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	return emu_drep_add_fd(rep, fd);
}
