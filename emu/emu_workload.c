// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vramstream-emu-workload: a ROCm-like program for the emulator. On every
 * GPU it acquires a VM through the render node, allocates a VRAM BO, a GTT
 * BO and a userptr BO (its queue ring, control words and host data, at a
 * fixed address), maps them, creates a compute queue, and runs N
 * deterministic steps of GPU packets (emu_packet.h), each followed by CPU
 * reads and writes of VRAM and GTT through the render node's CPU mappings
 * (wl_map_cpu: device VMAs a restore must re-create). At the end it prints
 * "digest <hex>" (checksums the GPU computed over every BO) and, unless
 * --no-verify, recomputes the whole run on the CPU and prints "verify ok".
 *
 * It talks to /dev/kfd only through ioctls (no daemon connection stays
 * open) and waits for completion by polling signal words in its own memory,
 * so criu may freeze, dump and restore it at any point between ioctls.
 *
 * --vram-used BYTES limits the computation to the first BYTES of each VRAM BO;
 * the rest stays zero, as much of a real GPU's memory does, so images of it
 * show what zero-chunk detection saves.
 *
 * --same-gpus gives every GPU the same program and so the same memory, as
 * replicated weights of a data-parallel job (images store it once).
 *
 * --cpu-mem BYTES adds plain process memory of pseudo-random words that no GPU
 * touches (criu dumps and restores it as it does any program's), checked at
 * the end ("cpu-mem ok"): restore benchmarks use it to give criu its own work.
 *
 * --hsakmt-shm sets up libhsakmt's shared memory as hsaKmtOpenKFD does (wl_hsakmt_open):
 * the file /dev/shm/hsakmt_shared_mem, kept open and mapped, and the semaphore
 * sem.hsakmt_semaphore; it takes two IOMMU counter slots from the table, and at the
 * end prints "hsakmt-shm magic HEX slots N" from the table before giving them back
 * and removing both, as the last libhsakmt user does.
 *
 * --dmabuf exports a dma-buf of GPU 0's VRAM BO (AMDKFD_IOC_EXPORT_DMABUF), as ROCr's
 * interop and IPC do, and holds the fd for the whole run; at the end it maps the dma-buf
 * and prints "dmabuf ok HEX" when its checksum is the GPU's own of that BO, else "dmabuf
 * FAILED" (so a restored fd of another or a stale buffer shows).
 *
 * --small-bos N adds N small BOs per GPU (--small-bo-size BYTES each, 4 KiB by
 * default), VRAM and GTT in turn, as caching allocators leave thousands of them
 * behind: each is filled at the start, every step mixes host data into one of
 * them and one of them into VRAM, and the digest folds in every one's checksum,
 * so a restore that loses or swaps any of them ends with another digest.
 *
 * Usage: vramstream-emu-workload [--steps N (0: endless)] [--vram BYTES] [--vram-used BYTES]
 *        [--gtt BYTES] [--host BYTES] [--cpu-mem BYTES] [--delay-ms MS] [--no-verify]
 *        [--same-gpus] [--hsakmt-shm] [--dmabuf] [--small-bos N] [--small-bo-size BYTES]
 * SIGUSR1 makes it print "digest-at STEP HEX" after the current step (for
 * endless runs).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/kfd_ioctl.h>
#include <amdgpu_drm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common_size.h"
#include "emu_kfd_wire.h"
#include "emu_packet.h"

#define WL_MAX_GPUS    8
#define WL_RING_BYTES  (16u << 10)
#define WL_CTL_BYTES   4096u
#define WL_HOST_BASE   0x3e0000000000ULL /* userptr region: an address criu's own maps never use */
#define WL_GPU_VA_BASE 0x200000000000ULL
#define WL_SMALL_VA    (1ULL << 37) /* small BOs from here on, after each GPU's VRAM BO */
#define WL_SUM_BATCH   128u	    /* checksums per ring round trip (ring: 256 packets) */

struct wl_ctl {
	volatile uint64_t wptr;
	volatile uint64_t rptr;
	volatile uint64_t signal;
	volatile uint64_t sums[3]; /* vram, gtt, host checksums */
	volatile uint64_t small_sums[WL_SUM_BATCH];
};

_Static_assert(sizeof(struct wl_ctl) <= 4096, "control words fit their page");

struct wl_gpu {
	uint32_t gpu_id;
	uint32_t queue_id;
	int render_fd;	   /* kept open, as libhsakmt keeps its render nodes */
	uint8_t *vram_cpu; /* CPU mappings of the VRAM and GTT BOs, at their GPU VAs */
	uint8_t *gtt_cpu;
	void *doorbell_cpu; /* the doorbell BO mapped through /dev/kfd */
	uint8_t *region;    /* ring | ctl | host data */
	uint64_t vram_va, gtt_va, host_va, small_va;
	uint64_t vram_handle, gtt_handle, host_handle, doorbell_handle;
	struct emu_packet *ring;
	struct wl_ctl *ctl;
};

struct wl {
	int kfd;
	unsigned int ngpus;
	uint64_t vram, vram_used, gtt, host;
	bool same;		      /* --same-gpus: every GPU runs GPU 0's program */
	uint64_t small_n, small_size; /* --small-bos, --small-bo-size */
	struct wl_gpu g[WL_MAX_GPUS];
};

static volatile sig_atomic_t wl_digest_wanted;

static int wl_fail(const char *what, int err)
{
	fprintf(stderr, "workload: %s: %s\n", what, strerror(err));
	return -err;
}

/*
 * libhsakmt's shared memory (ROCT-Thunk-Interface src/perfctr.c): names and the table. The
 * slot count stands for pmc_table_get_max_concurrent(PERFCOUNTER_BLOCKID__IOMMUV2); what
 * matters here is that the table's words survive a restore.
 */
#define WL_HSAKMT_SHM	     "/hsakmt_shared_mem"
#define WL_HSAKMT_SEM	     "hsakmt_semaphore"
#define WL_HSA_PERF_MAGIC4CC 0x54415348u
#define WL_IOMMU_SLOTS	     8u
#define WL_SLOTS_TAKEN	     2u

struct wl_perf_shared_table {
	uint32_t magic4cc;
	uint32_t iommu_slots_left;
};

struct wl_hsakmt {
	sem_t *sem;
	int shm_fd; /* kept open, as libhsakmt keeps shmem_fd */
	struct wl_perf_shared_table *table;
};

/* init_shared_region, init_perf_shared_table, then update_block_slots(ACQUIRE, 2). */
static int wl_hsakmt_open(struct wl_hsakmt *h)
{
	h->sem = sem_open(WL_HSAKMT_SEM, O_CREAT, 0666, 1);
	if (h->sem == SEM_FAILED)
		return wl_fail("sem_open " WL_HSAKMT_SEM, errno);
	h->shm_fd = shm_open(WL_HSAKMT_SHM, O_CREAT | O_RDWR, 0666);
	if (h->shm_fd < 0)
		return wl_fail("shm_open " WL_HSAKMT_SHM, errno);
	if (ftruncate(h->shm_fd, sizeof(*h->table)))
		return wl_fail("ftruncate " WL_HSAKMT_SHM, errno);
	h->table = mmap(NULL, sizeof(*h->table), PROT_READ | PROT_WRITE, MAP_SHARED, h->shm_fd, 0);
	if (h->table == MAP_FAILED)
		return wl_fail("mmap " WL_HSAKMT_SHM, errno);
	sem_wait(h->sem);
	if (h->table->magic4cc != WL_HSA_PERF_MAGIC4CC) {
		h->table->magic4cc = WL_HSA_PERF_MAGIC4CC;
		h->table->iommu_slots_left = WL_IOMMU_SLOTS;
	}
	if (h->table->iommu_slots_left >= WL_SLOTS_TAKEN)
		h->table->iommu_slots_left -= WL_SLOTS_TAKEN;
	sem_post(h->sem);
	return 0;
}

/* The table as this process sees it now, then the slots back and destroy_shared_region. */
static void wl_hsakmt_close(struct wl_hsakmt *h)
{
	sem_wait(h->sem);
	printf("hsakmt-shm magic %08x slots %u\n", h->table->magic4cc, h->table->iommu_slots_left);
	h->table->iommu_slots_left += WL_SLOTS_TAKEN;
	sem_post(h->sem);
	munmap(h->table, sizeof(*h->table));
	shm_unlink(WL_HSAKMT_SHM);
	close(h->shm_fd);
	sem_close(h->sem);
	sem_unlink(WL_HSAKMT_SEM);
}

static void wl_on_usr1(int sig)
{
	(void)sig;
	wl_digest_wanted = 1;
}

static int wl_ioctl(struct wl *w, unsigned long req, void *arg, const char *what)
{
	if (ioctl(w->kfd, req, arg) != 0)
		return wl_fail(what, errno);
	return 0;
}

static int wl_read_u32_prop(unsigned int node, const char *file, const char *key, uint32_t *out)
{
	char path[256], line[256];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/sys/class/kfd/kfd/topology/nodes/%u/%s", node, file);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	errno = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char k[128];
		unsigned long long v;

		if (!key && sscanf(line, "%llu", &v) == 1) {
			*out = (uint32_t)v;
			found = 1;
		} else if (key && sscanf(line, "%127s %llu", k, &v) == 2 && strcmp(k, key) == 0) {
			*out = (uint32_t)v;
			found = 1;
		}
	}
	/* kfd_topology.c: node_show is -EPERM for a GPU the device cgroup denies */
	if (!found && ferror(f)) {
		int err = errno ? -errno : -EIO;

		fclose(f);
		return err;
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

static int wl_alloc(struct wl *w, struct wl_gpu *g, uint64_t va, uint64_t size, uint32_t flags,
		    uint64_t user, uint64_t *handle, uint64_t *mmap_offset)
{
	struct kfd_ioctl_alloc_memory_of_gpu_args a = {
		.va_addr = va,
		.size = size,
		.gpu_id = g->gpu_id,
		.flags = flags,
		.mmap_offset = user,
	};
	struct kfd_ioctl_map_memory_to_gpu_args m = { .n_devices = 1 };
	int err = wl_ioctl(w, AMDKFD_IOC_ALLOC_MEMORY_OF_GPU, &a, "alloc memory");

	if (err)
		return err;
	*handle = a.handle;
	if (mmap_offset)
		*mmap_offset = a.mmap_offset;
	m.handle = a.handle;
	m.device_ids_array_ptr = (uint64_t)(uintptr_t)&g->gpu_id;
	return wl_ioctl(w, AMDKFD_IOC_MAP_MEMORY_TO_GPU, &m, "map memory");
}

/*
 * CPU mappings as libhsakmt makes them (fmm.c): VRAM and GTT BOs through the
 * render node the VM was acquired from, at the mmap offset ALLOC returned and
 * at the BO's GPU VA; the doorbell BO through /dev/kfd at its KFD offset. So
 * a checkpoint holds device VMAs of both, which a restore must re-create at
 * the restored BOs' offsets: the steps read and write VRAM and GTT through
 * them (wl_cpu_touch), so a mapping of the wrong memory changes the digest.
 */
static int wl_map_cpu(struct wl *w, struct wl_gpu *g, uint64_t vram_off, uint64_t gtt_off,
		      uint64_t doorbell_off)
{
	const int prot = PROT_READ | PROT_WRITE, flags = MAP_SHARED | MAP_FIXED_NOREPLACE;

	g->vram_cpu = mmap((void *)(uintptr_t)g->vram_va, w->vram, prot, flags, g->render_fd,
			   (off_t)vram_off);
	if (g->vram_cpu == MAP_FAILED)
		return wl_fail("mmap VRAM BO through the render node", errno);
	g->gtt_cpu = mmap((void *)(uintptr_t)g->gtt_va, w->gtt, prot, flags, g->render_fd,
			  (off_t)gtt_off);
	if (g->gtt_cpu == MAP_FAILED)
		return wl_fail("mmap GTT BO through the render node", errno);
	g->doorbell_cpu = mmap(NULL, 8192, prot, MAP_SHARED, w->kfd, (off_t)doorbell_off);
	if (g->doorbell_cpu == MAP_FAILED)
		return wl_fail("mmap doorbells through /dev/kfd", errno);
	return 0;
}

/* --small-bos: side by side in GPU VA, so small BO i is at small_va + i * small_size. */
static int wl_alloc_small(struct wl *w, struct wl_gpu *g)
{
	const uint32_t rw = KFD_IOC_ALLOC_MEM_FLAGS_WRITABLE;
	uint64_t handle;

	g->small_va = g->vram_va + WL_SMALL_VA;
	for (uint64_t i = 0; i < w->small_n; i++) {
		uint32_t kind = i % 2 ? KFD_IOC_ALLOC_MEM_FLAGS_GTT : KFD_IOC_ALLOC_MEM_FLAGS_VRAM;
		int err = wl_alloc(w, g, g->small_va + i * w->small_size, w->small_size, kind | rw,
				   0, &handle, NULL);

		if (err)
			return err;
	}
	return 0;
}

static int wl_setup_gpu(struct wl *w, unsigned int idx, unsigned int node)
{
	struct wl_gpu *g = &w->g[idx];
	struct kfd_ioctl_acquire_vm_args av;
	struct kfd_ioctl_create_queue_args q;
	uint32_t minor;
	char path[64];
	size_t region = WL_RING_BYTES + WL_CTL_BYTES + w->host;
	const uint32_t rw = KFD_IOC_ALLOC_MEM_FLAGS_WRITABLE;
	uint64_t vram_off = 0, gtt_off = 0, doorbell_off = 0;
	int fd, err;

	err = wl_read_u32_prop(node, "gpu_id", NULL, &g->gpu_id);
	if (!err)
		err = wl_read_u32_prop(node, "properties", "drm_render_minor", &minor);
	if (err)
		return wl_fail("read topology", -err);
	snprintf(path, sizeof(path), "/dev/dri/renderD%u", minor);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return wl_fail(path, errno);
	av.drm_fd = (uint32_t)fd;
	av.gpu_id = g->gpu_id;
	err = wl_ioctl(w, AMDKFD_IOC_ACQUIRE_VM, &av, "acquire vm");
	g->render_fd = fd;
	if (err)
		return err;
	g->region = mmap((void *)(uintptr_t)(WL_HOST_BASE + idx * (1ULL << 36)), region,
			 PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 -1, 0);
	if (g->region == MAP_FAILED)
		return wl_fail("mmap host region", errno);
	memset(g->region, 0, region);
	g->ring = (struct emu_packet *)g->region;
	g->ctl = (struct wl_ctl *)(g->region + WL_RING_BYTES);
	g->host_va = (uint64_t)(uintptr_t)g->region; /* userptr: GPU VA = CPU address */
	g->vram_va = WL_GPU_VA_BASE + idx * (1ULL << 40);
	g->gtt_va = g->vram_va + (1ULL << 39);
	err = wl_alloc(w, g, g->vram_va, w->vram, KFD_IOC_ALLOC_MEM_FLAGS_VRAM | rw, 0,
		       &g->vram_handle, &vram_off);
	if (!err)
		err = wl_alloc(w, g, g->gtt_va, w->gtt, KFD_IOC_ALLOC_MEM_FLAGS_GTT | rw, 0,
			       &g->gtt_handle, &gtt_off);
	if (!err)
		err = wl_alloc(w, g, g->host_va, region, KFD_IOC_ALLOC_MEM_FLAGS_USERPTR | rw,
			       g->host_va, &g->host_handle, NULL);
	/* A doorbell BO, as libhsakmt allocates one per GPU (kfd_doorbell_process_slice: 2 pages)
	 */
	if (!err)
		err = wl_alloc(w, g, g->vram_va + (1ULL << 38), 8192,
			       KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL | rw, 0, &g->doorbell_handle,
			       &doorbell_off);
	if (!err)
		err = wl_alloc_small(w, g);
	if (err)
		return err;
	err = wl_map_cpu(w, g, vram_off, gtt_off, doorbell_off);
	if (err)
		return err;
	memset(&q, 0, sizeof(q));
	q.gpu_id = g->gpu_id;
	q.queue_type = KFD_IOC_QUEUE_TYPE_COMPUTE_AQL;
	q.queue_percentage = 100;
	q.ring_base_address = g->host_va;
	q.ring_size = WL_RING_BYTES;
	q.write_pointer_address = (uint64_t)(uintptr_t)&g->ctl->wptr;
	q.read_pointer_address = (uint64_t)(uintptr_t)&g->ctl->rptr;
	err = wl_ioctl(w, AMDKFD_IOC_CREATE_QUEUE, &q, "create queue");
	g->queue_id = q.queue_id;
	return err;
}

static uint64_t wl_host_data_va(const struct wl_gpu *g)
{
	return g->host_va + WL_RING_BYTES + WL_CTL_BYTES;
}

static void wl_emit(struct wl_gpu *g, uint32_t op, uint64_t dst, uint64_t src, uint64_t size,
		    uint64_t arg, uint64_t signal)
{
	uint64_t slots = WL_RING_BYTES / sizeof(struct emu_packet);
	struct emu_packet *pk = &g->ring[g->ctl->wptr % slots];

	memset(pk, 0, sizeof(*pk));
	pk->opcode = op;
	pk->dst = dst;
	pk->src = src;
	pk->size = size;
	pk->arg = arg;
	if (signal) {
		pk->signal_addr = (uint64_t)(uintptr_t)&g->ctl->signal;
		pk->signal_value = signal;
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	g->ctl->wptr++;
}

static int wl_wait(struct wl_gpu *g, uint64_t value)
{
	for (;;) {
		uint64_t s = __atomic_load_n(&g->ctl->signal, __ATOMIC_ACQUIRE);
		struct timespec ts = { 0, 50000 };

		if (s == value)
			return 0;
		if (s == EMU_SIGNAL_FAULT) {
			fprintf(stderr, "workload: GPU 0x%x queue faulted\n", g->gpu_id);
			return -EFAULT;
		}
		nanosleep(&ts, NULL);
	}
}

/* The step program, shared by the GPU run and the CPU reference. */
struct wl_op {
	uint32_t op;
	int dst, src; /* 0 vram, 1 gtt, 2 host data, 3 the small BOs (BO i at i * small_size) */
	uint64_t dst_off, src_off, size, arg;
};

static unsigned int wl_step_ops(const struct wl *w, unsigned int gpu, uint64_t step,
				struct wl_op *ops)
{
	uint64_t chunks = w->vram_used / w->host, c = step % chunks, c2 = (step * 7 + 3) % chunks;
	uint64_t salt = (uint64_t)(w->same ? 0 : gpu) << 32;

	ops[0] = (struct wl_op){ EMU_PKT_MIX, 2, 0, 0, c * w->host, w->host, step ^ salt };
	ops[1] = (struct wl_op){ EMU_PKT_MIX, 0, 2, c2 * w->host, 0, w->host, step * 3 + salt };
	ops[2] = (struct wl_op){ EMU_PKT_COPY, 1, 0, 0, c * w->host, w->host, 0 };
	ops[3] = (struct wl_op){ EMU_PKT_MIX, 0, 1, c * w->host, 0, w->host, step + 11 };
	if (!w->small_n)
		return 4;
	/* one small BO takes host data, another goes into VRAM */
	uint64_t s1 = (step * 131 + 17 + gpu) % w->small_n, s2 = (step * 7 + 5) % w->small_n;

	ops[4] = (struct wl_op){ EMU_PKT_MIX,	3,	     2, s1 * w->small_size, 0,
				 w->small_size, step * 5 + 1 };
	ops[5] = (struct wl_op){ EMU_PKT_MIX,	0,	 3, c2 * w->host, s2 * w->small_size,
				 w->small_size, step + 3 };
	return 6;
}

static uint64_t wl_va(const struct wl_gpu *g, int which, uint64_t off)
{
	return (which == 0   ? g->vram_va
		: which == 1 ? g->gtt_va
		: which == 2 ? wl_host_data_va(g)
			     : g->small_va) +
	       off;
}

static int wl_run_gpu_ops(struct wl *w, struct wl_gpu *g, const struct wl_op *ops, unsigned int n,
			  uint64_t signal)
{
	unsigned int i;

	g->ctl->signal = 0;
	for (i = 0; i < n; i++)
		wl_emit(g, ops[i].op, wl_va(g, ops[i].dst, ops[i].dst_off),
			wl_va(g, ops[i].src, ops[i].src_off), ops[i].size, ops[i].arg,
			i + 1 == n ? signal : 0);
	return wl_wait(g, signal);
}

static void wl_cpu_op(uint8_t *bufs[4], const struct wl_op *o)
{
	uint64_t *d = (uint64_t *)(bufs[o->dst] + o->dst_off);
	const uint64_t *s = (const uint64_t *)(bufs[o->src] + o->src_off);
	uint64_t k;

	for (k = 0; k < o->size / 8; k++) {
		if (o->op == EMU_PKT_FILL)
			d[k] = emu_fill_word(o->arg, k);
		else if (o->op == EMU_PKT_COPY)
			d[k] = s[k];
		else if (o->op == EMU_PKT_MIX)
			d[k] = emu_rotl64(d[k], 7) ^ (s[k] + o->arg);
	}
}

/* The CPU's part of a step: read-modify-write of VRAM and GTT words through the CPU. */
static void wl_cpu_touch(const struct wl *w, unsigned int gpu, uint64_t step, uint8_t *vram,
			 uint8_t *gtt)
{
	uint64_t at = (step * 5 + (w->same ? 0 : gpu)) % (w->vram_used / w->host);
	uint64_t *v = (uint64_t *)(vram + at * w->host);
	uint64_t *t = (uint64_t *)(gtt + (step % (w->host / 64)) * 64);
	uint64_t k;

	for (k = 0; k < 512 && k < w->host / 8; k++)
		v[k] = emu_rotl64(v[k], 3) ^ (step * 0x9e3779b97f4a7c15ULL + k);
	for (k = 0; k < 8; k++)
		t[k] = emu_rotl64(t[k], 5) ^ (v[k] + step);
}

static uint64_t wl_sum(const uint8_t *p, uint64_t size)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t h = EMU_CHECKSUM_INIT, k;

	for (k = 0; k < size / 8; k++)
		h = emu_checksum_step(h, w[k]);
	return h;
}

static void wl_init_ops(const struct wl *w, unsigned int gpu, struct wl_op *ops)
{
	gpu = w->same ? 0 : gpu;
	ops[0] = (struct wl_op){ EMU_PKT_FILL, 0, 0, 0, 0, w->vram_used, 0x1000 + gpu };
	ops[1] = (struct wl_op){ EMU_PKT_FILL, 1, 1, 0, 0, w->gtt, 0x2000 + gpu };
	ops[2] = (struct wl_op){ EMU_PKT_FILL, 2, 2, 0, 0, w->host, 0x3000 + gpu };
}

/* The fill of small BO @i at the start. */
static struct wl_op wl_small_fill(const struct wl *w, unsigned int gpu, uint64_t i)
{
	uint64_t seed = 0x50000000ULL + ((uint64_t)(w->same ? 0 : gpu) << 24) + i;

	return (struct wl_op){ EMU_PKT_FILL, 3, 3, i * w->small_size, 0, w->small_size, seed };
}

/* Fills every small BO of GPU @gpu, WL_SUM_BATCH packets per round trip. */
static int wl_small_init(struct wl *w, unsigned int gpu)
{
	struct wl_op ops[WL_SUM_BATCH];
	int err = 0;

	for (uint64_t i = 0; !err && i < w->small_n; i += WL_SUM_BATCH) {
		unsigned int n = 0;

		while (n < WL_SUM_BATCH && i + n < w->small_n) {
			ops[n] = wl_small_fill(w, gpu, i + n);
			n++;
		}
		err = wl_run_gpu_ops(w, &w->g[gpu], ops, n, 1);
	}
	return err;
}

/* Folds the GPU's checksum of every small BO of @g into @h, in order. */
static int wl_small_digest(struct wl *w, struct wl_gpu *g, uint64_t *h)
{
	uint64_t sums_va = (uint64_t)(uintptr_t)g->ctl->small_sums;

	for (uint64_t i = 0; i < w->small_n; i += WL_SUM_BATCH) {
		unsigned int n = 0, k;
		int err;

		g->ctl->signal = 0;
		while (n < WL_SUM_BATCH && i + n < w->small_n) {
			bool last = n + 1 == WL_SUM_BATCH || i + n + 1 == w->small_n;

			wl_emit(g, EMU_PKT_CHECKSUM, sums_va + n * 8,
				g->small_va + (i + n) * w->small_size, w->small_size, 0,
				last ? UINT64_MAX - 1 : 0);
			n++;
		}
		err = wl_wait(g, UINT64_MAX - 1);
		if (err)
			return err;
		for (k = 0; k < n; k++)
			*h = emu_checksum_step(*h, g->ctl->small_sums[k]);
	}
	return 0;
}

static uint64_t wl_digest_fold(uint64_t h, const uint64_t sums[3])
{
	unsigned int i;

	for (i = 0; i < 3; i++)
		h = emu_checksum_step(h, sums[i]);
	return h;
}

static int wl_gpu_digest(struct wl *w, uint64_t *digest)
{
	uint64_t h = EMU_CHECKSUM_INIT;
	unsigned int i;
	int err = 0;

	for (i = 0; !err && i < w->ngpus; i++) {
		struct wl_gpu *g = &w->g[i];
		uint64_t ctl = (uint64_t)(uintptr_t)g->ctl;
		uint64_t sums_va = g->host_va + (ctl - g->host_va) + offsetof(struct wl_ctl, sums);

		g->ctl->signal = 0;
		wl_emit(g, EMU_PKT_CHECKSUM, sums_va, g->vram_va, w->vram, 0, 0);
		wl_emit(g, EMU_PKT_CHECKSUM, sums_va + 8, g->gtt_va, w->gtt, 0, 0);
		wl_emit(g, EMU_PKT_CHECKSUM, sums_va + 16, wl_host_data_va(g), w->host, 0,
			UINT64_MAX - 1);
		err = wl_wait(g, UINT64_MAX - 1);
		if (!err) {
			uint64_t s[3] = { g->ctl->sums[0], g->ctl->sums[1], g->ctl->sums[2] };

			h = wl_digest_fold(h, s);
			err = wl_small_digest(w, g, &h);
		}
	}
	*digest = h;
	return err;
}

/* kfd_ioctl_export_dmabuf: a dma-buf of GPU 0's VRAM BO. */
static int wl_export_vram(struct wl *w, int *fd)
{
	struct kfd_ioctl_export_dmabuf_args a = {
		.handle = w->g[0].vram_handle,
		.flags = O_RDWR | O_CLOEXEC,
	};
	int err = wl_ioctl(w, AMDKFD_IOC_EXPORT_DMABUF, &a, "export VRAM BO as a dma-buf");

	*fd = (int)a.dmabuf_fd;
	return err;
}

/*
 * The dma-buf's size (dma_buf_llseek: SEEK_END) and contents (dma_buf_mmap) against GPU 0's
 * VRAM checksum, which wl_gpu_digest left in its control words.
 */
static int wl_check_dmabuf(const struct wl *w, int fd)
{
	off_t size = lseek(fd, 0, SEEK_END);
	uint64_t sum;
	void *p;

	if (size != (off_t)w->vram) {
		printf("dmabuf FAILED: size %lld, VRAM BO %" PRIu64 "\n", (long long)size, w->vram);
		return -1;
	}
	p = mmap(NULL, w->vram, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		printf("dmabuf FAILED: mmap: %s\n", strerror(errno));
		return -1;
	}
	sum = wl_sum(p, w->vram);
	munmap(p, w->vram);
	if (sum != w->g[0].ctl->sums[0]) {
		printf("dmabuf FAILED: contents %016" PRIx64 ", the GPU's VRAM BO %016" PRIx64 "\n",
		       sum, w->g[0].ctl->sums[0]);
		return -1;
	}
	printf("dmabuf ok %016" PRIx64 "\n", sum);
	return 0;
}

/* The whole run again on the CPU, from nothing. */
static int wl_cpu_digest(const struct wl *w, uint64_t steps, uint64_t *digest)
{
	uint64_t h = EMU_CHECKSUM_INIT, s;
	unsigned int i, k, n;
	int err = 0;

	for (i = 0; !err && i < w->ngpus; i++) {
		uint8_t *bufs[4] = { malloc(w->vram), malloc(w->gtt), malloc(w->host),
				     malloc(w->small_n * w->small_size + 1) };
		struct wl_op ops[8];
		uint64_t sums[3];

		if (!bufs[0] || !bufs[1] || !bufs[2] || !bufs[3]) {
			err = -ENOMEM;
		} else {
			wl_init_ops(w, i, ops);
			for (k = 0; k < 3; k++)
				wl_cpu_op(bufs, &ops[k]);
			for (uint64_t b = 0; b < w->small_n; b++) {
				ops[0] = wl_small_fill(w, i, b);
				wl_cpu_op(bufs, &ops[0]);
			}
			for (s = 0; s < steps; s++) {
				n = wl_step_ops(w, i, s, ops);
				for (k = 0; k < n; k++)
					wl_cpu_op(bufs, &ops[k]);
				wl_cpu_touch(w, i, s, bufs[0], bufs[1]);
			}
			sums[0] = wl_sum(bufs[0], w->vram);
			sums[1] = wl_sum(bufs[1], w->gtt);
			sums[2] = wl_sum(bufs[2], w->host);
			h = wl_digest_fold(h, sums);
			for (uint64_t b = 0; b < w->small_n; b++)
				h = emu_checksum_step(
					h, wl_sum(bufs[3] + b * w->small_size, w->small_size));
		}
		for (k = 0; k < 4; k++)
			free(bufs[k]);
	}
	*digest = h;
	return err;
}

/* Fills (or, when @check, compares) @n words with a fixed xorshift sequence. */
/*
 * --gem-bo: a BO made through the render node of the first GPU (AMDGPU_GEM_CREATE, as Mesa and
 * libdrm users make them), mapped to the CPU at the offset GEM_MMAP gives and into the GPU VM
 * at WL_GEM_VA; each step writes one word of it. At the end it must hold what the steps wrote,
 * seen through a fresh mapping at the offset GEM_MMAP gives then, and its VA mapping must
 * still be there (GEM_VA UNMAP of it succeeds only then: amdgpu_vm_bo_unmap).
 * --gem-always-valid makes it with AMDGPU_GEM_CREATE_VM_ALWAYS_VALID, which the kernel does not
 * export as a dma-buf (amdgpu_gem_prime_export: -EPERM).
 */
#define WL_GEM_SIZE (64u << 10)
#define WL_GEM_VA   0x600000000000ull

struct wl_gem {
	uint32_t handle;
	uint64_t *cpu;
	bool always_valid; /* --gem-always-valid: made with AMDGPU_GEM_CREATE_VM_ALWAYS_VALID */
};

static uint64_t wl_gem_word(uint64_t k, uint64_t step)
{
	return (k + 1) * 0x9e3779b97f4a7c15ull ^ (step << 20);
}

static int wl_gem_setup(struct wl *w, struct wl_gem *g)
{
	int fd = w->g[0].render_fd;
	union drm_amdgpu_gem_create c = { .in = { .bo_size = WL_GEM_SIZE,
						  .alignment = 4096,
						  .domains = AMDGPU_GEM_DOMAIN_GTT,
						  .domain_flags =
							  AMDGPU_GEM_CREATE_CPU_ACCESS_REQUIRED } };
	union drm_amdgpu_gem_mmap m = { 0 };
	struct drm_amdgpu_gem_va va = { 0 };

	if (g->always_valid)
		c.in.domain_flags |= AMDGPU_GEM_CREATE_VM_ALWAYS_VALID;
	if (ioctl(fd, DRM_IOCTL_AMDGPU_GEM_CREATE, &c))
		return wl_fail("GEM_CREATE on the render node", errno);
	g->handle = c.out.handle;
	m.in.handle = g->handle;
	if (ioctl(fd, DRM_IOCTL_AMDGPU_GEM_MMAP, &m))
		return wl_fail("GEM_MMAP", errno);
	g->cpu = mmap(NULL, WL_GEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      (off_t)m.out.addr_ptr);
	if (g->cpu == MAP_FAILED)
		return wl_fail("mmap of the GEM BO", errno);
	va.handle = g->handle;
	va.operation = AMDGPU_VA_OP_MAP;
	va.flags = AMDGPU_VM_PAGE_READABLE | AMDGPU_VM_PAGE_WRITEABLE;
	va.va_address = WL_GEM_VA;
	va.map_size = WL_GEM_SIZE;
	if (ioctl(fd, DRM_IOCTL_AMDGPU_GEM_VA, &va))
		return wl_fail("GEM_VA MAP", errno);
	for (uint64_t k = 0; k < WL_GEM_SIZE / 8; k++)
		g->cpu[k] = wl_gem_word(k, 0);
	return 0;
}

static void wl_gem_step(struct wl_gem *g, uint64_t s)
{
	g->cpu[s % (WL_GEM_SIZE / 8)] = wl_gem_word(s % (WL_GEM_SIZE / 8), s + 1);
}

static int wl_gem_check(struct wl *w, struct wl_gem *g, uint64_t steps)
{
	int fd = w->g[0].render_fd;
	union drm_amdgpu_gem_mmap m = { .in.handle = g->handle };
	struct drm_amdgpu_gem_va va = { .handle = g->handle,
					.operation = AMDGPU_VA_OP_UNMAP,
					.va_address = WL_GEM_VA,
					.map_size = WL_GEM_SIZE };
	const uint64_t n = WL_GEM_SIZE / 8;
	uint64_t *fresh, bad = 0;

	if (ioctl(fd, DRM_IOCTL_AMDGPU_GEM_MMAP, &m))
		return wl_fail("GEM_MMAP of the GEM BO at the end", errno);
	fresh = mmap(NULL, WL_GEM_SIZE, PROT_READ, MAP_SHARED, fd, (off_t)m.out.addr_ptr);
	if (fresh == MAP_FAILED)
		return wl_fail("mmap of the GEM BO at the end", errno);
	for (uint64_t k = 0; k < n; k++) {
		/* The last step that wrote word k, or none. */
		uint64_t last = steps > k ? k + (steps - 1 - k) / n * n + 1 : 0;
		uint64_t want = wl_gem_word(k, last);

		bad += g->cpu[k] != want || fresh[k] != want;
	}
	munmap(fresh, WL_GEM_SIZE);
	if (bad) {
		printf("gem-bo FAILED: %" PRIu64 " word(s) differ\n", bad);
		return -1;
	}
	if (ioctl(fd, DRM_IOCTL_AMDGPU_GEM_VA, &va)) {
		printf("gem-bo FAILED: its GPU VA mapping is gone (%s)\n", strerror(errno));
		return -1;
	}
	printf("gem-bo ok\n");
	return 0;
}

/*
 * --gem-big BYTES: a VRAM BO made through the render node with AMDGPU_GEM_CREATE_NO_CPU_ACCESS
 * (as Mesa makes invisible-VRAM BOs), mapped into the GPU VM at WL_BIG_VA and reached only by
 * SDMA: command submissions on the render node (DRM_AMDGPU_CS of a DMA IB, as libdrm_amdgpu's
 * amdgpu_cs_submit does) copy a staging GTT BO into it, 1 MiB chunk by chunk. Its chunks start
 * equal (the image can store them once), each step rewrites one; at the end every chunk is
 * copied back and compared ("gem-big ok").
 *
 * --gem-dmabuf: a dma-buf of each GEM BO (DRM_IOCTL_PRIME_HANDLE_TO_FD), held for the whole
 * run as interop users hold them; at the end each must still be its BO: its size
 * (dma_buf_llseek), PRIME import into the render file giving the BO's own handle
 * (drm_gem_prime_fd_to_handle finds the file's export), and for the CPU-mappable BO its bytes
 * through a mapping of the dma-buf ("gem-dmabuf ok").
 */
#define WL_BIG_CHUNK	       (1u << 20)
#define WL_BIG_VA	       0x680000000000ull
#define WL_SDMA_IB_VA	       0x640000000000ull
#define WL_SDMA_STG_VA	       0x660000000000ull
#define WL_SDMA_OP_COPY	       1u /* SDMA_OP_COPY, sub-op 0 COPY_LINEAR (vega10_sdma_pkt_open.h) */
#define WL_SDMA_COPY_LINEAR_DW 7u

struct wl_big {
	int fd;
	uint64_t size;
	uint32_t handle, ib_handle, stage_handle;
	uint32_t *ib;
	uint8_t *stage;
};

static int wl_gem_new(int fd, uint64_t size, uint32_t domain, uint64_t flags, uint64_t va,
		      void **cpu, uint32_t *handle)
{
	union drm_amdgpu_gem_create c = { .in = { .bo_size = size,
						  .alignment = 4096,
						  .domains = domain,
						  .domain_flags = flags } };
	struct drm_amdgpu_gem_va m = { .operation = AMDGPU_VA_OP_MAP,
				       .flags = AMDGPU_VM_PAGE_READABLE | AMDGPU_VM_PAGE_WRITEABLE,
				       .va_address = va,
				       .map_size = size };

	if (ioctl(fd, DRM_IOCTL_AMDGPU_GEM_CREATE, &c))
		return wl_fail("GEM_CREATE of a --gem-big BO", errno);
	*handle = c.out.handle;
	m.handle = c.out.handle;
	if (ioctl(fd, DRM_IOCTL_AMDGPU_GEM_VA, &m))
		return wl_fail("GEM_VA MAP of a --gem-big BO", errno);
	if (cpu) {
		union drm_amdgpu_gem_mmap o = { .in.handle = c.out.handle };

		if (ioctl(fd, DRM_IOCTL_AMDGPU_GEM_MMAP, &o))
			return wl_fail("GEM_MMAP of a --gem-big staging BO", errno);
		*cpu = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			    (off_t)o.out.addr_ptr);
		if (*cpu == MAP_FAILED)
			return wl_fail("mmap of a --gem-big staging BO", errno);
	}
	return 0;
}

/*
 * One SDMA copy of a chunk between the staging BO and the big BO (@to_big), submitted and
 * waited for. A context per submission: contexts are no checkpointed state (neither the
 * kernel's CRIU interface nor upstream criu keeps them).
 */
static int wl_big_copy(struct wl_big *b, uint64_t chunk, bool to_big)
{
	uint64_t src = to_big ? WL_SDMA_STG_VA : WL_BIG_VA + chunk * WL_BIG_CHUNK;
	uint64_t dst = to_big ? WL_BIG_VA + chunk * WL_BIG_CHUNK : WL_SDMA_STG_VA;
	uint32_t handles[3] = { b->handle, b->stage_handle, b->ib_handle };
	union drm_amdgpu_ctx ctx = { .in.op = AMDGPU_CTX_OP_ALLOC_CTX };
	struct drm_amdgpu_cs_chunk_ib ib = { .ip_type = AMDGPU_HW_IP_DMA,
					     .va_start = WL_SDMA_IB_VA,
					     .ib_bytes = 8 * 4 };
	struct drm_amdgpu_bo_list_in list = { .bo_number = 3,
					      .bo_info_size = sizeof(uint32_t),
					      .bo_info_ptr = (uintptr_t)handles };
	struct drm_amdgpu_cs_chunk chunks[2] = {
		{ AMDGPU_CHUNK_ID_IB, sizeof(ib) / 4, (uintptr_t)&ib },
		{ AMDGPU_CHUNK_ID_BO_HANDLES, sizeof(list) / 4, (uintptr_t)&list },
	};
	uint64_t ptrs[2] = { (uintptr_t)&chunks[0], (uintptr_t)&chunks[1] };
	union drm_amdgpu_cs cs = { 0 };
	union drm_amdgpu_wait_cs wait = { 0 };
	int err = 0;

	if (ioctl(b->fd, DRM_IOCTL_AMDGPU_CTX, &ctx))
		return wl_fail("AMDGPU_CTX ALLOC_CTX", errno);
	/* COPY_LINEAR: count is bytes - 1 from SDMA 4.0 on (sdma_v4_0_emit_copy_buffer); the IB
	 * padded to 8 dwords with a NOP (sdma_v4_0_ring_pad_ib). */
	b->ib[0] = WL_SDMA_OP_COPY;
	b->ib[1] = WL_BIG_CHUNK - 1;
	b->ib[2] = 0;
	b->ib[3] = (uint32_t)src;
	b->ib[4] = (uint32_t)(src >> 32);
	b->ib[5] = (uint32_t)dst;
	b->ib[6] = (uint32_t)(dst >> 32);
	b->ib[7] = 0; /* NOP */
	cs.in.ctx_id = ctx.out.alloc.ctx_id;
	cs.in.num_chunks = 2;
	cs.in.chunks = (uintptr_t)ptrs;
	if (ioctl(b->fd, DRM_IOCTL_AMDGPU_CS, &cs)) {
		err = wl_fail("AMDGPU_CS of a --gem-big copy", errno);
	} else {
		wait.in.handle = cs.out.handle;
		wait.in.ip_type = AMDGPU_HW_IP_DMA;
		wait.in.ctx_id = ctx.out.alloc.ctx_id;
		wait.in.timeout = ~0ull; /* amdgpu_gem_timeout: negative waits forever */
		if (ioctl(b->fd, DRM_IOCTL_AMDGPU_WAIT_CS, &wait) || wait.out.status)
			err = wl_fail("AMDGPU_WAIT_CS of a --gem-big copy", errno ? errno : EIO);
	}
	ctx = (union drm_amdgpu_ctx){ .in = { .op = AMDGPU_CTX_OP_FREE_CTX,
					      .ctx_id = cs.in.ctx_id } };
	ioctl(b->fd, DRM_IOCTL_AMDGPU_CTX, &ctx);
	return err;
}

/* Chunk @c's word @k as the step @t (0: the start) left it. */
static uint64_t wl_big_word(uint64_t c, uint64_t k, uint64_t t)
{
	return t ? wl_gem_word(c * (WL_BIG_CHUNK / 8) + k, t) : (k & 0xff) * 0x0101010101010101ull;
}

static void wl_big_stage(struct wl_big *b, uint64_t c, uint64_t t)
{
	uint64_t *w = (uint64_t *)b->stage;

	for (uint64_t k = 0; k < WL_BIG_CHUNK / 8; k++)
		w[k] = wl_big_word(c, k, t);
}

static int wl_big_setup(struct wl *w, struct wl_big *b, uint64_t size)
{
	int err;

	b->fd = w->g[0].render_fd;
	b->size = size;
	err = wl_gem_new(b->fd, size, AMDGPU_GEM_DOMAIN_VRAM, AMDGPU_GEM_CREATE_NO_CPU_ACCESS,
			 WL_BIG_VA, NULL, &b->handle);
	if (!err)
		err = wl_gem_new(b->fd, 4096, AMDGPU_GEM_DOMAIN_GTT,
				 AMDGPU_GEM_CREATE_CPU_ACCESS_REQUIRED, WL_SDMA_IB_VA,
				 (void **)&b->ib, &b->ib_handle);
	if (!err)
		err = wl_gem_new(b->fd, WL_BIG_CHUNK, AMDGPU_GEM_DOMAIN_GTT,
				 AMDGPU_GEM_CREATE_CPU_ACCESS_REQUIRED, WL_SDMA_STG_VA,
				 (void **)&b->stage, &b->stage_handle);
	if (!err)
		wl_big_stage(b, 0, 0);
	for (uint64_t c = 0; !err && c < size / WL_BIG_CHUNK; c++)
		err = wl_big_copy(b, c, true);
	return err;
}

static int wl_big_step(struct wl_big *b, uint64_t s)
{
	uint64_t c = s % (b->size / WL_BIG_CHUNK);

	wl_big_stage(b, c, s + 1);
	return wl_big_copy(b, c, true);
}

static int wl_big_check(struct wl_big *b, uint64_t steps)
{
	const uint64_t n = b->size / WL_BIG_CHUNK;
	uint64_t bad = 0;

	for (uint64_t c = 0; c < n; c++) {
		/* The last step that wrote chunk c, or none. */
		uint64_t last = steps > c ? c + (steps - 1 - c) / n * n + 1 : 0;
		const uint64_t *got = (const uint64_t *)b->stage;
		int err = wl_big_copy(b, c, false);

		if (err)
			return err;
		for (uint64_t k = 0; k < WL_BIG_CHUNK / 8; k++)
			bad += got[k] != wl_big_word(c, k, last);
	}
	if (bad) {
		printf("gem-big FAILED: %" PRIu64 " word(s) differ\n", bad);
		return -1;
	}
	printf("gem-big ok\n");
	return 0;
}

/* A dma-buf of GEM BO @handle, held by the process. */
static int wl_gem_export(int fd, uint32_t handle, int *out)
{
	struct drm_prime_handle a = { .handle = handle, .flags = DRM_CLOEXEC | DRM_RDWR };

	if (ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &a))
		return wl_fail("PRIME_HANDLE_TO_FD of a GEM BO", errno);
	*out = a.fd;
	return 0;
}

