/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The few fields the plugin reads from criu's own images (read-only): the
 * fd table of a task, so that files the plugin keeps open in a restored task
 * take numbers criu will not restore over; the process tree's root, so that
 * the restore guard (plugin_restore_guard.h) knows the restore's tasks.
 *
 * criu's image format (criu/image.c: img_check_magic, criu/protobuf.c:
 * do_pb_read_one): a u32 head magic (IMG_COMMON_MAGIC; absent in
 * CRTOOLS_IMAGES_V1 images), the image's own u32 magic, then entries, each
 * a u32 length and that many bytes of a protobuf message (criu images/).
 * Numbers are in the byte order of the machine that wrote them (criu writes
 * them raw), which is ours on restore.
 */
#ifndef VRAMSTREAM_PLUGIN_CRIU_IMG_H
#define VRAMSTREAM_PLUGIN_CRIU_IMG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* criu/include/magic.h */
#define CRIU_IMG_COMMON_MAGIC 0x54564319
#define CRIU_IMG_FDINFO_MAGIC 0x56213732
#define CRIU_IMG_IDS_MAGIC    0x54432030
#define CRIU_IMG_PSTREE_MAGIC 0x50273030

/*
 * ids-<pid>.img (TaskKobjIdsEntry, images/core.proto): the id of the task's
 * fd table, which names its fdinfo image. Returns 0, or -EINVAL when @buf is
 * not such an image.
 */
int criu_img_files_id(const uint8_t *buf, size_t len, uint32_t *files_id);

/*
 * fdinfo-<files_id>.img (FdinfoEntry, images/fdinfo.proto): the highest fd
 * number the task will hold after restore, -1 when it holds none. Returns 0
 * or -EINVAL when @buf is not such an image.
 */
int criu_img_fdinfo_max_fd(const uint8_t *buf, size_t len, int *max_fd);

/*
 * pstree.img (PstreeEntry, images/pstree.proto): the pid of the first entry,
 * the root of the process tree (criu/pstree.c: prepare_pstree reads the
 * entries in this order and the first becomes root_item), in its own pid
 * namespace. Returns 0 or -EINVAL when @buf is not such an image.
 */
int criu_img_pstree_root(const uint8_t *buf, size_t len, uint32_t *root_pid);

/* criu_img_pstree_root() on pstree.img in image folder @dirfd. 0 or -errno. */
int criu_img_root_pid(int dirfd, uint32_t *root_pid);

/*
 * Both steps on the images of task @pid in image folder @dirfd. Returns 0 or
 * -errno; @why (may be NULL) says which file and what was wrong.
 */
int criu_img_task_max_fd(int dirfd, pid_t pid, int *max_fd, char *why, size_t why_len);

#endif
