/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * linux/kfd_ioctl.h includes <drm/drm.h>, which Debian ships as
 * <libdrm/drm.h> (package libdrm-dev); linux-libc-dev has no drm/ folder.
 * drm_dep puts this folder on the include path so the kernel header builds.
 */
#include <libdrm/drm.h>
