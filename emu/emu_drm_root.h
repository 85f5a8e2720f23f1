/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hook for the render-node class (emu_drm*.c): adds the sysfs files libdrm
 * reads for render nodes (/sys/class/drm/renderD*, /sys/dev/char/226:*,
 * device folders under /sys/devices/emu/...) to the fake root. The daemon
 * calls it once at start, after creating root/dev/dri/renderD* itself. It is
 * referenced weakly, so the daemon links and runs without it.
 */
#ifndef VRAMSTREAM_EMU_DRM_ROOT_H
#define VRAMSTREAM_EMU_DRM_ROOT_H

#include "emu_config.h"

/* Returns 0 or -errno. */
int emu_drm_populate_root(const char *root, const struct emu_config *cfg);

#endif
