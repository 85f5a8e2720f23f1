// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The transfer pipeline's DMA stage on AMD GPUs: sdma/ (SDMA through
 * libdrm_amdgpu). One pinned host allocation, registered once as a userptr
 * BO, is cut into the pool's buffers; each pipeline ring is an SDMA lane.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_dma.h"
#include "sdma_engine.h"

/* A copy should finish long before this; a hung engine fails the dump
 * instead of hanging criu. */
#define SDMA_WAIT_TIMEOUT_NS (120ull * 1000000000ull)

_Static_assert(PLUGIN_DMA_MAX_LANES <= SDMA_ENGINE_MAX_LANES,
	       "the plugin asks for no more lanes than sdma/ opens");

struct plugin_dma {
	struct sdma_engine *engine;
	struct sdma_hostbuf *pool;
	uint64_t buffer_size;
	unsigned int lanes;
	struct sdma_bo **bos;
	unsigned int n_bos, cap_bos;
	char err[256];
};

static int sdma_dma_open(const struct plugin_dma_params *p, struct plugin_dma **out, char *err,
			 size_t err_len)
{
	struct sdma_engine_config ec = { 0 };
	struct sdma_engine_info info;
	struct plugin_dma *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	ec.num_lanes = p->lanes;
	/* Enough IBs that every pinned buffer can have a copy in flight. */
	ec.ibs_per_lane = p->buffers + 1;
	ec.max_ib_bytes = p->buffer_size;
	r = sdma_engine_open(p->render_minor, &ec, &d->engine);
	if (r) {
		snprintf(err, err_len,
			 "/dev/dri/renderD%u: %s (is the amdgpu driver loaded, and may this "
			 "process open the render node?)",
			 p->render_minor, strerror(-r));
		free(d);
		return r;
	}
	sdma_engine_get_info(d->engine, &info);
	d->lanes = info.num_lanes;
	d->buffer_size = p->buffer_size;
	r = sdma_hostbuf_alloc(d->engine, p->buffer_size * p->buffers, &d->pool);
	if (r) {
		sdma_engine_last_error(d->engine, err, err_len);
		sdma_engine_free(d->engine);
		free(d);
		return r;
	}
	*out = d;
	return 0;
}

static void sdma_dma_close(struct plugin_dma *d)
{
	sdma_engine_drain(d->engine, SDMA_WAIT_TIMEOUT_NS);
	for (unsigned int i = 0; i < d->n_bos; i++)
		sdma_bo_release(d->bos[i]);
	sdma_hostbuf_free(d->pool);
	sdma_engine_free(d->engine);
	free(d->bos);
	free(d);
}

static unsigned int sdma_dma_lanes(struct plugin_dma *d)
{
	return d->lanes;
}

static void *sdma_dma_buffer(struct plugin_dma *d, unsigned int i)
{
	return (char *)sdma_hostbuf_ptr(d->pool) + (size_t)i * d->buffer_size;
}

static int sdma_dma_import(struct plugin_dma *d, int dmabuf_fd, uint64_t size, unsigned int *bo)
{
	struct sdma_bo *b;
	int r;

	if (d->n_bos == d->cap_bos) {
		unsigned int cap = d->cap_bos ? d->cap_bos * 2 : 16;
		struct sdma_bo **n = realloc(d->bos, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->bos = n;
		d->cap_bos = cap;
	}
	r = sdma_bo_import_dmabuf(d->engine, dmabuf_fd, &b);
	if (r) {
		sdma_engine_last_error(d->engine, d->err, sizeof(d->err));
		return r;
	}
	if (sdma_bo_size(b) < size) {
		snprintf(d->err, sizeof(d->err), "dmabuf holds %llu bytes, the BO has %llu",
			 (unsigned long long)sdma_bo_size(b), (unsigned long long)size);
		sdma_bo_release(b);
		return -EINVAL;
	}
	d->bos[d->n_bos] = b;
	*bo = d->n_bos++;
	return 0;
}

static int sdma_dma_copy(struct plugin_dma *d, unsigned int ring, unsigned int bo,
			 uint64_t bo_offset, unsigned int buf, uint64_t len, bool to_device,
			 uint64_t *ticket)
{
	struct sdma_ticket t;
	uint64_t hb_off = (uint64_t)buf * d->buffer_size;
	int r;

	if (to_device)
		r = sdma_engine_copy_from_host(d->engine, d->pool, hb_off, d->bos[bo], bo_offset,
					       len, ring, &t);
	else
		r = sdma_engine_copy_to_host(d->engine, d->bos[bo], bo_offset, d->pool, hb_off, len,
					     ring, &t);
	if (r) {
		sdma_engine_last_error(d->engine, d->err, sizeof(d->err));
		return r;
	}
	*ticket = t.seq;
	return 0;
}

static int sdma_dma_fill(struct plugin_dma *d, unsigned int ring, unsigned int bo,
			 uint64_t bo_offset, uint64_t len, uint32_t value, uint64_t *ticket)
{
	struct sdma_ticket t;
	int r = sdma_engine_fill(d->engine, d->bos[bo], bo_offset, len, value, ring, &t);

	if (r) {
		sdma_engine_last_error(d->engine, d->err, sizeof(d->err));
		return r;
	}
	*ticket = t.seq;
	return 0;
}

static int sdma_dma_wait(struct plugin_dma *d, unsigned int ring, uint64_t ticket)
{
	struct sdma_ticket t = { .lane = ring, .seq = ticket };
	int r = sdma_engine_wait(d->engine, &t, SDMA_WAIT_TIMEOUT_NS);

	if (r)
		sdma_engine_last_error(d->engine, d->err, sizeof(d->err));
	return r;
}

static int sdma_dma_poll(struct plugin_dma *d, unsigned int ring, uint64_t ticket)
{
	struct sdma_ticket t = { .lane = ring, .seq = ticket };
	int r = sdma_engine_poll(d->engine, &t);

	if (r < 0)
		sdma_engine_last_error(d->engine, d->err, sizeof(d->err));
	return r;
}

static const char *sdma_dma_last_error(struct plugin_dma *d)
{
	return d->err;
}

const struct plugin_dma_ops plugin_dma_sdma_ops = {
	.name = "SDMA",
	.open = sdma_dma_open,
	.close = sdma_dma_close,
	.lanes = sdma_dma_lanes,
	.buffer = sdma_dma_buffer,
	.import = sdma_dma_import,
	.copy = sdma_dma_copy,
	.fill = sdma_dma_fill,
	.wait = sdma_dma_wait,
	.poll = sdma_dma_poll,
	.last_error = sdma_dma_last_error,
};
