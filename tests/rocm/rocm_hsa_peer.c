// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Peer access between two GPUs through the public HSA API only (hsa.h,
 * hsa_ext_amd.h), on Debian's ROCr 5.2.
 *
 * It asks ROCr what GPU 0 may do with GPU 1's VRAM pool and the other way
 * round (hsa_amd_agent_memory_pool_get_info: ACCESS, NUM_LINK_HOPS; ROCr's
 * amd_memory_region.cpp: MemoryRegion::GetAccessInfo answers from the links
 * libhsakmt found in the KFD topology) and prints it as
 * "access G->H never|disallowed|allowed hops N".
 *
 * With --expect disallowed (the default) both directions must be
 * DISALLOWED_BY_DEFAULT. It then allocates a0 and c0 in GPU 0's VRAM and b1
 * in GPU 1's, lets GPU 0 reach b1 and GPU 1 reach c0
 * (hsa_amd_agents_allow_access: KFD maps each BO into the peer's GPU VM),
 * and for a number of steps runs peer copies: a0 -> b1 (GPU 0's engine
 * writes GPU 1's VRAM), b1 -> c0 (GPU 1's engine writes GPU 0's VRAM), and
 * b1 through a host buffer, changed on the CPU, back into a0, so a0's data
 * reaches b1 only by the peer copy. At the end it reads all three back and
 * prints "digest HEX" and "verify ok" when they equal the same computation
 * done on the CPU.
 *
 * --fault then copies a0 into a BO of GPU 1 that GPU 0's VM does not map:
 * GPU 0's SDMA engine faults on it, so the copy must never complete
 * ("unmapped peer copy did not complete").
 *
 * With --expect never both directions must be NEVER_ALLOWED, and allowing
 * GPU 0 to reach a BO of GPU 1 must fail ("allow_access refused").
 *
 * Usage: rocm_hsa_peer [--expect disallowed|never] [--steps N] [--size BYTES]
 *                      [--delay-ms MS] [--fault]
 * Exits 0 only when everything above held.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rocm_hsa_common.h"

/* One async copy, waited for. */
static int copy(struct rocm_hsa *c, void *dst, hsa_agent_t dst_agent, const void *src,
		hsa_agent_t src_agent)
{
	hsa_signal_value_t v;

	if (rocm_hsa_copy_wait(c, dst, dst_agent, src, src_agent, ROCM_HSA_COPY_TIMEOUT_NS, &v)) {
		fprintf(stderr, "rocm_hsa_peer: copy %p -> %p did not complete\n", src, dst);
		return 1;
	}
	return 0;
}

static const char *access_name(hsa_amd_memory_pool_access_t a)
{
	switch (a) {
	case HSA_AMD_MEMORY_POOL_ACCESS_NEVER_ALLOWED:
		return "never";
	case HSA_AMD_MEMORY_POOL_ACCESS_ALLOWED_BY_DEFAULT:
		return "allowed";
	case HSA_AMD_MEMORY_POOL_ACCESS_DISALLOWED_BY_DEFAULT:
		return "disallowed";
	}
	return "?";
}

/* What GPU g may do with GPU h's VRAM pool, printed; 0 when it is @want. */
static int check_access(struct rocm_hsa *c, unsigned int g, unsigned int h, const char *want)
{
	hsa_amd_memory_pool_access_t a;
	uint32_t hops = 0;
	hsa_status_t s;

	s = hsa_amd_agent_memory_pool_get_info(c->gpu[g], c->vram[h],
					       HSA_AMD_AGENT_MEMORY_POOL_INFO_ACCESS, &a);
	if (s == HSA_STATUS_SUCCESS)
		s = hsa_amd_agent_memory_pool_get_info(
			c->gpu[g], c->vram[h], HSA_AMD_AGENT_MEMORY_POOL_INFO_NUM_LINK_HOPS, &hops);
	if (s != HSA_STATUS_SUCCESS)
		return rocm_hsa_die(c, "hsa_amd_agent_memory_pool_get_info", s);
	printf("access %u->%u %s hops %" PRIu32 "\n", g, h, access_name(a), hops);
	if (strcmp(access_name(a), want)) {
		fprintf(stderr, "rocm_hsa_peer: GPU %u's access to GPU %u's VRAM is %s, not %s\n",
			g, h, access_name(a), want);
		return 1;
	}
	return 0;
}

static void mix(uint64_t *w, size_t words, unsigned int step)
{
	uint64_t k = 0x9e3779b97f4a7c15ull * (step + 1);
	size_t i;

	for (i = 0; i < words; i++)
		w[i] = rocm_hsa_rotl64(w[i], 11) ^ (k + i);
}

static void *vram_alloc(struct rocm_hsa *c, unsigned int g)
{
	void *p = NULL;
	hsa_status_t s = hsa_amd_memory_pool_allocate(c->vram[g], c->size, 0, &p);

	if (s != HSA_STATUS_SUCCESS) {
		rocm_hsa_die(c, "hsa_amd_memory_pool_allocate (VRAM)", s);
		return NULL;
	}
	return p;
}

/* --expect never: a peer's VRAM cannot be mapped, so allowing access fails. */
static int run_never(struct rocm_hsa *c)
{
	void *b1 = vram_alloc(c, 1);
	hsa_status_t s;

	if (!b1)
		return 1;
	s = hsa_amd_agents_allow_access(1, &c->gpu[0], NULL, b1);
	if (s == HSA_STATUS_SUCCESS) {
		fprintf(stderr, "rocm_hsa_peer: GPU 0 was allowed to reach GPU 1's VRAM\n");
		return 1;
	}
	printf("allow_access refused (0x%x)\n", (unsigned)s);
	return 0;
}

static int run_copies(struct rocm_hsa *c, unsigned int steps, unsigned int delay_ms, bool fault)
{
	size_t words = c->size / 8, k;
	uint64_t *a0 = vram_alloc(c, 0), *c0 = vram_alloc(c, 0), *b1 = vram_alloc(c, 1);
	uint64_t *host = NULL, *ma, *mb, *mc;
	uint64_t digest = ROCM_HSA_FNV_INIT, model = digest;
	hsa_agent_t both[3] = { c->gpu[0], c->gpu[1], c->cpu };
	hsa_status_t s;
	unsigned int i;

	if (!a0 || !c0 || !b1)
		return 1;
	s = hsa_amd_memory_pool_allocate(c->sys, c->size, 0, (void **)&host);
	if (s != HSA_STATUS_SUCCESS)
		return rocm_hsa_die(c, "hsa_amd_memory_pool_allocate (system)", s);
	/* GPU 0's engine writes b1, GPU 1's writes c0: each maps the other's BO. */
	if ((s = hsa_amd_agents_allow_access(1, &c->gpu[0], NULL, b1)) ||
	    (s = hsa_amd_agents_allow_access(1, &c->gpu[1], NULL, c0)) ||
	    (s = hsa_amd_agents_allow_access(3, both, NULL, host)))
		return rocm_hsa_die(c, "hsa_amd_agents_allow_access", s);
	ma = calloc(3, c->size);
	if (!ma)
		return 1;
	mb = ma + words;
	mc = mb + words;
	for (k = 0; k < words; k++)
		host[k] = ma[k] = 0xfedcba9876543210ull * (k + 3);
	if (copy(c, a0, c->gpu[0], host, c->cpu))
		return 1;
	printf("gpus 2\n");
	for (i = 0; i < steps; i++) {
		if (copy(c, b1, c->gpu[1], a0, c->gpu[0]) || copy(c, c0, c->gpu[0], b1, c->gpu[1]))
			return 1;
		memset(host, 0xa5, c->size);
		if (copy(c, host, c->cpu, b1, c->gpu[1]))
			return 1;
		mix(host, words, i);
		if (copy(c, a0, c->gpu[0], host, c->cpu))
			return 1;
		/* The model: b1 and c0 got a0's data, a0 that data mixed. */
		memcpy(mb, ma, c->size);
		memcpy(mc, ma, c->size);
		mix(ma, words, i);
		printf("step %u\n", i + 1);
		if (delay_ms)
			rocm_hsa_sleep_ms(delay_ms);
	}
	{
		uint64_t *bufs[3] = { a0, b1, c0 }, *models[3] = { ma, mb, mc };
		hsa_agent_t owners[3] = { c->gpu[0], c->gpu[1], c->gpu[0] };

		for (k = 0; k < 3; k++) {
			memset(host, 0xa5, c->size);
			if (copy(c, host, c->cpu, bufs[k], owners[k]))
				return 1;
			digest = rocm_hsa_fnv(digest, host, c->size);
			model = rocm_hsa_fnv(model, models[k], c->size);
		}
	}
	printf("digest %016" PRIx64 "\n", digest);
	printf("verify %s\n", digest == model ? "ok" : "FAILED");
	if (digest != model)
		return 1;
	if (fault) {
		uint64_t *d1;
		hsa_signal_value_t v;

		/*
		 * ROCr hands out small VRAM blocks as fragments of one KFD BO and makes access
		 * sticky for the whole BO (amd_memory_region.cpp: AllowAccess "Adjust for
		 * fragments"), so d1 must be a BO of its own: larger than a fragment block.
		 */
		c->size = 32u << 20;
		d1 = vram_alloc(c, 1);
		c->size = words * 8;
		if (!d1)
			return 1;
		/* GPU 0's VM has no mapping of d1: its engine faults, the signal stays. */
		if (!rocm_hsa_copy_wait(c, d1, c->gpu[1], a0, c->gpu[0], 3000000000ull, &v)) {
			fprintf(stderr,
				"rocm_hsa_peer: a copy into unmapped peer VRAM completed\n");
			return 1;
		}
		printf("unmapped peer copy did not complete\n");
		fflush(stdout);
		_exit(0); /* the faulted queue cannot be torn down cleanly */
	}
	hsa_amd_memory_pool_free(a0);
	hsa_amd_memory_pool_free(b1);
	hsa_amd_memory_pool_free(c0);
	hsa_amd_memory_pool_free(host);
	free(ma);
	return 0;
}

int main(int argc, char **argv)
{
	struct rocm_hsa c = { .prog = "rocm_hsa_peer", .size = 1u << 20 };
	const char *expect = "disallowed";
	unsigned int steps = 10, delay_ms = 0, g;
	bool fault = false;
	hsa_status_t s;
	int arg, ret;

	for (arg = 1; arg < argc; arg++) {
		if (!strcmp(argv[arg], "--fault"))
			fault = true;
		else if (arg + 1 == argc)
			break;
		else if (!strcmp(argv[arg], "--expect"))
			expect = argv[++arg];
		else if (!strcmp(argv[arg], "--steps"))
			steps = (unsigned int)strtoul(argv[++arg], NULL, 0);
		else if (!strcmp(argv[arg], "--size"))
			c.size = strtoull(argv[++arg], NULL, 0);
		else if (!strcmp(argv[arg], "--delay-ms"))
			delay_ms = (unsigned int)strtoul(argv[++arg], NULL, 0);
		else
			break;
	}
	if (arg != argc || !c.size || c.size % 4096 ||
	    (strcmp(expect, "disallowed") && strcmp(expect, "never"))) {
		fprintf(stderr, "usage: rocm_hsa_peer [--expect disallowed|never] [--steps N] "
				"[--size BYTES (4 KiB multiple)] [--delay-ms MS] [--fault]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (rocm_hsa_init(&c, 2))
		return 1;
	if (c.ngpus != 2) {
		fprintf(stderr, "rocm_hsa_peer: %u GPU agents, need 2\n", c.ngpus);
		return 1;
	}
	if (rocm_hsa_pick_pool(&c, c.cpu, true, &c.sys, "no system memory pool on the CPU agent"))
		return 1;
	for (g = 0; g < 2; g++)
		if (rocm_hsa_pick_pool(&c, c.gpu[g], true, &c.vram[g],
				       "no coarse-grained VRAM pool on a GPU agent"))
			return 1;
	if (check_access(&c, 0, 1, expect) || check_access(&c, 1, 0, expect))
		return 1;
	s = hsa_signal_create(1, 0, NULL, &c.sig);
	if (s != HSA_STATUS_SUCCESS)
		return rocm_hsa_die(&c, "hsa_signal_create", s);
	if (!strcmp(expect, "never"))
		ret = run_never(&c);
	else
		ret = run_copies(&c, steps, delay_ms, fault);
	hsa_signal_destroy(c.sig);
	hsa_shut_down();
	return ret;
}
