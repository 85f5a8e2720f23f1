/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bodies of the emulated render node: the per-process device (one per emulated GPU, with its
 * SDMA engines) and the per-open-file state the kernel keeps in struct amdgpu_fpriv (GEM
 * handles, the GPU VM, contexts with their fence sequences, BO lists).
 */
#ifndef VRAMSTREAM_EMU_DRM_INTERNAL_H
#define VRAMSTREAM_EMU_DRM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <amdgpu_drm.h>

#include "emu_config.h"
#include "emu_drm.h"
#include "emu_sdma_exec.h"
#include "emu_sdma_ring.h"

#define EMU_DRM_MAX_SDMA 8

/* amdgpu_ctx.c amdgpu_ctx_num_entities[AMDGPU_HW_IP_DMA]: rings a context may name. */
#define EMU_DRM_DMA_ENTITIES 2
/* amdgpu_drv.c amdgpu_sched_jobs (default 32): jobs in flight per entity; amdgpu_cs.c
 * waits for the one that many submissions back (amdgpu_ctx_wait_prev_fence). */
#define EMU_DRM_SCHED_JOBS 32
/* amdgpu_ctx.h AMDGPU_VM_MAX_NUM_CTX: context ids are 1 .. 4095. */
#define EMU_DRM_MAX_CTX 4096

/* GPU virtual address space of gfx9 (amdgpu_gmc.h, amdgpu_vm.h): 48 bits, with the hole
 * between the low and the sign-extended high half, and reserved areas at both ends. */
#define EMU_DRM_GMC_HOLE_START	   0x0000800000000000ull
#define EMU_DRM_GMC_HOLE_END	   0xffff800000000000ull
#define EMU_DRM_GMC_HOLE_MASK	   0x0000ffffffffffffull
#define EMU_DRM_VM_SIZE		   (1ull << 48)
#define EMU_DRM_VA_RESERVED_BOTTOM (1ull << 16)
#define EMU_DRM_VA_RESERVED_TOP	   ((2ull << 12) + (2ull << 20) + (2ull << 20))
#define EMU_DRM_PAGE_SIZE	   4096ull

struct emu_drm_dev {
	/* Set up once, at a file's first ioctl, under the global lock; read-only afterwards. */
	bool ready;
	unsigned int index;
	struct emu_gpu_config cfg;
	unsigned int num_rings;
	struct emu_sdma_ring rings[EMU_DRM_MAX_SDMA];
};

enum emu_drm_bo_kind { EMU_DRM_BO_GEM, EMU_DRM_BO_USERPTR, EMU_DRM_BO_IMPORT };

struct emu_drm_bo {
	enum emu_drm_bo_kind kind;
	uint64_t size;	      /* bytes; page aligned for GEM and USERPTR */
	uint8_t *host;	      /* where the engine reads and writes it (NULL: nomap, view_io) */
	int memfd;	      /* GEM and IMPORT: the memory; -1 for USERPTR */
	bool readonly;	      /* USERPTR with AMDGPU_GEM_USERPTR_READONLY */
	uint64_t mmap_offset; /* fake offset for mmap() of the render fd (0: not mappable) */
	uint64_t alignment;
	uint32_t domains;
	uint64_t flags;
	dev_t st_dev; /* IMPORT: identity of the dmabuf (memfd, or aperture file and view_off) */
	ino_t st_ino;
	uint64_t view_off; /* IMPORT of a dma-buf view: its place in GPU @src_gpu's aperture */
	/* IMPORT of a dma-buf view (a KFD BO's or a GEM BO's, of any GPU): never mapped in the
	 * process (@host is NULL), as the kernel maps no import (amdgpu_dma_buf.c:
	 * amdgpu_gem_prime_import only attaches the exporter's dma-buf); the engine reads and
	 * writes it through a render fd of @src_gpu the process holds, at @view_off
	 * (emu_drm_gem_nomap_io). */
	bool view_io;
	unsigned int src_gpu;
	/* GEM made with AMDGPU_GEM_CREATE_NO_CPU_ACCESS: never mapped in the process (@host is
	 * NULL), as hardware has no CPU mapping of it for criu to see; the engine reads and
	 * writes it through the render node's file at @mmap_offset (emu_drm_gem_nomap_io), which
	 * emu_drm_gem_nomap_sync keeps up to date across a restore. Under the file's lock. */
	bool nomap;
	uint64_t tiling_info; /* GEM_METADATA */
	uint32_t metadata_flags;
	uint32_t metadata_size;
	uint32_t metadata[64];
};

struct emu_drm_mapping {
	uint64_t start;	 /* masked GPU VA (amdgpu_gem_va_ioctl: va_address &= HOLE_MASK) */
	uint64_t last;	 /* inclusive */
	uint64_t offset; /* into the BO */
	uint32_t flags;	 /* AMDGPU_VM_PAGE_* */
	uint32_t handle;
	struct emu_drm_bo *bo;
};

