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
#include <errno.h>
#include <hsa/hsa.h>
#include <hsa/hsa_ext_amd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_GPUS 8

struct gpu {
	hsa_agent_t agent;
	hsa_amd_memory_pool_t vram;
	uint64_t *a, *b; /* VRAM */
	uint64_t *host;	 /* system memory this GPU's data passes through */
	uint64_t *model; /* the CPU-only model of a */
	uint64_t *model_b;
};

struct ctx {
	hsa_agent_t cpu;
	hsa_amd_memory_pool_t sys;
	bool have_sys;
	struct gpu gpu[MAX_GPUS];
	unsigned int ngpus;
	size_t size;
	hsa_signal_t sig;
};

static int die_hsa(const char *what, hsa_status_t s)
{
	const char *msg = NULL;

	hsa_status_string(s, &msg);
	fprintf(stderr, "rocm_hsa_copy: %s: %s (0x%x)\n", what, msg ? msg : "?", (unsigned)s);
	return 1;
}

static hsa_status_t agent_cb(hsa_agent_t agent, void *data)
{
	struct ctx *c = data;
	hsa_device_type_t type;
	hsa_status_t s = hsa_agent_get_info(agent, HSA_AGENT_INFO_DEVICE, &type);

	if (s != HSA_STATUS_SUCCESS)
		return s;
	if (type == HSA_DEVICE_TYPE_CPU)
		c->cpu = agent;
	else if (type == HSA_DEVICE_TYPE_GPU && c->ngpus < MAX_GPUS)
		c->gpu[c->ngpus++].agent = agent;
	return HSA_STATUS_SUCCESS;
}

struct pool_pick {
	hsa_amd_memory_pool_t *out;
	bool *found;
};

/* The first allocatable pool of the global segment. */
static hsa_status_t pool_cb(hsa_amd_memory_pool_t pool, void *data)
{
	struct pool_pick *pick = data;
	hsa_amd_segment_t seg;
	bool alloc = false;

	if (*pick->found)
		return HSA_STATUS_SUCCESS;
	if (hsa_amd_memory_pool_get_info(pool, HSA_AMD_MEMORY_POOL_INFO_SEGMENT, &seg) ||
	    hsa_amd_memory_pool_get_info(pool, HSA_AMD_MEMORY_POOL_INFO_RUNTIME_ALLOC_ALLOWED,
					 &alloc))
		return HSA_STATUS_ERROR;
	if (seg == HSA_AMD_SEGMENT_GLOBAL && alloc) {
		*pick->out = pool;
		*pick->found = true;
	}
	return HSA_STATUS_SUCCESS;
}

/* One async copy, waited for; the signal goes from 1 to 0 when it is done. */
static int copy(struct ctx *c, void *dst, hsa_agent_t dst_agent, const void *src,
		hsa_agent_t src_agent)
{
	hsa_signal_value_t v;
	hsa_status_t s;

	hsa_signal_store_screlease(c->sig, 1);
	s = hsa_amd_memory_async_copy(dst, dst_agent, src, src_agent, c->size, 0, NULL, c->sig);
	if (s != HSA_STATUS_SUCCESS)
		return die_hsa("hsa_amd_memory_async_copy", s);
	/* 20 s at most: a copy the emulator never runs fails the test instead of hanging it. */
	v = hsa_signal_wait_scacquire(c->sig, HSA_SIGNAL_CONDITION_LT, 1, 20000000000ull,
				      HSA_WAIT_STATE_BLOCKED);
	if (v != 0) {
		fprintf(stderr,
			"rocm_hsa_copy: copy %p -> %p did not complete (signal %" PRId64 ")\n", src,
			dst, (int64_t)v);
		return 1;
	}
	return 0;
}

/* Device to host into a poisoned buffer: a copy that does not happen cannot pass. */
static int readback(struct ctx *c, uint64_t *host, const uint64_t *vram, hsa_agent_t agent)
{
	memset(host, 0xa5, c->size);
	return copy(c, host, c->cpu, vram, agent);
}

static uint64_t rotl64(uint64_t x, unsigned int r)
{
	return (x << r) | (x >> (64 - r));
}

