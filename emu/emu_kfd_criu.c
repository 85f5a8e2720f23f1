// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * AMDKFD_IOC_CRIU_OP, following kfd_chardev.c: criu_process_info,
 * criu_checkpoint (+ criu_checkpoint_devices/_bos, kfd_criu_checkpoint_queues
 * and _events), criu_unpause, criu_restore (+ criu_restore_devices/_bos/
 * _objects) and criu_resume (-> amdgpu_amdkfd_criu_resume). The private data
 * is this emulator's own versioned encoding, laid out in the kernel's order:
 * process, devices, BOs, then objects (queues, events), each object
 * starting with its uint32_t object type (kfd_priv.h: enum
 * kfd_criu_object_type).
 */
#include <errno.h>
#include <linux/kfd_ioctl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "emu_daemon_internal.h"

#define EMU_CRIU_MAGIC	 0x434b4d45u /* "EMKC" */
#define EMU_CRIU_VERSION 2	     /* 2: events carry the event page handle */

enum { EMU_CRIU_OBJ_QUEUE = 0, EMU_CRIU_OBJ_EVENT = 1 };

struct emu_criu_process_priv {
	uint32_t magic;
	uint32_t version; /* KFD_CRIU_PRIV_VERSION's role */
	uint32_t xnack_mode;
	uint32_t pad;
};

struct emu_criu_device_priv {
	uint32_t reserved[2]; /* the kernel's is unused as well */
};

struct emu_criu_bo_priv {
	uint32_t idr_handle;
	uint32_t pad;
	uint64_t user_addr;
	uint32_t mapped_gpuids[EMU_MAX_GPUS]; /* user gpu_ids, 0-terminated */
};

struct emu_criu_queue_priv {
	uint32_t object_type;
	uint32_t gpu_id; /* user gpu_id */
	uint32_t queue_id;
	uint32_t type;
	uint32_t priority;
	uint32_t percentage;
	uint64_t ring_base;
	uint64_t ring_size;
	uint64_t rptr_addr;
	uint64_t wptr_addr;
	uint64_t rptr;
	uint32_t error;
	uint32_t pad;
};

struct emu_criu_event_priv {
	uint32_t object_type;
	uint32_t event_id;
	uint32_t type;
	uint32_t auto_reset;
	uint32_t signaled;
	uint32_t node_id;
	uint64_t user_handle; /* kfd_criu_event_priv_data: the event page's handle, first event */
};

/* get_process_num_bos: BOs below the GPUVM base (trap handler) are not checkpointed. */
static bool emu_criu_bo_counted(const struct emu_bo *bo)
{
	return !bo->va || bo->va > EMU_SVM_USER_BASE;
}

static void emu_criu_counts(struct emu_daemon *d, struct emu_kproc *p, uint32_t *num_devices,
			    uint32_t *num_bos, uint32_t *num_objects, uint64_t *priv_size)
{
	struct emu_queue *q;
	struct emu_event *e;
	struct emu_bo *bo;
	uint32_t nq = 0, ne = 0;

	(void)d;
	*num_devices = p->n_pdds; /* criu_get_process_object_info: p->n_pdds */
	*num_bos = 0;
	for (bo = p->bos; bo; bo = bo->next)
		*num_bos += emu_criu_bo_counted(bo);
	for (q = p->queues; q; q = q->next)
		nq++;
	for (e = p->events; e; e = e->next)
		ne++;
	*num_objects = nq + ne;
	*priv_size = sizeof(struct emu_criu_process_priv) +
		     *num_devices * sizeof(struct emu_criu_device_priv) +
		     *num_bos * sizeof(struct emu_criu_bo_priv) +
		     nq * sizeof(struct emu_criu_queue_priv) +
		     ne * sizeof(struct emu_criu_event_priv);
}

/* kfd_process_evict_queues / kfd_process_restore_queues nest per qpd->evicted. */
static void emu_criu_evict(struct emu_kproc *p)
{
	p->evict_count++;
}

static void emu_criu_restore_queues(struct emu_kproc *p)
{
	if (p->evict_count)
		p->evict_count--;
}

