/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's state: emulated GPUs, per-process KFD state keyed by pid, and
 * the request/reply shapes its handlers use. Private to the daemon
 * (emu_daemon.c, emu_kfd_proc.c, emu_kfd_ioctl.c, emu_kfd_criu.c,
 * emu_queue.c, emu_mem.c).
 *
 * Locking: one mutex (struct emu_daemon.lock) guards everything below; the
 * request loop holds it while handling one request, the queue executor while
 * running one packet. So a CRIU pause takes effect between packets, as
 * preemption does on hardware.
 */
#ifndef VRAMSTREAM_EMU_DAEMON_INTERNAL_H
#define VRAMSTREAM_EMU_DAEMON_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "emu_config.h"
#include "emu_proto.h"

/* kfd_priv.h: MAKE_HANDLE / GET_GPU_ID / GET_IDR_HANDLE */
#define EMU_MAKE_HANDLE(gpu_id, idr) (((uint64_t)(gpu_id) << 32) | (idr))
#define EMU_HANDLE_GPU_ID(h)	     ((uint32_t)((h) >> 32))
#define EMU_HANDLE_IDR(h)	     ((uint32_t)((h)&0xffffffffu))

/* kfd_priv.h: mmap offset encoding of /dev/kfd mappings */
#define EMU_KFD_MMAP_TYPE_SHIFT	       62
#define EMU_KFD_MMAP_TYPE_MASK	       (0x3ULL << EMU_KFD_MMAP_TYPE_SHIFT)
#define EMU_KFD_MMAP_TYPE_DOORBELL     (0x3ULL << EMU_KFD_MMAP_TYPE_SHIFT)
#define EMU_KFD_MMAP_TYPE_EVENTS       (0x2ULL << EMU_KFD_MMAP_TYPE_SHIFT)
#define EMU_KFD_MMAP_TYPE_RESERVED_MEM (0x1ULL << EMU_KFD_MMAP_TYPE_SHIFT)
#define EMU_KFD_MMAP_TYPE_MMIO	       (0x0ULL << EMU_KFD_MMAP_TYPE_SHIFT)
#define EMU_KFD_MMAP_GPU_ID_SHIFT      46
#define EMU_KFD_MMAP_GPU_ID(gpu_id)                                                                \
	((((uint64_t)(gpu_id)) << EMU_KFD_MMAP_GPU_ID_SHIFT) &                                     \
	 (0xffffULL << EMU_KFD_MMAP_GPU_ID_SHIFT))
#define EMU_KFD_MMAP_GET_GPU_ID(off) ((uint32_t)(((off) >> EMU_KFD_MMAP_GPU_ID_SHIFT) & 0xffff))

/*
 * drm_vma_manager: DRM mmap offsets of GEM objects start at
 * DRM_FILE_PAGE_OFFSET_START ((0xFFFFFFFFUL >> PAGE_SHIFT) + 1) pages, i.e. 4 GiB.
 */
#define EMU_DRM_MMAP_OFFSET_START (1ULL << 32)

/* kfd_doorbell.c: kfd_doorbell_process_slice() is 2 pages on SOC15 (8-byte doorbells x 1024). */
#define EMU_DOORBELL_SLICE (2 * 4096ULL)

/* kfd_flat_memory.c: kfd_init_apertures_v9 (gfx9+) */
#define EMU_PAGE	    4096ULL
#define EMU_SVM_USER_BASE   (2 * EMU_PAGE + 2 * EMU_PAGE) /* KFD_CWSR_TBA_TMA_SIZE + 2 pages */
#define EMU_GPUVM_LIMIT	    ((1ULL << 47) - 1)		  /* gpuvm_size - 1, 47-bit user VA */
#define EMU_LDS_BASE_V9	    (1ULL << 48)		  /* MAKE_LDS_APP_BASE_V9 */
#define EMU_SCRATCH_BASE_V9 (2ULL << 48)		  /* MAKE_SCRATCH_APP_BASE_V9 */
#define EMU_APP_LIMIT(base) (((base)&0xFFFFFFFF00000000ULL) | 0xFFFFFFFFULL)