/* The CPU's part of a step, the same on the real buffers and on the model. */
static void mix(uint64_t *w, size_t words, unsigned int step, unsigned int g)
{
	uint64_t k = 0x9e3779b97f4a7c15ull * (step + 1) + g;
	size_t i;

	for (i = 0; i < words; i++)
		w[i] = rotl64(w[i], 7) ^ (k + i);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Step i on GPU g (n GPUs): a_g -> host_g (device to host), mix on the CPU,
 * host_g -> a_(g+1)%n (host to device); with several GPUs then a_g -> b_(g+1)%n
 * (GPU to GPU). The model applies the same moves to plain memory.
 */
static int step(struct ctx *c, unsigned int i)
{
	size_t words = c->size / 8;
	unsigned int n = c->ngpus, g;

	for (g = 0; g < n; g++)
		if (readback(c, c->gpu[g].host, c->gpu[g].a, c->gpu[g].agent))
			return 1;
	for (g = 0; g < n; g++) {
		mix(c->gpu[g].host, words, i, g);
		mix(c->gpu[g].model, words, i, g);
	}
	for (g = 0; g < n; g++) {
		struct gpu *to = &c->gpu[(g + 1) % n];

		if (copy(c, to->a, to->agent, c->gpu[g].host, c->cpu))
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
			struct gpu *to = &c->gpu[(g + 1) % n];

			if (copy(c, to->b, to->agent, c->gpu[g].a, c->gpu[g].agent))
				return 1;
		}
		for (g = 0; g < n; g++)
			memcpy(c->gpu[(g + 1) % n].model_b, c->gpu[g].model, c->size);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c = { .size = 1u << 20 };
	unsigned int steps = 20, delay_ms = 0, i, g;
	uint64_t digest = 0xcbf29ce484222325ull, model = digest;
	uint64_t *models;
	hsa_status_t s;
	int arg;

	for (arg = 1; arg + 1 < argc; arg += 2) {
		if (!strcmp(argv[arg], "--steps"))
			steps = (unsigned int)strtoul(argv[arg + 1], NULL, 0);
		else if (!strcmp(argv[arg], "--size"))
			c.size = strtoull(argv[arg + 1], NULL, 0);
		else if (!strcmp(argv[arg], "--delay-ms"))
			delay_ms = (unsigned int)strtoul(argv[arg + 1], NULL, 0);
		else
			break;
	}
	if (arg != argc || !c.size || c.size % 4096) {
		fprintf(stderr, "usage: rocm_hsa_copy [--steps N] [--size BYTES (4 KiB multiple)] "
				"[--delay-ms MS]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	s = hsa_init();
	if (s != HSA_STATUS_SUCCESS)
		return die_hsa("hsa_init", s);
	s = hsa_iterate_agents(agent_cb, &c);
	if (s != HSA_STATUS_SUCCESS)
		return die_hsa("hsa_iterate_agents", s);
	if (!c.ngpus) {
		fprintf(stderr, "rocm_hsa_copy: no GPU agent\n");
		return 1;
	}
	{
		struct pool_pick pick = { &c.sys, &c.have_sys };

		s = hsa_amd_agent_iterate_memory_pools(c.cpu, pool_cb, &pick);
		if (s != HSA_STATUS_SUCCESS || !c.have_sys)
			return die_hsa("no system memory pool on the CPU agent", s);
	}
	models = calloc(3 * c.ngpus, c.size);
	if (!models)
		return 1;
	for (g = 0; g < c.ngpus; g++) {
		struct gpu *gp = &c.gpu[g];
		bool found = false;
		struct pool_pick pick = { &gp->vram, &found };
		hsa_agent_t all[MAX_GPUS + 1];
		unsigned int k;

		s = hsa_amd_agent_iterate_memory_pools(gp->agent, pool_cb, &pick);
		if (s != HSA_STATUS_SUCCESS || !found)
			return die_hsa("no VRAM pool on a GPU agent", s);
		if ((s = hsa_amd_memory_pool_allocate(gp->vram, c.size, 0, (void **)&gp->a)) ||
		    (s = hsa_amd_memory_pool_allocate(gp->vram, c.size, 0, (void **)&gp->b)) ||
		    (s = hsa_amd_memory_pool_allocate(c.sys, c.size, 0, (void **)&gp->host)))
			return die_hsa("hsa_amd_memory_pool_allocate", s);
		for (k = 0; k < c.ngpus; k++)
			all[k] = c.gpu[k].agent;
		all[c.ngpus] = c.cpu;
		/* Host buffers for every GPU; VRAM for the peers that copy into it. */
		if ((s = hsa_amd_agents_allow_access(c.ngpus, all, NULL, gp->host)) ||
		    (c.ngpus > 1 && ((s = hsa_amd_agents_allow_access(c.ngpus, all, NULL, gp->a)) ||
				     (s = hsa_amd_agents_allow_access(c.ngpus, all, NULL, gp->b)))))
			return die_hsa("hsa_amd_agents_allow_access", s);
		gp->model = models + (size_t)(3 * g) * (c.size / 8);
		gp->model_b = models + (size_t)(3 * g + 1) * (c.size / 8);
	}
	s = hsa_signal_create(1, 0, NULL, &c.sig);
	if (s != HSA_STATUS_SUCCESS)
		return die_hsa("hsa_signal_create", s);
	printf("gpus %u\n", c.ngpus);

	/* Initial contents: a pattern per GPU, into VRAM through the host buffer. */
	for (g = 0; g < c.ngpus; g++) {
		size_t k;

		for (k = 0; k < c.size / 8; k++)
			c.gpu[g].host[k] = 0x0123456789abcdefull * (k + 1) + g;
		memcpy(c.gpu[g].model, c.gpu[g].host, c.size);
		if (copy(&c, c.gpu[g].a, c.gpu[g].agent, c.gpu[g].host, c.cpu))
			return 1;
	}
	for (i = 0; i < steps; i++) {
		if (step(&c, i))
			return 1;
		printf("step %u\n", i + 1);
		if (delay_ms)
			sleep_ms(delay_ms);
	}
	/* Read everything back through the host buffers and digest it. */
	for (g = 0; g < c.ngpus; g++) {
		if (readback(&c, c.gpu[g].host, c.gpu[g].a, c.gpu[g].agent))
			return 1;
		digest = fnv(digest, c.gpu[g].host, c.size);
		model = fnv(model, c.gpu[g].model, c.size);
		if (c.ngpus > 1) {
			if (readback(&c, c.gpu[g].host, c.gpu[g].b, c.gpu[g].agent))
				return 1;
			digest = fnv(digest, c.gpu[g].host, c.size);
			model = fnv(model, c.gpu[g].model_b, c.size);
		}
	}
	printf("digest %016" PRIx64 "\n", digest);
	printf("verify %s\n", digest == model ? "ok" : "FAILED");
	hsa_signal_destroy(c.sig);
	for (g = 0; g < c.ngpus; g++) {
		hsa_amd_memory_pool_free(c.gpu[g].a);
		hsa_amd_memory_pool_free(c.gpu[g].b);
		hsa_amd_memory_pool_free(c.gpu[g].host);
	}
	free(models);
	hsa_shut_down();
	return digest == model ? 0 : 1;
}
