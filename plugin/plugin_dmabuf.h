/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dma-buf fds a checkpointed process holds, exported from its KFD BOs
 * (AMDKFD_IOC_EXPORT_DMABUF) or from GEM BOs of its render-node files
 * (DRM_IOCTL_PRIME_HANDLE_TO_FD). A dma-buf has no file type (alloc_anon_inode),
 * so criu hands it to the plugins' DUMP_EXT_FILE and RESTORE_EXT_FILE
 * (files.c: dump_unsupp_fd; files-ext.c); its /proc link reads "/dmabuf:"
 * (dma-buf.c: dmabuffs_dname).
 *
 * Dump (criu's process): which BO a dma-buf is, is found as upstream criu's
 * amdgpu plugin finds it (amdgpu_plugin_dmabuf.c, handle_for_shared_bo_fd):
 * PRIME-importing two dma-bufs of one buffer into one DRM file gives the
 * same GEM handle (drm_prime.c: drm_gem_prime_fd_to_handle looks the
 * dma-buf up in the file first, and a self-import resolves to the exporter's
 * GEM object; KFD exports one dma-buf per BO, cached in kgd_mem->dmabuf:
 * amdgpu_amdkfd_gpuvm.c, kfd_mem_export_dmabuf, which CHECKPOINT's
 * criu_get_prime_handle uses too). Every KFD dump therefore imports its BOs'
 * CHECKPOINT dma-bufs into a render-node file of criu's own per GPU
 * (plugin_dmabuf_note_kfd), and a dma-buf fd is matched against them by its
 * handle there. GEM BOs are noted the same way, with the dma-bufs the
 * render-node file's dump exports of them (a GEM object keeps one dma-buf
 * for all its exports: drm_prime.c, drm_gem_prime_handle_to_dmabuf reuses
 * obj->dma_buf). The KFD or render-node file must be dumped first: criu
 * dumps a task's fds in the order of their numbers, and /dev/kfd or the
 * render node is opened before any BO of it can be exported; otherwise the
 * dump fails, naming the file.
 *
 * Restore (the restored task): KFD RESTORE returns a dma-buf for every
 * VRAM/GTT BO, the render-node file's restore exports every restored GEM
 * BO; those that dma-buf files of the image name are kept
 * (plugin_dmabuf_keep, plugin_dmabuf_keep_render) and handed to criu as
 * those files.
 */
#ifndef VRAMSTREAM_PLUGIN_DMABUF_H
#define VRAMSTREAM_PLUGIN_DMABUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plugin_kfd.h"
#include "vramstream.pb-c.h"

/* Whether @fd (of this process) is a dma-buf. */
bool plugin_dmabuf_is(int fd);

/*
 * Dump: remembers the VRAM/GTT BOs of KFD file @kfd_id (CHECKPOINT's buckets
 * with their dma-bufs; @devs give each GPU's render minor), for the
 * dma-buf fds criu dumps after it. 0 or -errno (logged).
 */
int plugin_dmabuf_note_kfd(int kfd_id, unsigned int pid, const struct kfd_criu_bo_bucket *bos,
			   uint32_t n_bos, Vramstream__DeviceEntry *const *devs, size_t n_devs);

/*
 * Dump: remembers the GEM BOs of render-node file @render_id (RenderFile @rf of GPU @gpu_id on
 * renderD@minor) with the dma-bufs the dump exported of them (@dmabufs, -1 for none; not taken),
 * for the dma-buf fds criu dumps after it. 0 or -errno (logged).
 */
int plugin_dmabuf_note_render(int render_id, const Vramstream__RenderFile *rf, const int *dmabufs);

/*
 * Dump: which BO noted so far dma-buf @fd (of criu's process) is, in words for a message
 * ("BO 3 of KFD file 5 of pid 1234"): 0, or -ENOENT when it is none of them (a BO of another
 * process or driver, or of a file dumped later).
 */
int plugin_dmabuf_describe(int fd, char *what, size_t what_len);

/* DUMP_EXT_FILE of dma-buf @fd, criu file @id: its file in image folder @dirfd. */
int plugin_dmabuf_dump(int dirfd, int fd, int id);

/* End of a dump: the render-node files and the BO list go. */
void plugin_dmabuf_dump_finish(void);

/*
 * Restore, in the task, right after KFD RESTORE of KFD file @kfd_id: keeps a
 * copy (made by @dup_fd, which places it where criu's files will not land)
 * of the dma-buf of every BO a dma-buf file of the image names. 0 or -errno
 * (logged).
 */
int plugin_dmabuf_keep(int dirfd, int kfd_id, const struct kfd_criu_bo_bucket *bos, size_t n_bos,
		       int (*dup_fd)(int fd));

/*
 * The same for render-node file @render_id, right after its GEM BOs were made again: @dmabufs
 * (by index in @rf->bos, -1 for none) are dma-bufs of the restored BOs.
 */
int plugin_dmabuf_keep_render(int dirfd, int render_id, const Vramstream__RenderFile *rf,
			      const int *dmabufs, int (*dup_fd)(int fd));

/*
 * RESTORE_EXT_FILE of criu file @id: the kept dma-buf, -ENOTSUP when @id is
 * not a dma-buf file of ours, or -errno (logged).
 */
int plugin_dmabuf_restore(int dirfd, int id);

#endif
