// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sdma_engine: every libdrm_amdgpu call of the sdma module is in this file.
 *
 * Sources for the driver behaviour relied on here:
 *  - libdrm amdgpu/amdgpu_device.c: amdgpu_device_initialize() keeps its own
 *    dup of the fd (fcntl F_DUPFD_CLOEXEC), so the caller's fd stays theirs.
 *  - libdrm amdgpu/amdgpu_bo.c: amdgpu_create_bo_from_user_mem() registers
 *    with AMDGPU_GEM_USERPTR_ANONONLY | REGISTER | VALIDATE, so host buffers
 *    must be anonymous, page-aligned memory.
 *  - Linux amdgpu_kms.c amdgpu_hw_ip_info(): for AMDGPU_HW_IP_DMA it reports
 *    available_rings of one context (capped by amdgpu_ctx_num_entities, 2 for
 *    DMA in amdgpu_ctx.c), ib_start_alignment 256, and ip_discovery_version
 *    in the former _pad field (bits 23:16 major, 15:8 minor, 7:0 rev);
 *    AMDGPU_INFO_HW_IP_COUNT reports adev->sdma.num_instances.
 *  - Linux amdgpu_cs.c: a submission's BOs come from its BO list; the IB is
 *    given by GPU address (AMDGPU_CHUNK_ID_IB); the returned sequence number
 *    is the fence that DRM_IOCTL_AMDGPU_WAIT_CS waits on, and that ioctl
 *    returns the fence's error when the job failed (amdgpu_cs_wait_ioctl).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <amdgpu.h>
#include <amdgpu_drm.h>

#include "common_thread.h"

#include "sdma_engine_internal.h"
#include "sdma_packet.h"

#define SDMA_DEFAULT_IBS_PER_LANE 4
#define SDMA_DEFAULT_MAX_IB_BYTES (256ULL << 20)
#define SDMA_DEFAULT_IB_WAIT_NS	  (60ULL * 1000000000ULL)
/* Large buffers get 2 MiB-aligned VAs so the VM can use big page fragments (as Mesa does). */
#define SDMA_VA_ALIGN_LARGE (2ULL << 20)

