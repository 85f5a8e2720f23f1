// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <linux/kcmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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

/* Whether task @pid has, at some fd, the open file our @fd refers to. */
static bool holds_file(pid_t pid, int fd)
{
	char path[64];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char *end;
		long tfd = strtol(de->d_name, &end, 10);

		if (end == de->d_name || *end)
			continue;
		/* kernel/kcmp.c: KCMP_FILE compares the struct file of both fds. */
		found = syscall(SYS_kcmp, getpid(), pid, KCMP_FILE, fd, tfd) == 0;
	}
	closedir(d);
	return found;
}

int plugin_pid_ns_holder(pid_t own, int fd, pid_t *pid)
{
	struct dirent *de;
	int r = -ESRCH;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while (r && (de = readdir(d))) {
		char *end;
		long n = strtol(de->d_name, &end, 10);
		pid_t o;

		if (end == de->d_name || *end || n <= 0)
			continue;
		if (plugin_pid_ns_own((pid_t)n, &o) || o != own || !holds_file((pid_t)n, fd))
			continue;
		*pid = (pid_t)n;
		r = 0;
	}
	closedir(d);
	return r;
}
