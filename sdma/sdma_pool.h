/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sdma_pool: a fixed set of pinned host buffers of one size, registered with
 * an engine once at setup and recycled: the DMA stage takes a buffer, copies
 * a chunk into it, hands it downstream (compression, I/O), and whoever
 * finishes with it puts it back. Bounded memory whatever the VRAM size; the
 * hot path neither allocates nor registers memory. Thread-safe.
 */
#ifndef VRAMSTREAM_SDMA_POOL_H
#define VRAMSTREAM_SDMA_POOL_H

#include <stdint.h>

#include "sdma_engine.h"

struct sdma_pool;

/* count buffers of buf_size bytes (rounded up to pages) each. */
int sdma_pool_new(struct sdma_engine *e, unsigned int count, uint64_t buf_size,
		  struct sdma_pool **out);
/* Every buffer must have been put back; NULL is ignored. */
void sdma_pool_free(struct sdma_pool *p);

/*
 * Takes a free buffer, waiting up to timeout_ns for one. Returns 0, or
 * -EAGAIN (timeout_ns 0 and none free) or -ETIME (none came in time).
 */
int sdma_pool_get(struct sdma_pool *p, uint64_t timeout_ns, struct sdma_hostbuf **out);
/* Returns a buffer taken from this pool; -EINVAL for a foreign or already returned one. */
int sdma_pool_put(struct sdma_pool *p, struct sdma_hostbuf *hb);

unsigned int sdma_pool_count(const struct sdma_pool *p);
unsigned int sdma_pool_available(struct sdma_pool *p);
uint64_t sdma_pool_buf_size(const struct sdma_pool *p);

#endif