static int sdma_fail(struct sdma_engine *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records "what: cause" as the engine's last error, hands it to the debug hook, returns err. */
static int sdma_fail(struct sdma_engine *e, int err, const char *fmt, ...)
{
	char msg[sizeof(e->last_error)];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s (%d)", strerror(-err), err);

	pthread_mutex_lock(&e->err_lock);
	memcpy(e->last_error, msg, sizeof(msg));
	pthread_mutex_unlock(&e->err_lock);
	if (e->cfg.debug)
		e->cfg.debug(e->cfg.debug_opaque, msg);
	return err;
}

void sdma_engine_last_error(struct sdma_engine *e, char *buf, size_t len)
{
	if (!len)
		return;
	pthread_mutex_lock(&e->err_lock);
	snprintf(buf, len, "%s", e->last_error);
	pthread_mutex_unlock(&e->err_lock);
}

static uint64_t sdma_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* ---- VA mappings ---------------------------------------------------------- */

static int sdma_vm_map(struct sdma_engine *e, amdgpu_bo_handle bo, uint64_t size,
		       struct sdma_vm_buf *vm, const char *what)
{
	uint64_t align = size >= SDMA_VA_ALIGN_LARGE ? SDMA_VA_ALIGN_LARGE : e->page_size;
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->bo = bo;
	vm->size = size;
	vm->va_size = sdma_align_up(size, e->page_size);

	r = amdgpu_va_range_alloc(e->dev, amdgpu_gpu_va_range_general, vm->va_size, align, 0,
				  &vm->va, &vm->va_range, 0);
	if (r)
		return sdma_fail(e, r, "%s: amdgpu_va_range_alloc of %" PRIu64 " bytes", what,
				 vm->va_size);
	r = amdgpu_bo_va_op(bo, 0, vm->va_size, vm->va, 0, AMDGPU_VA_OP_MAP);
	if (r) {
		sdma_fail(e, r, "%s: amdgpu_bo_va_op MAP at 0x%" PRIx64 " (%" PRIu64 " bytes)",
			  what, vm->va, vm->va_size);
		goto free_range;
	}
	r = amdgpu_bo_export(bo, amdgpu_bo_handle_type_kms, &vm->kms_handle);
	if (r) {
		sdma_fail(e, r, "%s: amdgpu_bo_export KMS handle", what);
		goto unmap;
	}
	return 0;

unmap:
	amdgpu_bo_va_op(bo, 0, vm->va_size, vm->va, 0, AMDGPU_VA_OP_UNMAP);
free_range:
	amdgpu_va_range_free(vm->va_range);
	vm->va_range = NULL;
	vm->bo = NULL; /* the caller still owns the BO reference */
	return r;
}

/* Unmaps and drops the BO reference. */
static void sdma_vm_unmap(struct sdma_vm_buf *vm)
{
	if (vm->va_range) {
		amdgpu_bo_va_op(vm->bo, 0, vm->va_size, vm->va, 0, AMDGPU_VA_OP_UNMAP);
		amdgpu_va_range_free(vm->va_range);
		vm->va_range = NULL;
	}
	if (vm->bo) {
		amdgpu_bo_free(vm->bo);
		vm->bo = NULL;
	}
}

/* ---- lanes and fences ----------------------------------------------------- */

/*
 * Asks the kernel whether seq on the lane has completed, waiting up to
 * timeout_ns. Returns 1 done, 0 still running, or the error the job (or the
 * ioctl) reported. Needs no lock: the context and ring never change, and
 * libdrm's fence query is thread-safe, so ticket waiters never block a
 * lane's submitter.
 */
static int sdma_lane_query(struct sdma_engine *e, unsigned int idx, uint64_t seq,
			   uint64_t timeout_ns)
{
	struct sdma_lane *lane = &e->lanes[idx];
	struct amdgpu_cs_fence f;
	uint32_t expired = 0;
	int r;

	memset(&f, 0, sizeof(f));
	f.context = lane->ctx;
	f.ip_type = AMDGPU_HW_IP_DMA;
	f.ip_instance = 0;
	f.ring = lane->ring;
	f.fence = seq;
	r = amdgpu_cs_query_fence_status(&f, timeout_ns, 0, &expired);
	if (r)
		return r;
	return expired ? 1 : 0;
}

/*
 * Records a query's outcome: completion advances last_signaled, an error
 * sticks to the lane (a failed job leaves the lane's later work suspect).
 * The caller holds lane->lock.
 */
static int sdma_lane_note(struct sdma_engine *e, unsigned int idx, uint64_t seq, int r)
{
	struct sdma_lane *lane = &e->lanes[idx];

	if (r < 0) {
		if (!lane->error)
			lane->error = r;
		return sdma_fail(e, r, "lane %u (ring %u): fence %" PRIu64 " ended with an error",
				 idx, lane->ring, seq);
	}
	if (r > 0 && seq > lane->last_signaled)
		lane->last_signaled = seq;
	return r;
}

/* Waits until IB ib of the lane is free to reuse. The caller holds lane->lock. */
static int sdma_lane_take_ib(struct sdma_engine *e, unsigned int idx, unsigned int ib)
{
	struct sdma_lane *lane = &e->lanes[idx];
	uint64_t seq = lane->ib_seq[ib];
	int r;

	if (lane->error)
		return lane->error;
	if (!seq || seq <= lane->last_signaled)
		return 0;
	r = sdma_lane_note(e, idx, seq, sdma_lane_query(e, idx, seq, e->cfg.ib_wait_timeout_ns));
	if (r == 0)
		return sdma_fail(e, -ETIME,
				 "lane %u: IB %u (fence %" PRIu64 ") still busy after %" PRIu64
				 " ns",
				 idx, ib, seq, e->cfg.ib_wait_timeout_ns);
	return r < 0 ? r : 0;
}

/* The BOs one IB's packets address, each once: destination, source and the IB itself. */
struct sdma_bo_set {
	unsigned int n;
	struct drm_amdgpu_bo_list_entry e[3];
};

static void sdma_bo_set_add(struct sdma_bo_set *set, const struct sdma_vm_buf *vm)
{
	unsigned int i;

	for (i = 0; i < set->n; i++)
		if (set->e[i].bo_handle == vm->kms_handle)
			return;
	set->e[set->n].bo_handle = vm->kms_handle;
	set->e[set->n++].bo_priority = 0;
}

/* Submits the lane's IB ib holding cdw dwords; set lists the BOs its packets address. */
static int sdma_lane_submit(struct sdma_engine *e, unsigned int idx, unsigned int ib, uint32_t cdw,
			    struct sdma_bo_set *set, const char *what)
{
	struct sdma_lane *lane = &e->lanes[idx];
	struct drm_amdgpu_cs_chunk_ib ib_info;
	struct drm_amdgpu_cs_chunk chunk;
	uint32_t list_handle = 0;
	uint64_t seq = 0;
	int r, r2;

	sdma_bo_set_add(set, &e->ib);
	r = amdgpu_bo_list_create_raw(e->dev, set->n, set->e, &list_handle);
	if (r)
		return sdma_fail(e, r, "%s: lane %u: amdgpu_bo_list_create_raw of %u BOs", what,
				 idx, set->n);

	memset(&ib_info, 0, sizeof(ib_info));
	ib_info.va_start = lane->ib_va + (uint64_t)ib * e->ib_stride;
	ib_info.ib_bytes = cdw * 4;
	ib_info.ip_type = AMDGPU_HW_IP_DMA;
	ib_info.ip_instance = 0;
	ib_info.ring = lane->ring;
	chunk.chunk_id = AMDGPU_CHUNK_ID_IB;
	chunk.length_dw = sizeof(ib_info) / 4;
	chunk.chunk_data = (uint64_t)(uintptr_t)&ib_info;

	r = amdgpu_cs_submit_raw2(e->dev, lane->ctx, list_handle, 1, &chunk, &seq);
	r2 = amdgpu_bo_list_destroy_raw(e->dev, list_handle);
	if (r) {
		lane->error = r;
		return sdma_fail(e, r, "%s: lane %u (ring %u): amdgpu_cs_submit_raw2 of %u dwords",
				 what, idx, lane->ring, cdw);
	}
	lane->ib_seq[ib] = seq;
	lane->last_submitted = seq;
	if (r2)
		sdma_fail(e, r2, "%s: lane %u: amdgpu_bo_list_destroy_raw (ignored)", what, idx);
	return 0;
}

/* One transfer: a copy from src, or a fill with a value when src is NULL. */
struct sdma_xfer {
	const struct sdma_vm_buf *dst;
	uint64_t dst_off;
	const struct sdma_vm_buf *src;
	uint64_t src_off;
	uint64_t len;
};

static int sdma_check_xfer(struct sdma_engine *e, const struct sdma_xfer *x, const char *what)
{
	if (x->dst_off > x->dst->size || x->len > x->dst->size - x->dst_off)
		return sdma_fail(e, -ERANGE,
				 "%s: destination [%" PRIu64 ", +%" PRIu64 ") outside its %" PRIu64
				 " bytes",
				 what, x->dst_off, x->len, x->dst->size);
	if (x->src && (x->src_off > x->src->size || x->len > x->src->size - x->src_off))
		return sdma_fail(e, -ERANGE,
				 "%s: source [%" PRIu64 ", +%" PRIu64 ") outside its %" PRIu64
				 " bytes",
				 what, x->src_off, x->len, x->src->size);
	if (!x->src && ((x->dst_off | x->len) & 3))
		return sdma_fail(e, -EINVAL,
				 "%s: fill offset %" PRIu64 " and length %" PRIu64
				 " must be multiples of 4",
				 what, x->dst_off, x->len);
	return 0;
}

/*
 * Emits and submits one transfer on a lane, split into as many packets and
 * IBs as the generation's packet limit, max_ib_bytes and the IB size ask.
 * The ticket is the last IB's.
 */
static int sdma_run(struct sdma_engine *e, unsigned int idx, const struct sdma_xfer *x,
		    uint32_t value, struct sdma_ticket *ticket, const char *what)
{
	struct sdma_bo_set set;
	struct sdma_lane *lane;
	uint64_t done = 0; /* bytes already emitted */
	uint64_t before;
	int r = 0;

	if (ticket)
		memset(ticket, 0, sizeof(*ticket));
	if (idx >= e->num_lanes)
		return sdma_fail(e, -EINVAL, "%s: lane %u of %u", what, idx, e->num_lanes);
	r = sdma_check_xfer(e, x, what);
	if (r || !x->len)
		return r;

	lane = &e->lanes[idx];
	pthread_mutex_lock(&lane->lock);
	before = lane->last_submitted;
	while (done < x->len) {
		unsigned int ib = lane->next_ib;
		uint64_t budget = e->cfg.max_ib_bytes;
		struct sdma_cs cs;

		r = sdma_lane_take_ib(e, idx, ib);
		if (r)
			break;
		cs.buf = lane->ib_cpu + (size_t)ib * (e->ib_stride / 4);
		cs.cdw = 0;
		cs.max_dw = e->ib_dw - e->gen->ib_pad_dw; /* leave room to pad */
		/* Packets until the IB is full, the byte budget is spent or all is emitted. */
		while (done < x->len && budget) {
			uint64_t want = x->len - done < budget ? x->len - done : budget, got;

			if (x->src)
				got = sdma_emit_copy_linear(&cs, e->gen,
							    x->dst->va + x->dst_off + done,
							    x->src->va + x->src_off + done, want);
			else
				got = sdma_emit_const_fill(
					&cs, e->gen, x->dst->va + x->dst_off + done, want, value);
			if (!got)
				break; /* IB full */
			budget -= got;
			done += got;
		}
		if (!cs.cdw) {
			/* Cannot happen with validated arguments; never loop on it. */
			r = sdma_fail(e, -EINVAL, "%s: no packet fits an IB of %u dwords", what,
				      e->ib_dw);
			break;
		}
		set.n = 0;
		sdma_bo_set_add(&set, x->dst);
		if (x->src)
			sdma_bo_set_add(&set, x->src);
		cs.max_dw = e->ib_dw;
		sdma_pad_ib(&cs, e->gen);
		r = sdma_lane_submit(e, idx, ib, cs.cdw, &set, what);
		if (r)
			break;
		lane->next_ib = (ib + 1) % e->cfg.ibs_per_lane;
	}
	/* Also on failure: the ticket covers whatever part was submitted. */
	if (ticket && lane->last_submitted != before) {
		ticket->lane = idx;
		ticket->seq = lane->last_submitted;
	}
	pthread_mutex_unlock(&lane->lock);
	return r;
}

int sdma_engine_copy_to_host(struct sdma_engine *e, struct sdma_bo *bo, uint64_t bo_offset,
			     struct sdma_hostbuf *hb, uint64_t hb_offset, uint64_t len,
			     unsigned int lane, struct sdma_ticket *ticket)
{
	struct sdma_xfer x = { &hb->vm, hb_offset, &bo->vm, bo_offset, len };

	return sdma_run(e, lane, &x, 0, ticket, "copy BO to host");
}

int sdma_engine_copy_from_host(struct sdma_engine *e, struct sdma_hostbuf *hb, uint64_t hb_offset,
			       struct sdma_bo *bo, uint64_t bo_offset, uint64_t len,
			       unsigned int lane, struct sdma_ticket *ticket)
{
	struct sdma_xfer x = { &bo->vm, bo_offset, &hb->vm, hb_offset, len };

	return sdma_run(e, lane, &x, 0, ticket, "copy host to BO");
}

int sdma_engine_fill(struct sdma_engine *e, struct sdma_bo *bo, uint64_t offset, uint64_t len,
		     uint32_t value, unsigned int lane, struct sdma_ticket *ticket)
{
	struct sdma_xfer x = { &bo->vm, offset, NULL, 0, len };

	return sdma_run(e, lane, &x, value, ticket, "fill BO");
}

int sdma_engine_wait(struct sdma_engine *e, const struct sdma_ticket *t, uint64_t timeout_ns)
{
	struct sdma_lane *lane;
	int r;

	if (!t->seq)
		return 0;
	if (t->lane >= e->num_lanes)
		return sdma_fail(e, -EINVAL, "wait: ticket for lane %u of %u", t->lane,
				 e->num_lanes);
	lane = &e->lanes[t->lane];
	pthread_mutex_lock(&lane->lock);
	r = lane->error;
	pthread_mutex_unlock(&lane->lock);
	if (r)
		return r;

	r = sdma_lane_query(e, t->lane, t->seq, timeout_ns);

	pthread_mutex_lock(&lane->lock);
	r = sdma_lane_note(e, t->lane, t->seq, r);
	pthread_mutex_unlock(&lane->lock);
	if (r == 0)
		return -ETIME;
	return r < 0 ? r : 0;
}

int sdma_engine_poll(struct sdma_engine *e, const struct sdma_ticket *t)
{
	int r = sdma_engine_wait(e, t, 0);

	if (r == -ETIME)
		return 0;
	return r < 0 ? r : 1;
}

int sdma_engine_drain(struct sdma_engine *e, uint64_t timeout_ns)
{
	unsigned int i;
	int r, first = 0;

	for (i = 0; i < e->num_lanes; i++) {
		struct sdma_ticket t = { .lane = i };

		pthread_mutex_lock(&e->lanes[i].lock);
		t.seq = e->lanes[i].last_submitted;
		pthread_mutex_unlock(&e->lanes[i].lock);
		r = sdma_engine_wait(e, &t, timeout_ns);
		if (r && !first)
			first = r;
	}
	return first;
}

/* ---- host buffers and imported BOs ---------------------------------------- */

/* Registers @size bytes at @ptr (mmap()ed by the caller) as a host buffer that frees them. */
static int sdma_hostbuf_register(struct sdma_engine *e, void *ptr, uint64_t size,
				 struct sdma_hostbuf **out)
{
	struct sdma_hostbuf *hb;
	amdgpu_bo_handle bo;
	int r;

	hb = calloc(1, sizeof(*hb));
	if (!hb)
		return sdma_fail(e, -ENOMEM, "host buffer of %" PRIu64 " bytes", size);
	r = amdgpu_create_bo_from_user_mem(e->dev, ptr, size, &bo);
	if (r) {
		free(hb);
		return sdma_fail(e, r,
				 "host buffer %p (%" PRIu64 " bytes): "
				 "amdgpu_create_bo_from_user_mem",
				 ptr, size);
	}
	r = sdma_vm_map(e, bo, size, &hb->vm, "host buffer");
	if (r) {
		amdgpu_bo_free(bo);
		free(hb);
		return r;
	}
	hb->engine = e;
	hb->ptr = ptr;
	*out = hb;
	return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14, include/uapi/asm-generic/mman-common.h */
#endif
#define SDMA_HUGE_PAGE (2ull << 20)

#define SDMA_MPOL_PREFERRED 1 /* include/uapi/linux/mempolicy.h */

int sdma_numa_node_read(const char *path)
{
	FILE *f = fopen(path, "re");
	int node = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &node) != 1 || node < 0 || node >= 1024)
		node = -1;
	fclose(f);
	return node;
}

