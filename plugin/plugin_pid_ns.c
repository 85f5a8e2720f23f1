// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_pid_ns.h"

int plugin_pid_ns_own(pid_t pid, pid_t *own)
{
	char path[64], line[512];
	int r = -EINVAL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *at = line + 6, *end;
		long v = 0;

		if (strncmp(line, "NSpid:", 6))
			continue;
		/* One entry per level; the innermost is last (MAX_PID_NS_LEVEL 32 fit). */
		for (;;) {
			long n = strtol(at, &end, 10);

			if (end == at)
				break;
			v = n;
			at = end;
		}
		if (v > 0) {
			*own = (pid_t)v;
			r = 0;
		}
		break;
	}
	fclose(f);
	return r;
}
