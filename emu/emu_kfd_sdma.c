// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * SDMA user queues of KFD processes (CREATE_QUEUE with KFD_IOC_QUEUE_TYPE_SDMA
 * or _SDMA_XGMI), run by the queue executor (emu_queue.c) with the same SDMA
 * packet engine as the render-node path (emu_sdma_exec.c).
 *
 * Ring protocol, as ROCr's BlitSdma uses it on SDMA 4.x (ROCR-Runtime
 * src/core/runtime/amd_blit_sdma.cpp: UpdateWriteAndDoorbellRegister, and
 * the kernel's sdma_v4_0 user-queue MQD, kfd_mqd_manager_v9.c: update_mqd_sdma):
 * the ring is ring_size bytes at ring_base_address (a GPU VA, the same as the
 * CPU address for system memory); read and write pointers are 64-bit byte
 * offsets that only grow (the engine wraps them into the ring); user space
 * stores the write pointer at write_pointer_address and then rings the
 * doorbell, and the engine reports progress by writing the read pointer to
 * read_pointer_address. The emulator polls the write pointer in the
 * process's memory instead of watching the doorbell (emu/README.md).
 *
 * Addresses in packets are GPU VAs of the process's VM on the queue's GPU:
 * BOs mapped there (MAP_MEMORY_TO_GPU). VRAM/GTT BOs are memfds the daemon
 * maps; USERPTR BOs live in the process and are reached with
 * process_vm_readv/writev through a bounce buffer that is written back after
 * each packet (the engine's hold callback), so a userptr page that is not
 * mapped faults the queue as a GPU VM fault would.
 *
 * TRAP packets raise the event whose id is the packet's int_context, as the
 * kernel's SDMA interrupt handler does (kfd_int_process_v9.c:
 * event_interrupt_wq_v9 -> kfd_signal_event_interrupt with 28 valid bits).
 *
 * Queues run independently, as each SDMA queue is its own ring on hardware:
 * a POLL_REGMEM whose condition does not hold yet does not wait here (the
 * executor holds the daemon lock, so no other queue could run and no ioctl
 * be served meanwhile); the queue stops at the poll (read pointer on its
 * header) and the executor retries it on its next passes, as the engine
 * retries the poll. A poll still unmet EMU_SDMA_POLL_TIMEOUT_NS after it was
 * first tried faults the queue, the bound the engine keeps in place.
 */
#include <time.h>
#include <errno.h>
#include <linux/kfd_ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_daemon_internal.h"
#include "emu_sdma_exec.h"

/*
 * Userptr bounces held over one packet, EMU_KSDMA_BOUNCE_MAX bytes at most each: a COPY
 * needs its source and destination, up to 1 GiB each where the count is 30 bits wide
 * (emu_sdma_exec.c: SDMA 4.4, 5.2, 6), plus one more each where a range spans two BOs.
 */
#define EMU_KSDMA_BOUNCE_MAX (4u << 20)
#define EMU_KSDMA_BOUNCES    (2 * ((1u << 30) / EMU_KSDMA_BOUNCE_MAX) + 4)

struct emu_ksdma_bounce {
	uint8_t *buf;
	uint64_t va, len, uaddr;
	bool dirty;
};

struct emu_ksdma_ctx {
	struct emu_daemon *d;
	struct emu_kproc *p;
	unsigned int gpu;
	struct emu_ksdma_bounce b[EMU_KSDMA_BOUNCES];
	unsigned int nb;
	int io_err; /* a write-back failed */
};

static struct emu_bo *emu_ksdma_bo(struct emu_ksdma_ctx *c, uint64_t va)
{
	struct emu_bo *bo;

	for (bo = c->p->bos; bo; bo = bo->next)
		if ((bo->mapped_mask & (1u << c->gpu)) && va >= bo->va && va < bo->va + bo->size)
			return bo;
	return NULL;
}

static void *emu_ksdma_translate(void *ctx, uint64_t va, uint64_t len, bool write, uint64_t *avail)
{
	struct emu_ksdma_ctx *c = ctx;
	struct emu_bo *bo = emu_ksdma_bo(c, va);
	struct emu_ksdma_bounce *b;
	uint64_t left, n;
	unsigned int i;

	if (!bo)
		return NULL; /* a GPU VM fault */
	left = bo->va + bo->size - va;
	if (bo->cpu) {
		*avail = len < left ? len : left;
		return (uint8_t *)bo->cpu + (va - bo->va);
	}
	if (!(bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR))
		return NULL;
	for (i = 0; i < c->nb; i++) {
		b = &c->b[i];
		if (va >= b->va && va < b->va + b->len) {
			b->dirty |= write;
			n = b->va + b->len - va;
			*avail = len < n ? len : n;
			return b->buf + (va - b->va);
		}
	}
	if (c->nb == EMU_KSDMA_BOUNCES)
		return NULL;
	n = len < left ? len : left;
	if (n > EMU_KSDMA_BOUNCE_MAX)
		n = EMU_KSDMA_BOUNCE_MAX;
	b = &c->b[c->nb];
	b->buf = malloc(n);
	if (!b->buf)
		return NULL;
	b->va = va;
	b->len = n;
	b->uaddr = bo->user_addr + (va - bo->va);
	b->dirty = write;
	if (emu_mem_proc_read(c->p->pid, b->uaddr, b->buf, n)) {
		free(b->buf);
		return NULL; /* the userptr range is not mapped in the process */
	}
	c->nb++;
	*avail = n;
	return b->buf;
}

