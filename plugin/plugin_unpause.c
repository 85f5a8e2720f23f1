// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kcmp.h>

#include "common_clock.h"
#include "plugin_kfd.h"
#include "plugin_pid_ns.h"
#include "plugin_unpause.h"

int plugin_unpause_seize(pid_t pid, double wait_s)
{
	double deadline = common_now_s() + wait_s;

	for (;;) {
		if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0)
			return 0;
		/*
		 * kernel/ptrace.c, ptrace_attach: -EPERM while the task still has a
		 * tracer (task->ptrace); a killed criu lets go in exit_ptrace, a
		 * little after its files are closed.
		 */
		if (errno != EPERM || common_now_s() >= deadline)
			return -errno;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

void plugin_unpause_detach(pid_t pid)
{
	int status;

	/* PTRACE_DETACH needs a stopped tracee; a seized one runs, so stop it first. */
	if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) == 0 &&
	    waitpid(pid, &status, __WALL) == pid && WIFSTOPPED(status))
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
	/* Otherwise our exit detaches it (exit_ptrace). */
}

int plugin_unpause_kfd(int kfd_fd)
{
	return kfd_criu_unpause(kfd_fd);
}

/* A /dev/kfd file, by the path its /proc link names (as criu tells them apart). */
static bool fd_is_kfd(pid_t pid, const char *fd_name)
{
	char link[64], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/fd/%s", (int)pid, fd_name);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return !strcmp(target, "/dev/kfd");
}

int plugin_unpause_pid(pid_t pid, int *unpaused, char *why, size_t why_len)
{
	char path[64];
	int pidfd, r, found = 0, first = 0;
	struct dirent *de;
	DIR *dir;

	*unpaused = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		r = -errno;
		snprintf(why, why_len, "no process %d: %s", (int)pid, strerror(-r));
		return r;
	}
	r = plugin_unpause_seize(pid, 5.0);
	if (r) {
		snprintf(why, why_len, "cannot trace pid %d (PTRACE_SEIZE): %s%s", (int)pid,
			 strerror(-r),
			 r == -EPERM ? " (is another tracer, criu or a debugger, attached?)" : "");
		close(pidfd);
		return r;
	}
	dir = opendir(path);
	if (!dir) {
		r = -errno;
		snprintf(why, why_len, "cannot list %s: %s", path, strerror(-r));
		goto out;
	}
	while ((de = readdir(dir))) {
		int fd, u;

		if (de->d_name[0] == '.' || !fd_is_kfd(pid, de->d_name))
			continue;
		found++;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0);
		if (fd < 0) {
			if (!first)
				first = -errno;
			continue;
		}
		u = plugin_unpause_kfd(fd);
		close(fd);
		if (!u)
			*unpaused = 1;
		else if (u != -EINVAL && !first)
			first = u; /* -EINVAL: this file's process was not paused */
	}
	closedir(dir);
	if (!found) {
		r = -ENOENT;
		snprintf(why, why_len, "pid %d holds no /dev/kfd file", (int)pid);
	} else if (!*unpaused && first) {
		r = first;
		snprintf(why, why_len, "KFD UNPAUSE for pid %d failed: %s", (int)pid, strerror(-r));
	} else {
		r = 0;
		snprintf(why, why_len, "pid %d: %s", (int)pid,
			 *unpaused ? "GPU queues unpaused" : "GPU queues were not paused");
	}
out:
	plugin_unpause_detach(pid);
	close(pidfd);
	return r;
}

/* TracerPid of @pid (fs/proc/array.c, task_state), 0 when untraced or unreadable. */
static pid_t tracer_of(pid_t pid)
{
	char path[64], line[256];
	pid_t t = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %d", &t) == 1)
			break;
	fclose(f);
	return t;
}

/* Does task @pid hold the file our @fd refers to? (kernel/kcmp.c, KCMP_FILE) */
static bool holds_file(pid_t pid, int fd)
{
	char path[64];
	struct dirent *de;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!found && (de = readdir(dir)))
		found = de->d_name[0] != '.' &&
			syscall(SYS_kcmp, getpid(), pid, KCMP_FILE, fd, atoi(de->d_name)) == 0;
	closedir(dir);
	return found;
}

int plugin_unpause_find_tracee(int kfd_fd, pid_t own_pid, pid_t *host_pid)
{
	pid_t me = getpid();
	struct dirent *de;
	DIR *proc;

	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while ((de = readdir(proc))) {
		pid_t pid = (pid_t)atoi(de->d_name), own;

		if (pid <= 0 || tracer_of(pid) != me)
			continue;
		if (plugin_pid_ns_own(pid, &own) || own != own_pid || !holds_file(pid, kfd_fd))
			continue;
		*host_pid = pid;
		closedir(proc);
		return 0;
	}
	closedir(proc);
	return -ESRCH;
}
