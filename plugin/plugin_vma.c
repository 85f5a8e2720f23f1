// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin_kfd.h"
#include "plugin_vma.h"

/*
 * /dev/kfd mmap offsets (kfd_priv.h, KFD_MMAP_*; decoded by kfd_chardev.c,
 * kfd_mmap): bits 63:62 the type, bits 61:46 the gpu_id of the GPU the page
 * belongs to (doorbells, MMIO remap, reserved memory), bits 45:0 an offset.
 * CHECKPOINT reports doorbell and MMIO BOs with such an offset and RESTORE
 * gives back one with the new GPU's id (kfd_chardev.c: criu_checkpoint_bos,
 * criu_restore_memory_of_gpu).
 */
#define KFD_MMAP_TYPE_SHIFT	   62
#define KFD_MMAP_TYPE_MASK	   (0x3ULL << KFD_MMAP_TYPE_SHIFT)
#define KFD_MMAP_TYPE_DOORBELL	   (0x3ULL << KFD_MMAP_TYPE_SHIFT)
#define KFD_MMAP_TYPE_EVENTS	   (0x2ULL << KFD_MMAP_TYPE_SHIFT)
#define KFD_MMAP_TYPE_RESERVED_MEM (0x1ULL << KFD_MMAP_TYPE_SHIFT)
#define KFD_MMAP_TYPE_MMIO	   (0x0ULL << KFD_MMAP_TYPE_SHIFT)
#define KFD_MMAP_GPU_ID_SHIFT	   46
#define KFD_MMAP_GPU_ID_MASK	   (0xffffULL << KFD_MMAP_GPU_ID_SHIFT)
#define KFD_MMAP_GPU_ID(gpu_id)                                                                    \
	(((uint64_t)(gpu_id) << KFD_MMAP_GPU_ID_SHIFT) & KFD_MMAP_GPU_ID_MASK)
#define KFD_MMAP_GET_GPU_ID(offset)                                                                \
	((uint32_t)(((offset)&KFD_MMAP_GPU_ID_MASK) >> KFD_MMAP_GPU_ID_SHIFT))

int plugin_vma_parse_path(const char *path, enum plugin_vma_dev *dev, unsigned int *minor)
{
	char norm[PATH_MAX];
	const char *digits;
	size_t n = 0;
	char *end;
	unsigned long v;

	for (const char *p = path; *p; p++) {
		if (*p == '/' && n && norm[n - 1] == '/')
			continue;
		if (n == sizeof(norm) - 1)
			return -ENOTSUP;
		norm[n++] = *p;
	}
	norm[n] = '\0';
	if (!strcmp(norm, "/dev/kfd")) {
		*dev = PLUGIN_VMA_KFD;
		return 0;
	}
	if (strncmp(norm, "/dev/dri/renderD", 16))
		return -ENOTSUP;
	digits = norm + 16;
	if (*digits < '0' || *digits > '9')
		return -ENOTSUP;
	errno = 0;
	v = strtoul(digits, &end, 10);
	if (*end || errno || v > UINT_MAX)
		return -ENOTSUP;
	*dev = PLUGIN_VMA_RENDER;
	*minor = (unsigned int)v;
	return 0;
}

static bool covers(const struct plugin_vma_bo *bo, uint64_t pgoff)
{
	return pgoff >= bo->old_offset && pgoff - bo->old_offset < bo->size;
}

/* libhsakmt maps a BO's CPU view at its GPU VA (fmm.c): the VMA sits where
 * its offset into the BO says. */
static bool at_its_address(const struct plugin_vma_bo *bo, uint64_t addr, uint64_t pgoff)
{
	return addr >= bo->addr && addr - bo->addr == pgoff - bo->old_offset;
}

/*
 * The one BO among those @want accepts that covers @pgoff; among several,
 * the one the VMA's address agrees with. NULL when none or no single one.
 */
static const struct plugin_vma_bo *pick(const struct plugin_vma_map *m, uint64_t addr,
					uint64_t pgoff,
					bool (*want)(const struct plugin_vma_bo *, unsigned int),
					unsigned int arg, unsigned int *n_found)
{
	const struct plugin_vma_bo *one = NULL, *placed = NULL;
	unsigned int n = 0, n_placed = 0;

	for (size_t i = 0; i < m->n_bos + m->n_gem_bos; i++) {
		const struct plugin_vma_bo *bo =
			i < m->n_bos ? &m->bos[i] : &m->gem_bos[i - m->n_bos];

		if (!want(bo, arg) || !covers(bo, pgoff))
			continue;
		one = bo;
		n++;
		if (at_its_address(bo, addr, pgoff)) {
			placed = bo;
			n_placed++;
		}
	}
	*n_found = n;
	if (n == 1)
		return one;
	return n_placed == 1 ? placed : NULL;
}

static bool render_bo_of_minor(const struct plugin_vma_bo *bo, unsigned int minor)
{
	return (bo->gem || kfd_bo_has_contents(bo->alloc_flags)) && bo->src_minor == (int)minor;
}

static bool render_bo_placed(const struct plugin_vma_bo *bo, unsigned int unused)
{
	(void)unused;
	return kfd_bo_has_contents(bo->alloc_flags);
}

static bool kfd_bo_of_kind(const struct plugin_vma_bo *bo, unsigned int flag)
{
	return bo->alloc_flags & flag;
}

