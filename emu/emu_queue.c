// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The compute queue executor: one thread that polls every running queue's
 * write pointer in its process's memory (hardware polls the doorbell/wptr
 * the same way), and runs new packets (emu_packet.h) one at a time under
 * the daemon lock. Queues of a process whose queues are evicted (CRIU
 * PROCESS_INFO until UNPAUSE, RESTORE until RESUME) do not run; neither do
 * those of a process stopped by a tracer or signal (see emu/README.md).
 */
#include <errno.h>
#include <linux/kfd_ioctl.h>
#include <string.h>
#include <unistd.h>

#include "emu_daemon_internal.h"
#include "emu_packet.h"

#define EMU_QUEUE_CHUNK (256u << 10)

/* Where a GPU VA range lives: daemon memory (VRAM/GTT memfd) or process memory (USERPTR). */
struct emu_span {
	uint8_t *cpu;
	pid_t pid;
	uint64_t uaddr;
};

static int emu_queue_resolve(struct emu_kproc *p, unsigned int gpu, uint64_t va, uint64_t len,
			     struct emu_span *s)
{
	struct emu_bo *bo;

	if (va + len < va)
		return -EFAULT;
	for (bo = p->bos; bo; bo = bo->next) {
		if (!(bo->mapped_mask & (1u << gpu)) || va < bo->va || va + len > bo->va + bo->size)
			continue;
		if (bo->cpu) {
			s->cpu = (uint8_t *)bo->cpu + (va - bo->va);
			return 0;
		}
		if (bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR) {
			s->cpu = NULL;
			s->pid = p->pid;
			s->uaddr = bo->user_addr + (va - bo->va);
			return 0;
		}
	}
	return -EFAULT; /* a GPU VM fault */
}

static int emu_span_read(const struct emu_span *s, uint64_t off, void *buf, size_t n)
{
	if (s->cpu) {
		memcpy(buf, s->cpu + off, n);
		return 0;
	}
	return emu_mem_proc_read(s->pid, s->uaddr + off, buf, n);
}

static int emu_span_write(const struct emu_span *s, uint64_t off, const void *buf, size_t n)
{
	if (s->cpu) {
		memcpy(s->cpu + off, buf, n);
		return 0;
	}
	return emu_mem_proc_write(s->pid, s->uaddr + off, buf, n);
}

static int emu_queue_exec(struct emu_kproc *p, unsigned int gpu, const struct emu_packet *pk)
{
	static uint64_t a[EMU_QUEUE_CHUNK / 8], b[EMU_QUEUE_CHUNK / 8];
	struct emu_span dst, src;
	uint64_t off, h = EMU_CHECKSUM_INIT;
	int err = 0;

	if (pk->opcode == EMU_PKT_NOP)
		return 0;
	if (pk->size % 8)
		return -EINVAL;
	switch (pk->opcode) {
	case EMU_PKT_FILL:
		err = emu_queue_resolve(p, gpu, pk->dst, pk->size, &dst);
		break;
	case EMU_PKT_COPY:
	case EMU_PKT_MIX:
		err = emu_queue_resolve(p, gpu, pk->dst, pk->size, &dst);
		if (!err)
			err = emu_queue_resolve(p, gpu, pk->src, pk->size, &src);
		break;
	case EMU_PKT_CHECKSUM:
		err = emu_queue_resolve(p, gpu, pk->dst, 8, &dst);
		if (!err)
			err = emu_queue_resolve(p, gpu, pk->src, pk->size, &src);
		break;
	default:
		return -EINVAL;
	}
	for (off = 0; !err && off < pk->size; off += EMU_QUEUE_CHUNK) {
		size_t n = pk->size - off < EMU_QUEUE_CHUNK ? (size_t)(pk->size - off)
							    : EMU_QUEUE_CHUNK;
		size_t k, words = n / 8;

		switch (pk->opcode) {
		case EMU_PKT_FILL:
			for (k = 0; k < words; k++)
				a[k] = emu_fill_word(pk->arg, off / 8 + k);
			err = emu_span_write(&dst, off, a, n);
			break;
		case EMU_PKT_COPY:
			err = emu_span_read(&src, off, a, n);
			if (!err)
				err = emu_span_write(&dst, off, a, n);
			break;
		case EMU_PKT_MIX:
			err = emu_span_read(&src, off, a, n);
			if (!err)
				err = emu_span_read(&dst, off, b, n);
			for (k = 0; !err && k < words; k++)
				b[k] = emu_rotl64(b[k], 7) ^ (a[k] + pk->arg);
			if (!err)
				err = emu_span_write(&dst, off, b, n);
			break;
		case EMU_PKT_CHECKSUM:
			err = emu_span_read(&src, off, a, n);
			for (k = 0; !err && k < words; k++)
				h = emu_checksum_step(h, a[k]);
			break;
		}
	}
	if (!err && pk->opcode == EMU_PKT_CHECKSUM)
		err = emu_span_write(&dst, 0, &h, 8);
	return err;
}

