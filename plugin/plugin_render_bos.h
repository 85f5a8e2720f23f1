/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GEM objects of a render-node file (BOs made with AMDGPU_GEM_CREATE on /dev/dri/renderD*, as
 * Mesa, ROCr's interop and PyTorch through libdrm make them): their creation parameters,
 * handles, GPU VA mappings and contents, through the interface Linux 6.18 added for CRIU
 * (DRM_IOCTL_AMDGPU_GEM_LIST_HANDLES, AMDGPU_GEM_OP_GET_MAPPING_INFO,
 * DRM_IOCTL_GEM_CHANGE_HANDLE; upstream criu's plugins/amdgpu/amdgpu_plugin_drm.c uses the
 * same). Every call into the kernel for them sits here.
 */
#ifndef VRAMSTREAM_PLUGIN_RENDER_BOS_H
#define VRAMSTREAM_PLUGIN_RENDER_BOS_H

#include <stddef.h>
#include <stdint.h>

#include "vramstream.pb-c.h"

/*
 * Fills @rf->bos from render file @fd (criu's copy of the task's). *@dmabufs (malloc'd, room for
 * rf->n_bos) gets a dma-buf of each BO whose contents go to a stream file (the caller gives
 * each BO its bo->stream), -1 for the others: BOs the kernel will not export (VM_ALWAYS_VALID),
 * whose bytes the CPU reads into the metadata instead. 0, or a negative errno with @why saying
 * what could not be saved: a kernel without the interface (-EOPNOTSUPP; the version needed is
 * named), or a BO this plugin does not save (imported; neither exportable nor CPU-mappable).
 */
int plugin_render_bos_dump(int fd, Vramstream__RenderFile *rf, int **dmabufs, char *why,
			   size_t why_len);
void plugin_render_bos_free(Vramstream__RenderFile *rf);

/* Where a restored BO's CPU mappings now go. */
struct plugin_render_bo_moved {
	uint64_t old_offset, new_offset, size;
};

/*
 * Makes @rf's BOs again in render file @fd (the task's, being restored) at their handles, with
 * their VA mappings and the contents the metadata holds; @dmabufs (room for rf->n_bos) gets a
 * dma-buf of each BO whose contents are in a stream file (bo->stream), for the transfer to
 * write them, -1 for the others. @moved (room for rf->n_bos) gets each CPU-mappable BO's
 * offsets, *n_moved how many. 0 or a negative errno with @why.
 */
int plugin_render_bos_restore(int fd, const Vramstream__RenderFile *rf,
			      struct plugin_render_bo_moved *moved, size_t *n_moved, int *dmabufs,
			      char *why, size_t why_len);

#endif
