// SPDX-License-Identifier: GPL-2.0-or-later
/* See rocm_hsa_common.h. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "rocm_hsa_common.h"

int rocm_hsa_die(const struct rocm_hsa *h, const char *what, hsa_status_t s)
{
	const char *msg = NULL;

	hsa_status_string(s, &msg);
	fprintf(stderr, "%s: %s: %s (0x%x)\n", h->prog, what, msg ? msg : "?", (unsigned)s);
	return 1;
}

struct agent_pick {
	struct rocm_hsa *h;
	unsigned int max_gpus;
};

static hsa_status_t agent_cb(hsa_agent_t agent, void *data)
{
	struct agent_pick *pick = data;
	struct rocm_hsa *h = pick->h;
	hsa_device_type_t type;
	hsa_status_t s = hsa_agent_get_info(agent, HSA_AGENT_INFO_DEVICE, &type);

	if (s != HSA_STATUS_SUCCESS)
		return s;
	if (type == HSA_DEVICE_TYPE_CPU)
		h->cpu = agent;
	else if (type == HSA_DEVICE_TYPE_GPU && h->ngpus < pick->max_gpus)
		h->gpu[h->ngpus++] = agent;
	return HSA_STATUS_SUCCESS;
}

int rocm_hsa_init(struct rocm_hsa *h, unsigned int max_gpus)
{
	struct agent_pick pick = { h, max_gpus < ROCM_HSA_MAX_GPUS ? max_gpus : ROCM_HSA_MAX_GPUS };
	hsa_status_t s = hsa_init();

	if (s != HSA_STATUS_SUCCESS)
		return rocm_hsa_die(h, "hsa_init", s);
	s = hsa_iterate_agents(agent_cb, &pick);
	if (s != HSA_STATUS_SUCCESS)
		return rocm_hsa_die(h, "hsa_iterate_agents", s);
	return 0;
}

struct pool_pick {
	hsa_amd_memory_pool_t *out;
	bool coarse;
	bool found;
};

static hsa_status_t pool_cb(hsa_amd_memory_pool_t pool, void *data)
{
	struct pool_pick *pick = data;
	hsa_amd_segment_t seg;
	uint32_t flags = 0;
	bool alloc = false;

	if (pick->found)
		return HSA_STATUS_SUCCESS;
	if (hsa_amd_memory_pool_get_info(pool, HSA_AMD_MEMORY_POOL_INFO_SEGMENT, &seg) ||
	    hsa_amd_memory_pool_get_info(pool, HSA_AMD_MEMORY_POOL_INFO_RUNTIME_ALLOC_ALLOWED,
					 &alloc))
		return HSA_STATUS_ERROR;
	if (seg != HSA_AMD_SEGMENT_GLOBAL || !alloc)
		return HSA_STATUS_SUCCESS;
	if (pick->coarse) {
		if (hsa_amd_memory_pool_get_info(pool, HSA_AMD_MEMORY_POOL_INFO_GLOBAL_FLAGS,
						 &flags))
			return HSA_STATUS_ERROR;
		if (!(flags & HSA_AMD_MEMORY_POOL_GLOBAL_FLAG_COARSE_GRAINED))
			return HSA_STATUS_SUCCESS;
	}
	*pick->out = pool;
	pick->found = true;
	return HSA_STATUS_SUCCESS;
}

int rocm_hsa_pick_pool(const struct rocm_hsa *h, hsa_agent_t agent, bool coarse,
		       hsa_amd_memory_pool_t *pool, const char *what)
{
	struct pool_pick pick = { pool, coarse, false };
	hsa_status_t s = hsa_amd_agent_iterate_memory_pools(agent, pool_cb, &pick);

	if (s != HSA_STATUS_SUCCESS || !pick.found)
		return rocm_hsa_die(h, what, s);
	return 0;
}

int rocm_hsa_copy_wait(struct rocm_hsa *h, void *dst, hsa_agent_t dst_agent, const void *src,
		       hsa_agent_t src_agent, uint64_t timeout_ns, hsa_signal_value_t *left)
{
	hsa_status_t s;

	/* The signal goes from 1 to 0 when the copy is done. */
	hsa_signal_store_screlease(h->sig, 1);
	s = hsa_amd_memory_async_copy(dst, dst_agent, src, src_agent, h->size, 0, NULL, h->sig);
	if (s != HSA_STATUS_SUCCESS) {
		rocm_hsa_die(h, "hsa_amd_memory_async_copy", s);
		return -1;
	}
	*left = hsa_signal_wait_scacquire(h->sig, HSA_SIGNAL_CONDITION_LT, 1, timeout_ns,
					  HSA_WAIT_STATE_BLOCKED);
	return *left != 0;
}

uint64_t rocm_hsa_fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

void rocm_hsa_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
