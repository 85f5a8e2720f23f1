/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * linux/kfd_ioctl.h includes <drm/drm.h>, which Debian ships as
 * <libdrm/drm.h> (DESIGN.md: the build provides that include path).
 */
#include <libdrm/drm.h>
