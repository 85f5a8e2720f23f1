// SPDX-License-Identifier: GPL-2.0-or-later
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image.h"
#include "plugin_guard.h"
#include "plugin_log.h"
#include "plugin_unpause.h"

/* What the guard holds; fds are its own copies. */
struct guard_args {
	int kfd_fd, criu_pidfd, done_rd, dirfd;
	pid_t target, criu;
	uint32_t own_pid;
	int id;
};

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Closes every fd from 3 up but those in @keep (criu's files, its parasite's socket...). */
static void close_all_but(int *keep, unsigned int n)
{
	unsigned int lo = 3;

	qsort(keep, n, sizeof(*keep), cmp_int);
	for (unsigned int i = 0; i < n; i++) {
		if ((unsigned int)keep[i] > lo)
			syscall(SYS_close_range, lo, (unsigned int)keep[i] - 1, 0);
		lo = (unsigned int)keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
}

/* Removes the temporary files the interrupted dump of (own_pid, id) left. */
static void guard_remove_leftovers(const struct guard_args *a)
{
	char kfd_name[128];
	struct dirent *de;
	size_t stem;
	DIR *dir;
	int fd;

	if (image_kfd_name(a->own_pid, a->id, kfd_name, sizeof(kfd_name)))
		return;
	stem = strlen(kfd_name) - strlen(".img");
	kfd_name[stem] = '\0'; /* "vramstream-kfd-PID-ID" */
	fd = fcntl(a->dirfd, F_DUPFD_CLOEXEC, 0);
	dir = fd < 0 ? NULL : fdopendir(fd);
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dir))) {
		const char *at = strstr(de->d_name, kfd_name);

		if (!at || image_name_kind(de->d_name, NULL, NULL) != IMAGE_FILE_LEFTOVER ||
		    (at[stem] != '-' && at[stem] != '.'))
			continue;
		if (!unlinkat(a->dirfd, de->d_name, 0))
			dprintf(STDERR_FILENO, "vramstream: guard: removed %s\n", de->d_name);
	}
	closedir(dir);
}

/* criu is gone with the queues of a->target paused: unpause them as its tracer. */
static int guard_rescue(const struct guard_args *a)
{
	int r = plugin_unpause_seize(a->target, 10.0);

	if (!r) {
		r = plugin_unpause_kfd(a->kfd_fd);
		plugin_unpause_detach(a->target);
	}
	if (!r)
		dprintf(STDERR_FILENO,
			"vramstream: criu (pid %d) died during the dump of pid %d; the guard "
			"unpaused its GPU queues\n",
			(int)a->criu, (int)a->target);
	else if (r != -ESRCH && r != -EINVAL) /* -EINVAL: the plugin unpaused them first */
		dprintf(STDERR_FILENO,
			"vramstream: criu (pid %d) died during the dump of pid %d; the guard could "
			"not unpause its GPU queues: %s (try: vramstream-img unpause %d)\n",
			(int)a->criu, (int)a->target, strerror(-r), (int)a->target);
	guard_remove_leftovers(a);
	return r;
}

static void guard_main(void *arg)
{
	struct guard_args *a = arg;
	struct pollfd pf[2] = { { .fd = a->done_rd, .events = POLLIN },
				{ .fd = a->criu_pidfd, .events = POLLIN } };
	char c;

	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		/* A word from the plugin: the queues run again; no word and EOF: criu is gone. */
		if (pf[0].revents) {
			ssize_t n = read(a->done_rd, &c, 1);

			if (n == 1)
				_exit(0);
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents) {
			/* criu exited: a word it sent first still counts. */
			if (read(a->done_rd, &c, 1) == 1)
				_exit(0);
			break;
		}
	}
	_exit(guard_rescue(a) ? 1 : 0);
}

/* The part of plugin_guard_spawn() that runs in the guard. */
static void spawned_main(const char *name, int *keep, unsigned int n_keep, int ready_wr,
			 void (*fn)(void *), void *arg)
{
	int all_keep[PLUGIN_GUARD_KEEP_MAX + 1];
	pid_t self = getpid();
	sigset_t all;
	int null;

	/* criu's handlers and mask make no sense here. */
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
	}
	memcpy(all_keep, keep, n_keep * sizeof(*keep));
	all_keep[n_keep] = ready_wr;
	close_all_but(all_keep, n_keep + 1);
	/* Armed: criu may go on. */
	if (write(ready_wr, &self, sizeof(self)) != sizeof(self))
		_exit(1);
	close(ready_wr);
	fn(arg);
	_exit(1);
}

