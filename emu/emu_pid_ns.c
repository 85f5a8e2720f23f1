// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Pid numbers as the kernel's KFD reports and takes them. The daemon runs in
 * the host's pid namespace and knows every process by the pid SO_PEERCRED
 * gives it there (net/core/sock.c, sk_getsockopt SO_PEERCRED: pid_vnr of the
 * peer, i.e. the number in the reader's namespace), its "host pid". The
 * kernel instead:
 *  - reports a process by its number in its own, innermost namespace
 *    (kfd_chardev.c, criu_process_info: task_pid_nr_ns(p->lead_thread,
 *    task_active_pid_ns(p->lead_thread)));
 *  - looks a number given to it up in the caller's namespace
 *    (kfd_chardev.c, criu_resume: find_get_pid -> find_vpid, which uses
 *    task_active_pid_ns(current)).
 * /proc/<pid>/status's NSpid line (fs/proc/array.c, task_state) lists a
 * task's number in every namespace from the one of the daemon's /proc (the
 * host's) down to its own, so entry L is its number at depth L below the
 * host. A number is valid at depth L only in one namespace of that depth,
 * so matching it also takes comparing the namespaces themselves: NS_GET_PARENT
 * (fs/nsfs.c, ns_ioctl) walks up from a task's own namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu_daemon_internal.h"

#define EMU_PID_NS_MAX_DEPTH 33 /* MAX_PID_NS_LEVEL (32) below the host */

/* The task's NSpid entries, host first; returns how many (>= 1) or -errno. */
static int emu_pid_ns_chain(pid_t host_pid, pid_t *chain, int cap)
{
	char path[64], line[512];
	int n = -ESRCH;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)host_pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *at = line + 6, *end;

		if (strncmp(line, "NSpid:", 6))
			continue;
		for (n = 0; n < cap; n++) {
			long v = strtol(at, &end, 10);

			if (end == at)
				break;
			chain[n] = (pid_t)v;
			at = end;
		}
		if (!n)
			n = -EINVAL;
		break;
	}
	fclose(f);
	return n;
}

int emu_pid_ns_own(pid_t host_pid, pid_t *own)
{
	pid_t chain[EMU_PID_NS_MAX_DEPTH];
	int n = emu_pid_ns_chain(host_pid, chain, EMU_PID_NS_MAX_DEPTH);

	if (n < 0)
		return n;
	*own = chain[n - 1];
	return 0;
}

/* Inode of the pid namespace @up levels above @host_pid's own one. */
static int emu_pid_ns_ino(pid_t host_pid, int up, ino_t *ino)
{
	char path[64];
	struct stat st;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)host_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (up-- > 0 && !err) {
		int parent = ioctl(fd, NS_GET_PARENT);

		if (parent < 0)
			err = -errno;
		close(fd);
		fd = parent;
	}
	if (!err && fstat(fd, &st) != 0)
		err = -errno;
	if (!err)
		*ino = st.st_ino;
	if (fd >= 0)
		close(fd);
	return err;
}

int emu_pid_ns_nr(pid_t host_pid, pid_t viewer, pid_t *nr)
{
	pid_t chain[EMU_PID_NS_MAX_DEPTH], vchain[EMU_PID_NS_MAX_DEPTH];
	int n = emu_pid_ns_chain(host_pid, chain, EMU_PID_NS_MAX_DEPTH);
	int vn = emu_pid_ns_chain(viewer, vchain, EMU_PID_NS_MAX_DEPTH);
	ino_t ns, vns;
	int err;

	if (n < 0)
		return n;
	if (vn < 0)
		return vn;
	/* pid_nr_ns: 0 when the task is not in the viewer's namespace or below it */
	*nr = 0;
	if (n < vn)
		return 0;
	err = emu_pid_ns_ino(host_pid, n - vn, &ns);
	if (!err)
		err = emu_pid_ns_ino(viewer, 0, &vns);
	if (err)
		return err;
	if (ns == vns)
		*nr = chain[vn - 1];
	return 0;
}

struct emu_kproc *emu_pid_ns_find(struct emu_daemon *d, pid_t caller, pid_t nr)
{
	struct emu_kproc *p;

	if (nr <= 0)
		return NULL; /* find_vpid finds no pid 0 */
	for (p = d->procs; p; p = p->next) {
		pid_t seen;

		if (!emu_pid_ns_nr(p->pid, caller, &seen) && seen == nr)
			return p;
	}
	return NULL;
}