int sdma_numa_node_of_fd(int fd)
{
	struct stat st;
	char path[96];

	if (fstat(fd, &st) || !S_ISCHR(st.st_mode))
		return -1;
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/device/numa_node", major(st.st_rdev),
		 minor(st.st_rdev));
	return sdma_numa_node_read(path);
}

/*
 * Prefers node @node for the pages of [p, p + size) (mbind(2) with
 * MPOL_PREFERRED; raw syscall, so no libnuma). Best effort: on one node,
 * without the syscall or when refused, the pages go where they would anyway.
 * A GPU's copy engine reaching host memory on another socket crosses the
 * socket link for every byte, and the CPU side of the pipeline reads what it
 * wrote there again.
 */
static void sdma_prefer_node(void *p, uint64_t size, int node)
{
	unsigned long mask[1024 / (8 * sizeof(unsigned long))] = { 0 };

	if (node < 0 || node >= 1024)
		return;
	mask[node / (8 * sizeof(unsigned long))] |= 1ul << (node % (8 * sizeof(unsigned long)));
	/* maxnode counts one past the last bit the kernel reads (mm/mempolicy.c get_nodes) */
	syscall(SYS_mbind, p, (unsigned long)size, SDMA_MPOL_PREFERRED, mask,
		(unsigned long)(8 * sizeof(mask) + 1), 0ul);
}

