// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A render-node file's GEM objects as every holder of the file sees them: the daemon's record
 * (emu_daemon_gem.c, emu_gem_wire.h), kept up to date by the process that changes them, and
 * the ioctls Linux 6.18 added for checkpointing them: DRM_IOCTL_AMDGPU_GEM_LIST_HANDLES
 * (amdgpu_gem.c: amdgpu_gem_list_handles_ioctl), AMDGPU_GEM_OP_GET_MAPPING_INFO
 * (amdgpu_gem_op_ioctl) and DRM_IOCTL_GEM_CHANGE_HANDLE (drm_gem.c:
 * drm_gem_change_handle_ioctl). With `drm_gem_criu 0` in the machine's config they are absent,
 * as on older kernels: drm_ioctl answers an ioctl number the driver does not have with -EINVAL,
 * and amdgpu_gem_op_ioctl an unknown op with -EINVAL.
 */
#include "emu_drm_internal.h"
#include "emu_client.h"
#include "emu_gem_wire.h"
#include "emu_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common_drm_criu.h"

int emu_drm_gem_daemon(struct emu_drm_file *file, int fd, uint32_t op, uint64_t arg1,
		       const void *payload, size_t len, void *rep, size_t rep_cap, size_t *rep_len)
{
	struct emu_call c = { .req = { .op = EMU_OP_GEM } };
	int err;

	if (fd < 0)
		return -EBADF;
	c.req.gpu_index = file->gpu;
	c.req.arg0 = op;
	c.req.arg1 = arg1;
	c.payload = payload;
	c.payload_len = (uint32_t)len;
	c.fds = &fd;
	c.nfds = 1;
	c.rep_buf = rep;
	c.rep_cap = rep_cap;
	err = emu_client_call(&c);
	if (rep_len)
		*rep_len = c.rep_len;
	return err;
}

int emu_drm_gem_register(struct emu_drm_file *file, uint32_t handle, const struct emu_drm_bo *bo,
			 uint64_t *offset, uint64_t view_off, uint32_t *own)
{
	struct emu_gem_wire_bo w = {
		.handle = handle,
		.kind = bo->kind == EMU_DRM_BO_GEM	 ? EMU_GEM_KIND_CREATE
			: bo->kind == EMU_DRM_BO_USERPTR ? EMU_GEM_KIND_USERPTR
							 : EMU_GEM_KIND_IMPORT,
		.size = bo->size,
		.domains = bo->domains,
		.flags = bo->flags,
		.alignment = bo->alignment,
		.mmap_offset = view_off,
	};
	struct emu_gem_wire_add_rep r = { 0 };
	size_t n = 0;
	int err;

	err = emu_drm_gem_daemon(file, emu_drm_current_fd(), EMU_GEM_ADD, 0, &w, sizeof(w), &r,
				 sizeof(r), &n);
	if (err < 0)
		return err;
	if (n != sizeof(r))
		return -EPROTO;
	if (own)
		*own = r.own_handle;
	if (r.own_handle)
		return 0; /* nothing added */
	file->gem_registered = true;
	if (offset)
		*offset = r.mmap_offset;
	return 0;
}

/* Every mapping of the file's VM, after a change (under vm_lock). */
int emu_drm_gem_sync_maps(struct emu_drm_file *file)
{
	struct emu_gem_wire_map *w = NULL;
	int err;

	size_t n = 0;

	/* Only a file with GEM_CREATE BOs has a record in the daemon, and only their
	 * mappings go there: the plugin's own render files also map thousands of
	 * imported KFD BOs, and sending every mapping at every change made a dump
	 * of 16,000 BOs four times slower (O(n^2)). */
	if (!file->gem_registered)
		return 0;
	if (file->nmaps) {
		w = calloc(file->nmaps, sizeof(*w));
		if (!w)
			return -ENOMEM;
	}
	for (size_t i = 0; i < file->nmaps; i++)
		if (file->maps[i].bo && file->maps[i].bo->kind == EMU_DRM_BO_GEM)
			w[n++] = (struct emu_gem_wire_map){ .handle = file->maps[i].handle,
							    .flags = file->maps[i].flags,
							    .start = file->maps[i].start,
							    .last = file->maps[i].last,
							    .offset = file->maps[i].offset };
	err = emu_drm_gem_daemon(file, emu_drm_current_fd(), EMU_GEM_SET_MAPS, 0, w, n * sizeof(*w),
				 NULL, 0, NULL);
	free(w);
	return err < 0 ? err : 0;
}

/* The file's objects as the daemon has them; *out is malloc'd. */
static int emu_drm_gem_fetch(struct emu_drm_file *file, int fd, uint32_t op, uint64_t arg1,
			     size_t elem, void **out, size_t *n)
{
	size_t cap = 64 * elem, len = 0;
	void *buf = NULL;
	int err;

	for (;;) {
		free(buf);
		buf = malloc(cap);
		if (!buf)
			return -ENOMEM;
		err = emu_drm_gem_daemon(file, fd, op, arg1, NULL, 0, buf, cap, &len);
		if (err != -EMSGSIZE)
			break;
		cap *= 4;
	}
	if (err < 0) {
		free(buf);
		return err;
	}
	*out = buf;
	*n = len / elem;
	return 0;
}

int emu_drm_gem_records(struct emu_drm_file *file, int fd, struct emu_gem_wire_bo **out, size_t *n)
{
	return emu_drm_gem_fetch(file, fd, EMU_GEM_LIST, 0, sizeof(**out), (void **)out, n);
}