int emu_queue_run_packets(struct emu_daemon *d, struct emu_kproc *p, struct emu_queue *q,
			  unsigned int max_packets)
{
	uint64_t slots = q->ring_size / sizeof(struct emu_packet), wptr;
	unsigned int done = 0;
	int err;

	if (q->type == KFD_IOC_QUEUE_TYPE_SDMA || q->type == KFD_IOC_QUEUE_TYPE_SDMA_XGMI)
		return emu_kfd_sdma_run(d, p, q);
	if (q->error || !slots)
		return 0;
	err = emu_mem_proc_read(p->pid, q->wptr_addr, &wptr, sizeof(wptr));
	if (err)
		return 0; /* the process is going away, or its memory is not in place */
	while (q->rptr < wptr && done < max_packets) {
		struct emu_packet pk;
		uint64_t sig;

		err = emu_mem_proc_read(p->pid, q->ring_base + (q->rptr % slots) * sizeof(pk), &pk,
					sizeof(pk));
		if (!err)
			err = emu_queue_exec(p, q->gpu_index, &pk);
		if (err) {
			q->error = true;
			if (pk.signal_addr) {
				sig = EMU_SIGNAL_FAULT;
				emu_mem_proc_write(p->pid, pk.signal_addr, &sig, sizeof(sig));
			}
			return (int)done;
		}
		q->rptr++;
		d->packets_executed++;
		done++;
		if (pk.signal_addr) {
			sig = pk.signal_value;
			emu_mem_proc_write(p->pid, pk.signal_addr, &sig, sizeof(sig));
		}
		emu_mem_proc_write(p->pid, q->rptr_addr, &q->rptr, sizeof(q->rptr));
	}
	return (int)done;
}

/* Whether q has packets waiting, without running them. */
static bool emu_queue_pending(struct emu_kproc *p, struct emu_queue *q)
{
	uint64_t wptr;

	if (q->error || emu_mem_proc_read(p->pid, q->wptr_addr, &wptr, sizeof(wptr)))
		return false;
	return wptr > q->rptr;
}

static void *emu_queue_executor_main(void *arg)
{
	struct emu_daemon *d = arg;
	/*
	 * Nothing rings a doorbell here (the executor polls write pointers), so
	 * an idle executor backs off from 50 us to 2 ms between polls: a tight
	 * poll took half of a 2-core machine away from the processes it serves.
	 */
	unsigned int idle_us = 50;

	for (;;) {
		struct emu_kproc *p;
		unsigned int work = 0;

		pthread_mutex_lock(&d->lock);
		if (d->stop) {
			pthread_mutex_unlock(&d->lock);
			break;
		}
		for (p = d->procs; p; p = p->next) {
			struct emu_queue *q;
			bool checked = false;

			if (!emu_kproc_queues_run(p))
				continue;
			for (q = p->queues; q; q = q->next) {
				if (!emu_queue_pending(p, q))
					continue;
				if (!checked) {
					checked = true;
					if (emu_mem_proc_stopped(p->pid))
						break;
				}
				work += (unsigned int)emu_queue_run_packets(d, p, q, 4);
			}
		}
		pthread_mutex_unlock(&d->lock);
		if (work) {
			idle_us = 50;
		} else {
			usleep(idle_us);
			if (idle_us < 2000)
				idle_us *= 2;
		}
	}
	return NULL;
}

int emu_queue_executor_start(struct emu_daemon *d, pthread_t *thread)
{
	int err = pthread_create(thread, NULL, emu_queue_executor_main, d);

	return -err;
}
