/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Services of the shim's interposition core (emu_shim.c) to the emulated
 * device classes (emu_kfd.c, emu_drm*.c). Only valid inside the shim.
 */
#ifndef VRAMSTREAM_EMU_SHIM_H
#define VRAMSTREAM_EMU_SHIM_H

#include <stdint.h>
#include <sys/types.h>

#include "emu_config.h"

enum emu_fd_class {
	EMU_FD_NONE = 0,
	EMU_FD_KFD,
	EMU_FD_RENDER,
	EMU_FD_DMABUF, /* a view of a GPU's aperture (emu_aperture.h) */
};

struct emu_shim_file {
	enum emu_fd_class cls;
	unsigned int gpu;	      /* RENDER, DMABUF: GPU index */
	pid_t owner;		      /* KFD: the process that opened it */
	uint64_t view_off, view_size; /* DMABUF: the BO's place in the aperture */
};

/* What an fd is (see emu_shim_fd_class), with a dma-buf's place. */
enum emu_fd_class emu_shim_file_of(int fd, struct emu_shim_file *f);

/*
 * What an fd is, from its /proc/self/fd link: an emulated KFD file (owner_pid:
 * the process that opened it, from the per-process node's name), a render
 * node (gpu_index from the node's minor), or neither.
 */
enum emu_fd_class emu_shim_fd_class(int fd, unsigned int *gpu_index, pid_t *owner_pid);

/* $VRAMSTREAM_EMU_DIR/root, or NULL when not under the emulator. */
const char *emu_shim_root(void);

/* The machine description, loaded once; NULL when unavailable. */
const struct emu_config *emu_shim_config(void);

/* GPU index of render minor, or -1. */
int emu_shim_gpu_by_minor(unsigned int minor);

#endif