struct emu_bo {
	struct emu_bo *next;
	unsigned int gpu_index; /* the device it was allocated on */
	uint32_t idr;		/* per-device handle (idr) */
	uint64_t va;
	uint64_t size;
	uint64_t mmap_offset; /* VRAM/GTT: DRM offset; DOORBELL/MMIO: KFD offset */
	uint64_t user_addr;   /* USERPTR: CPU address */
	uint32_t flags;	      /* KFD_IOC_ALLOC_MEM_FLAGS_* */
	uint32_t mapped_mask; /* GPU indices it is mapped on */
	int memfd;	      /* DOORBELL/MMIO contents; -1 for the others */
	void *cpu;	      /* daemon's mapping of the contents (VRAM/GTT: in the aperture) */
};

struct emu_queue {
	struct emu_queue *next;
	uint32_t id;
	unsigned int gpu_index;
	uint32_t type;
	uint32_t priority;
	uint32_t percentage;
	uint64_t ring_base;
	uint64_t ring_size; /* bytes, power of two */
	uint64_t rptr_addr;
	uint64_t wptr_addr;
	uint64_t rptr; /* packets consumed so far */
	bool error;    /* a packet faulted: the queue stops, as after a GPU VM fault */
	/* SDMA: when the POLL_REGMEM at rptr was first found unmet (CLOCK_MONOTONIC ns), 0 when
	 * the queue is not waiting; the executor retries it on later passes (emu_kfd_sdma.c). */
	uint64_t poll_since_ns;
};

struct emu_event {
	struct emu_event *next;
	uint32_t id;
	uint32_t type;
	uint32_t auto_reset;
	uint32_t signaled;
	uint32_t node_id;
};

/* kfd_process_device: one per GPU for every process (kfd_process.c creates all pdds at open) */
struct emu_pdd {
	/* The process has this pdd: its device cgroup let it use the GPU when it
	 * opened /dev/kfd (kfd_init_apertures). */
	bool present;
	bool vm_acquired;     /* pdd->drm_file set (ACQUIRE_VM or RESTORE) */
	uint32_t user_gpu_id; /* the gpu_id the process knows (differs after restore elsewhere) */
	uint32_t next_idr;
	/* A dup of that drm file: the reference the pdd keeps (kfd_chardev.c:
	 * kfd_ioctl_acquire_vm, criu_restore_devices: fget(drm_fd), "On success, the PDD keeps
	 * the drm_file reference"), dropped when the process goes (kfd_process.c:
	 * kfd_process_destroy_pdds: fput(pdd->drm_file)). -1 while none. */
	int drm_fd;
};

struct emu_kproc {
	struct emu_kproc *next;
	pid_t pid;
	int pidfd;			  /* tells us when the process is gone */
	struct emu_pdd pdd[EMU_MAX_GPUS]; /* by GPU index, absent ones !present */
	unsigned int n_pdds;		  /* p->n_pdds: how many are present */
	struct emu_bo *bos;
	struct emu_queue *queues;
	struct emu_event *events;
	uint32_t next_queue_id;
	uint32_t next_event_id;
	/* kfd_process.c: queues_paused, set by CRIU PROCESS_INFO, cleared by UNPAUSE */
	bool queues_paused;
	/* kfd_process_evict_queues / restore_queues nest (qpd->evicted counts) */
	unsigned int evict_count;
	/* amdgpu_amdkfd_block_mmu_notifications: set by RESTORE, cleared by RESUME */
	bool mmu_blocked;
	int doorbell_fd[EMU_MAX_GPUS];
	/* kfd_event_page_set: the user-allocated event page of a dGPU process (CREATE_EVENT's
	 * event_page_offset handle), or none; its slots say which signal events fired */
	bool event_page_set;
	unsigned int event_page_gpu;
	uint32_t event_page_idr;
	uint64_t event_page_handle;
};