/* dma-buf @dfd is still GEM BO @handle of @size bytes; @cpu: its bytes as the CPU sees them. */
static int wl_gem_dmabuf_check(int fd, int dfd, uint32_t handle, uint64_t size, const void *cpu)
{
	struct drm_prime_handle a = { .fd = dfd };
	off_t end = lseek(dfd, 0, SEEK_END);
	void *p;
	int same;

	if (end != (off_t)size) {
		printf("gem-dmabuf FAILED: size %lld, the BO has %" PRIu64 "\n", (long long)end,
		       size);
		return -1;
	}
	if (ioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &a) || a.handle != handle) {
		printf("gem-dmabuf FAILED: it imports as handle %u, the BO is %u (%s)\n", a.handle,
		       handle, strerror(errno));
		return -1;
	}
	if (!cpu)
		return 0;
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, dfd, 0);
	if (p == MAP_FAILED) {
		printf("gem-dmabuf FAILED: mmap: %s\n", strerror(errno));
		return -1;
	}
	same = !memcmp(p, cpu, size);
	munmap(p, size);
	if (!same) {
		printf("gem-dmabuf FAILED: its bytes are not the BO's\n");
		return -1;
	}
	return 0;
}

static int wl_cpu_mem(uint64_t *m, uint64_t n, int check)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (!check)
			m[i] = x;
		else if (m[i] != x)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct wl w;
	uint64_t steps = 100, s, digest, ref;
	unsigned int delay_ms = 0, i, node;
	int verify = 1, err = 0, hsakmt = 0, dmabuf = 0, dmabuf_fd = -1, gem = 0;
	int gem_dmabuf = 0, gem_dmabuf_fd = -1, big_dmabuf_fd = -1, gem_import = 0;
	struct wl_gem gem_bo = { 0 };
	struct wl_big big = { 0 };
	uint64_t big_size = 0;
	struct wl_hsakmt hsakmt_shm = { 0 };
	struct kfd_ioctl_get_version_args ver;
	uint64_t cpu_mem = 0, *cpu = NULL;

	w.vram = 4u << 20;
	w.gtt = 1u << 20;
	w.host = 256u << 10;
	w.small_size = 4096;
	for (i = 1; i < (unsigned int)argc; i++) {
		const char *opt = argv[i], *val = i + 1 < (unsigned int)argc ? argv[i + 1] : NULL;
		uint64_t *size = !val				   ? NULL
				 : !strcmp(opt, "--vram")	   ? &w.vram
				 : !strcmp(opt, "--vram-used")	   ? &w.vram_used
				 : !strcmp(opt, "--gtt")	   ? &w.gtt
				 : !strcmp(opt, "--host")	   ? &w.host
				 : !strcmp(opt, "--cpu-mem")	   ? &cpu_mem
				 : !strcmp(opt, "--small-bo-size") ? &w.small_size
				 : !strcmp(opt, "--gem-big")	   ? &big_size
								   : NULL;

		if (size) {
			if (common_size_parse(val, size)) {
				fprintf(stderr,
					"workload: %s %s is not a size (4096, 0x1000, 64K, 8M, 1G)\n",
					opt, val);
				return 2;
			}
			i++;
		} else if (val && !strcmp(opt, "--steps")) {
			steps = strtoull(argv[++i], NULL, 0);
		} else if (val && !strcmp(opt, "--small-bos")) {
			w.small_n = strtoull(argv[++i], NULL, 0);
		} else if (val && !strcmp(opt, "--delay-ms")) {
			delay_ms = (unsigned int)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(opt, "--no-verify")) {
			verify = 0;
		} else if (!strcmp(opt, "--same-gpus")) {
			w.same = true;
		} else if (!strcmp(opt, "--hsakmt-shm")) {
			hsakmt = 1;
		} else if (!strcmp(opt, "--dmabuf")) {
			dmabuf = 1;
		} else if (!strcmp(opt, "--gem-bo")) {
			gem = 1;
		} else if (!strcmp(opt, "--gem-dmabuf")) {
			gem_dmabuf = 1;
		} else if (!strcmp(opt, "--gem-always-valid")) {
			gem_bo.always_valid = true;
		} else if (!strcmp(opt, "--gem-import")) {
			gem_import = 1;
			dmabuf = 1;
		} else {
			fprintf(stderr,
				"usage: %s [--steps N] [--vram SIZE] [--vram-used SIZE] [--gtt SIZE] "
				"[--host SIZE] [--cpu-mem SIZE] [--delay-ms MS] [--no-verify] [--same-gpus] "
				"[--hsakmt-shm] [--dmabuf] [--small-bos N] [--small-bo-size SIZE] [--gem-bo]\n"
				"[--gem-big SIZE] [--gem-dmabuf] [--gem-always-valid] [--gem-import]\n"
				"SIZE: bytes, or with K, M, G (4096, 64K, 32M)\n",
				argv[0]);
			return 2;
		}
	}
	cpu_mem = cpu_mem / 8 * 8;
	if (big_size % WL_BIG_CHUNK) {
		fprintf(stderr, "workload: --gem-big must be a multiple of 1 MiB\n");
		return 2;
	}
	if (!w.vram_used || w.vram_used > w.vram)
		w.vram_used = w.vram;
	/* sizes: 8-byte words; vram (and the part used) a multiple of host; gtt at least host */
	if (!w.host || w.host % 4096 || w.vram % w.host || w.vram_used % w.host || w.gtt < w.host ||
	    w.gtt % 8) {
		fprintf(stderr,
			"workload: need host %% 4096 == 0, vram and vram-used %% host == 0, "
			"gtt >= host\n");
		return 2;
	}
	/* a small BO is whole pages, at most host data's size (the step mixes one with it) */
	if (w.small_n && (!w.small_size || w.small_size % 4096 || w.small_size > w.host ||
			  w.small_n * w.small_size >= WL_SMALL_VA)) {
		fprintf(stderr, "workload: need small-bo-size %% 4096 == 0, at most host, and "
				"small-bos * small-bo-size below 128 GiB\n");
		return 2;
	}
	signal(SIGUSR1, wl_on_usr1);
	w.kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	if (w.kfd < 0)
		return wl_fail("/dev/kfd", errno) ? 1 : 1;
	if (wl_ioctl(&w, AMDKFD_IOC_GET_VERSION, &ver, "get version"))
		return 1;
	if (hsakmt && wl_hsakmt_open(&hsakmt_shm))
		return 1;
	for (node = 1; w.ngpus < WL_MAX_GPUS; node++) {
		uint32_t id;
		int r = wl_read_u32_prop(node, "gpu_id", NULL, &id);

		if (r == -EPERM)
			continue; /* a GPU we may not use, skipped as libhsakmt does */
		if (r)
			break;
		if (!id)
			continue;
		err = wl_setup_gpu(&w, w.ngpus, node);
		if (err)
			return 1;
		w.ngpus++;
	}
	if (!w.ngpus) {
		fprintf(stderr, "workload: no GPU in the KFD topology\n");
		return 1;
	}
	if (dmabuf && wl_export_vram(&w, &dmabuf_fd))
		return 1;
	/* --gem-import: that dma-buf imported into the render node (PRIME, as Mesa imports a
	 * buffer another driver or process shares), the GEM handle kept. */
	if (gem_import) {
		struct drm_prime_handle a = { .fd = dmabuf_fd };

		if (ioctl(w.g[0].render_fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &a))
			return wl_fail("PRIME_FD_TO_HANDLE of the VRAM BO's dma-buf", errno) ? 1
											     : 1;
	}
	if (gem && wl_gem_setup(&w, &gem_bo))
		return 1;
	if (big_size && wl_big_setup(&w, &big, big_size))
		return 1;
	if (gem_dmabuf && gem && wl_gem_export(w.g[0].render_fd, gem_bo.handle, &gem_dmabuf_fd))
		return 1;
	if (gem_dmabuf && big_size && wl_gem_export(big.fd, big.handle, &big_dmabuf_fd))
		return 1;
	if (cpu_mem) {
		cpu = mmap(NULL, cpu_mem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			   0);
		if (cpu == MAP_FAILED)
			return wl_fail("mmap --cpu-mem", errno) ? 1 : 1;
		wl_cpu_mem(cpu, cpu_mem / 8, 0);
	}
	printf("workload: pid %d, %u GPU(s), KFD %u.%u, vram %" PRIu64 " gtt %" PRIu64
	       " host %" PRIu64 " bytes each, %" PRIu64 " small BO(s) of %" PRIu64 "\n",
	       (int)getpid(), w.ngpus, ver.major_version, ver.minor_version, w.vram, w.gtt, w.host,
	       w.small_n, w.small_size);
	fflush(stdout);
	for (i = 0; !err && i < w.ngpus; i++) {
		struct wl_op ops[3];

		wl_init_ops(&w, i, ops);
		err = wl_run_gpu_ops(&w, &w.g[i], ops, 3, 1);
		if (!err)
			err = wl_small_init(&w, i);
	}
	for (s = 0; !err && (steps == 0 || s < steps); s++) {
		for (i = 0; !err && i < w.ngpus; i++) {
			struct wl_op ops[8];
			unsigned int n = wl_step_ops(&w, i, s, ops);

			err = wl_run_gpu_ops(&w, &w.g[i], ops, n, s + 2);
			if (!err)
				wl_cpu_touch(&w, i, s, w.g[i].vram_cpu, w.g[i].gtt_cpu);
		}
		if (gem)
			wl_gem_step(&gem_bo, s);
		if (!err && big_size)
			err = wl_big_step(&big, s);
		printf("step %" PRIu64 "\n", s + 1);
		if (!err && wl_digest_wanted) {
			wl_digest_wanted = 0;
			err = wl_gpu_digest(&w, &digest);
			printf("digest-at %" PRIu64 " %016" PRIx64 "\n", s + 1, digest);
		}
		fflush(stdout);
		if (delay_ms) {
			struct timespec ts = { delay_ms / 1000,
					       (long)(delay_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	if (!err)
		err = wl_gpu_digest(&w, &digest);
	if (err)
		return 1;
	printf("digest %016" PRIx64 "\n", digest);
	if (hsakmt)
		wl_hsakmt_close(&hsakmt_shm);
	if (dmabuf && wl_check_dmabuf(&w, dmabuf_fd))
		return 1;
	if (gem && wl_gem_check(&w, &gem_bo, s))
		return 1;
	if (big_size && wl_big_check(&big, s))
		return 1;
	if (gem_dmabuf) {
		if (gem && wl_gem_dmabuf_check(w.g[0].render_fd, gem_dmabuf_fd, gem_bo.handle,
					       WL_GEM_SIZE, gem_bo.cpu))
			return 1;
		if (big_size &&
		    wl_gem_dmabuf_check(big.fd, big_dmabuf_fd, big.handle, big_size, NULL))
			return 1;
		printf("gem-dmabuf ok\n");
	}
	if (cpu) {
		if (wl_cpu_mem(cpu, cpu_mem / 8, 1)) {
			printf("cpu-mem FAILED\n");
			return 1;
		}
		printf("cpu-mem ok\n");
	}
	if (verify) {
		err = wl_cpu_digest(&w, s, &ref);
		if (err || ref != digest) {
			printf("verify FAILED: cpu reference %016" PRIx64 "\n", ref);
			return 1;
		}
		printf("verify ok\n");
	}
	fflush(stdout);
	return 0;
}
