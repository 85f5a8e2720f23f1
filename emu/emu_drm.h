/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Emulated amdgpu render nodes (/dev/dri/renderD<minor>): the DRM and amdgpu ioctls that
 * libdrm_amdgpu issues, executed inside the calling process (the shim runs there), with
 * per-open-file state as the kernel keeps it (GEM handles, GPU VM, contexts, fences) and SDMA
 * IBs executed by emu_sdma_exec on one thread per emulated SDMA engine.
 * The shim core dispatches to emu_drm_render_ops (emu_devops.h).
 */
#ifndef VRAMSTREAM_EMU_DRM_H
#define VRAMSTREAM_EMU_DRM_H

#include "emu_config.h"
/* emu_drm_populate_root(), defined in emu_drm_sysfs.c: the sysfs files libdrm reads for each
 * render node, under /sys/dev/char/226:<minor> and /sys/devices/emu/<PCI slot> of the root. */
#include "emu_drm_root.h"

/* Render minors start at 128 (drm_minor_alloc: DRM_MINOR_RENDER * 64). */
#define EMU_DRM_RENDER_MINOR_BASE 128

/*
 * The machine description the render nodes emulate. The shim core calls this once at start
 * (before any render-node ioctl) with the configuration it loaded; without it the first
 * ioctl loads $VRAMSTREAM_EMU_DIR/config itself through emu_config_load().
 */
void emu_drm_set_config(const struct emu_config *cfg);

#endif