/* A range of the pool faulted in by one thread. */
struct sdma_populate {
	pthread_t thread;
	bool started; /* on a thread of its own */
	uint8_t *p;
	uint64_t size;
	int err; /* errno of MADV_POPULATE_WRITE, 0 when done */
};

static void *sdma_populate_main(void *arg)
{
	struct sdma_populate *r = arg;

	r->err = madvise(r->p, r->size, MADV_POPULATE_WRITE) ? errno : 0;
	return NULL;
}

/*
 * Faults [p, p + size) in, zeroed, on up to SDMA_POPULATE_THREADS threads of
 * at least SDMA_POPULATE_MIN bytes each: the kernel clears every new page,
 * about 35 ms for a 320 MiB pool on one thread of this project's 2-core VM,
 * at the start of every dump and restore (about a tenth of a 16 GiB restore
 * on the H100 machine, bench/RESULTS.md). Returns 0 or an errno (EINVAL:
 * MADV_POPULATE_WRITE unknown, before Linux 5.14).
 */
#define SDMA_POPULATE_THREADS 8
#define SDMA_POPULATE_MIN     (32ull << 20)
static int sdma_populate(uint8_t *p, uint64_t size)
{
	struct sdma_populate r[SDMA_POPULATE_THREADS];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t n = size / SDMA_POPULATE_MIN, per, at = 0;
	int err = 0;

	if (n > SDMA_POPULATE_THREADS)
		n = SDMA_POPULATE_THREADS;
	if (cpus > 0 && n > (uint64_t)cpus)
		n = (uint64_t)cpus;
	if (n < 2)
		return madvise(p, size, MADV_POPULATE_WRITE) ? errno : 0;
	/* Whole huge pages per thread, the last takes the rest. */
	per = size / n / SDMA_HUGE_PAGE * SDMA_HUGE_PAGE;
	for (uint64_t i = 0; i < n; i++) {
		r[i].p = p + at;
		r[i].size = i + 1 < n ? per : size - at;
		r[i].err = 0;
		at += r[i].size;
		/* The first range on this thread, the rest on helpers (or here if
		 * a helper cannot start). */
		r[i].started = i && !common_thread_start(&r[i].thread, sdma_populate_main, &r[i]);
		if (i && !r[i].started)
			sdma_populate_main(&r[i]);
	}
	sdma_populate_main(&r[0]);
	for (uint64_t i = 0; i < n; i++) {
		if (r[i].started)
			pthread_join(r[i].thread, NULL);
		if (r[i].err && !err)
			err = r[i].err;
	}
	return err;
}

