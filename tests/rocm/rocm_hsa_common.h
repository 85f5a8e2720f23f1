/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The HSA set-up that the tests/rocm programs (rocm_hsa_copy, rocm_hsa_peer)
 * share, written against the public HSA API only (hsa.h, hsa_ext_amd.h):
 * the CPU and GPU agents, their memory pools, one waited-for async copy, and
 * the digest both programs print. Errors are reported on stderr as
 * "PROG: WHAT: STATUS (0xN)" and come back as 1, the programs' exit code.
 */
#ifndef VRAMSTREAM_ROCM_HSA_COMMON_H
#define VRAMSTREAM_ROCM_HSA_COMMON_H

#include <hsa/hsa.h>
#include <hsa/hsa_ext_amd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROCM_HSA_MAX_GPUS 8
/* 20 s at most: a copy the emulator never runs fails the test instead of hanging it. */
#define ROCM_HSA_COPY_TIMEOUT_NS 20000000000ull
/* FNV-1a's offset basis: where every digest starts. */
#define ROCM_HSA_FNV_INIT 0xcbf29ce484222325ull

struct rocm_hsa {
	const char *prog; /* the prefix of every error message */
	hsa_agent_t cpu;
	hsa_agent_t gpu[ROCM_HSA_MAX_GPUS];
	unsigned int ngpus;
	hsa_amd_memory_pool_t sys;		       /* on the CPU agent */
	hsa_amd_memory_pool_t vram[ROCM_HSA_MAX_GPUS]; /* on gpu[g] */
	size_t size;				       /* bytes of every copy */
	hsa_signal_t sig;			       /* one copy in flight at a time */
};

/* Prints "PROG: @what: STATUS (0xN)" on stderr; returns 1. */
int rocm_hsa_die(const struct rocm_hsa *h, const char *what, hsa_status_t s);
/* hsa_init, then the CPU agent and the first @max_gpus GPU agents; 0 or 1. */
int rocm_hsa_init(struct rocm_hsa *h, unsigned int max_gpus);
/*
 * The first allocatable pool of @agent's global segment (with @coarse, the
 * first coarse-grained one) into @pool; 0, or 1 after rocm_hsa_die(@what).
 */
int rocm_hsa_pick_pool(const struct rocm_hsa *h, hsa_agent_t agent, bool coarse,
		       hsa_amd_memory_pool_t *pool, const char *what);
/*
 * One async copy of h->size bytes on h->sig, waited for at most @timeout_ns:
 * 0 when it completed, 1 when it did not (the signal's value in @left), -1
 * when ROCr refused it (reported).
 */
int rocm_hsa_copy_wait(struct rocm_hsa *h, void *dst, hsa_agent_t dst_agent, const void *src,
		       hsa_agent_t src_agent, uint64_t timeout_ns, hsa_signal_value_t *left);

/* FNV-1a of @n bytes, continuing from @h. */
uint64_t rocm_hsa_fnv(uint64_t h, const void *p, size_t n);
void rocm_hsa_sleep_ms(unsigned int ms);

static inline uint64_t rocm_hsa_rotl64(uint64_t x, unsigned int r)
{
	return (x << r) | (x >> (64 - r));
}

#endif
