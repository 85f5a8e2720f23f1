// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's record of render-node files and their GEM objects (emu_gem_wire.h): the state
 * the kernel keeps in struct drm_file (object_idr: drm_gem.c) and struct amdgpu_fpriv (the
 * VM's mappings: amdgpu_vm.c), so that criu, holding the task's file, finds the task's objects
 * (amdgpu_gem.c: amdgpu_gem_list_handles_ioctl, amdgpu_gem_op_ioctl MAPPING_INFO).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "emu_daemon_internal.h"
#include "emu_gem_wire.h"

struct emu_gem_file {
	struct emu_gem_file *next;
	int fd;	   /* a dup of the file, to know it again by kcmp */
	int pidfd; /* of the process that first made an object in it */
	pid_t owner;
	unsigned int gpu;
	struct emu_gem_wire_bo *bos; /* sorted by handle */
	size_t nbos;
	struct emu_gem_wire_map *maps;
	size_t nmaps;
	/* Its process closed every fd of it, but a KFD process keeps the file (ACQUIRE_VM or
	 * CRIU RESTORE took it as a pdd's drm_file), so the objects stay (drm_release runs at
	 * the last fput, kfd_process_destroy_pdds's among them). */
	bool closed;
};

static uint64_t emu_gem_page_align(uint64_t v)
{
	return (v + EMU_PAGE - 1) & ~(EMU_PAGE - 1);
}

static bool emu_gem_same_file(int a, int b)
{
	pid_t self = getpid();

	return syscall(SYS_kcmp, self, self, KCMP_FILE, a, b) == 0;
}

static struct emu_gem_file *emu_gem_file_find(struct emu_daemon *d, const struct emu_dreq *rq)
{
	if (rq->nfds < 1)
		return NULL;
	for (struct emu_gem_file *f = d->gem_files; f; f = f->next)
		if (f->gpu == rq->req.gpu_index && emu_gem_same_file(f->fd, rq->fds[0]))
			return f;
	return NULL;
}

static int emu_gem_file_get(struct emu_daemon *d, const struct emu_dreq *rq,
			    struct emu_gem_file **out)
{
	struct emu_gem_file *f = emu_gem_file_find(d, rq);

	if (f) {
		*out = f;
		return 0;
	}
	if (rq->nfds < 1 || rq->req.gpu_index >= d->cfg.num_gpus)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->gpu = rq->req.gpu_index;
	f->owner = rq->caller;
	f->fd = fcntl(rq->fds[0], F_DUPFD_CLOEXEC, 0);
	f->pidfd = (int)syscall(SYS_pidfd_open, rq->caller, 0);
	if (f->fd < 0 || f->pidfd < 0) {
		int err = -errno;

		if (f->fd >= 0)
			close(f->fd);
		free(f);
		return err;
	}
	f->next = d->gem_files;
	d->gem_files = f;
	*out = f;
	return 0;
}

static void emu_gem_bo_release(struct emu_daemon *d, unsigned int gpu,
			       const struct emu_gem_wire_bo *bo)
{
	/* Offsets are never reused (drm_vma_manager hands out new ones): the hole stays. */
	if (bo->kind == EMU_GEM_KIND_CREATE && bo->mmap_offset)
		fallocate(d->aperture_fd[gpu], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (off_t)bo->mmap_offset, (off_t)emu_gem_page_align(bo->size));
}

static void emu_gem_file_free(struct emu_daemon *d, struct emu_gem_file *f)
{
	struct emu_gem_file **pp;

	for (pp = &d->gem_files; *pp && *pp != f; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = f->next;
	for (size_t i = 0; i < f->nbos; i++)
		emu_gem_bo_release(d, f->gpu, &f->bos[i]);
	close(f->fd);
	close(f->pidfd);
	free(f->bos);
	free(f->maps);
	free(f);
}

void emu_gem_kfd_released(struct emu_daemon *d)
{
	struct emu_gem_file *f = d->gem_files, *next;

	for (; f; f = next) {
		next = f->next;
		if (f->closed && !emu_kproc_holds_file(d, f->fd))
			emu_gem_file_free(d, f);
	}
}

void emu_gem_reap(struct emu_daemon *d)
{
	struct emu_gem_file *f = d->gem_files, *next;

	for (; f; f = next) {
		struct pollfd p = { .fd = f->pidfd, .events = POLLIN };

		next = f->next;
		if (poll(&p, 1, 0) == 1)
			emu_gem_file_free(d, f);
	}
}

static struct emu_gem_wire_bo *emu_gem_bo_find(struct emu_gem_file *f, uint32_t handle)
{
	for (size_t i = 0; i < f->nbos; i++)
		if (f->bos[i].handle == handle)
			return &f->bos[i];
	return NULL;
}

/* Keeps bos sorted by handle, as idr_for_each_entry walks them. */
static int emu_gem_bo_insert(struct emu_gem_file *f, const struct emu_gem_wire_bo *bo)
{
	struct emu_gem_wire_bo *n = realloc(f->bos, (f->nbos + 1) * sizeof(*n));
	size_t i;

	if (!n)
		return -ENOMEM;
	f->bos = n;
	for (i = f->nbos; i > 0 && n[i - 1].handle > bo->handle; i--)
		n[i] = n[i - 1];
	n[i] = *bo;
	f->nbos++;
	return 0;
}

static void emu_gem_bo_remove(struct emu_gem_file *f, struct emu_gem_wire_bo *bo)
{
	size_t i = (size_t)(bo - f->bos);

	memmove(&f->bos[i], &f->bos[i + 1], (f->nbos - i - 1) * sizeof(*bo));
	f->nbos--;
}

/*
 * GEM_CREATE's BO gets its DRM offset from the device's one offset space (amdgpu_bo_mmap_offset
 * -> drm_vma_offset_add on the device's manager, shared with KFD's BOs) and its memory at that
 * offset in the aperture, zeroed (a fresh range of a sparse file).
 */
static int emu_gem_add(struct emu_daemon *d, const struct emu_dreq *rq, struct emu_drep *rep)
{
	struct emu_gem_wire_bo bo;
	struct emu_gem_file *f;
	uint64_t aligned;
	struct stat st;
	int err;

	if (rq->req.payload_len < sizeof(bo))
		return -EINVAL;
	memcpy(&bo, rq->payload, sizeof(bo));
	err = emu_gem_file_get(d, rq, &f);
	if (err)
		return err;
	if (emu_gem_bo_find(f, bo.handle))
		return -EEXIST;
	aligned = emu_gem_page_align(bo.size);
	/* An import of a dma-buf of one of the file's own BOs is that BO (drm_prime.c:
	 * drm_gem_prime_fd_to_handle looks the dma-buf up in the file's exports first). */
	for (size_t i = 0; bo.kind == EMU_GEM_KIND_IMPORT && bo.mmap_offset && i < f->nbos; i++) {
		struct emu_gem_wire_add_rep own = { .own_handle = f->bos[i].handle };

		if (f->bos[i].kind != EMU_GEM_KIND_CREATE ||
		    f->bos[i].mmap_offset != bo.mmap_offset ||
		    emu_gem_page_align(f->bos[i].size) != aligned)
			continue;
		err = emu_drep_alloc(rep, sizeof(own));
		if (!err)
			memcpy(rep->payload, &own, sizeof(own));
		return err;
	}
	bo.src_off = bo.kind == EMU_GEM_KIND_IMPORT ? bo.mmap_offset : 0;
	bo.mmap_offset = 0;
	if (bo.kind == EMU_GEM_KIND_CREATE) {
		int fd = d->aperture_fd[f->gpu];

		if (!d->next_mmap_offset[f->gpu])
			d->next_mmap_offset[f->gpu] = EMU_DRM_MMAP_OFFSET_START;
		bo.mmap_offset = d->next_mmap_offset[f->gpu];
		if (fd < 0 || fstat(fd, &st) != 0)
			return -EIO;
		if ((uint64_t)st.st_size < bo.mmap_offset + aligned &&
		    ftruncate(fd, (off_t)(bo.mmap_offset + aligned)) != 0)
			return -errno;
		d->next_mmap_offset[f->gpu] += aligned;
	}
	err = emu_gem_bo_insert(f, &bo);
	if (err)
		return err;
	err = emu_drep_alloc(rep, sizeof(struct emu_gem_wire_add_rep));
	if (!err)
		memcpy(rep->payload,
		       &(struct emu_gem_wire_add_rep){ .mmap_offset = bo.mmap_offset },
		       sizeof(struct emu_gem_wire_add_rep));
	return err;
}

static void emu_gem_maps_drop(struct emu_gem_file *f, uint32_t handle)
{
	size_t j = 0;

	for (size_t i = 0; i < f->nmaps; i++)
		if (f->maps[i].handle != handle)
			f->maps[j++] = f->maps[i];
	f->nmaps = j;
}

static int emu_gem_close(struct emu_daemon *d, const struct emu_dreq *rq)
{
	struct emu_gem_file *f = emu_gem_file_find(d, rq);
	struct emu_gem_wire_bo *bo = f ? emu_gem_bo_find(f, (uint32_t)rq->req.arg1) : NULL;

	if (!bo)
		return -EINVAL; /* drm_gem_handle_delete */
	emu_gem_bo_release(d, f->gpu, bo);
	emu_gem_maps_drop(f, bo->handle);
	emu_gem_bo_remove(f, bo);
	return 0;
}

/* drm_gem_change_handle_ioctl: the object moves to new_handle, which must be free. */
static int emu_gem_change_handle(struct emu_daemon *d, const struct emu_dreq *rq)
{
	uint32_t handle = (uint32_t)rq->req.arg1, new_handle = (uint32_t)(rq->req.arg1 >> 32);
	struct emu_gem_file *f = emu_gem_file_find(d, rq);
	struct emu_gem_wire_bo *bo = f ? emu_gem_bo_find(f, handle) : NULL, moved;

	if (!bo)
		return -ENOENT;
	if (handle == new_handle)
		return 0;
	if (emu_gem_bo_find(f, new_handle))
		return -ENOSPC; /* idr_alloc of a taken id */
	moved = *bo;
	moved.handle = new_handle;
	emu_gem_bo_remove(f, bo);
	for (size_t i = 0; i < f->nmaps; i++)
		if (f->maps[i].handle == handle)
			f->maps[i].handle = new_handle;
	return emu_gem_bo_insert(f, &moved);
}

static int emu_gem_set_maps(struct emu_daemon *d, const struct emu_dreq *rq)
{
	size_t n = rq->req.payload_len / sizeof(struct emu_gem_wire_map);
	struct emu_gem_wire_map *maps = NULL;
	struct emu_gem_file *f;
	int err = emu_gem_file_get(d, rq, &f);

	if (err)
		return err;
	if (n) {
		maps = malloc(n * sizeof(*maps));
		if (!maps)
			return -ENOMEM;
		memcpy(maps, rq->payload, n * sizeof(*maps));
	}
	free(f->maps);
	f->maps = maps;
	f->nmaps = n;
	return 0;
}

static int emu_gem_list(struct emu_daemon *d, const struct emu_dreq *rq, struct emu_drep *rep)
{
	struct emu_gem_file *f = emu_gem_file_find(d, rq);
	size_t n = f ? f->nbos : 0;
	int err;

	if (!n)
		return 0;
	err = emu_drep_alloc(rep, n * sizeof(*f->bos));
	if (!err)
		memcpy(rep->payload, f->bos, n * sizeof(*f->bos));
	return err;
}

static int emu_gem_maps_of(struct emu_daemon *d, const struct emu_dreq *rq, struct emu_drep *rep)
{
	struct emu_gem_file *f = emu_gem_file_find(d, rq);
	uint32_t handle = (uint32_t)rq->req.arg1;
	size_t n = 0, k = 0;
	int err;

	if (!f || !emu_gem_bo_find(f, handle))
		return -ENOENT; /* amdgpu_gem_op_ioctl: drm_gem_object_lookup */
	for (size_t i = 0; i < f->nmaps; i++)
		n += f->maps[i].handle == handle;
	if (!n)
		return 0;
	err = emu_drep_alloc(rep, n * sizeof(*f->maps));
	if (err)
		return err;
	for (size_t i = 0; i < f->nmaps; i++)
		if (f->maps[i].handle == handle)
			memcpy(rep->payload + sizeof(*f->maps) * k++, &f->maps[i],
			       sizeof(*f->maps));
	return 0;
}

/*
 * drm_gem_mmap: the offset must be exactly a BO's (drm_vma_offset_exact_lookup_locked), the
 * length within it, and the file must hold a handle to it (drm_vma_node_is_allowed: -EACCES).
 */
static int emu_gem_mmap_check(struct emu_daemon *d, const struct emu_dreq *rq, struct emu_drep *rep)
{
	struct emu_gem_file *f = emu_gem_file_find(d, rq);
	uint64_t off = rq->req.arg1, len = 0;

	if (rq->req.payload_len >= sizeof(len))
		memcpy(&len, rq->payload, sizeof(len));
	for (struct emu_gem_file *o = d->gem_files; o; o = o->next) {
		if (o->gpu != rq->req.gpu_index)
			continue;
		for (size_t i = 0; i < o->nbos; i++) {
			const struct emu_gem_wire_bo *bo = &o->bos[i];
			int err;

			if (bo->kind != EMU_GEM_KIND_CREATE || bo->mmap_offset != off)
				continue;
			if (o != f)
				return -EACCES;
			if (emu_gem_page_align(len) > emu_gem_page_align(bo->size))
				return -EINVAL;
			err = emu_drep_alloc(rep, sizeof(uint32_t));
			if (!err)
				memcpy(rep->payload, &bo->handle, sizeof(uint32_t));
			return err;
		}
	}
	return -EINVAL;
}

int emu_gem_handle(struct emu_daemon *d, const struct emu_dreq *rq, struct emu_drep *rep)
{
	struct emu_gem_file *f;

	switch (rq->req.arg0) {
	case EMU_GEM_ADD:
		return emu_gem_add(d, rq, rep);
	case EMU_GEM_CLOSE:
		return emu_gem_close(d, rq);
	case EMU_GEM_CHANGE_HANDLE:
		return emu_gem_change_handle(d, rq);
	case EMU_GEM_SET_MAPS:
		return emu_gem_set_maps(d, rq);
	case EMU_GEM_LIST:
		return emu_gem_list(d, rq, rep);
	case EMU_GEM_MAPS_OF:
		return emu_gem_maps_of(d, rq, rep);
	case EMU_GEM_MMAP_CHECK:
		return emu_gem_mmap_check(d, rq, rep);
	case EMU_GEM_FILE_CLOSE:
		f = emu_gem_file_find(d, rq);
		if (f && emu_kproc_holds_file(d, f->fd))
			f->closed = true;
		else if (f)
			emu_gem_file_free(d, f);
		return 0;
	default:
		return -EINVAL;
	}
}

bool emu_gem_range_of(struct emu_daemon *d, pid_t pid, unsigned int gpu, uint64_t off, uint64_t len)
{
	for (struct emu_gem_file *f = d->gem_files; f; f = f->next) {
		if (f->owner != pid || f->gpu != gpu)
			continue;
		for (size_t i = 0; i < f->nbos; i++) {
			const struct emu_gem_wire_bo *bo = &f->bos[i];

			if (bo->kind == EMU_GEM_KIND_CREATE && off >= bo->mmap_offset &&
			    off + len <= bo->mmap_offset + emu_gem_page_align(bo->size))
				return true;
		}
	}
	return false;
}
