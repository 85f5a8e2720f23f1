// SPDX-License-Identifier: GPL-2.0-or-later
/* sdma_pool: see sdma_pool.h. Uses only the engine's public API. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "sdma_pool.h"

struct sdma_pool {
	/* Set at creation, then read-only. */
	struct sdma_engine *engine;
	unsigned int count;
	uint64_t buf_size;
	struct sdma_hostbuf **all;

	pthread_mutex_t lock; /* guards free_list, nfree, is_free */
	pthread_cond_t cond;  /* signalled when a buffer is put back */
	struct sdma_hostbuf **free_list;
	bool *is_free; /* per index of all[] */
	unsigned int nfree;
};

static int sdma_pool_index(const struct sdma_pool *p, const struct sdma_hostbuf *hb)
{
	unsigned int i;

	for (i = 0; i < p->count; i++)
		if (p->all[i] == hb)
			return (int)i;
	return -1;
}

int sdma_pool_new(struct sdma_engine *e, unsigned int count, uint64_t buf_size,
		  struct sdma_pool **out)
{
	pthread_condattr_t attr;
	struct sdma_pool *p;
	unsigned int i;
	int r;

	*out = NULL;
	if (!count || !buf_size)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->engine = e;
	p->buf_size = buf_size;
	p->all = calloc(count, sizeof(*p->all));
	p->free_list = calloc(count, sizeof(*p->free_list));
	p->is_free = calloc(count, sizeof(*p->is_free));
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (!p->all || !p->free_list || !p->is_free) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < count; i++) {
		r = sdma_hostbuf_alloc(e, buf_size, &p->all[i]);
		if (r)
			goto fail;
		p->count++;
		p->free_list[p->nfree++] = p->all[i];
		p->is_free[i] = true;
	}
	*out = p;
	return 0;

fail:
	sdma_pool_free(p);
	return r;
}

void sdma_pool_free(struct sdma_pool *p)
{
	unsigned int i;

	if (!p)
		return;
	for (i = 0; p->all && i < p->count; i++)
		sdma_hostbuf_free(p->all[i]);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->all);
	free(p->free_list);
	free(p->is_free);
	free(p);
}

int sdma_pool_get(struct sdma_pool *p, uint64_t timeout_ns, struct sdma_hostbuf **out)
{
	struct timespec deadline;
	int r = 0, idx;

	*out = NULL;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(timeout_ns / 1000000000ULL);
	deadline.tv_nsec += (long)(timeout_ns % 1000000000ULL);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&p->lock);
	while (!p->nfree) {
		if (!timeout_ns) {
			r = -EAGAIN;
			goto out;
		}
		r = pthread_cond_timedwait(&p->cond, &p->lock, &deadline);
		if (r == ETIMEDOUT && !p->nfree) {
			r = -ETIME;
			goto out;
		}
		r = 0;
	}
	*out = p->free_list[--p->nfree];
	idx = sdma_pool_index(p, *out);
	p->is_free[idx] = false;
out:
	pthread_mutex_unlock(&p->lock);
	return r;
}

int sdma_pool_put(struct sdma_pool *p, struct sdma_hostbuf *hb)
{
	int idx, r = 0;

	pthread_mutex_lock(&p->lock);
	idx = sdma_pool_index(p, hb);
	if (idx < 0 || p->is_free[idx]) {
		r = -EINVAL;
		goto out;
	}
	p->is_free[idx] = true;
	p->free_list[p->nfree++] = hb;
	pthread_cond_signal(&p->cond);
out:
	pthread_mutex_unlock(&p->lock);
	return r;
}

unsigned int sdma_pool_count(const struct sdma_pool *p)
{
	return p->count;
}

unsigned int sdma_pool_available(struct sdma_pool *p)
{
	unsigned int n;

	pthread_mutex_lock(&p->lock);
	n = p->nfree;
	pthread_mutex_unlock(&p->lock);
	return n;
}

uint64_t sdma_pool_buf_size(const struct sdma_pool *p)
{
	return p->buf_size;
}
