// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A second CRIU plugin for tests: it records every RESUME_DEVICES_LATE call
 * it gets (the pid, one line each, appended to $RESUME_RECORDER_OUT) and
 * claims none (-ENOTSUP). criu's run_plugins() calls the plugins in load
 * order and stops at the first that answers anything but -ENOTSUP
 * (criu/include/plugin.h), so this one sees a task only if every plugin
 * loaded before it declined the task: what a CUDA plugin beside vramstream
 * relies on for its own tasks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "criu-plugin.h"

static int recorder_resume_late(int pid)
{
	const char *path = getenv("RESUME_RECORDER_OUT");
	char line[32];
	int fd, n;

	if (path) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			n = snprintf(line, sizeof(line), "%d\n", pid);
			if (write(fd, line, (size_t)n) != n)
				perror("resume_recorder");
			close(fd);
		}
	}
	return -ENOTSUP;
}

CR_PLUGIN_REGISTER("resume_recorder", NULL, NULL)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESUME_DEVICES_LATE, recorder_resume_late)
