// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A test program written against the public HSA API only (hsa.h,
 * hsa_ext_amd.h): it finds the CPU and GPU agents and their memory pools,
 * allocates VRAM buffers on every GPU and host buffers in system memory,
 * and for a number of steps moves data around with
 * hsa_amd_memory_async_copy (device to host, host to device, and GPU to GPU
 * when there are several), changing it on the CPU in between. ROCr carries
 * out these copies with SDMA queues it creates through KFD. At the end it
 * reads every buffer back, prints a digest, and compares it with the same
 * computation done on the CPU alone.
 *
 * Usage: rocm_hsa_copy [--steps N] [--size BYTES] [--delay-ms MS]
 * Prints "gpus N", "step I" after each step, "digest HEX", then
 * "verify ok" or "verify FAILED"; exits 0 only when the copies were right.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rocm_hsa_common.h"

struct gpu {
	uint64_t *a, *b; /* VRAM */
	uint64_t *host;	 /* system memory this GPU's data passes through */
	uint64_t *model; /* the CPU-only model of a */
	uint64_t *model_b;
};

struct ctx {
	struct rocm_hsa hsa;
	struct gpu gpu[ROCM_HSA_MAX_GPUS];
};

/* One async copy, waited for. */
static int copy(struct ctx *c, void *dst, hsa_agent_t dst_agent, const void *src,
		hsa_agent_t src_agent)
{
	hsa_signal_value_t v;
	int r = rocm_hsa_copy_wait(&c->hsa, dst, dst_agent, src, src_agent,
				   ROCM_HSA_COPY_TIMEOUT_NS, &v);

	if (r > 0)
		fprintf(stderr,
			"rocm_hsa_copy: copy %p -> %p did not complete (signal %" PRId64 ")\n", src,
			dst, (int64_t)v);
	return r != 0;
}

/* Device to host into a poisoned buffer: a copy that does not happen cannot pass. */
static int readback(struct ctx *c, uint64_t *host, const uint64_t *vram, hsa_agent_t agent)
{
	memset(host, 0xa5, c->hsa.size);
	return copy(c, host, c->hsa.cpu, vram, agent);
}

/* The CPU's part of a step, the same on the real buffers and on the model. */
static void mix(uint64_t *w, size_t words, unsigned int step, unsigned int g)
{
	uint64_t k = 0x9e3779b97f4a7c15ull * (step + 1) + g;
	size_t i;

	for (i = 0; i < words; i++)
		w[i] = rocm_hsa_rotl64(w[i], 7) ^ (k + i);
}

/*
 * Step i on GPU g (n GPUs): a_g -> host_g (device to host), mix on the CPU,
 * host_g -> a_(g+1)%n (host to device); with several GPUs then a_g -> b_(g+1)%n
 * (GPU to GPU). The model applies the same moves to plain memory.
 */