/* One (context, DMA ring) scheduler entity: a FIFO of jobs with sequence numbers. */
struct emu_drm_entity {
	uint64_t next_seq;		/* amdgpu_ctx_init_entity: sequence starts at 1 */
	uint64_t done_seq;		/* every seq <= done_seq has completed */
	int errors[EMU_DRM_SCHED_JOBS]; /* fence error of seq, at seq % EMU_DRM_SCHED_JOBS */
	unsigned int ring;		/* engine used while jobs are pending */
	unsigned int pending;
};

struct emu_drm_ctx {
	uint32_t id;
	unsigned int refs; /* the id table's, plus one per job in flight */
	bool freed;	   /* AMDGPU_CTX_OP_FREE_CTX done; jobs may still run */
	struct emu_drm_entity dma[EMU_DRM_DMA_ENTITIES];
};

struct emu_drm_bo_list {
	uint32_t n;
	uint32_t *handles;
};

struct emu_drm_file {
	unsigned int gpu;
	struct emu_drm_dev *dev;
	unsigned int refs;   /* fd entries, ioctls in progress, jobs in flight; emu_drm_fds_lock */
	bool gem_registered; /* this process told the daemon of an object in it (emu_drm_gem_criu.c)
			      */

	pthread_mutex_t lock;	 /* guards everything below but the VM */
	pthread_cond_t cond;	 /* fence completions */
	struct emu_drm_bo **bos; /* by GEM handle (idr from 1) */
	uint32_t nbos;
	struct emu_drm_ctx **ctxs; /* by context id */
	uint32_t nctxs;
	struct emu_drm_bo_list **lists; /* by BO list handle */
	uint32_t nlists;
	unsigned int jobs_in_flight;
	/* How many GEM_CREATE BOs made in the file by this process are NO_CPU_ACCESS ones (a
	 * hint: closing one does not lower it); the plugin's engine files, with thousands of
	 * imports and none of these, skip the offset refresh. */
	unsigned int n_nomap;

	/* The GPU VM. Written by GEM_VA and GEM_CLOSE (which also need @lock), read by the
	 * engine threads for each packet, so memory never goes away under a copy. */
	pthread_rwlock_t vm_lock;
	struct emu_drm_mapping *maps;
	size_t nmaps, maps_cap;
};

struct emu_drm_job {
	struct emu_sdma_ring_job ring_job; /* first */
	struct emu_drm_file *file;
	int fd; /* the submission's: the first choice for reaching NO_CPU_ACCESS BOs */
	struct emu_drm_ctx *ctx;
	unsigned int entity;
	uint64_t seq;
	struct emu_sdma_ring *ring;
	/* Dependencies: wait for (ctx, entity) to have completed seq. */
	size_t ndeps;
	struct {
		struct emu_drm_ctx *ctx;
		unsigned int entity;
		uint64_t seq;
	} * deps;
	/* User fence (AMDGPU_CHUNK_ID_FENCE): 64-bit seq written to BO handle at offset. */
	bool user_fence;
	uint32_t uf_handle;
	uint64_t uf_offset;
	size_t nibs;
	struct {
		uint32_t *dw;
		size_t ndw;
		uint64_t va;
	} * ibs;
	int result;
};

/* emu_drm.c: per-process devices, files, user memory access. */
void emu_drm_file_ref(struct emu_drm_file *file);
void emu_drm_file_put(struct emu_drm_file *file);
/* An fd of @file in this process (@hint if it still is one, else another alias) that stays
 * open until emu_drm_file_fd_put (close() of it waits meanwhile), or -EBADF when the process
 * has none left. Take it inside file->lock, never the other way round. */
int emu_drm_file_fd_get(struct emu_drm_file *file, int hint);
/* The same for an fd of any render file of GPU @gpu (its aperture) the process holds. */
int emu_drm_gpu_fd_get(unsigned int gpu);
void emu_drm_file_fd_put(void);
int emu_drm_uread(void *dst, uint64_t uptr, size_t len);
int emu_drm_uwrite(uint64_t uptr, const void *src, size_t len);
void emu_drm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The fd of the ioctl or mmap this thread is in (the daemon knows the file by it). */
int emu_drm_current_fd(void);
/* Whether the machine's kernel has the GEM checkpoint ioctls (config drm_gem_criu). */
bool emu_drm_gem_criu_enabled(void);

/* emu_drm_info.c: DRM core queries and AMDGPU_INFO. */
int emu_drm_version(struct emu_drm_file *file, void *arg);
int emu_drm_get_cap(struct emu_drm_file *file, void *arg);
int emu_drm_info(struct emu_drm_file *file, void *arg);

