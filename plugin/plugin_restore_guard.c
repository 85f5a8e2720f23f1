// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common_clock.h"
#include "plugin_criu_img.h"
#include "plugin_guard.h"
#include "plugin_log.h"
#include "plugin_restore.h"
#include "plugin_restore_guard.h"

/*
 * What the plugin tells the guard, one record per message of a
 * SOCK_SEQPACKET pair (sent with MSG_NOSIGNAL: a guard that has already left
 * must not raise SIGPIPE in criu).
 */
enum { CMD_RESUMED = 1, CMD_STOP = 2 };
struct guard_cmd {
	int32_t kind;
	int32_t pid;
};

/*
 * Look at criu's children this often until the root is found (one small
 * file), then at the tree now and then (and again once the plugin has
 * resumed every task found, and when criu has died).
 */
#define SCAN_MS_EARLY 5
#define SCAN_MS	      1000
#define KILL_WAIT_S   5.0
#define LOG_PIDS_MAX  16

struct guard_task {
	pid_t pid; /* in criu's pid namespace, which is the guard's */
	int pidfd;
	bool resumed;
};

/* The guard's state, in the guard process alone. */
struct guard {
	pid_t criu, criu_parent; /* criu_parent 0 when there is none to look at */
	int criu_pidfd, parent_pidfd, cmd_rd, log_fd;
	uint32_t root_vpid;
	struct guard_task *tasks; /* the root first, then its descendants as found */
	size_t n_tasks, cap;
	bool root_found;
};