void *sdma_host_pages_alloc(uint64_t size, int numa_node)
{
	uint64_t len = size + SDMA_HUGE_PAGE, head;
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *p;
	int err;

	if (!size || size > SIZE_MAX - SDMA_HUGE_PAGE || size % (uint64_t)page) {
		errno = EINVAL;
		return NULL;
	}
	/*
	 * A pool set up once and pinned whole: faulting it in and pinning it
	 * page by page took 0.1-0.2 s for 320 MiB on the H100 machine, at the
	 * start of every dump and restore. On 2 MiB pages both go a folio at a
	 * time. So: start the mapping on a 2 MiB boundary (map 2 MiB more and
	 * trim), ask for huge pages (a no-op where THP is off) and fault it all
	 * in now, not in the first copy of each buffer.
	 */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	head = (SDMA_HUGE_PAGE - (uintptr_t)p % SDMA_HUGE_PAGE) % SDMA_HUGE_PAGE;
	if (head)
		munmap(p, head);
	if (len - head > size)
		munmap(p + head + size, len - head - size);
	p += head;
	madvise(p, size, MADV_HUGEPAGE);
	sdma_prefer_node(p, size, numa_node);
	err = sdma_populate(p, size);
	if (err) {
		/* Before 5.14: touch every page (EINVAL), or out of memory. */
		if (err != EINVAL) {
			munmap(p, size);
			errno = err;
			return NULL;
		}
		for (uint64_t off = 0; off < size; off += (uint64_t)page)
			((volatile uint8_t *)p)[off] = 0;
	}
	return p;
}

