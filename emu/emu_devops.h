/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Contract between the shim's interposition core (emu_shim*.c) and the
 * emulated device classes (KFD in emu_kfd*.c, amdgpu render nodes in
 * emu_drm*.c).
 *
 * The shim recognises an fd as an emulated device by the path its
 * /proc/self/fd link names (a stand-in character device node in the
 * emulator's fake root, e.g. $VRAMSTREAM_EMU_DIR/root/dev/dri/renderD128);
 * that also works for fds received from another process, as criu receives
 * the workload's. It then hands ioctl(), mmap() and close() of that fd to the
 * class's ops with the GPU index the path names (0 for /dev/kfd).
 */
#ifndef VRAMSTREAM_EMU_DEVOPS_H
#define VRAMSTREAM_EMU_DEVOPS_H

#include <stddef.h>
#include <sys/types.h>

struct emu_dev_ops {
	const char *name;
	/* ioctl() on the fd. Returns >= 0, or -errno (the shim sets errno). */
	int (*ioctl)(int fd, unsigned int gpu_index, unsigned long request, void *arg);
	/* mmap() of the fd: the mapped address, or MAP_FAILED with errno set. */
	void *(*mmap)(int fd, unsigned int gpu_index, void *addr, size_t len, int prot, int flags,
		      off_t offset);
	/* close() of the fd, called before the real close; frees per-file state. */
	void (*close)(int fd);
	/*
	 * Added by emu-kfd, optional: open() of the device path. Returns a new fd
	 * or -errno. When NULL the shim opens the stand-in node of the fake root
	 * itself. KFD uses it to give each process its own node (emu/README.md).
	 */
	int (*open)(unsigned int gpu_index, int flags);
};

/* Provided by emu_kfd*.c and emu_drm*.c respectively. */
extern const struct emu_dev_ops emu_kfd_ops;
extern const struct emu_dev_ops emu_drm_render_ops;

#endif