static int dup_for_criu(int fd)
{
	int r;

	if (fd < 0)
		return -EBADF;
	r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return r < 0 ? -errno : r;
}

static int render_update(const struct plugin_vma_map *m, unsigned int minor, uint64_t addr,
			 uint64_t pgoff, uint64_t *new_pgoff, int *fd, char *why, size_t why_len)
{
	const struct plugin_vma_bo *bo;
	bool minor_known = false;
	unsigned int n;

	for (size_t i = 0; i < m->n_bos; i++)
		minor_known |= m->bos[i].src_minor == (int)minor;
	for (size_t i = 0; i < m->n_gem_bos; i++)
		minor_known |= m->gem_bos[i].src_minor == (int)minor;
	/*
	 * DRM mmap offsets are unique per device only (drm_vma_manager.c), so
	 * the node comes first. A node the image does not know (a container
	 * that named it otherwise) falls back to what upstream criu's plugin
	 * keys on, the address and the offset together.
	 */
	if (minor_known)
		bo = pick(m, addr, pgoff, render_bo_of_minor, minor, &n);
	else
		bo = pick(m, addr, pgoff, render_bo_placed, 0, &n);
	if (bo && !minor_known && !at_its_address(bo, addr, pgoff))
		bo = NULL;
	if (!bo && n > 1) {
		snprintf(why, why_len,
			 "%u restored BOs match and the address does not tell them apart", n);
		return -ENOTUNIQ;
	}
	if (!bo) {
		snprintf(why, why_len, "%s",
			 minor_known ? "no restored BO of that render node had this offset"
				     : "the image has no GPU with that render node and no BO was "
				       "mapped at this address with this offset");
		return -ENOENT;
	}
	if (bo->dst >= m->n_dst || m->render_fd[bo->dst] < 0) {
		snprintf(why, why_len, "the render node of GPU 0x%x is not open", bo->dst_gpu_id);
		return -EBADF;
	}
	*fd = dup_for_criu(m->render_fd[bo->dst]);
	if (*fd < 0) {
		snprintf(why, why_len, "cannot duplicate the render node file: %s", strerror(-*fd));
		return *fd;
	}
	*new_pgoff = bo->new_offset + (pgoff - bo->old_offset);
	return 1;
}

static int kfd_update(const struct plugin_vma_map *m, uint64_t addr, uint64_t pgoff,
		      uint64_t *new_pgoff, int *fd, char *why, size_t why_len)
{
	uint64_t type = pgoff & KFD_MMAP_TYPE_MASK;
	const struct plugin_vma_bo *bo;
	unsigned int n, flag;
	const char *kind;

	switch (type) {
	case KFD_MMAP_TYPE_EVENTS:
		/* The signal page: one per process, no GPU in the offset
		 * (kfd_events.c, kfd_event_mmap). */
		*new_pgoff = pgoff;
		break;
	case KFD_MMAP_TYPE_DOORBELL:
	case KFD_MMAP_TYPE_MMIO:
		flag = type == KFD_MMAP_TYPE_DOORBELL ? KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL
						      : KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP;
		kind = type == KFD_MMAP_TYPE_DOORBELL ? "doorbell" : "MMIO";
		bo = pick(m, addr, pgoff, kfd_bo_of_kind, flag, &n);
		if (!bo && n > 1) {
			snprintf(
				why, why_len,
				"%u restored %s BOs match and the address does not tell them apart",
				n, kind);
			return -ENOTUNIQ;
		}
		if (!bo) {
			snprintf(why, why_len, "no restored %s BO of GPU 0x%x had this offset",
				 kind, KFD_MMAP_GET_GPU_ID(pgoff));
			return -ENOENT;
		}
		/* kfd_mmap finds the GPU by the id in the offset: the new one's. */
		*new_pgoff = ((pgoff & ~KFD_MMAP_GPU_ID_MASK) | KFD_MMAP_GPU_ID(bo->dst_gpu_id));
		break;
	default:
		snprintf(why, why_len, "KFD reserved-memory mappings (APUs) are not supported");
		return -EOPNOTSUPP;
	}
	*fd = dup_for_criu(m->kfd_fd);
	if (*fd < 0) {
		snprintf(why, why_len, "cannot duplicate the restored KFD file: %s",
			 strerror(-*fd));
		return *fd;
	}
	return 1;
}

int plugin_vma_update(const struct plugin_vma_map *m, const char *path, uint64_t addr,
		      uint64_t old_pgoff, uint64_t *new_pgoff, int *plugin_fd, char *why,
		      size_t why_len)
{
	enum plugin_vma_dev dev;
	unsigned int minor = 0;
	char cause[256] = "";
	int r;

	*plugin_fd = -1;
	if (plugin_vma_parse_path(path, &dev, &minor))
		return -ENOTSUP;
	if (dev == PLUGIN_VMA_RENDER)
		r = render_update(m, minor, addr, old_pgoff, new_pgoff, plugin_fd, cause,
				  sizeof(cause));
	else
		r = kfd_update(m, addr, old_pgoff, new_pgoff, plugin_fd, cause, sizeof(cause));
	if (r < 0)
		snprintf(why, why_len,
			 "device VMA at 0x%" PRIx64 " of %s, offset 0x%" PRIx64 ": %s", addr, path,
			 old_pgoff, cause);
	return r;
}
