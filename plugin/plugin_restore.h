/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VRAMSTREAM_PLUGIN_RESTORE_H
#define VRAMSTREAM_PLUGIN_RESTORE_H

#include <stdint.h>
#include <sys/types.h>

#include "plugin_config.h"

/*
 * RESTORE_EXT_FILE, inside the restored task: if criu file @id is a KFD file
 * we dumped, open /dev/kfd, issue RESTORE with the saved state (GPUs
 * translated to this machine's), stream BO contents back, and return the new
 * fd. Returns -ENOTSUP when @id is not ours. Queues stay paused until
 * plugin_resume_late().
 */
int plugin_restore_kfd(const struct plugin_config *cfg, int dirfd, int id);

/* Same for a render-node file: reopens the node of the matched GPU. */
int plugin_restore_render(const struct plugin_config *cfg, int dirfd, int id);

/* UPDATE_VMA_MAP: the restored mmap offset and fd for a device VMA. */
int plugin_restore_vma(const char *path, uint64_t addr, uint64_t old_pgoff, uint64_t *new_pgoff,
		       int *plugin_fd);

/* RESUME_DEVICES_LATE, in criu: RESUME for @pid if it is ours. */
int plugin_resume_late(const struct plugin_config *cfg, int dirfd, pid_t pid);

#endif
