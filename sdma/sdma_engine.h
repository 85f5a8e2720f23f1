/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sdma_engine: moves bytes between GPU buffer objects and pinned host
 * buffers with one GPU's SDMA engines, through libdrm_amdgpu.
 *
 * Model. An engine owns one render-node device (its own GPU virtual address
 * space). Host buffers (struct sdma_hostbuf) are page-aligned anonymous host
 * memory registered once as userptr BOs and mapped into that VA space; GPU
 * buffers (struct sdma_bo) are imported from dmabuf fds and mapped likewise.
 * Copies are submitted as IBs of COPY_LINEAR packets on a lane and return a
 * ticket at once; the caller keeps several copies in flight per lane and
 * waits on tickets when it needs the bytes (or the buffer back).
 *
 * Lanes. A lane is one in-order submission queue: a (context, DMA ring)
 * pair. The kernel gives each context at most two DMA rings
 * (amdgpu_ctx.c: amdgpu_ctx_num_entities[AMDGPU_HW_IP_DMA] = 2) and its GPU
 * scheduler places each ring's work on one of the device's SDMA engines, so
 * the engine opens as many contexts as it needs for the requested number of
 * lanes (by default one lane per SDMA instance the device reports, at least
 * one per ring of a context). Work on one lane completes in submission order:
 * a ticket that has signalled implies every earlier ticket of its lane has.
 *
 * Threads. Every function may be called from any thread. Submissions to
 * different lanes proceed in parallel; a lane serialises its own. Waiting on
 * a ticket takes no lane lock, so waiters never hold up a lane's submitter.
 * Objects must not be freed while a copy that uses them is in flight.
 *
 * Errors are negative errno values. The engine keeps a message naming the
 * operation, object and cause of its last error (sdma_engine_last_error)
 * and passes each one to the optional debug callback; it logs nothing else.
 * Sizes and offsets are 64-bit throughout.
 */
#ifndef VRAMSTREAM_SDMA_ENGINE_H
#define VRAMSTREAM_SDMA_ENGINE_H

#include <stddef.h>
#include <stdint.h>

struct sdma_engine;
struct sdma_hostbuf;
struct sdma_bo;

/* Most lanes one engine opens. */
#define SDMA_ENGINE_MAX_LANES 64

struct sdma_engine_config {
	/* Lanes to open; 0 = max(SDMA instances, rings of one context). */
	unsigned int num_lanes;
	/* IBs per lane: how many copies a lane keeps in flight; 0 = 4. */
	unsigned int ibs_per_lane;
	/*
	 * Bytes one IB carries at most (rounded down to 4 KiB, at least 4 KiB);
	 * 0 = 256 MiB. Larger requests are split over several IBs of the same
	 * lane (the ticket covers them all).
	 */
	uint64_t max_ib_bytes;
	/* How long a wait for a lane's free IB may take; 0 = 60 s. */
	uint64_t ib_wait_timeout_ns;
	/* Called with each error message; may be NULL. */
	void (*debug)(void *opaque, const char *msg);
	void *debug_opaque;
};

struct sdma_engine_info {
	uint32_t ip_version;	  /* SDMA IP version used, as SDMA_IP_VERSION() (sdma_gen.h) */
	const char *gen_name;	  /* e.g. "SDMA 4.4" */
	uint32_t num_instances;	  /* SDMA engines the device reports (AMDGPU_INFO_HW_IP_COUNT) */
	uint32_t available_rings; /* DMA ring mask of one context (drm_amdgpu_info_hw_ip) */
	unsigned int num_lanes;	  /* lanes opened */
	uint64_t copy_max_bytes;  /* bytes per COPY_LINEAR packet */
	uint32_t drm_major, drm_minor; /* amdgpu DRM interface version */
};

/* A submitted operation; valid for sdma_engine_wait/poll on the engine that made it. */
struct sdma_ticket {
	unsigned int lane;
	uint64_t seq; /* the kernel's fence sequence number on that lane; 0 = nothing */
};

/*
 * Opens /dev/dri/renderD<render_minor> (the minor the KFD topology reports
 * as drm_render_minor) and creates an engine on it. cfg may be NULL.
 */
int sdma_engine_open(unsigned int render_minor, const struct sdma_engine_config *cfg,
		     struct sdma_engine **out);