static int emu_criu_process_info(struct emu_daemon *d, struct emu_kproc *p,
				 struct kfd_ioctl_criu_args *a)
{
	uint64_t priv_size;
	pid_t own;
	int err;

	if (!p->n_pdds) /* kfd_has_process_device_data */
		return -ENODEV;
	/*
	 * criu_process_info: task_pid_nr_ns(p->lead_thread,
	 * task_active_pid_ns(p->lead_thread)), the pid in the process's own
	 * namespace, not the caller's (criu's host pid of it differs in a container).
	 */
	err = emu_pid_ns_own(p->pid, &own);
	if (err)
		return err;
	emu_criu_evict(p);
	p->queues_paused = true;
	a->pid = (uint32_t)own;
	emu_criu_counts(d, p, &a->num_devices, &a->num_bos, &a->num_objects, &priv_size);
	a->priv_data_size = priv_size;
	return 0;
}

static int emu_criu_checkpoint(struct emu_daemon *d, struct emu_kproc *p,
			       struct kfd_ioctl_criu_args *in, struct emu_drep *rep)
{
	uint32_t num_devices, num_bos, num_objects, i, b = 0, dg;
	size_t devs_len, bos_len, base = sizeof(*in);
	struct kfd_criu_device_bucket *devs;
	struct kfd_criu_bo_bucket *bos;
	struct kfd_ioctl_criu_args *a;
	uint64_t priv_size;
	uint8_t *priv, *at;
	struct emu_queue *q;
	struct emu_event *e;
	struct emu_bo *bo;
	int err;

	if (!in->devices || !in->bos || !in->priv_data)
		return -EINVAL;
	if (!p->n_pdds)
		return -ENODEV;
	/* "Cannot dump process when queues are not in evicted state" */
	if (!p->queues_paused)
		return -EINVAL;
	emu_criu_counts(d, p, &num_devices, &num_bos, &num_objects, &priv_size);
	if (num_devices != in->num_devices || num_bos != in->num_bos ||
	    num_objects != in->num_objects || priv_size != in->priv_data_size)
		return -EINVAL;
	devs_len = num_devices * sizeof(*devs);
	bos_len = num_bos * sizeof(*bos);
	err = emu_drep_alloc(rep, base + devs_len + bos_len + priv_size);
	if (err)
		return err;
	a = (void *)rep->payload;
	*a = *in;
	devs = (void *)(rep->payload + base);
	bos = (void *)(rep->payload + base + devs_len);
	priv = rep->payload + base + devs_len + bos_len;