int sdma_hostbuf_alloc(struct sdma_engine *e, uint64_t size, struct sdma_hostbuf **out)
{
	uint64_t map_size = sdma_align_up(size, e->page_size);
	void *p;
	int r;

	*out = NULL;
	if (!size || map_size > SIZE_MAX)
		return sdma_fail(e, -EINVAL, "host buffer: size %" PRIu64, size);
	/* Populated up front (see sdma_host_pages_alloc): the kernel pins
	 * userptr pages at submission anyway. */
	p = sdma_host_pages_alloc(map_size, e->numa_node);
	if (!p)
		return sdma_fail(e, -errno, "host buffer: mmap of %" PRIu64 " bytes", map_size);
	r = sdma_hostbuf_register(e, p, map_size, out);
	if (r)
		munmap(p, map_size);
	return r;
}

void *sdma_hostbuf_ptr(const struct sdma_hostbuf *hb)
{
	return hb->ptr;
}

void sdma_hostbuf_free(struct sdma_hostbuf *hb)
{
	uint64_t size;

	if (!hb)
		return;
	size = hb->vm.size;
	sdma_vm_unmap(&hb->vm);
	munmap(hb->ptr, size);
	free(hb);
}

int sdma_bo_import_dmabuf(struct sdma_engine *e, int dmabuf_fd, struct sdma_bo **out)
{
	struct amdgpu_bo_import_result res;
	struct sdma_bo *bo;
	char what[48];
	int r;

	*out = NULL;
	snprintf(what, sizeof(what), "dmabuf fd %d", dmabuf_fd);
	bo = calloc(1, sizeof(*bo));
	if (!bo)
		return sdma_fail(e, -ENOMEM, "%s", what);
	memset(&res, 0, sizeof(res));
	r = amdgpu_bo_import(e->dev, amdgpu_bo_handle_type_dma_buf_fd, (uint32_t)dmabuf_fd, &res);
	if (r) {
		free(bo);
		return sdma_fail(e, r, "%s: amdgpu_bo_import", what);
	}
	if (!res.alloc_size) {
		amdgpu_bo_free(res.buf_handle);
		free(bo);
		return sdma_fail(e, -EINVAL, "%s: imported BO has size 0", what);
	}
	r = sdma_vm_map(e, res.buf_handle, res.alloc_size, &bo->vm, what);
	if (r) {
		amdgpu_bo_free(res.buf_handle);
		free(bo);
		return r;
	}
	bo->engine = e;
	*out = bo;
	return 0;
}

uint64_t sdma_bo_size(const struct sdma_bo *bo)
{
	return bo->vm.size;
}

void sdma_bo_release(struct sdma_bo *bo)
{
	if (!bo)
		return;
	sdma_vm_unmap(&bo->vm);
	free(bo);
}

/* ---- engine --------------------------------------------------------------- */

static void sdma_engine_config_defaults(struct sdma_engine_config *c)
{
	if (!c->ibs_per_lane)
		c->ibs_per_lane = SDMA_DEFAULT_IBS_PER_LANE;
	if (!c->max_ib_bytes)
		c->max_ib_bytes = SDMA_DEFAULT_MAX_IB_BYTES;
	/* Page multiples keep every IB's share of a fill dword-aligned. */
	c->max_ib_bytes &= ~4095ULL;
	if (c->max_ib_bytes < 4096)
		c->max_ib_bytes = 4096;
	if (!c->ib_wait_timeout_ns)
		c->ib_wait_timeout_ns = SDMA_DEFAULT_IB_WAIT_NS;
}

