/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Monotonic seconds, for timings and deadlines. Libc only (common/README.md). */
#ifndef VRAMSTREAM_COMMON_CLOCK_H
#define VRAMSTREAM_COMMON_CLOCK_H

#include <time.h>

static inline double common_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) the calling thread has used. */
static inline double common_thread_cpu_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