	at = priv;
	{
		struct emu_criu_process_priv pp = { .magic = EMU_CRIU_MAGIC,
						    .version = EMU_CRIU_VERSION };

		memcpy(at, &pp, sizeof(pp));
		at += sizeof(pp);
	}
	/* criu_checkpoint_devices: one bucket per pdd */
	for (i = 0, dg = 0; i < num_devices; dg++) {
		if (!p->pdd[dg].present)
			continue;
		devs[i].user_gpu_id = p->pdd[dg].user_gpu_id;
		devs[i].actual_gpu_id = d->cfg.gpus[dg].gpu_id;
		at += sizeof(struct emu_criu_device_priv);
		i++;
	}
	/* criu_checkpoint_bos (its priv data comes before the objects) */
	for (bo = p->bos; bo; bo = bo->next) {
		struct emu_criu_bo_priv bp = { .idr_handle = bo->idr, .user_addr = bo->user_addr };
		struct kfd_criu_bo_bucket *k = &bos[b++];
		unsigned int g, n = 0;

		if (!emu_criu_bo_counted(bo)) {
			b--;
			continue;
		}
		k->gpu_id = p->pdd[bo->gpu_index].user_gpu_id;
		k->addr = bo->va;
		k->size = bo->size;
		k->alloc_flags = bo->flags;
		if (bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL)
			k->offset = EMU_KFD_MMAP_TYPE_DOORBELL |
				    EMU_KFD_MMAP_GPU_ID(d->cfg.gpus[bo->gpu_index].gpu_id);
		else if (bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP)
			k->offset = EMU_KFD_MMAP_TYPE_MMIO |
				    EMU_KFD_MMAP_GPU_ID(d->cfg.gpus[bo->gpu_index].gpu_id);
		else
			k->offset = bo->mmap_offset;
		for (g = 0; g < d->cfg.num_gpus; g++)
			if (bo->mapped_mask & (1u << g))
				bp.mapped_gpuids[n++] = p->pdd[g].user_gpu_id;
		if (bo->flags & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)) {
			int fd = emu_bo_dmabuf(d, bo);

			if (fd < 0)
				return fd;
			err = emu_drep_add_fd(rep, fd);
			if (err)
				return err;
			k->dmabuf_fd = 0; /* the shim puts the received fd here */
		} else {
			k->dmabuf_fd = KFD_INVALID_FD;
		}
		memcpy(at, &bp, sizeof(bp));
		at += sizeof(bp);
	}
	/* kfd_criu_checkpoint_queues, kfd_criu_checkpoint_events */
	for (q = p->queues; q; q = q->next) {
		struct emu_criu_queue_priv qp = {
			.object_type = EMU_CRIU_OBJ_QUEUE,
			.gpu_id = p->pdd[q->gpu_index].user_gpu_id,
			.queue_id = q->id,
			.type = q->type,
			.priority = q->priority,
			.percentage = q->percentage,
			.ring_base = q->ring_base,
			.ring_size = q->ring_size,
			.rptr_addr = q->rptr_addr,
			.wptr_addr = q->wptr_addr,
			.rptr = q->rptr,
			.error = q->error,
		};

		memcpy(at, &qp, sizeof(qp));
		at += sizeof(qp);
	}
	for (e = p->events; e; e = e->next) {
		struct emu_criu_event_priv ep = {
			.object_type = EMU_CRIU_OBJ_EVENT,
			.event_id = e->id,
			.type = e->type,
			.auto_reset = e->auto_reset,
			.signaled = e->signaled,
			.node_id = e->node_id,
		};

		/* kfd_criu_checkpoint_events stores the user_handle with the first event */
		if (e == p->events && p->event_page_set)
			ep.user_handle = p->event_page_handle;

		memcpy(at, &ep, sizeof(ep));
		at += sizeof(ep);
	}
	return 0;
}

static int emu_criu_unpause(struct emu_kproc *p)
{
	if (!p->queues_paused)
		return -EINVAL;
	emu_criu_restore_queues(p);
	p->queues_paused = false;
	return 0;
}

/* criu_restore_devices */
static int emu_criu_restore_devices(struct emu_daemon *d, struct emu_kproc *p,
				    const struct kfd_criu_device_bucket *devs, uint32_t n,
				    const struct emu_dreq *rq)
{
	uint32_t i;

	if (n != p->n_pdds) /* "num_devices != p->n_pdds" */
		return -EINVAL;
	for (i = 0; i < n; i++) {
		int gpu = emu_daemon_gpu_by_id(d, devs[i].actual_gpu_id);
		int32_t minor = (int32_t)devs[i].drm_fd; /* the shim put the render minor here */

		if (!devs[i].user_gpu_id || gpu < 0)
			return -EINVAL;
		if (!p->pdd[gpu].present) /* "Failed to get pdd for gpu_id" */
			return -EINVAL;
		/* "Invalid render node file descriptor sent from plugin" (the shim sends device
		 * i's render file as fd i, and none for a device without one) */
		if (minor < 0 || i >= rq->nfds)
			return -EINVAL;
		if (p->pdd[gpu].vm_acquired)
			return -EINVAL;
		if ((uint32_t)minor != d->cfg.gpus[gpu].render_minor)
			return -EINVAL; /* kfd_process_device_init_vm failed */
		/* "On success, the PDD keeps the drm_file reference" */
		p->pdd[gpu].drm_fd = fcntl(rq->fds[i], F_DUPFD_CLOEXEC, 0);
		if (p->pdd[gpu].drm_fd < 0)
			return -ENOMEM;
		p->pdd[gpu].user_gpu_id = devs[i].user_gpu_id;
		p->pdd[gpu].vm_acquired = true;
	}
	return 0;
}

