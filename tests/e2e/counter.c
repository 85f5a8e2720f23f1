// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A process whose only state is in memory: it counts from 1 and appends each
 * number to stdout, one line per tick. After a checkpoint/restore it must go
 * on from the number it had reached, never from 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long tick_ms = argc > 1 ? atol(argv[1]) : 10;
	struct timespec ts = { .tv_sec = tick_ms / 1000, .tv_nsec = (tick_ms % 1000) * 1000000L };
	unsigned long n = 0;
	char line[32];

	/* A session of its own, so criu can dump it without --shell-job. */
	if (setsid() < 0) {
		fprintf(stderr, "counter: setsid: %s\n", strerror(errno));
		return 1;
	}
	for (;;) {
		int len = snprintf(line, sizeof(line), "%lu\n", ++n);

		if (write(STDOUT_FILENO, line, len) != len)
			return 1;
		nanosleep(&ts, NULL);
	}
}
