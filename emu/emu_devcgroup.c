// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * KFD lets a process use a GPU only if its device cgroup lets it read and
 * write the GPU's render node: kfd_devcgroup_check_permission (kfd_priv.h)
 * is security_dev_permission(S_IFCHR, MKDEV(DRM_MAJOR, render->index),
 * MAY_READ | MAY_WRITE), which is devcgroup_check_permission
 * (security/device_cgroup.c). Container runtimes grant a container's GPUs
 * that way (runc writes "c 226:128 rw" into the container's devices.allow).
 *
 * The daemon asks the same question about a caller it knows by pid, through
 * the cgroup v1 "devices" hierarchy as the kernel keeps it: the task's own
 * cgroup (devcgroup_legacy_check_permission: task_devcgroup(current)), and
 * that cgroup's devices.list. devcgroup_seq_show prints "a *:* rwm" for a
 * cgroup whose behaviour is allow-all and its exceptions, the devices it
 * may use, for a deny-all one; match_exception grants access when an
 * exception of type c or a, with the major and minor or "*", holds every
 * access bit asked for.
 *
 * Not seen through that file: deny exceptions of an allow-all cgroup
 * (devcgroup_seq_show hides them), and cgroup v2, where runc attaches a
 * BPF_PROG_TYPE_CGROUP_DEVICE program instead. Both count as allow-all here
 * (emu/README.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_devcgroup.h"

/* include/uapi/drm/drm.h: DRM_MAJOR */
#define EMU_DEVCG_DRM_MAJOR 226

static int emu_devcg_has_token(const char *list, const char *token)
{
	size_t n = strlen(token);
	const char *p = list;

	while ((p = strstr(p, token))) {
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/*
 * The v1 devices hierarchy's mount point and the cgroup it shows as its root
 * (mountinfo fields 5 and 4; fstype "cgroup" with "devices" in its super
 * options). -ENOENT when none is mounted.
 */
static int emu_devcg_mount(char *mnt, size_t mnt_len, char *root, size_t root_len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (err && fgets(line, sizeof(line), f)) {
		char r[1024], m[1024], fstype[64], src[256], opts[1024];
		char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", r, m) != 2 ||
		    sscanf(dash + 3, "%63s %255s %1023s", fstype, src, opts) != 3)
			continue;
		if (strcmp(fstype, "cgroup") || !emu_devcg_has_token(opts, "devices"))
			continue;
		if ((size_t)snprintf(mnt, mnt_len, "%s", m) >= mnt_len ||
		    (size_t)snprintf(root, root_len, "%s", r) >= root_len)
			err = -ENAMETOOLONG;
		else
			err = 0;
	}
	fclose(f);
	return err;
}

/* @pid's cgroup in the devices hierarchy (/proc/PID/cgroup). -ENOENT when none. */
static int emu_devcg_of(pid_t pid, char *path, size_t len)
{
	char file[64], line[4096];
	int err = -ENOENT;
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	f = fopen(file, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (err && fgets(line, sizeof(line), f)) {
		char *ctrl = strchr(line, ':'), *cg;

		if (!ctrl || !(cg = strchr(++ctrl, ':')))
			continue;
		*cg++ = '\0';
		cg[strcspn(cg, "\n")] = '\0';
		if (!emu_devcg_has_token(ctrl, "devices"))
			continue;
		err = (size_t)snprintf(path, len, "%s", cg) >= len ? -ENAMETOOLONG : 0;
	}
	fclose(f);
	return err;
}

/* match_exception for one devices.list line: "T MAJ:MIN ACC". */
static int emu_devcg_line_grants(const char *line, unsigned int major, unsigned int minor)
{
	char type, maj[16], min[16], acc[8];

	if (sscanf(line, "%c %15[^:]:%15s %7s", &type, maj, min, acc) != 4)
		return 0;
	if (type != 'a' && type != 'c')
		return 0;
	if (strcmp(maj, "*") && strtoul(maj, NULL, 10) != major)
		return 0;
	if (strcmp(min, "*") && strtoul(min, NULL, 10) != minor)
		return 0;
	return strchr(acc, 'r') && strchr(acc, 'w');
}

int emu_devcgroup_check(pid_t pid, unsigned int minor)
{
	char mnt[1024], root[1024], cg[2048], list[4096], line[256];
	size_t root_len;
	const char *rel;
	int err, granted = 0;
	FILE *f;

	err = emu_devcg_mount(mnt, sizeof(mnt), root, sizeof(root));
	if (!err)
		err = emu_devcg_of(pid, cg, sizeof(cg));
	if (err == -ENOENT)
		return 0; /* no v1 devices hierarchy: nothing the daemon can read says no */
	if (err)
		return err;
	/* The cgroup's path is seen from our cgroup namespace; the mount shows @root there. */
	root_len = strcmp(root, "/") ? strlen(root) : 0;
	rel = cg;
	if (root_len && !strncmp(cg, root, root_len) && (cg[root_len] == '/' || !cg[root_len]))
		rel = cg + root_len;
	if ((size_t)snprintf(list, sizeof(list), "%s%s/devices.list", mnt, rel) >= sizeof(list))
		return -ENAMETOOLONG;
	f = fopen(list, "re");
	if (!f)
		return -errno;
	while (!granted && fgets(line, sizeof(line), f))
		granted = emu_devcg_line_grants(line, EMU_DEVCG_DRM_MAJOR, minor);
	fclose(f);
	return granted ? 0 : -EPERM;
}
