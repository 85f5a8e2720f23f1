// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A byte-rate cap for stream I/O (compress.h: compress_rate). Each I/O
 * reserves the next slot of len / rate seconds on a shared virtual clock and
 * its caller waits until the slot ends, as if the device had taken that long,
 * so any number of streams and requests in flight share the rate; idle time
 * is not saved up into a burst.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "compress.h"

struct compress_rate {
	pthread_mutex_t lock;
	double bytes_per_ns;
	uint64_t next_ns; /* CLOCK_MONOTONIC ns at which the next slot starts */
};

static uint64_t rate_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int compress_rate_new(uint64_t bytes_per_sec, struct compress_rate **out)
{
	struct compress_rate *r;

	*out = NULL;
	if (!bytes_per_sec)
		return 0; /* no cap */
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->bytes_per_ns = (double)bytes_per_sec / 1e9;
	*out = r;
	return 0;
}

void compress_rate_free(struct compress_rate *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void compress_rate_take(struct compress_rate *r, uint64_t bytes)
{
	uint64_t now, start, end;
	struct timespec ts;

	if (!r || !bytes)
		return;
	now = rate_now_ns();
	pthread_mutex_lock(&r->lock);
	start = r->next_ns > now ? r->next_ns : now;
	end = start + (uint64_t)((double)bytes / r->bytes_per_ns);
	r->next_ns = end;
	pthread_mutex_unlock(&r->lock);
	ts.tv_sec = (time_t)(end / 1000000000ull);
	ts.tv_nsec = (long)(end % 1000000000ull);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}