static void guard_log(const struct guard *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One line to criu's log and, when that is another file, to criu's stderr. */
static void guard_log(const struct guard *g, const char *fmt, ...)
{
	struct stat a, b;
	char line[1024];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "vramstream: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* Nowhere else to say it when these fail. */
	if (g->log_fd >= 0)
		(void)!write(g->log_fd, line, (size_t)n);
	if (g->log_fd >= 0 && !fstat(g->log_fd, &a) && !fstat(STDERR_FILENO, &b) &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return;
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

/* The process behind @pidfd has exited (a zombie included) or cannot be asked. */
static bool pidfd_exited(int pidfd)
{
	struct pollfd pf = { .fd = pidfd, .events = POLLIN };

	return poll(&pf, 1, 0) != 0;
}

/* What the guard needs of /proc/PID/status (fs/proc/array.c: task_state). */
struct proc_info {
	pid_t ppid, tracer, own; /* own: the last NSpid entry */
};

static int read_proc_info(pid_t pid, struct proc_info *pi)
{
	char path[64], buf[4096], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	pi->ppid = pi->tracer = pi->own = 0;
	p = strstr(buf, "\nPPid:");
	if (p)
		pi->ppid = (pid_t)strtol(p + 6, NULL, 10);
	p = strstr(buf, "\nTracerPid:");
	if (p)
		pi->tracer = (pid_t)strtol(p + 11, NULL, 10);
	p = strstr(buf, "\nNSpid:");
	if (p) {
		char *end = strchr(p + 1, '\n');

		for (p += 7; p < end && *p;) {
			char *next;
			long v = strtol(p, &next, 10);

			if (next == p)
				break;
			pi->own = (pid_t)v;
			p = next;
		}
	}
	return pi->ppid ? 0 : -ESRCH;
}

/* The parent of @pid from /proc/PID/stat (cheaper than status); 0 when gone. */
static pid_t read_ppid(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may hold anything, ')' included */
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		return 0;
	return (pid_t)strtol(p + 4, NULL, 10);
}

static struct guard_task *find_task(struct guard *g, pid_t pid)
{
	for (size_t i = 0; i < g->n_tasks; i++)
		if (g->tasks[i].pid == pid)
			return &g->tasks[i];
	return NULL;
}

/*
 * @pid, a child of @ppid, is the restore's root: criu's child, or with
 * --restore-sibling criu's parent's child that criu traces, known to itself
 * by the root's pid in the image; and criu (and its parent) still hold their
 * pids, so the numbers meant them.
 */
static bool is_root(struct guard *g, pid_t pid, pid_t ppid)
{
	struct proc_info pi;

	if (read_proc_info(pid, &pi) || pi.own != (pid_t)g->root_vpid || pi.ppid != ppid)
		return false;
	if (ppid == g->criu_parent && pi.tracer != g->criu)
		return false;
	return !pidfd_exited(g->criu_pidfd) &&
	       (ppid != g->criu_parent || !pidfd_exited(g->parent_pidfd));
}

static int add_task(struct guard *g, pid_t pid, int pidfd)
{
	if (g->n_tasks == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		struct guard_task *t = realloc(g->tasks, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		g->tasks = t;
		g->cap = cap;
	}
	g->tasks[g->n_tasks++] = (struct guard_task){ .pid = pid, .pidfd = pidfd };
	return 0;
}

/*
 * Takes @pid, which a children file of @ppid listed, when it is a task of
 * the restore: the root (@root_parent: @ppid is criu or its parent), or a
 * child of a live task of ours (@parent_pidfd). Its pidfd is opened first
 * and its parent checked after, so the pidfd is of the process examined.
 */
static void consider(struct guard *g, pid_t pid, pid_t ppid, bool root_parent, int parent_pidfd)
{
	int pidfd;

	if (find_task(g, pid) || (root_parent && !is_root(g, pid, ppid)))
		return;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return;
	if (read_ppid(pid) != ppid ||
	    (root_parent ? !is_root(g, pid, ppid) : pidfd_exited(parent_pidfd)) ||
	    add_task(g, pid, pidfd)) {
		close(pidfd);
		return;
	}
	if (root_parent)
		g->root_found = true;
}

/*
 * The children of every thread of @ppid (/proc/PID/task/TID/children,
 * fs/proc/array.c: children_seq_ops; what criu's own dump reads), each
 * considered. @ppid is still itself while @ppid_fd is not exited.
 */
static void scan_children(struct guard *g, pid_t ppid, int ppid_fd, bool root_parent)
{
	char path[64], buf[8192];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)ppid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		ssize_t n;
		int fd;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%ld/children", (int)ppid,
			 strtol(de->d_name, NULL, 10));
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		/* What was read is @ppid's only if it is still alive now. */
		if (n <= 0 || pidfd_exited(ppid_fd))
			continue;
		buf[n] = '\0';
		for (char *p = buf, *end; *p; p = end) {
			long child = strtol(p, &end, 10);

			if (end == p)
				break;
			consider(g, (pid_t)child, ppid, root_parent, ppid_fd);
		}
	}
	closedir(dir);
}

/*
 * The root among the children of criu (and of criu's parent), then every
 * child of a task found, new ones included: tasks only ever come from
 * tasks (criu forks each from its parent, fork_with_pid).
 */
static void scan(struct guard *g)
{
	if (!g->root_found && !pidfd_exited(g->criu_pidfd)) {
		scan_children(g, g->criu, g->criu_pidfd, true);
		if (!g->root_found && g->criu_parent)
			scan_children(g, g->criu_parent, g->parent_pidfd, true);
	}
	for (size_t i = 0; i < g->n_tasks; i++)
		if (!pidfd_exited(g->tasks[i].pidfd))
			scan_children(g, g->tasks[i].pid, g->tasks[i].pidfd, false);
}

/* Every live task of the tree went through RESUME_DEVICES_LATE. */
static bool all_resumed(struct guard *g)
{
	for (size_t i = 0; i < g->n_tasks; i++)
		if (!g->tasks[i].resumed && !pidfd_exited(g->tasks[i].pidfd))
			return false;
	return true;
}

/* The restore is complete: nothing of ours is left to do. */
static void stand_down(struct guard *g)
{
	if (!g->root_found)
		guard_log(g, "restore guard: found no task of this restore to watch (root pid %u)",
			  g->root_vpid);
	_exit(0);
}

/* Takes the plugin's records; false at EOF or on an error. */
static bool read_cmds(struct guard *g)
{
	struct guard_cmd c;

	for (;;) {
		ssize_t n = recv(g->cmd_rd, &c, sizeof(c), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n != (ssize_t)sizeof(c))
			return false;
		if (c.kind == CMD_STOP)
			_exit(0);
		if (c.kind == CMD_RESUMED) {
			struct guard_task *t = find_task(g, c.pid);

			if (t)
				t->resumed = true;
			if (!all_resumed(g))
				continue;
			/* The tree is whole by now: a last look for tasks not seen yet. */
			if (!pidfd_exited(g->criu_pidfd))
				scan(g);
			if (all_resumed(g))
				stand_down(g);
		}
	}
}

/* criu died before the restore was complete: no task of it may stay. */
static void kill_tree(struct guard *g)
{
	char pids[LOG_PIDS_MAX * 12 + 8] = "";
	unsigned int killed = 0, left = 0;
	double deadline;
	size_t len = 0;

	for (size_t i = 0; i < g->n_tasks; i++) {
		struct guard_task *t = &g->tasks[i];

		if (syscall(SYS_pidfd_send_signal, t->pidfd, SIGKILL, NULL, 0))
			continue; /* gone already */
		if (killed < LOG_PIDS_MAX && len < sizeof(pids))
			len += (size_t)snprintf(pids + len, sizeof(pids) - len, " %d", (int)t->pid);
		else if (killed == LOG_PIDS_MAX && len < sizeof(pids))
			snprintf(pids + len, sizeof(pids) - len, " ...");
		killed++;
	}
	deadline = common_now_s() + KILL_WAIT_S;
	for (size_t i = 0; i < g->n_tasks; i++) {
		struct pollfd pf = { .fd = g->tasks[i].pidfd, .events = POLLIN };
		double rest = deadline - common_now_s();

		if (poll(&pf, 1, rest > 0 ? (int)(rest * 1000) : 0) == 0)
			left++;
	}
	if (!g->root_found)
		guard_log(g,
			  "criu (pid %d) died during the restore before its first task (pid %u) "
			  "started; the guard had no task to kill",
			  (int)g->criu, g->root_vpid);
	else if (!left)
		guard_log(g,
			  "criu (pid %d) died during the restore; the guard killed the %u task(s) "
			  "it had restored part way (pids%s); none of them is left",
			  (int)g->criu, killed, pids);
	else
		guard_log(g,
			  "criu (pid %d) died during the restore; the guard killed the %u task(s) "
			  "it had restored part way (pids%s); %u of them still exist after %.0f s",
			  (int)g->criu, killed, pids, left, KILL_WAIT_S);
}

static void guard_main(void *arg)
{
	struct guard *g = arg;
	struct pollfd pf[2] = { { .fd = g->cmd_rd, .events = POLLIN },
				{ .fd = g->criu_pidfd, .events = POLLIN } };

	for (;;) {
		int n = poll(pf, 2, g->root_found ? SCAN_MS : SCAN_MS_EARLY);

		if (n < 0 && errno != EINTR)
			_exit(1);
		if (n > 0 && pf[0].revents && !read_cmds(g)) {
			/*
			 * Our socket closed without a word: criu is dying (its
			 * files close before its pidfd reports the exit,
			 * kernel/exit.c: do_exit, exit_files before
			 * exit_notify), or it let go of us (an exec).
			 */
			struct pollfd dead = { .fd = g->criu_pidfd, .events = POLLIN };

			if (poll(&dead, 1, (int)(KILL_WAIT_S * 1000)) == 0) {
				guard_log(g,
					  "restore guard: criu (pid %d) closed its socket to the "
					  "guard without a word; the guard leaves",
					  (int)g->criu);
				_exit(0);
			}
			break;
		}
		if (n > 0 && pf[1].revents)
			break;
		scan(g);
	}
	/* criu exited: what it said first still counts. */
	read_cmds(g);
	scan(g); /* its tasks' children still name their parents */
	kill_tree(g);
	_exit(0);
}

int plugin_restore_guard_start(struct plugin_restore_guard *rg, int dirfd)
{
	struct guard g = { .criu = getpid(), .criu_pidfd = -1, .parent_pidfd = -1, .log_fd = -1 };
	int cmd[2] = { -1, -1 }, r;
	pid_t guard;

	rg->pid = 0;
	rg->cmd_fd = -1;
	if (plugin_restore_find_kfd_image(dirfd, 0) < 0)
		return 0; /* no GPU state of ours in this restore */
	r = criu_img_root_pid(dirfd, &g.root_vpid);
	if (r) {
		pr_warn("restore: no guard for this restore's tasks: cannot read the process tree "
			"from pstree.img: %s",
			r == -EINVAL ? "not such an image" : strerror(-r));
		return r;
	}
	g.criu_parent = getppid();
	g.criu_pidfd = (int)syscall(SYS_pidfd_open, g.criu, 0);
	if (g.criu_parent > 1)
		g.parent_pidfd = (int)syscall(SYS_pidfd_open, g.criu_parent, 0);
	if (g.parent_pidfd < 0)
		g.criu_parent = 0; /* no --restore-sibling root to look for there */
	g.log_fd = fcntl(log_get_fd(), F_DUPFD_CLOEXEC, 3);
	if (g.criu_pidfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cmd)) {
		r = -errno;
		goto out;
	}
	g.cmd_rd = cmd[0];
	{
		int keep[] = { g.criu_pidfd, g.parent_pidfd, g.cmd_rd, g.log_fd };

		guard = plugin_guard_spawn("vramstream-rgd", keep, sizeof(keep) / sizeof(keep[0]),
					   guard_main, &g);
	}
	if (guard < 0) {
		r = guard;
		goto out;
	}
	rg->pid = guard;
	rg->cmd_fd = cmd[1];
	cmd[1] = -1;
	pr_info("restore guard %d kills this restore's tasks (root pid %u) should criu die "
		"before their GPU queues are resumed",
		(int)guard, g.root_vpid);
	r = 0;
out:
	if (r)
		pr_warn("restore: no guard for this restore's tasks: %s", strerror(-r));
	for (int i = 0; i < 2; i++)
		if (cmd[i] >= 0)
			close(cmd[i]);
	if (g.criu_pidfd >= 0)
		close(g.criu_pidfd);
	if (g.parent_pidfd >= 0)
		close(g.parent_pidfd);
	if (g.log_fd >= 0)
		close(g.log_fd);
	return r;
}

static void send_cmd(struct plugin_restore_guard *rg, int kind, pid_t pid)
{
	struct guard_cmd c = { .kind = kind, .pid = (int32_t)pid };

	if (!rg || rg->cmd_fd < 0)
		return;
	if (send(rg->cmd_fd, &c, sizeof(c), MSG_NOSIGNAL) == (ssize_t)sizeof(c))
		return;
	/* A guard that saw every task resumed has left already. */
	if (kind == CMD_STOP && errno == EPIPE)
		return;
	pr_warn("restore guard %d: cannot tell it %s: %s", (int)rg->pid,
		kind == CMD_STOP ? "that the restore ended" : "that a task was resumed",
		strerror(errno));
}

void plugin_restore_guard_resumed(struct plugin_restore_guard *rg, pid_t pid)
{
	send_cmd(rg, CMD_RESUMED, pid);
}

void plugin_restore_guard_stop(struct plugin_restore_guard *rg)
{
	if (!rg || rg->cmd_fd < 0)
		return;
	send_cmd(rg, CMD_STOP, 0);
	close(rg->cmd_fd);
	rg->cmd_fd = -1;
	rg->pid = 0;
}