pid_t plugin_guard_spawn(const char *name, const int *keep, unsigned int n_keep,
			 void (*fn)(void *arg), void *arg)
{
	int ready[2], kept[PLUGIN_GUARD_KEEP_MAX], status;
	sigset_t chld, old_mask;
	pid_t mid, guard = 0;

	unsigned int n_kept = 0;

	assert(n_keep <= PLUGIN_GUARD_KEEP_MAX);
	for (unsigned int i = 0; i < n_keep; i++)
		if (keep[i] >= 0) /* an absent fd (-1) is no fd to keep */
			kept[n_kept++] = keep[i];
	if (pipe2(ready, O_CLOEXEC))
		return -errno;
	/*
	 * criu's SIGCHLD handler must not see the middle process: during a
	 * dump it reaps any child and exits ("exited with 0 unexpectedly",
	 * criu/parasite-syscall.c: sigchld_handler), during a restore it fails
	 * the restore (cr-restore.c: sigchld_handler). Held back until we
	 * reaped it, the signal then finds no child to report.
	 */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &old_mask);
	mid = fork();
	if (mid < 0) {
		int e = errno;

		pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
		close(ready[0]);
		close(ready[1]);
		return -e;
	}
	if (mid == 0) {
		setsid();
		mid = fork();
		if (mid == 0)
			spawned_main(name, kept, n_kept, ready[1], fn, arg);
		_exit(mid < 0);
	}
	close(ready[1]);
	while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
		;
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	if (read(ready[0], &guard, sizeof(guard)) != sizeof(guard))
		guard = -ECHILD;
	close(ready[0]);
	return guard;
}

int plugin_guard_start(struct plugin_guard *g, int fd, uint32_t own_pid, int id, int dirfd)
{
	struct guard_args a = {
		.kfd_fd = fd, .dirfd = dirfd, .own_pid = own_pid, .id = id, .criu = getpid()
	};
	int done[2] = { -1, -1 }, r;
	pid_t guard;

	g->pid = 0;
	g->done_fd = -1;
	r = plugin_unpause_find_tracee(fd, (pid_t)own_pid, &a.target);
	if (r) {
		pr_warn("pid %u: no guard for its paused GPU queues: cannot find the task criu traces "
			"with this KFD file: %s",
			own_pid, strerror(-r));
		return r;
	}
	a.criu_pidfd = (int)syscall(SYS_pidfd_open, a.criu, 0);
	if (a.criu_pidfd < 0 || pipe2(done, O_CLOEXEC)) {
		r = -errno;
		goto out;
	}
	a.done_rd = done[0];
	{
		int keep[] = { a.kfd_fd, a.criu_pidfd, a.done_rd, a.dirfd };

		guard = plugin_guard_spawn("vramstream-grd", keep, sizeof(keep) / sizeof(keep[0]),
					   guard_main, &a);
	}
	if (guard < 0) {
		r = guard;
		goto out;
	}
	g->pid = guard;
	g->done_fd = done[1];
	done[1] = -1;
	pr_info("pid %u: guard %d unpauses its GPU queues should criu die before the dump ends "
		"(host pid %d)",
		own_pid, (int)guard, (int)a.target);
	r = 0;
out:
	if (r)
		pr_warn("pid %u: no guard for its paused GPU queues: %s", own_pid, strerror(-r));
	for (int i = 0; i < 2; i++)
		if (done[i] >= 0)
			close(done[i]);
	if (a.criu_pidfd >= 0)
		close(a.criu_pidfd);
	return r;
}

void plugin_guard_stop(struct plugin_guard *g)
{
	if (!g || g->done_fd < 0)
		return;
	if (write(g->done_fd, "d", 1) != 1)
		pr_warn("guard %d: cannot tell it the dump is over: %s", (int)g->pid,
			strerror(errno));
	close(g->done_fd);
	g->done_fd = -1;
	g->pid = 0;
}
