/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The amdgpu DRM interface for checkpointing GEM objects, added in Linux 6.18
 * (include/uapi/drm/amdgpu_drm.h: DRM_AMDGPU_GEM_LIST_HANDLES,
 * AMDGPU_GEM_OP_GET_MAPPING_INFO; include/uapi/drm/drm.h:
 * DRM_IOCTL_GEM_CHANGE_HANDLE). Distribution headers older than that lack
 * them, so the plugin and the emulator take the definitions from here; the
 * layouts are the kernel's ABI. Definitions only.
 */
#ifndef VRAMSTREAM_COMMON_DRM_CRIU_H
#define VRAMSTREAM_COMMON_DRM_CRIU_H

#include <stdint.h>
#include <sys/ioctl.h>

/* The first kernel that has all three (named in messages). */
#define COMMON_DRM_CRIU_KERNEL "Linux 6.18"

/* drm.h: DRM_IOCTL_BASE 'd', DRM_COMMAND_BASE 0x40. */
#define COMMON_DRM_IOCTL_BASE	'd'
#define COMMON_DRM_COMMAND_BASE 0x40

/* amdgpu_drm.h: DRM_AMDGPU_GEM_LIST_HANDLES 0x19. */
#define COMMON_DRM_AMDGPU_GEM_LIST_HANDLES 0x19
/* amdgpu_drm.h: AMDGPU_GEM_OP_GET_MAPPING_INFO (after GET_GEM_CREATE_INFO 0, SET_PLACEMENT 1). */
#define COMMON_AMDGPU_GEM_OP_GET_MAPPING_INFO 2
/* amdgpu_drm.h: the entry's flags. */
#define COMMON_AMDGPU_GEM_LIST_HANDLES_FLAG_IS_IMPORT (1u << 0)

struct common_drm_amdgpu_gem_list_handles {
	uint64_t entries;     /* user pointer to num_entries entries */
	uint32_t num_entries; /* in: room; out: handles of the file (retry when larger) */
	uint32_t padding;
};

struct common_drm_amdgpu_gem_list_handles_entry {
	uint32_t gem_handle;
	uint32_t flags; /* COMMON_AMDGPU_GEM_LIST_HANDLES_FLAG_* */
	uint64_t size;
	uint64_t preferred_domains;
	uint64_t alloc_flags; /* bo->flags & AMDGPU_GEM_CREATE_SETTABLE_MASK */
	uint64_t alignment;   /* bo->tbo.page_alignment: in pages */
};

/* Linux 6.18's struct drm_amdgpu_gem_op: num_entries and padding were added for MAPPING_INFO. */
struct common_drm_amdgpu_gem_op {
	uint32_t handle;
	uint32_t op;
	uint64_t value;	      /* MAPPING_INFO: user pointer to num_entries vm entries */
	uint32_t num_entries; /* MAPPING_INFO: in: room; out: mappings of the BO */
	uint32_t padding;
};

struct common_drm_amdgpu_gem_vm_entry {
	uint64_t addr;	 /* GPU VA of the mapping, bytes */
	uint64_t size;	 /* bytes */
	uint64_t offset; /* into the BO, bytes */
	uint64_t flags;	 /* AMDGPU_VM_PAGE_* as GEM_VA took them */
};

/* drm.h: struct drm_gem_change_handle. */
struct common_drm_gem_change_handle {
	uint32_t handle;
	uint32_t new_handle;
};

#define COMMON_DRM_IOCTL_AMDGPU_GEM_LIST_HANDLES                                                   \
	_IOWR(COMMON_DRM_IOCTL_BASE, COMMON_DRM_COMMAND_BASE + COMMON_DRM_AMDGPU_GEM_LIST_HANDLES, \
	      struct common_drm_amdgpu_gem_list_handles)
#define COMMON_DRM_IOCTL_AMDGPU_GEM_OP_V2                                                          \
	_IOWR(COMMON_DRM_IOCTL_BASE, COMMON_DRM_COMMAND_BASE + 0x10,                               \
	      struct common_drm_amdgpu_gem_op)
#define COMMON_DRM_IOCTL_GEM_CHANGE_HANDLE                                                         \
	_IOWR(COMMON_DRM_IOCTL_BASE, 0xD2, struct common_drm_gem_change_handle)

#endif
