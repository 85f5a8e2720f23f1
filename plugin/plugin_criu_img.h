/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The few fields the plugin reads from criu's own images (read-only): the
 * fd table of a task, so that files the plugin keeps open in a restored task
 * take numbers criu will not restore over; how many device VMAs criu will
 * ask the plugin about in a task, so that those files are closed after the
 * last; the process tree's root, so that the restore guard
 * (plugin_restore_guard.h) knows the restore's tasks.
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
#define CRIU_IMG_MM_MAGIC     0x57492820
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
 * mm-<pid>.img (MmEntry, images/mm.proto, its VmaEntry vmas, vma.proto): how
 * many of the task's VMAs criu's restore calls UPDATE_VMA_MAP for. Those
 * are the VMAs whose status has VMA_EXT_PLUGIN (a plugin took them at dump,
 * criu/proc_parse.c: handle_vma_plugin) and VMA_AREA_REGULAR, and that are
 * file mappings (VMA_FILE_PRIVATE or VMA_FILE_SHARED, not VMA_ANON_SHARED):
 * criu/mem.c prepare_mm_pid gives only those open_filemap (files-reg.c:
 * collect_filemap), which is where UPDATE_VMA_MAP runs; open_vmas calls it
 * once for each regular VMA, and premap_priv_vmas skips VMA_EXT_PLUGIN ones,
 * so none is opened twice. Returns 0 or -EINVAL when @buf is not such an
 * image.
 */
int criu_img_mm_plugin_vmas(const uint8_t *buf, size_t len, unsigned int *n_vmas);

/* criu_img_mm_plugin_vmas() on mm-<pid>.img in image folder @dirfd. 0 or -errno. */
int criu_img_task_plugin_vmas(int dirfd, pid_t pid, unsigned int *n_vmas, char *why,
			      size_t why_len);

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
