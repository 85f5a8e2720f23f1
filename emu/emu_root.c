// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "emu_drm_root.h"
#include "emu_root.h"

#pragma weak emu_drm_populate_root

#define EMU_ROOT_MARKER ".vramstream-emu-root"

/*
 * KFD's stand-in nodes carry /dev/zero's numbers (mem 1:5, in every kernel),
 * which open without hardware and, unlike a misc device, can be mapped: a
 * MAP_PRIVATE mapping keeps the node as its file (drivers/char/mem.c:
 * mmap_zero -> vma_set_anonymous leaves vm_file), so criu finds a device
 * mapping of "/dev/kfd" where libhsakmt mapped doorbells. The shim reports the
 * emulated numbers instead.
 */
static int emu_root_standin(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0) {
		if (S_ISCHR(st.st_mode) &&
		    st.st_rdev == makedev(EMU_STANDIN_MAJOR, EMU_STANDIN_MINOR))
			return 0;
		if (unlink(path) != 0)
			return -errno;
	}
	if (mknod(path, S_IFCHR | 0666, makedev(EMU_STANDIN_MAJOR, EMU_STANDIN_MINOR)) != 0)
		return -errno;
	return chmod(path, 0666) != 0 ? -errno : 0; /* past the umask, as udev's 0666 for kfd */
}

/*
 * A process's KFD node is a hard link of root/dev/kfd: its own name, so an
 * fd's /proc link names the process that opened it, but the same inode, as
 * every open of /dev/kfd is on hardware (criu checks that the path of a
 * mapped file leads to the file mapped: files-reg.c, check_path_remap).
 */
int emu_root_kfd_node(const char *root, pid_t pid, char *path, size_t cap)
{
	char node[PATH_MAX];

	if ((size_t)snprintf(path, cap, "%s/run/kfd/%d", root, (int)pid) >= cap)
		return -ENAMETOOLONG;
	snprintf(node, sizeof(node), "%s/dev/kfd", root);
	if (link(node, path) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

void emu_root_kfd_node_remove(const char *root, pid_t pid)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/run/kfd/%d", root, (int)pid);
	unlink(path);
}

static int emu_root_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT ? -1 : 0;
}

static int emu_root_rmtree(const char *path)
{
	if (nftw(path, emu_root_rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * /proc/modules and /sys/module/amdgpu as a kernel with amdgpu loaded shows
 * them: ROCm's tools check `lsmod | grep amdgpu` (rocminfo.cc:
 * CheckInitialState), and kmod's lsmod reads /proc/modules
 * (libkmod-module.c: kmod_module_new_from_loaded) and the module's
 * refcnt and initstate under /sys/module. Line format of
 * kernel/module/procfs.c: m_show ("name size refcnt deps state 0xaddr";
 * the address reads 0 without kallsyms access).
 */
static int emu_root_modules(const char *root)
{
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/proc", root);
	err = emu_root_mkdirs(path);
	snprintf(path, sizeof(path), "%s/proc/modules", root);
	if (!err)
		err = emu_root_write_file(path, "amdgpu 16621568 0 - Live 0x0000000000000000\n");
	snprintf(path, sizeof(path), "%s/sys/module/amdgpu/holders", root);
	if (!err)
		err = emu_root_mkdirs(path);
	/* kernel/module/sysfs.c and main.c: show_refcnt ("%i\n"), show_initstate ("live\n") */
	snprintf(path, sizeof(path), "%s/sys/module/amdgpu/refcnt", root);
	if (!err)
		err = emu_root_write_file(path, "0\n");
	snprintf(path, sizeof(path), "%s/sys/module/amdgpu/initstate", root);
	if (!err)
		err = emu_root_write_file(path, "live\n");
	return err;
}

/*
 * root/dev/dri is a link to the aperture folder (emu_aperture.h), where each
 * render node is its GPU's aperture file, created empty: the daemon sizes it
 * as BOs are placed.
 */
static int emu_root_render_nodes(const char *root, const char *dir, const struct emu_config *cfg)
{
	char path[PATH_MAX];
	unsigned int i;
	int fd, err;

	err = emu_root_rmtree(dir);
	if (!err && mkdir(dir, 0755) != 0)
		err = -errno;
	snprintf(path, sizeof(path), "%s/dev", root);
	if (!err)
		err = emu_root_mkdirs(path);
	snprintf(path, sizeof(path), "%s/dev/dri", root);
	if (!err && symlink(dir, path) != 0)
		err = -errno;
	for (i = 0; !err && i < cfg->num_gpus; i++) {
		snprintf(path, sizeof(path), "%s/renderD%u", dir, cfg->gpus[i].render_minor);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 || fchmod(fd, 0666) != 0) /* past the umask, as udev's render nodes */
			err = -errno;
		if (fd >= 0)
			close(fd);
	}
	return err;
}

void emu_root_remove_apertures(const char *aperture_dir)
{
	emu_root_rmtree(aperture_dir);
}

int emu_root_create(const char *root, const char *aperture_dir, const struct emu_config *cfg)
{
	char path[PATH_MAX];
	int err;

	/*
	 * A previous daemon's tree may describe other GPUs: start empty. Only a
	 * tree this code made (it carries the marker file) is ever removed; an
	 * existing folder without it is refused.
	 */
	snprintf(path, sizeof(path), "%s/" EMU_ROOT_MARKER, root);
	if (access(path, F_OK) == 0) {
		if (nftw(root, emu_root_rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
			return -errno;
	} else if (rmdir(root) != 0 && errno != ENOENT) {
		return -EEXIST;
	}
	err = emu_root_mkdirs(root);
	if (!err)
		err = emu_root_write_file(path, "vramstream emulator fake root\n");
	if (!err)
		err = emu_root_render_nodes(root, aperture_dir, cfg);
	snprintf(path, sizeof(path), "%s/run/kfd", root);
	if (!err)
		err = emu_root_mkdirs(path);
	snprintf(path, sizeof(path), "%s/dev/kfd", root);
	if (!err)
		err = emu_root_standin(path);
	if (!err)
		err = emu_topology_write(root, cfg);
	if (!err)
		err = emu_root_modules(root);
	if (!err)
		err = emu_root_cpu_caches(root);
	if (!err && emu_drm_populate_root)
		err = emu_drm_populate_root(root, cfg);
	return err;
}