/* criu_restore_memory_of_gpu + criu_restore_bo */
static int emu_criu_restore_bo(struct emu_daemon *d, struct emu_kproc *p,
			       struct kfd_criu_bo_bucket *k, const struct emu_criu_bo_priv *bp,
			       struct emu_drep *rep)
{
	int gpu = emu_kproc_gpu_by_user_id(p, k->gpu_id), err;
	struct emu_bo *bo;
	unsigned int j;

	if (gpu < 0)
		return -ENODEV;
	if ((k->alloc_flags & KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL) && k->size != EMU_DOORBELL_SLICE)
		return -EINVAL;
	if ((k->alloc_flags & KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP) && k->size != EMU_PAGE)
		return -EINVAL;
	/* criu_resume: userptr pages are not looked at until RESUME */
	err = emu_bo_new(d, p, (unsigned int)gpu, k->addr, k->size, k->alloc_flags,
			 (k->alloc_flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR) ? bp->user_addr : 0,
			 (int)bp->idr_handle, &bo);
	if (err)
		return err;
	/*
	 * criu_restore_bo: map on every GPU of mapped_gpuids (user gpu_ids, the first 0
	 * ends them, at most n_pdds), each found by its user id (kfd_process_device_data_by_id,
	 * -EINVAL when the process has no such GPU) and mapped as MAP_MEMORY_TO_GPU does
	 * (amdgpu_amdkfd_gpuvm_map_memory_to_gpu): a peer that cannot reach the BO fails
	 * the restore.
	 */
	for (j = 0; j < p->n_pdds && j < EMU_MAX_GPUS && bp->mapped_gpuids[j]; j++) {
		int peer = emu_kproc_gpu_by_user_id(p, bp->mapped_gpuids[j]);

		if (peer < 0)
			return -EINVAL;
		err = emu_kfd_map_bo(d, p, bo, (unsigned int)peer);
		if (err)
			return err;
	}
	if (k->alloc_flags & KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL)
		k->restored_offset =
			EMU_KFD_MMAP_TYPE_DOORBELL | EMU_KFD_MMAP_GPU_ID(d->cfg.gpus[gpu].gpu_id);
	if (k->alloc_flags & KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP)
		k->restored_offset =
			EMU_KFD_MMAP_TYPE_MMIO | EMU_KFD_MMAP_GPU_ID(d->cfg.gpus[gpu].gpu_id);
	else if (k->alloc_flags & (KFD_IOC_ALLOC_MEM_FLAGS_GTT | KFD_IOC_ALLOC_MEM_FLAGS_VRAM))
		k->restored_offset = bo->mmap_offset;
	if (k->alloc_flags & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)) {
		int fd = emu_bo_dmabuf(d, bo);

		if (fd < 0)
			return fd;
		err = emu_drep_add_fd(rep, fd);
		if (err)
			return err;
		k->dmabuf_fd = 0;
	} else {
		k->dmabuf_fd = KFD_INVALID_FD;
	}
	return 0;
}

static int emu_criu_restore_queue(struct emu_daemon *d, struct emu_kproc *p,
				  const struct emu_criu_queue_priv *qp)
{
	int gpu = emu_kproc_gpu_by_user_id(p, qp->gpu_id);
	struct emu_queue *q;

	if (gpu < 0)
		return -EINVAL;
	/* kfd_criu_restore_queue -> pqm_create_queue -> allocate_sdma_queue: an XGMI SDMA
	 * queue needs XGMI SDMA engines on the GPU it lands on (as CREATE_QUEUE). */
	if (qp->type == KFD_IOC_QUEUE_TYPE_SDMA_XGMI && !d->cfg.gpus[gpu].num_sdma_xgmi_engines)
		return -ENOMEM;
	for (q = p->queues; q; q = q->next)
		if (q->id == qp->queue_id)
			return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->id = qp->queue_id;
	q->gpu_index = (unsigned int)gpu;
	q->type = qp->type;
	q->priority = qp->priority;
	q->percentage = qp->percentage;
	q->ring_base = qp->ring_base;
	q->ring_size = qp->ring_size;
	q->rptr_addr = qp->rptr_addr;
	q->wptr_addr = qp->wptr_addr;
	q->rptr = qp->rptr;
	q->error = qp->error;
	q->next = p->queues;
	p->queues = q;
	return 0;
}

