/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Device VMAs at restore (criu's UPDATE_VMA_MAP hook): which restored BO a
 * mapping of /dev/kfd or /dev/dri/renderD<N> from the image shows, and the
 * mmap offset and file it must be re-created with.
 *
 * criu 4.1 (criu/files-reg.c, open_filemap) calls the hook with the path and
 * start address of the VMA and its file offset, applies the new offset only
 * when the hook returns 1, and maps through the fd the hook returns when the
 * VMA's file differs from the previous VMA's (else it reuses the previous
 * fd). Its restorer maps with raw syscalls, so that fd must be one the kernel
 * maps at that offset: a dup of the file the BO was restored on (DRM checks
 * that the file holds a handle to the BO: drm_gem.c, drm_gem_mmap ->
 * drm_vma_node_is_allowed).
 */
#ifndef VRAMSTREAM_PLUGIN_VMA_H
#define VRAMSTREAM_PLUGIN_VMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One BO as KFD RESTORE gave it back. */
struct plugin_vma_bo {
	uint64_t addr; /* GPU VA; libhsakmt maps the CPU view at the same address */
	uint64_t size;
	uint64_t old_offset; /* mmap offset when dumped (kfd_criu_bo_bucket.offset) */
	uint64_t new_offset; /* kfd_criu_bo_bucket.restored_offset */
	uint32_t alloc_flags;
	int src_minor;	     /* render minor of its GPU when dumped, -1 when unknown */
	uint32_t dst_gpu_id; /* KFD gpu_id of the GPU it now lives on */
	unsigned int dst;    /* that GPU's index in plugin_vma_map.render_fd */
	bool gem;	     /* a render-node GEM BO (plugin_render_bos), not KFD's */
};

/* Everything a lookup needs; the map borrows every array and fd. */
struct plugin_vma_map {
	const struct plugin_vma_bo *bos;
	size_t n_bos;
	const int *render_fd; /* render node file of each restored GPU, -1 if none */
	unsigned int n_dst;
	int kfd_fd;			     /* the restored task's KFD file, -1 if none */
	const struct plugin_vma_bo *gem_bos; /* render-node GEM BOs, mapped like VRAM BOs */
	size_t n_gem_bos;
};

enum plugin_vma_dev { PLUGIN_VMA_RENDER, PLUGIN_VMA_KFD };

/*
 * "/dev/kfd" or "/dev/dri/renderD<N>", with any run of slashes standing for
 * one (criu records paths such as "//dev/dri/renderD128"). Returns 0, or
 * -ENOTSUP for any other path.
 */
int plugin_vma_parse_path(const char *path, enum plugin_vma_dev *dev, unsigned int *minor);

/*
 * UPDATE_VMA_MAP for the VMA of @path at @addr with file offset @old_pgoff
 * (bytes, as criu's VmaEntry.pgoff): returns 1 with the new offset and a new
 * fd (close-on-exec, criu's to close) to map it through; -ENOTSUP when @path
 * is not a device of ours; or a negative errno with @why naming the address,
 * path and offset when no restored BO matches.
 */
int plugin_vma_update(const struct plugin_vma_map *m, const char *path, uint64_t addr,
		      uint64_t old_pgoff, uint64_t *new_pgoff, int *plugin_fd, char *why,
		      size_t why_len);

#endif