struct emu_gem_file;

struct emu_daemon {
	char dir[1024];
	char root[PATH_MAX];
	struct emu_config cfg;
	int listen_fd;
	pthread_mutex_t lock;
	struct emu_kproc *procs;
	uint64_t vram_used[EMU_MAX_GPUS];
	uint64_t next_mmap_offset[EMU_MAX_GPUS];
	/* VRAM/GTT contents at their DRM offsets (emu_aperture.h), one file per GPU */
	int aperture_fd[EMU_MAX_GPUS];
	uint64_t aperture_ino[EMU_MAX_GPUS];
	uint64_t aperture_dev;
	char aperture_dir[PATH_MAX];
	uint64_t kfd_node_dev, kfd_node_ino; /* root/dev/kfd, of which processes' nodes are links */
	uint64_t packets_executed;
	struct emu_gem_file *gem_files; /* render-node files with GEM objects (emu_daemon_gem.c) */
	bool stop;
};

/* One request as the handlers see it. */
struct emu_dreq {
	struct emu_req req;
	pid_t caller; /* SO_PEERCRED */
	uint8_t *payload;
	int *fds;
	unsigned int nfds;
};

/* A handler's reply: payload and fds are freed/closed by the loop after sending. */
struct emu_drep {
	int32_t result;
	uint8_t *payload;
	size_t len;
	int *fds;
	unsigned int nfds;
};

/* emu_drep helpers (emu_drep.c) */
int emu_drep_alloc(struct emu_drep *rep, size_t len);
int emu_drep_add_fd(struct emu_drep *rep, int fd); /* takes ownership of a dup the caller made */
void emu_drep_release(struct emu_drep *rep);	   /* closes the fds, frees the payload */

/* emu_kfd_proc.c */
/* emu_daemon_aperture.c */
int emu_daemon_apertures_open(struct emu_daemon *d);
int emu_daemon_aperture_place(struct emu_daemon *d, struct emu_bo *bo, uint64_t aligned);
void emu_daemon_aperture_release(struct emu_daemon *d, struct emu_bo *bo, uint64_t aligned);
/* RESUME: @t's device VMAs as the kernel's mmap handlers would judge them. 0 or -errno. */
int emu_daemon_device_vmas_check(struct emu_daemon *d, struct emu_kproc *t);
/* A dma-buf of a VRAM/GTT BO (emu_aperture.h): a new fd or -errno. */
int emu_bo_dmabuf(struct emu_daemon *d, const struct emu_bo *bo);
/* The BO a dma-buf fd (of any process) stands for, or NULL. */
struct emu_bo *emu_bo_by_dmabuf(struct emu_daemon *d, int fd, struct emu_kproc **owner);
struct emu_kproc *emu_kproc_find(struct emu_daemon *d, pid_t pid);
int emu_kproc_open(struct emu_daemon *d, pid_t pid, struct emu_kproc **out);
void emu_kproc_free(struct emu_daemon *d, struct emu_kproc *p);
void emu_kproc_reap(struct emu_daemon *d); /* frees state of processes that are gone */
/* Whether fds @a and @b (of the daemon) are one open file (kcmp KCMP_FILE); false for -1. */
bool emu_same_file(int a, int b);
/* Whether a KFD process's pdd keeps the render file @fd refers to (emu_pdd.drm_fd). */
bool emu_kproc_holds_file(struct emu_daemon *d, int fd);
int emu_kproc_gpu_by_user_id(const struct emu_kproc *p, uint32_t user_gpu_id);
int emu_daemon_gpu_by_id(const struct emu_daemon *d, uint32_t gpu_id);
struct emu_bo *emu_bo_find(struct emu_kproc *p, unsigned int gpu_index, uint32_t idr);
int emu_bo_new(struct emu_daemon *d, struct emu_kproc *p, unsigned int gpu_index, uint64_t va,
	       uint64_t size, uint32_t flags, uint64_t user_addr, int idr, struct emu_bo **out);
