/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The GPUs' CPU apertures: where VRAM and GTT BO contents live, so that a CPU
 * mapping of a BO is a mapping the kernel itself makes.
 *
 * On hardware, a CPU mapping of a BO is mmap() of the render node at the
 * BO's DRM offset (amdgpu_bo_mmap_offset -> drm_vma_node_offset_addr; the
 * offsets are allocated per device by its drm_vma_offset_manager), and
 * criu's restorer re-creates it with a raw mmap syscall through the fd the
 * plugin's UPDATE_VMA_MAP returns. No preload shim sees that call, so the
 * render node's stand-in must be a file the kernel maps by offset onto the
 * BO's memory: one sparse file per GPU on a tmpfs, in which a BO's contents
 * sit at its DRM offset. A wrong offset or another GPU's fd then maps other
 * memory, as it would on hardware (where mmap fails or maps another BO).
 *
 * The files live in a folder of a tmpfs (/dev/shm unless the daemon is
 * started with --aperture-in) named after the emulator folder;
 * $VRAMSTREAM_EMU_DIR/root/dev/dri is a symbolic link to it. A dma-buf of a
 * BO is an open file of a hard link named after the BO's place (made and
 * removed at once, so its /proc link reads "<dir>/dmabuf-gpu<i>-<off>-<size>
 * (deleted)"); the shim translates offsets, sizes and lseek() for it.
 *
 * Pure helpers, used by the daemon and the shim alike.
 */
#ifndef VRAMSTREAM_EMU_APERTURE_H
#define VRAMSTREAM_EMU_APERTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where aperture folders go unless the daemon is told otherwise (--aperture-in). */
#define EMU_APERTURE_PARENT "/dev/shm"

/* The aperture folder, inside @parent, of emulator folder @emu_dir (which must exist). 0 or -errno.
 */
int emu_aperture_dir(const char *emu_dir, const char *parent, char *out, size_t cap);

/* "renderD<minor>": a GPU's aperture file inside the folder. */
bool emu_aperture_parse_node(const char *name, unsigned int *minor);

/* A dma-buf view's file name, and its parse (a trailing " (deleted)" is accepted). */
int emu_aperture_view_name(char *out, size_t cap, unsigned int gpu, uint64_t off, uint64_t size);
bool emu_aperture_parse_view(const char *name, unsigned int *gpu, uint64_t *off, uint64_t *size);

#endif
