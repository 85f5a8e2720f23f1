/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bodies of the sdma_engine objects; only sdma_engine.c sees them. */
#ifndef VRAMSTREAM_SDMA_ENGINE_INTERNAL_H
#define VRAMSTREAM_SDMA_ENGINE_INTERNAL_H

#include <amdgpu.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "sdma_engine.h"
#include "sdma_gen.h"

/* A BO mapped into the engine's GPU VA space. Immutable after creation. */
struct sdma_vm_buf {
	amdgpu_bo_handle bo;
	uint32_t kms_handle; /* GEM handle, for the per-submission BO list */
	uint64_t size;	     /* bytes the caller may address */
	uint64_t va;	     /* GPU address of byte 0 */
	uint64_t va_size;    /* mapped bytes (page multiple) */
	amdgpu_va_handle va_range;
};

struct sdma_hostbuf {
	struct sdma_engine *engine;
	struct sdma_vm_buf vm;
	void *ptr;
};

struct sdma_bo {
	struct sdma_engine *engine;
	struct sdma_vm_buf vm;
};

/*
 * One submission queue. ctx, ring, ib_cpu, ib_va are set at creation and
 * never change; lock guards the rest. Submitters hold lock from taking an IB
 * to submitting it, so a lane's IBs are used round-robin in seq order.
 */
struct sdma_lane {
	amdgpu_context_handle ctx;
	uint32_t ring;
	uint32_t *ib_cpu; /* this lane's first IB, CPU view */
	uint64_t ib_va;	  /* this lane's first IB, GPU view */

	pthread_mutex_t lock;
	unsigned int next_ib;
	uint64_t *ib_seq; /* per IB: seq of its last submission, 0 = unused */
	uint64_t last_submitted;
	uint64_t last_signaled; /* highest seq seen complete (IB reuse only) */
	int error;		/* first error a fence or submission reported; sticky */
};

struct sdma_engine {
	/* Set at creation, then read-only. */
	amdgpu_device_handle dev;
	const struct sdma_gen *gen;
	struct sdma_engine_config cfg; /* defaults filled in */
	struct sdma_engine_info info;
	int numa_node; /* the GPU's, for the pinned pool; -1 unknown */
	unsigned int num_ctx;
	amdgpu_context_handle *ctx;
	unsigned int num_lanes;
	struct sdma_lane *lanes;
	struct sdma_vm_buf ib; /* every lane's IBs, one GTT BO */
	void *ib_map;
	uint32_t ib_dw;	    /* capacity of one IB in dwords */
	uint32_t ib_stride; /* bytes between IBs */
	uint64_t page_size;

	pthread_mutex_t err_lock; /* guards last_error */
	char last_error[256];
};

#endif