void emu_bo_free(struct emu_daemon *d, struct emu_kproc *p, struct emu_bo *bo);
struct emu_bo *emu_bo_by_offset(struct emu_daemon *d, unsigned int gpu_index, uint64_t off,
				struct emu_kproc **owner);
bool emu_kproc_queues_run(const struct emu_kproc *p);

/* emu_mem.c: the memory of other processes and of BOs */
int emu_mem_proc_read(pid_t pid, uint64_t addr, void *buf, size_t len);
int emu_mem_proc_write(pid_t pid, uint64_t addr, const void *buf, size_t len);
int emu_mem_proc_check(pid_t pid, uint64_t addr, uint64_t len);
bool emu_mem_proc_stopped(pid_t pid);
pid_t emu_mem_tracer(pid_t pid);
bool emu_mem_capable_criu(pid_t pid);

/*
 * emu_pid_ns.c: processes are known by their host pid (SO_PEERCRED in the
 * daemon); these give the numbers the kernel would report or take.
 */
/* @host_pid's number in its own, innermost pid namespace. */
int emu_pid_ns_own(pid_t host_pid, pid_t *own);
/* @host_pid's number as @viewer (a host pid) sees it; 0 when it cannot see it. */
int emu_pid_ns_nr(pid_t host_pid, pid_t viewer, pid_t *nr);
/* The process that @caller (a host pid) knows as @nr, or NULL (find_vpid). */
struct emu_kproc *emu_pid_ns_find(struct emu_daemon *d, pid_t caller, pid_t nr);

/* emu_daemon_gem.c: render-node files' GEM objects (emu_gem_wire.h) */
int emu_gem_handle(struct emu_daemon *d, const struct emu_dreq *rq, struct emu_drep *rep);
void emu_gem_reap(struct emu_daemon *d); /* drops files whose first user exited */
/* Drops files their process closed that no KFD process keeps any more. */
void emu_gem_kfd_released(struct emu_daemon *d);
/* Whether [off, off + len) of GPU @gpu's aperture lies in a GEM BO of a file @pid made. */
bool emu_gem_range_of(struct emu_daemon *d, pid_t pid, unsigned int gpu, uint64_t off,
		      uint64_t len);

/* emu_kfd_ioctl.c */
/* Map @bo into GPU @peer's VM by the kernel's rules (emu_kfd_ioctl.c). 0 or -errno. */
int emu_kfd_map_bo(struct emu_daemon *d, struct emu_kproc *p, struct emu_bo *bo, unsigned int peer);
int emu_kfd_handle_ioctl(struct emu_daemon *d, const struct emu_dreq *rq, struct emu_drep *rep);
int emu_kfd_handle_mmap(struct emu_daemon *d, const struct emu_dreq *rq, struct emu_drep *rep);

/* emu_kfd_criu.c */
int emu_kfd_criu_op(struct emu_daemon *d, struct emu_kproc *p, const struct emu_dreq *rq,
		    struct emu_drep *rep);

/* emu_queue.c */
int emu_queue_executor_start(struct emu_daemon *d, pthread_t *thread);
/* emu_kfd_sdma.c: runs an SDMA user queue's committed packets; returns packets executed. */
int emu_kfd_sdma_run(struct emu_daemon *d, struct emu_kproc *p, struct emu_queue *q);
/* emu_kfd_ioctl.c: an interrupt (SDMA TRAP) with this event id (kfd_signal_event_interrupt). */
void emu_kfd_event_interrupt(struct emu_kproc *p, uint32_t event_id);
/* emu_kfd_ioctl.c: kfd_kmap_event_page (CREATE_EVENT and CRIU restore of events). */
int emu_kfd_event_page_set(struct emu_kproc *p, uint64_t handle);
/* Address resolution and packet execution for one queue; returns -errno on fault. */
int emu_queue_run_packets(struct emu_daemon *d, struct emu_kproc *p, struct emu_queue *q,
			  unsigned int max_packets);

#endif