/* Queries the DMA IP and picks the generation. */
static int sdma_engine_query(struct sdma_engine *e, uint32_t *ib_align)
{
	struct drm_amdgpu_info_hw_ip hw;
	uint32_t count = 0, discovery = 0, ip;
	int r;

	memset(&hw, 0, sizeof(hw));
	r = amdgpu_query_hw_ip_info(e->dev, AMDGPU_HW_IP_DMA, 0, &hw);
	if (r)
		return sdma_fail(e, r, "amdgpu_query_hw_ip_info(DMA)");
	/*
	 * ip_discovery_version follows available_rings; older libdrm headers
	 * (2.4.114, Debian 12) still call it _pad, so read it by position.
	 */
	_Static_assert(sizeof(hw) >= offsetof(struct drm_amdgpu_info_hw_ip, available_rings) + 8,
		       "drm_amdgpu_info_hw_ip has no field after available_rings");
	memcpy(&discovery,
	       (const char *)&hw + offsetof(struct drm_amdgpu_info_hw_ip, available_rings) + 4, 4);

	ip = sdma_gen_ip_from_hw_ip(hw.hw_ip_version_major, hw.hw_ip_version_minor, discovery);
	r = sdma_gen_lookup(ip, &e->gen);
	if (r)
		return sdma_fail(e, r, "SDMA IP %u.%u.%u (block %u.%u)", SDMA_IP_MAJOR(ip),
				 SDMA_IP_MINOR(ip), SDMA_IP_REV(ip), hw.hw_ip_version_major,
				 hw.hw_ip_version_minor);
	if (!hw.available_rings)
		return sdma_fail(e, -ENODEV, "%s: the device reports no available DMA ring",
				 e->gen->name);
	/* Older kernels answer 1 for every IP here; then the rings tell. */
	if (amdgpu_query_hw_ip_count(e->dev, AMDGPU_HW_IP_DMA, &count) || !count)
		count = (uint32_t)__builtin_popcount(hw.available_rings);

	e->info.ip_version = ip;
	e->info.gen_name = e->gen->name;
	e->info.num_instances = count;
	e->info.available_rings = hw.available_rings;
	e->info.copy_max_bytes = e->gen->copy_max_bytes;
	*ib_align = hw.ib_start_alignment > e->gen->ib_align_bytes ? hw.ib_start_alignment
								   : e->gen->ib_align_bytes;
	return 0;
}

static int sdma_engine_make_lanes(struct sdma_engine *e)
{
	uint32_t rings[32];
	unsigned int nrings = 0, i;
	int r;

	for (i = 0; i < 32; i++)
		if (e->info.available_rings & (1u << i))
			rings[nrings++] = i;
	e->num_lanes = e->cfg.num_lanes;
	if (!e->num_lanes)
		e->num_lanes = e->info.num_instances > nrings ? e->info.num_instances : nrings;
	if (e->num_lanes > SDMA_ENGINE_MAX_LANES)
		return sdma_fail(e, -EINVAL, "%u lanes requested, at most %u", e->num_lanes,
				 SDMA_ENGINE_MAX_LANES);
	e->num_ctx = (e->num_lanes + nrings - 1) / nrings;

	e->ctx = calloc(e->num_ctx, sizeof(*e->ctx));
	e->lanes = calloc(e->num_lanes, sizeof(*e->lanes));
	if (!e->ctx || !e->lanes)
		return sdma_fail(e, -ENOMEM, "%u lanes", e->num_lanes);
	for (i = 0; i < e->num_ctx; i++) {
		r = amdgpu_cs_ctx_create(e->dev, &e->ctx[i]);
		if (r)
			return sdma_fail(e, r, "amdgpu_cs_ctx_create (context %u of %u)", i,
					 e->num_ctx);
	}
	for (i = 0; i < e->num_lanes; i++) {
		struct sdma_lane *lane = &e->lanes[i];

		lane->ctx = e->ctx[i / nrings];
		lane->ring = rings[i % nrings];
		pthread_mutex_init(&lane->lock, NULL);
		lane->ib_seq = calloc(e->cfg.ibs_per_lane, sizeof(*lane->ib_seq));
		if (!lane->ib_seq)
			return sdma_fail(e, -ENOMEM, "lane %u", i);
	}
	e->info.num_lanes = e->num_lanes;
	return 0;
}