/* Same on an open render-node fd; the fd stays the caller's (libdrm keeps a dup). */
int sdma_engine_new(int render_fd, const struct sdma_engine_config *cfg, struct sdma_engine **out);
/* Waits for every lane to go idle, then frees; NULL is ignored. */
void sdma_engine_free(struct sdma_engine *e);

void sdma_engine_get_info(const struct sdma_engine *e, struct sdma_engine_info *info);
/* Copies the last error message (empty if none) into buf. */
void sdma_engine_last_error(struct sdma_engine *e, char *buf, size_t len);

/*
 * Pinned host buffers. _alloc maps size bytes (rounded up to pages) of
 * anonymous memory and registers them; _wrap registers the caller's memory,
 * which must be page aligned, a whole number of pages and anonymous (the
 * kernel's AMDGPU_GEM_USERPTR_ANONONLY) and must outlive the hostbuf.
 */
int sdma_hostbuf_alloc(struct sdma_engine *e, uint64_t size, struct sdma_hostbuf **out);

/*
 * The memory behind sdma_hostbuf_alloc(), for other engines' pinned pools
 * too: @size bytes (a whole number of pages) of private anonymous memory,
 * faulted in, on transparent huge pages where the kernel gives them, and
 * preferably on NUMA node @numa_node (-1: wherever the kernel puts it). NULL
 * with errno set on failure; free with munmap(p, size).
 * sdma_hostbuf_alloc() places its pool on the GPU's own node.
 */
void *sdma_host_pages_alloc(uint64_t size, int numa_node);

/* The NUMA node of the device behind character device fd @fd (its sysfs
 * device's numa_node), or -1 when unknown or the machine has one node. */
int sdma_numa_node_of_fd(int fd);
/* The same from a sysfs numa_node file (a PCI device's, for other engines). */
int sdma_numa_node_read(const char *path);
void *sdma_hostbuf_ptr(const struct sdma_hostbuf *hb);
void sdma_hostbuf_free(struct sdma_hostbuf *hb);

/*
 * Imports a buffer object from a dmabuf fd (as KFD's AMDKFD_IOC_EXPORT_DMABUF
 * or a restored BO gives it) and maps it into the engine's VA space. The fd
 * stays the caller's.
 */
int sdma_bo_import_dmabuf(struct sdma_engine *e, int dmabuf_fd, struct sdma_bo **out);
uint64_t sdma_bo_size(const struct sdma_bo *bo);
void sdma_bo_release(struct sdma_bo *bo);

/*
 * Transfers return 0 with *ticket set (seq 0 when there was nothing to do),
 * or an error; after an error *ticket still covers any part that reached
 * the GPU (seq 0 if none), so wait on it before freeing the buffers.
 */

/* GPU buffer -> host buffer: len bytes from bo at bo_offset to hb at hb_offset. */
int sdma_engine_copy_to_host(struct sdma_engine *e, struct sdma_bo *bo, uint64_t bo_offset,
			     struct sdma_hostbuf *hb, uint64_t hb_offset, uint64_t len,
			     unsigned int lane, struct sdma_ticket *ticket);
/* Host buffer -> GPU buffer. */
int sdma_engine_copy_from_host(struct sdma_engine *e, struct sdma_hostbuf *hb, uint64_t hb_offset,
			       struct sdma_bo *bo, uint64_t bo_offset, uint64_t len,
			       unsigned int lane, struct sdma_ticket *ticket);
/*
 * Writes the 32-bit value over len bytes of bo at offset with CONST_FILL
 * (e.g. restores a zero chunk without a host buffer). offset and len must be
 * multiples of 4.
 */
int sdma_engine_fill(struct sdma_engine *e, struct sdma_bo *bo, uint64_t offset, uint64_t len,
		     uint32_t value, unsigned int lane, struct sdma_ticket *ticket);

/* 1 when the ticket's work has completed, 0 while it runs, or an error it ended with. */
int sdma_engine_poll(struct sdma_engine *e, const struct sdma_ticket *ticket);
/* Waits up to timeout_ns; 0 done, -ETIME still running, or the error the work ended with. */
int sdma_engine_wait(struct sdma_engine *e, const struct sdma_ticket *ticket, uint64_t timeout_ns);
/* Waits for everything submitted on every lane. */
int sdma_engine_drain(struct sdma_engine *e, uint64_t timeout_ns);

#endif
