// SPDX-License-Identifier: GPL-2.0-or-later
/* Progress lines on stderr (GB done, GB/s, ETA) while stderr is a terminal. */
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "img.h"

unsigned int img_cpus(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned int)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned int)n : 1;
}

void img_progress_start(struct img_progress *p, bool quiet, const char *what, uint64_t total)
{
	p->on = !quiet && isatty(STDERR_FILENO);
	p->what = what;
	p->total = total;
	p->done = 0;
	p->t0 = common_now_s();
	p->last = 0;
}

void img_progress_add(struct img_progress *p, uint64_t bytes)
{
	double now, el, rate;

	if (!p || !p->on)
		return;
	p->done += bytes;
	now = common_now_s();
	if (now - p->last < 0.2 && p->done < p->total)
		return;
	p->last = now;
	el = now - p->t0;
	rate = el > 0 ? p->done / el : 0;
	fprintf(stderr, "\r\033[K%s: %.2f / %.2f GB, %.2f GB/s", p->what, p->done / 1e9,
		p->total / 1e9, rate / 1e9);
	if (rate > 0 && p->done < p->total)
		fprintf(stderr, ", ETA %.0f s", (p->total - p->done) / rate);
	fflush(stderr);
}

void img_progress_end(struct img_progress *p)
{
	if (p && p->on) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}
