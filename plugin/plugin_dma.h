/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The DMA stage of the transfer pipeline, as a small table of operations, so
 * the same pipeline (plugin_transfer.c) runs over SDMA through libdrm_amdgpu
 * in the plugin (plugin_dma_sdma.c) and over other copy engines in the
 * benchmark (bench/: CUDA copy engines on the lent NVIDIA machine).
 *
 * One struct plugin_dma serves one GPU and is driven by one thread. It owns
 * a fixed pool of pinned host buffers of equal size, registered with the
 * device once.
 */
#ifndef VRAMSTREAM_PLUGIN_DMA_H
#define VRAMSTREAM_PLUGIN_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct plugin_dma;

/* Most lanes any engine is asked for (VRAMSTREAM_SDMA_LANES\'s limit). */
#define PLUGIN_DMA_MAX_LANES 64

struct plugin_dma_params {
	uint32_t render_minor; /* the GPU (engine-specific meaning elsewhere) */
	unsigned int lanes;    /* in-order copy queues to use, 0..PLUGIN_DMA_MAX_LANES; 0 = the
				engine's default (sdma_engine.h: one per SDMA instance) */
	uint64_t buffer_size;  /* bytes per pinned buffer */
	unsigned int buffers;  /* pinned buffers in the pool */
};

struct plugin_dma_ops {
	const char *name;
	int (*open)(const struct plugin_dma_params *p, struct plugin_dma **out, char *err,
		    size_t err_len);
	void (*close)(struct plugin_dma *dma);
	/* Lanes opened: copies on one lane complete in order, lanes run in parallel. */
	unsigned int (*lanes)(struct plugin_dma *dma);
	void *(*buffer)(struct plugin_dma *dma, unsigned int index);
	/* Makes a BO known to the engine; returns a handle for copy(). Takes
	 * no ownership of @dmabuf_fd. */
	int (*import)(struct plugin_dma *dma, int dmabuf_fd, uint64_t size, unsigned int *bo);
	/*
	 * Queues a copy of @len bytes between BO @bo at @bo_offset and pinned
	 * buffer @buf (to the device when @to_device), on @lane. Returns a
	 * ticket for wait(); copies on one lane complete in order.
	 */
	int (*copy)(struct plugin_dma *dma, unsigned int lane, unsigned int bo, uint64_t bo_offset,
		    unsigned int buf, uint64_t len, bool to_device, uint64_t *ticket);
	/*
	 * Optional (NULL when the engine has none): writes @value over @len
	 * bytes of BO @bo at @bo_offset with the engine itself (SDMA
	 * CONST_FILL), so restore writes zero chunks without a host buffer.
	 * @bo_offset and @len are multiples of 4. -ENOTSUP: use copy() instead.
	 */
	int (*fill)(struct plugin_dma *dma, unsigned int lane, unsigned int bo, uint64_t bo_offset,
		    uint64_t len, uint32_t value, uint64_t *ticket);
	/* Waits for a ticket of @lane; 0, or -errno if the copy failed. */
	int (*wait)(struct plugin_dma *dma, unsigned int lane, uint64_t ticket);
	/* Optional: 1 when a ticket of @lane is done, 0 while it runs, -errno
	 * if it failed; never blocks. Lets restore retire whatever finished
	 * first instead of waiting for the oldest copy. */
	int (*poll)(struct plugin_dma *dma, unsigned int lane, uint64_t ticket);
	/* Message for the last failure (may be ""). */
	const char *(*last_error)(struct plugin_dma *dma);
};

/* SDMA through libdrm_amdgpu on the render node (plugin_dma_sdma.c). */
extern const struct plugin_dma_ops plugin_dma_sdma_ops;

#endif
