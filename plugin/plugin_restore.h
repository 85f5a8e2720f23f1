/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VRAMSTREAM_PLUGIN_RESTORE_H
#define VRAMSTREAM_PLUGIN_RESTORE_H

#include <stdint.h>
#include <sys/types.h>

#include "plugin_config.h"
#include "plugin_restore_server.h"

/*
 * RESTORE_EXT_FILE, inside the restored task: if criu file @id is a KFD file
 * we dumped, open /dev/kfd, issue RESTORE with the saved state (GPUs
 * translated to this machine's), and return the new fd. BO contents are
 * handed to @srv (criu's process copies them while criu goes on) or, without
 * one or when it cannot take them, streamed back here before returning.
 * Returns -ENOTSUP when @id is not ours. Queues stay paused until
 * plugin_resume_late().
 */
int plugin_restore_kfd(const struct plugin_config *cfg, const struct restore_server *srv, int dirfd,
		       int id);

/* Same for a render-node file: reopens the node of the matched GPU. */
int plugin_restore_render(const struct plugin_config *cfg, int dirfd, int id);

/*
 * The id of "vramstream-kfd-<pid>-<id>.img" in the image folder, for @pid or,
 * when @pid is 0, for any task; -ENOENT when there is none.
 */
int plugin_restore_find_kfd_image(int dirfd, pid_t pid);

/*
 * UPDATE_VMA_MAP, inside the restored task: 1 with the restored mmap offset
 * of a device VMA and a new fd to map it through (plugin_vma.h; criu's
 * restorer closes it), -ENOTSUP for a path that is not /dev/kfd or a render
 * node, or a negative errno (logged, with the VMA's address, path and
 * offset) when no restored BO matches. After the task's last device VMA
 * (counted from criu's images in folder @dirfd), the files the plugin kept
 * open in the task are closed.
 */
int plugin_restore_vma(int dirfd, const char *path, uint64_t addr, uint64_t old_pgoff,
		       uint64_t *new_pgoff, int *plugin_fd);

/*
 * RESUME_DEVICES_LATE, in criu: waits for @pid's BO contents if @srv has
 * them, then RESUME for @pid if it is ours (-ENOTSUP if not: another
 * plugin may own it). @pid is the task's pid in
 * criu's namespace; in a container its image carries another
 * (plugin_pid_ns.h). When the contents or the resume
 * failed, the task is killed: criu 4.1 ignores this hook's errors and would
 * let a task with wrong GPU memory run; a dead task makes it fail the
 * restore and kill the rest (cr-restore.c: finalize_restore_detach).
 */
int plugin_resume_late(const struct plugin_config *cfg, struct restore_server *srv, int dirfd,
		       pid_t pid);

#endif