/* One GTT BO holds every lane's IBs, CPU-mapped for writing packets. */
static int sdma_engine_make_ibs(struct sdma_engine *e, uint32_t ib_align)
{
	struct amdgpu_bo_alloc_request req;
	uint64_t copy_dw = sdma_copy_linear_dw(e->gen, e->cfg.max_ib_bytes);
	uint64_t fill_dw =
		((e->cfg.max_ib_bytes + e->gen->fill_max_bytes - 1) / e->gen->fill_max_bytes) *
		SDMA_CONST_FILL_DW;
	uint64_t dw = copy_dw > fill_dw ? copy_dw : fill_dw, total;
	amdgpu_bo_handle bo;
	unsigned int i;
	int r;

	/* Room for the packets, then a full pad block (sdma_run reserves it). */
	dw = sdma_align_up(dw + e->gen->ib_pad_dw, e->gen->ib_pad_dw);
	if (dw > (1u << 20))
		return sdma_fail(e, -EINVAL,
				 "max_ib_bytes %" PRIu64 " needs IBs of %" PRIu64 " dwords",
				 e->cfg.max_ib_bytes, dw);
	e->ib_dw = (uint32_t)dw;
	e->ib_stride = (uint32_t)sdma_align_up(dw * 4, ib_align);
	total = sdma_align_up((uint64_t)e->ib_stride * e->cfg.ibs_per_lane * e->num_lanes,
			      e->page_size);

	memset(&req, 0, sizeof(req));
	req.alloc_size = total;
	req.phys_alignment = e->page_size;
	req.preferred_heap = AMDGPU_GEM_DOMAIN_GTT;
	r = amdgpu_bo_alloc(e->dev, &req, &bo);
	if (r)
		return sdma_fail(e, r, "IB buffer: amdgpu_bo_alloc of %" PRIu64 " bytes (GTT)",
				 total);
	r = amdgpu_bo_cpu_map(bo, &e->ib_map);
	if (r) {
		amdgpu_bo_free(bo);
		return sdma_fail(e, r, "IB buffer: amdgpu_bo_cpu_map");
	}
	r = sdma_vm_map(e, bo, total, &e->ib, "IB buffer");
	if (r) {
		amdgpu_bo_cpu_unmap(bo);
		amdgpu_bo_free(bo);
		e->ib_map = NULL;
		return r;
	}
	for (i = 0; i < e->num_lanes; i++) {
		uint64_t off = (uint64_t)i * e->cfg.ibs_per_lane * e->ib_stride;

		e->lanes[i].ib_cpu = (uint32_t *)((char *)e->ib_map + off);
		e->lanes[i].ib_va = e->ib.va + off;
	}
	return 0;
}

int sdma_engine_new(int render_fd, const struct sdma_engine_config *cfg, struct sdma_engine **out)
{
	struct sdma_engine *e;
	uint32_t ib_align = 0;
	long page = sysconf(_SC_PAGESIZE);
	int r;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->err_lock, NULL);
	if (cfg)
		e->cfg = *cfg;
	sdma_engine_config_defaults(&e->cfg);
	e->page_size = page > 0 ? (uint64_t)page : 4096;

	e->numa_node = sdma_numa_node_of_fd(render_fd);
	r = amdgpu_device_initialize(render_fd, &e->info.drm_major, &e->info.drm_minor, &e->dev);
	if (r) {
		e->dev = NULL;
		sdma_fail(e, r, "render fd %d: amdgpu_device_initialize", render_fd);
		goto fail;
	}
	r = sdma_engine_query(e, &ib_align);
	if (r)
		goto fail;
	r = sdma_engine_make_lanes(e);
	if (r)
		goto fail;
	r = sdma_engine_make_ibs(e, ib_align);
	if (r)
		goto fail;
	*out = e;
	return 0;

fail:
	/* The message already went to cfg->debug; the engine goes. */
	sdma_engine_free(e);
	return r;
}

int sdma_engine_open(unsigned int render_minor, const struct sdma_engine_config *cfg,
		     struct sdma_engine **out)
{
	char path[64];
	int fd, r;

	*out = NULL;
	snprintf(path, sizeof(path), "/dev/dri/renderD%u", render_minor);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (cfg && cfg->debug) {
			char msg[128];

			snprintf(msg, sizeof(msg), "open %s: %s (%d)", path, strerror(-r), r);
			cfg->debug(cfg->debug_opaque, msg);
		}
		return r;
	}
	r = sdma_engine_new(fd, cfg, out);
	close(fd);
	return r;
}

void sdma_engine_get_info(const struct sdma_engine *e, struct sdma_engine_info *info)
{
	*info = e->info;
}

void sdma_engine_free(struct sdma_engine *e)
{
	unsigned int i;

	if (!e)
		return;
	if (e->ib_map) /* fully built: lanes may have work in flight */
		sdma_engine_drain(e, e->cfg.ib_wait_timeout_ns);
	if (e->ib_map)
		amdgpu_bo_cpu_unmap(e->ib.bo);
	sdma_vm_unmap(&e->ib);
	if (e->lanes) {
		for (i = 0; i < e->num_lanes; i++) {
			free(e->lanes[i].ib_seq);
			if (e->lanes[i].ctx)
				pthread_mutex_destroy(&e->lanes[i].lock);
		}
		free(e->lanes);
	}
	if (e->ctx) {
		for (i = 0; i < e->num_ctx; i++)
			if (e->ctx[i])
				amdgpu_cs_ctx_free(e->ctx[i]);
		free(e->ctx);
	}
	if (e->dev)
		amdgpu_device_deinitialize(e->dev);
	pthread_mutex_destroy(&e->err_lock);
	free(e);
}
