// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_nofile.h"

/*
 * The highest fd number in use, plus one: the kernel hands out the lowest
 * free numbers (fs/file.c: alloc_fd), so @fds new ones end below
 * max(highest + 1, open + fds) <= highest + 1 + fds.
 */
static unsigned long fd_top(void)
{
	unsigned long top = 0;
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return 1024; /* no /proc: assume a full default table */
	while ((e = readdir(d))) {
		char *end;
		unsigned long n = strtoul(e->d_name, &end, 10);

		if (e->d_name[0] != '.' && !*end && n + 1 > top)
			top = n + 1;
	}
	closedir(d);
	return top;
}

int plugin_nofile_raise(struct plugin_nofile *s, unsigned long fds, char *why, size_t why_len)
{
	struct rlimit rl;
	unsigned long need = fd_top() + fds + PLUGIN_NOFILE_SLACK;

	s->raised = false;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	s->saved = rl;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		snprintf(why, why_len,
			 "KFD hands out one dma-buf fd per VRAM/GTT BO at once, %lu here, and this "
			 "process's hard RLIMIT_NOFILE is %llu: at least %lu are needed; raise the "
			 "limit of the criu that runs the plugin (ulimit -n %lu in the shell that "
			 "starts it, LimitNOFILE=%lu in its systemd unit, or the container "
			 "runtime's RLIMIT_NOFILE)",
			 fds, (unsigned long long)rl.rlim_max, need, need, need);
		return -EMFILE;
	}
	return plugin_nofile_raise_all(s, why, why_len);
}

int plugin_nofile_raise_all(struct plugin_nofile *s, char *why, size_t why_len)
{
	struct rlimit rl;

	s->raised = false;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	s->saved = rl;
	if (rl.rlim_cur == rl.rlim_max)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		int e = errno;

		snprintf(why, why_len, "cannot raise the soft RLIMIT_NOFILE from %llu to %llu: %s",
			 (unsigned long long)s->saved.rlim_cur, (unsigned long long)rl.rlim_cur,
			 strerror(e));
		return -e;
	}
	s->raised = true;
	return 0;
}

void plugin_nofile_restore(struct plugin_nofile *s)
{
	if (s->raised)
		setrlimit(RLIMIT_NOFILE, &s->saved);
	s->raised = false;
}