/* After each packet: write userptr bounces back to the process, drop them all. */
static void emu_ksdma_hold(void *ctx, bool on)
{
	struct emu_ksdma_ctx *c = ctx;
	unsigned int i;

	if (on)
		return;
	for (i = 0; i < c->nb; i++) {
		struct emu_ksdma_bounce *b = &c->b[i];

		if (b->dirty && emu_mem_proc_write(c->p->pid, b->uaddr, b->buf, b->len))
			c->io_err = -EFAULT;
		free(b->buf);
	}
	c->nb = 0;
}

static void emu_ksdma_trap(void *ctx, uint32_t int_context)
{
	struct emu_ksdma_ctx *c = ctx;

	emu_kfd_event_interrupt(c->p, int_context);
}

/*
 * Runs what the process has committed to SDMA queue q since the last pass
 * (user space commits whole commands: BlitSdma::ReleaseWriteAddress). Returns the number of packets
 * executed (0 when idle); a failing packet stops the queue (q->error) as a GPU VM fault or an
 * illegal packet would, and the daemon log says why.
 */
static uint64_t emu_ksdma_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * A POLL_REGMEM at the read pointer is not met: true while it may wait longer (the queue
 * yields), false once it has waited EMU_SDMA_POLL_TIMEOUT_NS (the queue faults).
 */
static bool emu_ksdma_poll_may_wait(struct emu_queue *q)
{
	uint64_t now = emu_ksdma_now_ns();

	if (!q->poll_since_ns) {
		q->poll_since_ns = now;
		return true;
	}
	return now - q->poll_since_ns <= EMU_SDMA_POLL_TIMEOUT_NS;
}

int emu_kfd_sdma_run(struct emu_daemon *d, struct emu_kproc *p, struct emu_queue *q)
{
	const struct emu_sdma_gen *gen =
		emu_sdma_gen_find(d->cfg.gpus[q->gpu_index].sdma_ip_version);
	struct emu_ksdma_ctx c = { .d = d, .p = p, .gpu = q->gpu_index };
	struct emu_sdma_mem mem = {
		.translate = emu_ksdma_translate,
		.hold = emu_ksdma_hold,
		.trap = emu_ksdma_trap,
		.ctx = &c,
	};
	struct emu_sdma_status st;
	uint64_t wptr, len, off, first;
	uint32_t *ring;
	int err;

	if (q->error || q->ring_size < 4 || !gen)
		return 0; /* no generation: emu_config_check refused the machine */
	if (emu_mem_proc_read(p->pid, q->wptr_addr, &wptr, sizeof(wptr)))
		return 0; /* the process is going away, or its memory is not in place */
	if (wptr <= q->rptr)
		return 0;
	len = wptr - q->rptr;
	if ((len | q->rptr) & 3 || len > q->ring_size) {
		fprintf(stderr,
			"emu-daemon: pid %d SDMA queue %u: write pointer 0x%llx is not a "
			"dword offset within one ring of read pointer 0x%llx\n",
			(int)p->pid, q->id, (unsigned long long)wptr, (unsigned long long)q->rptr);
		q->error = true;
		return 0;
	}
	ring = malloc(len);
	if (!ring)
		return 0;
	/* The ring wraps: read the committed bytes in at most two pieces. */
	off = q->rptr & (q->ring_size - 1);
	first = q->ring_size - off < len ? q->ring_size - off : len;
	err = emu_mem_proc_read(p->pid, q->ring_base + off, ring, first);
	if (!err && first < len)
		err = emu_mem_proc_read(p->pid, q->ring_base, (uint8_t *)ring + first, len - first);
	if (err) {
		fprintf(stderr,
			"emu-daemon: pid %d SDMA queue %u: ring at 0x%llx unreadable (%s)\n",
			(int)p->pid, q->id, (unsigned long long)q->ring_base, strerror(-err));
		q->error = true;
		free(ring);
		return 0;
	}
	err = emu_sdma_exec(gen, ring, len / 4, &mem, EMU_SDMA_EXEC_POLL_ONCE, &st);
	free(ring);
	if (!err && c.io_err)
		err = c.io_err;
	if (st.packet_dw || !err)
		q->poll_since_ns = 0; /* moved past the poll it waited for, if any */
	if (err == -EAGAIN && emu_ksdma_poll_may_wait(q)) {
		q->rptr += (uint64_t)st.packet_dw * 4; /* the packets before the poll are done */
	} else if (err) {
		fprintf(stderr, "emu-daemon: pid %d SDMA queue %u on GPU %u stopped: %s\n",
			(int)p->pid, q->id, q->gpu_index,
			st.reason[0] ? st.reason : strerror(-err));
		q->error = true;
		q->rptr += (uint64_t)st.packet_dw * 4;
	} else {
		q->rptr += len;
	}
	emu_mem_proc_write(p->pid, q->rptr_addr, &q->rptr, sizeof(q->rptr));
	d->packets_executed += st.packets;
	return (int)st.packets;
}