int emu_drm_gem_record_of(struct emu_drm_file *file, uint32_t handle, struct emu_gem_wire_bo *out)
{
	struct emu_gem_wire_bo *bos;
	size_t n;
	int err = emu_drm_gem_fetch(file, emu_drm_current_fd(), EMU_GEM_LIST, 0, sizeof(*bos),
				    (void **)&bos, &n);

	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (bos[i].handle != handle)
			continue;
		*out = bos[i];
		err = 0;
	}
	free(bos);
	return err;
}

int emu_drm_gem_offset_of(struct emu_drm_file *file, uint32_t handle, uint64_t *offset,
			  uint64_t *flags)
{
	struct emu_gem_wire_bo bo;
	int err = emu_drm_gem_record_of(file, handle, &bo);

	if (!err) {
		*offset = bo.mmap_offset;
		*flags = bo.flags;
	}
	return err;
}

int emu_drm_gem_list_handles(struct emu_drm_file *file, void *arg)
{
	struct common_drm_amdgpu_gem_list_handles *args = arg;
	struct common_drm_amdgpu_gem_list_handles_entry *e;
	struct emu_gem_wire_bo *bos;
	size_t n;
	int err;

	if (!emu_drm_gem_criu_enabled())
		return -EINVAL;
	err = emu_drm_gem_fetch(file, emu_drm_current_fd(), EMU_GEM_LIST, 0, sizeof(*bos),
				(void **)&bos, &n);
	if (err)
		return err;
	/* amdgpu_gem_list_handles_ioctl: too little room only reports the count. */
	if (args->num_entries < n || n == 0) {
		args->num_entries = (uint32_t)n;
		free(bos);
		return 0;
	}
	e = calloc(n, sizeof(*e));
	if (!e) {
		free(bos);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		e[i].gem_handle = bos[i].handle;
		e[i].size = bos[i].size;
		/* bo->tbo.base.import_attach */
		e[i].flags = bos[i].kind == EMU_GEM_KIND_IMPORT
				     ? COMMON_AMDGPU_GEM_LIST_HANDLES_FLAG_IS_IMPORT
				     : 0;
		e[i].preferred_domains = bos[i].domains;
		e[i].alloc_flags = bos[i].flags;
		/* bo->tbo.page_alignment: amdgpu_bo_create takes the alignment in bytes and
		 * keeps it in pages, at least one. */
		e[i].alignment = bos[i].alignment > EMU_DRM_PAGE_SIZE
					 ? bos[i].alignment / EMU_DRM_PAGE_SIZE
					 : 1;
	}
	args->num_entries = (uint32_t)n;
	err = emu_drm_uwrite(args->entries, e, n * sizeof(*e));
	free(e);
	free(bos);
	return err;
}

int emu_drm_gem_mapping_info(struct emu_drm_file *file, void *arg)
{
	struct common_drm_amdgpu_gem_op *args = arg;
	struct common_drm_amdgpu_gem_vm_entry *e;
	struct emu_gem_wire_map *maps;
	size_t n;
	int err;

	if (!emu_drm_gem_criu_enabled())
		return -EINVAL;
	err = emu_drm_gem_fetch(file, emu_drm_current_fd(), EMU_GEM_MAPS_OF, args->handle,
				sizeof(*maps), (void **)&maps, &n);
	if (err)
		return err;
	e = calloc(n + 1, sizeof(*e));
	if (!e) {
		free(maps);
		return -ENOMEM;
	}
	/* amdgpu_gem_op_ioctl: a mapping's start and last are in GPU pages of the masked VA. */
	for (size_t i = 0; i < n; i++)
		e[i] = (struct common_drm_amdgpu_gem_vm_entry){
			.addr = maps[i].start,
			.size = maps[i].last - maps[i].start + 1,
			.offset = maps[i].offset,
			.flags = maps[i].flags,
		};
	if (n > 0 && n <= args->num_entries)
		err = emu_drm_uwrite(args->value, e, n * sizeof(*e));
	args->num_entries = (uint32_t)n;
	free(e);
	free(maps);
	return err;
}

int emu_drm_gem_change_handle(struct emu_drm_file *file, void *arg)
{
	struct common_drm_gem_change_handle *args = arg;
	uint32_t h = args->handle, nh = args->new_handle;
	struct emu_drm_bo *bo;
	int err;

	if (!emu_drm_gem_criu_enabled())
		return -EINVAL;
	if (nh > 0x7fffffffu)
		return -EINVAL; /* idr_alloc() takes an int */
	pthread_rwlock_wrlock(&file->vm_lock);
	pthread_mutex_lock(&file->lock);
	bo = emu_drm_bo_lookup(file, h);
	err = !bo ? -ENOENT : h == nh ? 0 : emu_drm_bo_lookup(file, nh) ? -ENOSPC : 0;
	if (!err && h != nh)
		err = emu_drm_handle_set(file, nh, bo);
	if (!err && h != nh) {
		err = emu_drm_gem_daemon(file, emu_drm_current_fd(), EMU_GEM_CHANGE_HANDLE,
					 (uint64_t)h | (uint64_t)nh << 32, NULL, 0, NULL, 0, NULL);
		if (err < 0)
			file->bos[nh] = NULL;
	}
	if (!err && h != nh) {
		file->bos[h] = NULL;
		for (size_t i = 0; i < file->nmaps; i++)
			if (file->maps[i].bo == bo)
				file->maps[i].handle = nh;
	}
	pthread_mutex_unlock(&file->lock);
	pthread_rwlock_unlock(&file->vm_lock);
	return err < 0 ? err : 0;
}