/* emu_drm_gem.c: BOs, prime, mmap, the GPU VM. */
int emu_drm_gem_create(struct emu_drm_file *file, void *arg);
int emu_drm_gem_userptr(struct emu_drm_file *file, void *arg);
int emu_drm_gem_close(struct emu_drm_file *file, void *arg);
int emu_drm_gem_mmap(struct emu_drm_file *file, void *arg);
int emu_drm_gem_metadata(struct emu_drm_file *file, void *arg);
int emu_drm_gem_op(struct emu_drm_file *file, void *arg);
int emu_drm_gem_va(struct emu_drm_file *file, void *arg);
int emu_drm_prime_fd_to_handle(struct emu_drm_file *file, void *arg);
int emu_drm_prime_handle_to_fd(struct emu_drm_file *file, void *arg);
void *emu_drm_gem_mmap_fd(struct emu_drm_file *file, int fd, void *addr, size_t len, int prot,
			  int flags, off_t offset);
/* Under file->lock. */
int emu_drm_handle_set(struct emu_drm_file *file, uint32_t handle, struct emu_drm_bo *bo);
/* Under file->lock. */
struct emu_drm_bo *emu_drm_bo_lookup(struct emu_drm_file *file, uint32_t handle);
/* The host memory behind GPU VA @va (engine callback semantics); under vm_lock. A BO the
 * process has no mapping of (nomap) gives NULL, with *@nomap (when asked) set to it, *@bo_off
 * to the place in it and *@avail as for a mapped one; else *@nomap is NULL. */
void *emu_drm_vm_translate(struct emu_drm_file *file, uint64_t va, uint64_t len, bool write,
			   uint64_t *avail, struct emu_drm_bo **nomap, uint64_t *bo_off);
void emu_drm_gem_file_fini(struct emu_drm_file *file);
/* Makes the DRM offsets of the file's nomap BOs current (a restore moves them), asking the
 * daemon through @fd, an fd of the file, only when they may have changed. Under file->lock. */
int emu_drm_gem_nomap_sync(struct emu_drm_file *file, int fd);
/* Reads or writes @len bytes at @off of nomap or view_io BO @bo (under vm_lock, not
 * file->lock) through an fd of the file (of the exporting GPU for a view_io one), @hint if it
 * still is one. 0 or -errno. */
int emu_drm_gem_nomap_io(struct emu_drm_file *file, int hint, struct emu_drm_bo *bo, uint64_t off,
			 void *buf, uint64_t len, bool write);

/* emu_drm_gem_criu.c: the daemon's record of the file's objects, the checkpoint ioctls. */
struct emu_gem_wire_bo;
int emu_drm_gem_daemon(struct emu_drm_file *file, int fd, uint32_t op, uint64_t arg1,
		       const void *payload, size_t len, void *rep, size_t rep_cap, size_t *rep_len);
/* Tells the daemon of a new object at @handle (*@offset: a GEM_CREATE BO's DRM offset). An
 * import of a view at @view_off (0: none) of one of the file's own GEM_CREATE BOs adds nothing
 * and sets *@own to that BO's handle (else 0). */
int emu_drm_gem_register(struct emu_drm_file *file, uint32_t handle, const struct emu_drm_bo *bo,
			 uint64_t *offset, uint64_t view_off, uint32_t *own);
int emu_drm_gem_sync_maps(struct emu_drm_file *file);
int emu_drm_gem_offset_of(struct emu_drm_file *file, uint32_t handle, uint64_t *offset,
			  uint64_t *flags);
/* Every object of the file as the daemon has it, asked through @fd; *@out is malloc'd. */
int emu_drm_gem_records(struct emu_drm_file *file, int fd, struct emu_gem_wire_bo **out, size_t *n);
/* The daemon's record of @handle (struct emu_gem_wire_bo, emu_gem_wire.h), or -ENOENT. */
int emu_drm_gem_record_of(struct emu_drm_file *file, uint32_t handle, struct emu_gem_wire_bo *out);
int emu_drm_gem_list_handles(struct emu_drm_file *file, void *arg);
int emu_drm_gem_mapping_info(struct emu_drm_file *file, void *arg);
int emu_drm_gem_change_handle(struct emu_drm_file *file, void *arg);

/* emu_drm_cs.c: contexts, BO lists, command submission, fences. */
int emu_drm_ctx_ioctl(struct emu_drm_file *file, void *arg);
int emu_drm_bo_list_ioctl(struct emu_drm_file *file, void *arg);
int emu_drm_cs(struct emu_drm_file *file, void *arg);
int emu_drm_wait_cs(struct emu_drm_file *file, void *arg);
int emu_drm_wait_fences(struct emu_drm_file *file, void *arg);
int emu_drm_gem_wait_idle(struct emu_drm_file *file, void *arg);
void emu_drm_cs_file_fini(struct emu_drm_file *file);

#endif
