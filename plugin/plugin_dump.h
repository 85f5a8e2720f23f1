/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VRAMSTREAM_PLUGIN_DUMP_H
#define VRAMSTREAM_PLUGIN_DUMP_H

#include "plugin_config.h"

/*
 * Checkpoints the process behind KFD file @fd (criu's copy of it) into the
 * image folder @dirfd as criu file @id: PROCESS_INFO, CHECKPOINT, metadata,
 * BO contents of every GPU in parallel, then UNPAUSE, which also runs on
 * every failure path so a failed dump leaves the process running.
 */
int plugin_dump_kfd(const struct plugin_config *cfg, int dirfd, int fd, int id);

/* Records render-node file @fd (criu file @id) with its GPU. */
int plugin_dump_render(const struct plugin_config *cfg, int dirfd, int fd, int id,
		       unsigned int minor);

/* Image names (shared with restore and the image tool). */
#define PLUGIN_KFD_IMG_FMT "vramstream-kfd-%u-%d.img"	     /* pid, id */
#define PLUGIN_STREAM_FMT "vramstream-kfd-%u-%d-gpu%u.vrs"   /* pid, id, device index */
#define PLUGIN_RENDER_IMG_FMT "vramstream-render-%d.img"    /* id */

/* Writes @len bytes to @name in @dirfd through a temporary file and a
 * rename, 0600. Returns 0 or -errno. */
int plugin_write_image(int dirfd, const char *name, const void *buf, size_t len);

#endif