static int step(struct ctx *c, unsigned int i)
{
	size_t words = c->hsa.size / 8;
	unsigned int n = c->hsa.ngpus, g;

	for (g = 0; g < n; g++)
		if (readback(c, c->gpu[g].host, c->gpu[g].a, c->hsa.gpu[g]))
			return 1;
	for (g = 0; g < n; g++) {
		mix(c->gpu[g].host, words, i, g);
		mix(c->gpu[g].model, words, i, g);
	}
	for (g = 0; g < n; g++) {
		unsigned int h = (g + 1) % n;

		if (copy(c, c->gpu[h].a, c->hsa.gpu[h], c->gpu[g].host, c->hsa.cpu))
			return 1;
	}
	/* The model's rotation: a_(g+1) gets a_g's mixed data. */
	{
		uint64_t *last = c->gpu[n - 1].model;

		for (g = n - 1; g > 0; g--)
			c->gpu[g].model = c->gpu[g - 1].model;
		c->gpu[0].model = last;
	}
	if (n > 1) {
		for (g = 0; g < n; g++) {
			unsigned int h = (g + 1) % n;

			if (copy(c, c->gpu[h].b, c->hsa.gpu[h], c->gpu[g].a, c->hsa.gpu[g]))
				return 1;
		}
		for (g = 0; g < n; g++)
			memcpy(c->gpu[(g + 1) % n].model_b, c->gpu[g].model, c->hsa.size);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c = { .hsa = { .prog = "rocm_hsa_copy", .size = 1u << 20 } };
	unsigned int steps = 20, delay_ms = 0, i, g;
	uint64_t digest = ROCM_HSA_FNV_INIT, model = digest;
	uint64_t *models;
	hsa_status_t s;
	int arg;

	for (arg = 1; arg + 1 < argc; arg += 2) {
		if (!strcmp(argv[arg], "--steps"))
			steps = (unsigned int)strtoul(argv[arg + 1], NULL, 0);
		else if (!strcmp(argv[arg], "--size"))
			c.hsa.size = strtoull(argv[arg + 1], NULL, 0);
		else if (!strcmp(argv[arg], "--delay-ms"))
			delay_ms = (unsigned int)strtoul(argv[arg + 1], NULL, 0);
		else
			break;
	}
	if (arg != argc || !c.hsa.size || c.hsa.size % 4096) {
		fprintf(stderr, "usage: rocm_hsa_copy [--steps N] [--size BYTES (4 KiB multiple)] "
				"[--delay-ms MS]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (rocm_hsa_init(&c.hsa, ROCM_HSA_MAX_GPUS))
		return 1;
	if (!c.hsa.ngpus) {
		fprintf(stderr, "rocm_hsa_copy: no GPU agent\n");
		return 1;
	}
	if (rocm_hsa_pick_pool(&c.hsa, c.hsa.cpu, false, &c.hsa.sys,
			       "no system memory pool on the CPU agent"))
		return 1;
	models = calloc(3 * c.hsa.ngpus, c.hsa.size);
	if (!models)
		return 1;
	for (g = 0; g < c.hsa.ngpus; g++) {
		struct gpu *gp = &c.gpu[g];
		hsa_amd_memory_pool_t *vram = &c.hsa.vram[g];
		hsa_agent_t all[ROCM_HSA_MAX_GPUS + 1];
		unsigned int k;

		if (rocm_hsa_pick_pool(&c.hsa, c.hsa.gpu[g], false, vram,
				       "no VRAM pool on a GPU agent"))
			return 1;
		if ((s = hsa_amd_memory_pool_allocate(*vram, c.hsa.size, 0, (void **)&gp->a)) ||
		    (s = hsa_amd_memory_pool_allocate(*vram, c.hsa.size, 0, (void **)&gp->b)) ||
		    (s = hsa_amd_memory_pool_allocate(c.hsa.sys, c.hsa.size, 0,
						      (void **)&gp->host)))
			return rocm_hsa_die(&c.hsa, "hsa_amd_memory_pool_allocate", s);
		for (k = 0; k < c.hsa.ngpus; k++)
			all[k] = c.hsa.gpu[k];
		all[c.hsa.ngpus] = c.hsa.cpu;
		/* Host buffers for every GPU; VRAM for the peers that copy into it. */
		if ((s = hsa_amd_agents_allow_access(c.hsa.ngpus, all, NULL, gp->host)) ||
		    (c.hsa.ngpus > 1 &&
		     ((s = hsa_amd_agents_allow_access(c.hsa.ngpus, all, NULL, gp->a)) ||
		      (s = hsa_amd_agents_allow_access(c.hsa.ngpus, all, NULL, gp->b)))))
			return rocm_hsa_die(&c.hsa, "hsa_amd_agents_allow_access", s);
		gp->model = models + (size_t)(3 * g) * (c.hsa.size / 8);
		gp->model_b = models + (size_t)(3 * g + 1) * (c.hsa.size / 8);
	}
	s = hsa_signal_create(1, 0, NULL, &c.hsa.sig);
	if (s != HSA_STATUS_SUCCESS)
		return rocm_hsa_die(&c.hsa, "hsa_signal_create", s);
	printf("gpus %u\n", c.hsa.ngpus);

	/* Initial contents: a pattern per GPU, into VRAM through the host buffer. */
	for (g = 0; g < c.hsa.ngpus; g++) {
		size_t k;

		for (k = 0; k < c.hsa.size / 8; k++)
			c.gpu[g].host[k] = 0x0123456789abcdefull * (k + 1) + g;
		memcpy(c.gpu[g].model, c.gpu[g].host, c.hsa.size);
		if (copy(&c, c.gpu[g].a, c.hsa.gpu[g], c.gpu[g].host, c.hsa.cpu))
			return 1;
	}
	for (i = 0; i < steps; i++) {
		if (step(&c, i))
			return 1;
		printf("step %u\n", i + 1);
		if (delay_ms)
			rocm_hsa_sleep_ms(delay_ms);
	}
	/* Read everything back through the host buffers and digest it. */
	for (g = 0; g < c.hsa.ngpus; g++) {
		if (readback(&c, c.gpu[g].host, c.gpu[g].a, c.hsa.gpu[g]))
			return 1;
		digest = rocm_hsa_fnv(digest, c.gpu[g].host, c.hsa.size);
		model = rocm_hsa_fnv(model, c.gpu[g].model, c.hsa.size);
		if (c.hsa.ngpus > 1) {
			if (readback(&c, c.gpu[g].host, c.gpu[g].b, c.hsa.gpu[g]))
				return 1;
			digest = rocm_hsa_fnv(digest, c.gpu[g].host, c.hsa.size);
			model = rocm_hsa_fnv(model, c.gpu[g].model_b, c.hsa.size);
		}
	}
	printf("digest %016" PRIx64 "\n", digest);
	printf("verify %s\n", digest == model ? "ok" : "FAILED");
	hsa_signal_destroy(c.hsa.sig);
	for (g = 0; g < c.hsa.ngpus; g++) {
		hsa_amd_memory_pool_free(c.gpu[g].a);
		hsa_amd_memory_pool_free(c.gpu[g].b);
		hsa_amd_memory_pool_free(c.gpu[g].host);
	}
	free(models);
	hsa_shut_down();
	return digest == model ? 0 : 1;
}
