/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How a render-node file's GEM objects travel between the shim (emu_drm_gem.c) and the daemon
 * (emu_daemon_gem.c) in EMU_OP_GEM requests. The daemon keeps, per open render file (the
 * kernel's struct drm_file, found again by kcmp(KCMP_FILE) on the fd each request carries),
 * its GEM handles, their BOs' memory in the GPU's aperture at DRM offsets drawn from the
 * same per-device space as KFD BOs, and their GPU VA mappings. So every process that holds
 * the file (criu, which received it from the task) sees the same objects, as with the kernel.
 * The shim keeps its own view of the file for command submission and tells the daemon of
 * every change.
 *
 * Every request: gpu_index = the render node's GPU, arg0 = enum emu_gem_op, one fd (the render
 * file) as SCM_RIGHTS.
 */
#ifndef VRAMSTREAM_EMU_GEM_WIRE_H
#define VRAMSTREAM_EMU_GEM_WIRE_H

#include <stdint.h>

enum emu_gem_op {
	/* payload: struct emu_gem_wire_bo; its mmap_offset is, for an import of a dma-buf view of
	 * this GPU's aperture, the view's offset, else 0. Reply payload: struct
	 * emu_gem_wire_add_rep: the DRM offset of a GEM_CREATE BO in the aperture (0 for the other
	 * kinds); for an import of one of the file's own GEM_CREATE BOs (same offset and size),
	 * nothing is added and own_handle is its handle (drm_gem_prime_fd_to_handle finds the
	 * file's own export of the object's one dma-buf). */
	EMU_GEM_ADD = 1,
	/* arg1 = handle (drm_gem_handle_delete) */
	EMU_GEM_CLOSE = 2,
	/* arg1 = handle | (uint64_t)new_handle << 32 (drm_gem_change_handle_ioctl) */
	EMU_GEM_CHANGE_HANDLE = 3,
	/* payload: struct emu_gem_wire_map[], every mapping of the file's VM */
	EMU_GEM_SET_MAPS = 4,
	/* Reply payload: struct emu_gem_wire_bo[] in handle order */
	EMU_GEM_LIST = 5,
	/* arg1 = handle. Reply payload: struct emu_gem_wire_map[] of that BO */
	EMU_GEM_MAPS_OF = 6,
	/* arg1 = DRM offset, payload: uint64_t length. 0 when the file may map that range
	 * (drm_gem_mmap), else -EINVAL / -EACCES. Reply payload: uint32_t handle */
	EMU_GEM_MMAP_CHECK = 7,
	/* The file's last close (drm_file release): its objects go. */
	EMU_GEM_FILE_CLOSE = 8,
};

enum emu_gem_kind { EMU_GEM_KIND_CREATE = 0, EMU_GEM_KIND_USERPTR = 1, EMU_GEM_KIND_IMPORT = 2 };

struct emu_gem_wire_bo {
	uint32_t handle;
	uint32_t kind; /* enum emu_gem_kind */
	uint64_t size;
	uint64_t domains;
	uint64_t flags;
	uint64_t alignment; /* bytes, as GEM_CREATE took it */
	uint64_t mmap_offset;
	/*
	 * IMPORT: the imported buffer's place in this GPU's aperture (its DRM offset; 0 for a
	 * buffer of another GPU or a memfd). The import keeps the dma-buf it came from
	 * (drm_prime.c: drm_gem_prime_import_dev stores it in obj->import_attach->dmabuf and
	 * drm_gem_prime_fd_to_handle in obj->dma_buf), and exporting the handle again gives that
	 * dma-buf back (drm_gem_prime_handle_to_dmabuf), to any holder of the file.
	 */
	uint64_t src_off;
};

struct emu_gem_wire_add_rep {
	uint64_t mmap_offset;
	uint32_t own_handle; /* 0: added */
	uint32_t pad;
};

struct emu_gem_wire_map {
	uint32_t handle;
	uint32_t flags; /* AMDGPU_VM_PAGE_* */
	uint64_t start; /* masked GPU VA */
	uint64_t last;	/* inclusive */
	uint64_t offset;
};

#endif
