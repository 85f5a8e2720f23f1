// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A GPU that the process's device cgroup denies, as the process sees it
 * (the daemon decides, emu_devcgroup.c):
 *
 * - its KFD topology node stays (the folders, and io_links of other nodes
 *   to it), but every attribute read fails with EPERM: node_show (gpu_id,
 *   name, properties), mem_show, kfd_cache_show and iolink_show return
 *   -EPERM when kfd_devcgroup_check_permission fails (kfd_topology.c).
 *   sysfs opens the file and fails the read (kernfs_seq_show), so the shim
 *   opens it and fails read(); libhsakmt tells such a node apart by that
 *   errno (topology_sysfs_get_gpu_id: EPERM -> HSAKMT_STATUS_NOT_SUPPORTED);
 * - its render node does not open: devcgroup_inode_permission refuses the
 *   device with -EPERM (security/device_cgroup.c).
 *
 * fds of denied attributes are kept in a small table for read()/pread();
 * a dup of one reads normally.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "emu_client.h"
#include "emu_shim.h"
#include "emu_shim_access.h"

/* Denied attributes open at once (a topology reader holds one or two). */
#define EMU_SHIM_ACCESS_MAX 64

struct emu_shim_denied_fd {
	int fd; /* -1: free */
	dev_t dev;
	ino_t ino;
};

static pthread_mutex_t emu_shim_denied_lock = PTHREAD_MUTEX_INITIALIZER;
static struct emu_shim_denied_fd emu_shim_denied[EMU_SHIM_ACCESS_MAX] = {
	[0 ... EMU_SHIM_ACCESS_MAX - 1] = { .fd = -1 },
};
static int emu_shim_denied_count; /* entries in use: a fast "none" for read() */

int emu_shim_access_gpu(unsigned int gpu_index)
{
	struct emu_call c = { .req = { .op = EMU_OP_GPU_ACCESS, .gpu_index = gpu_index } };
	int err = emu_client_call(&c);

	return err == -EPERM ? -EPERM : 0;
}

/* kfd_topology.c: kfd_build_sysfs_node_tree puts node N at topology/nodes/N. */
int emu_shim_access_topology(const char *rel)
{
	static const char *const dirs[] = {
		"/sys/devices/virtual/kfd/kfd/topology/nodes/",
		"/sys/class/kfd/kfd/topology/nodes/",
	};
	const struct emu_config *cfg = emu_shim_config();
	unsigned int i, g, node;
	int n = 0;

	if (!cfg)
		return 0;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		size_t len = strlen(dirs[i]);

		if (strncmp(rel, dirs[i], len))
			continue;
		if (sscanf(rel + len, "%u/%n", &node, &n) != 1 || n == 0)
			return 0;
		for (g = 0; g < cfg->num_gpus; g++)
			if (cfg->gpus[g].node_id == node)
				return emu_shim_access_gpu(g);
		return 0; /* a CPU node (no dev->gpu) */
	}
	return 0;
}

/*
 * A denied fd is known by number and by file: a number closed behind the
 * shim's back (fclose of an fdopen()ed stream uses libc's own close) and
 * reused for another file is not denied.
 */
static int emu_shim_denied_at(int fd)
{
	struct stat st;
	unsigned int i;

	if (syscall(SYS_fstat, fd, &st))
		return -1;
	for (i = 0; i < EMU_SHIM_ACCESS_MAX; i++)
		if (emu_shim_denied[i].fd == fd && emu_shim_denied[i].dev == st.st_dev &&
		    emu_shim_denied[i].ino == st.st_ino)
			return (int)i;
	return -1;
}

void emu_shim_access_deny_fd(int fd)
{
	struct stat st;
	unsigned int i;

	if (syscall(SYS_fstat, fd, &st))
		return;
	pthread_mutex_lock(&emu_shim_denied_lock);
	for (i = 0; i < EMU_SHIM_ACCESS_MAX; i++) {
		if (emu_shim_denied[i].fd < 0 || emu_shim_denied[i].fd == fd) {
			if (emu_shim_denied[i].fd < 0)
				__atomic_fetch_add(&emu_shim_denied_count, 1, __ATOMIC_RELAXED);
			emu_shim_denied[i] =
				(struct emu_shim_denied_fd){ fd, st.st_dev, st.st_ino };
			break;
		}
	}
	pthread_mutex_unlock(&emu_shim_denied_lock);
}

int emu_shim_access_fd_denied(int fd)
{
	int at;

	if (!__atomic_load_n(&emu_shim_denied_count, __ATOMIC_RELAXED))
		return 0;
	pthread_mutex_lock(&emu_shim_denied_lock);
	at = emu_shim_denied_at(fd);
	pthread_mutex_unlock(&emu_shim_denied_lock);
	return at >= 0;
}

void emu_shim_access_forget_fd(int fd)
{
	unsigned int i;

	if (!__atomic_load_n(&emu_shim_denied_count, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&emu_shim_denied_lock);
	for (i = 0; i < EMU_SHIM_ACCESS_MAX; i++) {
		if (emu_shim_denied[i].fd == fd) {
			emu_shim_denied[i].fd = -1;
			__atomic_fetch_sub(&emu_shim_denied_count, 1, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&emu_shim_denied_lock);
}

static ssize_t emu_shim_denied_read(void *cookie, char *buf, size_t len)
{
	(void)cookie;
	(void)buf;
	(void)len;
	errno = EPERM;
	return -1;
}

static int emu_shim_denied_close(void *cookie)
{
	(void)cookie;
	return 0;
}

FILE *emu_shim_access_denied_stream(void)
{
	cookie_io_functions_t io = { .read = emu_shim_denied_read, .close = emu_shim_denied_close };

	return fopencookie(NULL, "r", io);
}