static int emu_criu_restore_event(struct emu_kproc *p, const struct emu_criu_event_priv *ep)
{
	struct emu_event *e;

	for (e = p->events; e; e = e->next)
		if (e->id == ep->event_id)
			return -EINVAL;
	/* kfd_criu_restore_event: if (ev_priv->user_handle) kfd_kmap_event_page() */
	if (ep->user_handle) {
		int err = emu_kfd_event_page_set(p, ep->user_handle);

		if (err)
			return err;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->id = ep->event_id;
	e->type = ep->type;
	e->auto_reset = ep->auto_reset;
	e->signaled = ep->signaled;
	e->node_id = ep->node_id;
	e->next = p->events;
	p->events = e;
	if (e->id >= p->next_event_id)
		p->next_event_id = e->id + 1;
	return 0;
}

static int emu_criu_restore(struct emu_daemon *d, struct emu_kproc *p,
			    const struct kfd_ioctl_criu_args *in, const uint8_t *extra,
			    size_t extra_len, const struct emu_dreq *rq, struct emu_drep *rep)
{
	size_t devs_len = (size_t)in->num_devices * sizeof(struct kfd_criu_device_bucket);
	size_t bos_len = (size_t)in->num_bos * sizeof(struct kfd_criu_bo_bucket);
	const uint8_t *priv;
	uint64_t off = 0, max = in->priv_data_size;
	struct kfd_criu_bo_bucket *bos;
	struct emu_criu_process_priv pp;
	uint32_t i;
	int err;

	if ((in->num_bos > 0 && !in->bos) || !in->devices || !in->priv_data ||
	    !in->priv_data_size || !in->num_devices)
		return -EINVAL;
	if (extra_len < devs_len + bos_len + max)
		return -EFAULT;
	priv = extra + devs_len + bos_len;
	err = emu_drep_alloc(rep, sizeof(*in) + bos_len);
	if (err)
		return err;
	memcpy(rep->payload, in, sizeof(*in));
	bos = (void *)(rep->payload + sizeof(*in));
	memcpy(bos, extra + devs_len, bos_len);

	/* "Set the process to evicted state to avoid running any new queues" */
	emu_criu_evict(p);
	/* criu_restore_process */
	if (off + sizeof(pp) > max)
		return -EINVAL;
	memcpy(&pp, priv + off, sizeof(pp));
	off += sizeof(pp);
	if (pp.magic != EMU_CRIU_MAGIC || pp.version != EMU_CRIU_VERSION)
		return -EINVAL;
	if (pp.xnack_mode)
		return -EPERM;
	if (off + in->num_devices * sizeof(struct emu_criu_device_priv) > max)
		return -EINVAL;
	err = emu_criu_restore_devices(d, p, (const void *)extra, in->num_devices, rq);
	if (err)
		return err;
	off += in->num_devices * sizeof(struct emu_criu_device_priv);
	/* criu_restore_bos */
	if (off + in->num_bos * sizeof(struct emu_criu_bo_priv) > max)
		return -EINVAL;
	/* "Prevent MMU notifications until stage-4 IOCTL (CRIU_RESUME) is received" */
	p->mmu_blocked = true;
	for (i = 0; i < in->num_bos; i++) {
		struct emu_criu_bo_priv bp;

		memcpy(&bp, priv + off + i * sizeof(bp), sizeof(bp));
		err = emu_criu_restore_bo(d, p, &bos[i], &bp, rep);
		if (err)
			return err;
	}
	off += in->num_bos * sizeof(struct emu_criu_bo_priv);
	/* criu_restore_objects */
	for (i = 0; i < in->num_objects; i++) {
		uint32_t type;

		if (off + sizeof(type) > max)
			return -EINVAL;
		memcpy(&type, priv + off, sizeof(type));
		if (type == EMU_CRIU_OBJ_QUEUE) {
			struct emu_criu_queue_priv qp;

			if (off + sizeof(qp) > max)
				return -EINVAL;
			memcpy(&qp, priv + off, sizeof(qp));
			err = emu_criu_restore_queue(d, p, &qp);
			off += sizeof(qp);
		} else if (type == EMU_CRIU_OBJ_EVENT) {
			struct emu_criu_event_priv ep;

			if (off + sizeof(ep) > max)
				return -EINVAL;
			memcpy(&ep, priv + off, sizeof(ep));
			err = emu_criu_restore_event(p, &ep);
			off += sizeof(ep);
		} else {
			err = -EINVAL;
		}
		if (err)
			return err;
	}
	if (off != max)
		return -EINVAL;
	return 0;
}

/*
 * criu_resume -> amdgpu_amdkfd_criu_resume: without a preceding RESTORE
 * (MMU notifications not blocked) it is -EINVAL. The kernel then validates
 * userptr BOs from a worker and restarts the queues; the emulator does it
 * at once: every userptr range and queue ring must be mapped in the target
 * (process_vm_readv), else -EFAULT and the process stays evicted, so RESUME
 * issued before criu has put the VMAs back fails (DESIGN.md).
 *
 * args->pid is looked up in the caller's pid namespace (find_get_pid ->
 * find_vpid; criu calls it from the host's, with the host pid), an unknown
 * one is -ESRCH (kfd_lookup_process_by_pid).
 */
static int emu_criu_resume(struct emu_daemon *d, pid_t caller, const struct kfd_ioctl_criu_args *a)
{
	struct emu_kproc *t = emu_pid_ns_find(d, caller, (pid_t)a->pid);
	struct emu_queue *q;
	struct emu_bo *bo;
	int err;

	if (!t)
		return -ESRCH;
	if (!t->mmu_blocked)
		return -EINVAL;
	for (bo = t->bos; bo; bo = bo->next) {
		if (!(bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR))
			continue;
		err = emu_mem_proc_check(t->pid, bo->user_addr, bo->size);
		if (err)
			return err == -ESRCH ? -ESRCH : -EFAULT;
	}
	for (q = t->queues; q; q = q->next) {
		err = emu_mem_proc_check(t->pid, q->ring_base, q->ring_size);
		if (!err)
			err = emu_mem_proc_check(t->pid, q->rptr_addr, sizeof(uint64_t));
		if (!err)
			err = emu_mem_proc_check(t->pid, q->wptr_addr, sizeof(uint64_t));
		if (err)
			return err == -ESRCH ? -ESRCH : -EFAULT;
	}
	err = emu_daemon_device_vmas_check(d, t);
	if (err)
		return err;
	t->mmu_blocked = false;
	emu_criu_restore_queues(t);
	return 0;
}

int emu_kfd_criu_op(struct emu_daemon *d, struct emu_kproc *p, const struct emu_dreq *rq,
		    struct emu_drep *rep)
{
	struct kfd_ioctl_criu_args in, *a = (void *)rep->payload;

	memcpy(&in, rq->payload, sizeof(in));
	switch (in.op) {
	case KFD_CRIU_OP_PROCESS_INFO:
		return emu_criu_process_info(d, p, a);
	case KFD_CRIU_OP_CHECKPOINT:
		return emu_criu_checkpoint(d, p, &in, rep);
	case KFD_CRIU_OP_UNPAUSE:
		return emu_criu_unpause(p);
	case KFD_CRIU_OP_RESTORE:
		return emu_criu_restore(d, p, &in, rq->payload + sizeof(in),
					rq->req.payload_len - sizeof(in), rq, rep);
	case KFD_CRIU_OP_RESUME:
		return emu_criu_resume(d, rq->caller, &in);
	}
	return -EINVAL;
}
