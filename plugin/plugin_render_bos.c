// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <amdgpu_drm.h>
#include <drm.h>

#include "common_drm_criu.h"
#include "plugin_dmabuf.h"
#include "plugin_render_bos.h"

#define PAGE 4096ull

static int drm_ioctl(int fd, unsigned long request, void *arg)
{
	int r;

	do {
		r = ioctl(fd, request, arg);
	} while (r == -1 && (errno == EINTR || errno == EAGAIN));
	return r == -1 ? -errno : 0;
}

/* drm_ioctl answers a number the driver lacks with -EINVAL (older kernels: no entry). */
static int missing(int r, const char *what, char *why, size_t why_len)
{
	if (r == -EINVAL || r == -ENOTTY)
		snprintf(why, why_len,
			 "the kernel has no %s: saving render-node BOs needs %s or later (the "
			 "task's render-node files cannot be checkpointed on this kernel; for a "
			 "process that creates no BOs through its render nodes, as ROCm compute "
			 "alone, VRAMSTREAM_RENDER_BOS_OPTIONAL=1 dumps them without)",
			 what, COMMON_DRM_CRIU_KERNEL);
	else
		snprintf(why, why_len, "%s: %s", what, strerror(-r));
	return r;
}

/* amdgpu_gem_list_handles_ioctl: too little room only reports the count; retry with it. */
static int list_handles(int fd, struct common_drm_amdgpu_gem_list_handles_entry **out, uint32_t *n,
			char *why, size_t why_len)
{
	struct common_drm_amdgpu_gem_list_handles a = { 0 };
	struct common_drm_amdgpu_gem_list_handles_entry *e = NULL;
	uint32_t room = 8;
	int r;

	for (;;) {
		free(e);
		e = calloc(room, sizeof(*e));
		if (!e)
			return -ENOMEM;
		a.entries = (uintptr_t)e;
		a.num_entries = room;
		r = drm_ioctl(fd, COMMON_DRM_IOCTL_AMDGPU_GEM_LIST_HANDLES, &a);
		if (r) {
			free(e);
			r = missing(r, "DRM_IOCTL_AMDGPU_GEM_LIST_HANDLES", why, why_len);
			/* -EOPNOTSUPP: the kernel cannot list them (VRAMSTREAM_RENDER_BOS_OPTIONAL)
			 */
			return r == -EINVAL || r == -ENOTTY ? -EOPNOTSUPP : r;
		}
		if (a.num_entries <= room)
			break;
		room = a.num_entries;
	}
	*out = e;
	*n = a.num_entries;
	return 0;
}

static int mapping_info(int fd, uint32_t handle, struct common_drm_amdgpu_gem_vm_entry **out,
			uint32_t *n, char *why, size_t why_len)
{
	struct common_drm_amdgpu_gem_op a = { 0 };
	struct common_drm_amdgpu_gem_vm_entry *e = NULL;
	uint32_t room = 4;
	int r;

	for (;;) {
		free(e);
		e = calloc(room, sizeof(*e));
		if (!e)
			return -ENOMEM;
		a = (struct common_drm_amdgpu_gem_op){ .handle = handle,
						       .op = COMMON_AMDGPU_GEM_OP_GET_MAPPING_INFO,
						       .value = (uintptr_t)e,
						       .num_entries = room };
		r = drm_ioctl(fd, COMMON_DRM_IOCTL_AMDGPU_GEM_OP_V2, &a);
		if (r) {
			free(e);
			return missing(r, "AMDGPU_GEM_OP_GET_MAPPING_INFO", why, why_len);
		}
		if (a.num_entries <= room)
			break;
		room = a.num_entries;
	}
	*out = e;
	*n = a.num_entries;
	return 0;
}

static int mmap_offset(int fd, uint32_t handle, uint64_t *off)
{
	union drm_amdgpu_gem_mmap a = { .in.handle = handle };
	int r = drm_ioctl(fd, DRM_IOCTL_AMDGPU_GEM_MMAP, &a);

	if (!r)
		*off = a.out.addr_ptr;
	return r;
}

/* The BO's bytes through a CPU mapping of the render node (drm_gem_mmap), for BOs the kernel
 * will not export; the dump holds them in the image's metadata. */
static int read_contents(int fd, uint64_t off, uint64_t size, ProtobufCBinaryData *out)
{
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, (off_t)off);

	if (p == MAP_FAILED)
		return -errno;
	out->data = malloc(size);
	if (out->data) {
		memcpy(out->data, p, size);
		out->len = size;
	}
	munmap(p, size);
	return out->data ? 0 : -ENOMEM;
}

/*
 * A dma-buf of BO @handle (drm_prime_handle_to_fd_ioctl), as upstream criu's
 * amdgpu_plugin_drm.c exports GEM BOs to copy them with SDMA. Any holder of the
 * file may export its handles (they belong to the struct drm_file), so criu's
 * copy of the task's file serves at dump. amdgpu_gem_prime_export refuses
 * userptr BOs and those made with AMDGPU_GEM_CREATE_VM_ALWAYS_VALID (-EPERM).
 */
static int export_bo(int fd, uint32_t handle, int *dmabuf)
{
	struct drm_prime_handle a = { .handle = handle, .flags = DRM_CLOEXEC | DRM_RDWR };
	int r = drm_ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &a);

	if (!r)
		*dmabuf = a.fd;
	return r;
}

/* Only BOs the kernel will not export go through the metadata: their total is capped. */
#define METADATA_CONTENTS_MAX (128ull << 20)

/* The BO's contents: a dma-buf for the stream, else its bytes through a CPU mapping. */
static int dump_contents(int fd, const struct common_drm_amdgpu_gem_list_handles_entry *e,
			 Vramstream__RenderBo *bo, int *dmabuf, uint64_t *in_meta, char *why,
			 size_t why_len)
{
	int r = export_bo(fd, e->gem_handle, dmabuf);

	if (!r)
		return 0;
	if (r != -EPERM) {
		snprintf(why, why_len,
			 "BO %u (%" PRIu64 " bytes): cannot export it as a dma-buf: %s",
			 e->gem_handle, e->size, strerror(-r));
		return r;
	}
	/* amdgpu_mode_dumb_mmap: -EPERM for userptr BOs and AMDGPU_GEM_CREATE_NO_CPU_ACCESS. */
	if (!bo->has_mmap_offset) {
		snprintf(why, why_len,
			 "BO %u (%" PRIu64 " bytes, flags 0x%" PRIx64
			 "): the kernel neither exports it nor lets the CPU map it (a userptr BO, "
			 "or VM_ALWAYS_VALID with NO_CPU_ACCESS); such BOs are not saved",
			 e->gem_handle, e->size, e->alloc_flags);
		return -EOPNOTSUPP;
	}
	*in_meta += e->size;
	if (*in_meta > METADATA_CONTENTS_MAX) {
		snprintf(why, why_len,
			 "BO %u: the file's BOs that the kernel will not export "
			 "(AMDGPU_GEM_CREATE_VM_ALWAYS_VALID) hold more than %llu MiB, which the "
			 "render-node image does not take",
			 e->gem_handle, METADATA_CONTENTS_MAX >> 20);
		return -EFBIG;
	}
	r = read_contents(fd, bo->mmap_offset, e->size, &bo->contents);
	if (r) {
		snprintf(why, why_len, "BO %u: cannot map it to read it: %s", e->gem_handle,
			 strerror(-r));
		return r;
	}
	bo->has_contents = 1;
	return 0;
}

static int dump_mappings(int fd, uint32_t handle, Vramstream__RenderBo *bo, char *why,
			 size_t why_len)
{
	struct common_drm_amdgpu_gem_vm_entry *vm = NULL;
	uint32_t nvm = 0;
	int r = mapping_info(fd, handle, &vm, &nvm, why, why_len);

	if (r)
		return r;
	bo->mappings = calloc(nvm ? nvm : 1, sizeof(*bo->mappings));
	if (!bo->mappings) {
		free(vm);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < nvm; i++) {
		Vramstream__RenderVaMapping *m = malloc(sizeof(*m));

		if (!m) {
			free(vm);
			return -ENOMEM;
		}
		vramstream__render_va_mapping__init(m);
		m->addr = vm[i].addr;
		m->size = vm[i].size;
		m->offset = vm[i].offset;
		m->flags = vm[i].flags;
		bo->mappings[bo->n_mappings++] = m;
	}
	free(vm);
	return 0;
}

/*
 * An imported BO (amdgpu_gem_list_handles_ioctl: drm_gem_is_imported), named with the BO it
 * imports. Exporting it again gives the dma-buf it was imported from (drm_prime.c:
 * drm_gem_prime_handle_to_dmabuf returns obj->import_attach->dmabuf), which the dma-buf
 * bookkeeping matches against the BOs of the KFD and render-node files dumped so far
 * (plugin_dmabuf.h), as upstream criu's amdgpu_plugin_drm.c matches imports by GEM handle
 * (shared_bo_has_exporter). Restoring an import, re-imported from its source, is not done.
 */
static int refuse_import(int fd, const struct common_drm_amdgpu_gem_list_handles_entry *e,
			 char *why, size_t why_len)
{
	char src[160];
	int dmabuf = -1, r = export_bo(fd, e->gem_handle, &dmabuf);

	if (r)
		snprintf(why, why_len,
			 "BO %u (%" PRIu64 " bytes) is imported from a dma-buf the kernel does "
			 "not export again (%s); imported render-node BOs are not saved",
			 e->gem_handle, e->size, strerror(-r));
	else if (plugin_dmabuf_describe(dmabuf, src, sizeof(src)))
		snprintf(why, why_len,
			 "BO %u (%" PRIu64 " bytes) is imported from a dma-buf that no KFD or "
			 "render-node file of the dumped process dumped before it holds (a BO "
			 "of another process or driver); such BOs are not saved",
			 e->gem_handle, e->size);
	else
		snprintf(why, why_len,
			 "BO %u (%" PRIu64 " bytes) is imported from a dma-buf of %s; imported "
			 "render-node BOs are not saved yet",
			 e->gem_handle, e->size, src);
	if (dmabuf >= 0)
		close(dmabuf);
	return -EOPNOTSUPP;
}

/*
 * A BO that is not flagged as an import may still be one: PRIME import of a dma-buf of the
 * same GPU gives the exporter's GEM object itself (amdgpu_dma_buf.c: amdgpu_gem_prime_import,
 * "Importing dmabuf exported from out own gem increases refcount on gem itself"), so a KFD
 * BO imported into the render node, or another render-node file's GEM BO, is listed like a
 * BO of this file; upstream criu tells them by handle (amdgpu_plugin_drm.c,
 * shared_bo_has_exporter). Saved as its own BO, it would come back as a copy that no longer
 * shares memory with its source, so it is refused, named.
 */
static int refuse_shared(const struct common_drm_amdgpu_gem_list_handles_entry *e, int dmabuf,
			 char *why, size_t why_len)
{
	char src[160];

	if (plugin_dmabuf_describe(dmabuf, src, sizeof(src)))
		return 0;
	snprintf(why, why_len,
		 "BO %u (%" PRIu64 " bytes) is %s, imported through this GPU's render node; "
		 "imported render-node BOs are not saved yet",
		 e->gem_handle, e->size, src);
	return -EOPNOTSUPP;
}

static int dump_one(int fd, const struct common_drm_amdgpu_gem_list_handles_entry *e,
		    Vramstream__RenderBo *bo, int *dmabuf, uint64_t *in_meta, char *why,
		    size_t why_len)
{
	int r;

	bo->handle = e->gem_handle;
	bo->size = e->size;
	bo->preferred_domains = e->preferred_domains;
	bo->alloc_flags = e->alloc_flags;
	bo->has_alignment_pages = 1;
	bo->alignment_pages = e->alignment;
	if (e->flags & COMMON_AMDGPU_GEM_LIST_HANDLES_FLAG_IS_IMPORT)
		return refuse_import(fd, e, why, why_len);
	/* Where the task's CPU mappings of it are, if the CPU may map it (amdgpu_mode_dumb_mmap:
	 * -EPERM for userptr BOs and AMDGPU_GEM_CREATE_NO_CPU_ACCESS). */
	if (!mmap_offset(fd, e->gem_handle, &bo->mmap_offset))
		bo->has_mmap_offset = 1;
	r = dump_contents(fd, e, bo, dmabuf, in_meta, why, why_len);
	if (!r && *dmabuf >= 0)
		r = refuse_shared(e, *dmabuf, why, why_len);
	if (!r)
		r = dump_mappings(fd, e->gem_handle, bo, why, why_len);
	return r;
}

int plugin_render_bos_dump(int fd, Vramstream__RenderFile *rf, int **dmabufs, char *why,
			   size_t why_len)
{
	struct common_drm_amdgpu_gem_list_handles_entry *e = NULL;
	uint64_t in_meta = 0;
	uint32_t n = 0;
	int r = list_handles(fd, &e, &n, why, why_len);

	*dmabufs = NULL;
	if (r)
		return r;
	rf->bos = calloc(n ? n : 1, sizeof(*rf->bos));
	*dmabufs = malloc((n ? n : 1) * sizeof(**dmabufs));
	if (!rf->bos || !*dmabufs) {
		free(e);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		(*dmabufs)[i] = -1;
	for (uint32_t i = 0; !r && i < n; i++) {
		Vramstream__RenderBo *bo = malloc(sizeof(*bo));

		if (!bo) {
			r = -ENOMEM;
			break;
		}
		vramstream__render_bo__init(bo);
		rf->bos[rf->n_bos++] = bo;
		r = dump_one(fd, &e[i], bo, &(*dmabufs)[i], &in_meta, why, why_len);
	}
	free(e);
	return r;
}

void plugin_render_bos_free(Vramstream__RenderFile *rf)
{
	for (size_t i = 0; i < rf->n_bos; i++) {
		Vramstream__RenderBo *bo = rf->bos[i];

		for (size_t k = 0; k < bo->n_mappings; k++)
			free(bo->mappings[k]);
		free(bo->mappings);
		free(bo->contents.data);
		if (bo->stream)
			free(bo->stream->stream_file);
		free(bo->stream);
		free(bo);
	}
	free(rf->bos);
	rf->bos = NULL;
	rf->n_bos = 0;
}

static int write_contents(int fd, uint64_t off, const ProtobufCBinaryData *c)
{
	void *p;

	if (!c->len)
		return 0;
	p = mmap(NULL, c->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	if (p == MAP_FAILED)
		return -errno;
	memcpy(p, c->data, c->len);
	munmap(p, c->len);
	return 0;
}

static int restore_one(int fd, const Vramstream__RenderBo *bo, struct plugin_render_bo_moved *mv,
		       int *dmabuf, char *why, size_t why_len)
{
	union drm_amdgpu_gem_create c = { 0 };
	struct common_drm_gem_change_handle ch = { 0 };
	uint64_t off = 0;
	int r;

	if (bo->has_contents && bo->contents.len != bo->size) {
		snprintf(why, why_len, "BO %u: the image holds %zu bytes of its %" PRIu64,
			 bo->handle, bo->contents.len, bo->size);
		return -EINVAL;
	}
	c.in.bo_size = bo->size;
	c.in.alignment = bo->alignment_pages * PAGE;
	c.in.domains = bo->preferred_domains;
	c.in.domain_flags = bo->alloc_flags;
	r = drm_ioctl(fd, DRM_IOCTL_AMDGPU_GEM_CREATE, &c);
	if (r) {
		snprintf(why, why_len, "BO %u: GEM_CREATE of %" PRIu64 " bytes: %s", bo->handle,
			 bo->size, strerror(-r));
		return r;
	}
	ch.handle = c.out.handle;
	ch.new_handle = bo->handle;
	r = drm_ioctl(fd, COMMON_DRM_IOCTL_GEM_CHANGE_HANDLE, &ch);
	if (r == -ENOSPC) {
		snprintf(why, why_len,
			 "BO %u: the handle is taken in the restored file (two render files of "
			 "one GPU with BOs are not restored yet)",
			 bo->handle);
		return r;
	}
	if (r)
		return missing(r, "DRM_IOCTL_GEM_CHANGE_HANDLE", why, why_len);
	if (bo->has_mmap_offset) {
		r = mmap_offset(fd, bo->handle, &off);
		if (!r && bo->has_contents)
			r = write_contents(fd, off, &bo->contents);
		if (r) {
			snprintf(why, why_len, "BO %u: cannot write its contents: %s", bo->handle,
				 strerror(-r));
			return r;
		}
	}
	if (bo->stream) {
		r = export_bo(fd, bo->handle, dmabuf);
		if (r) {
			snprintf(why, why_len,
				 "BO %u: cannot export it as a dma-buf to write its "
				 "contents: %s",
				 bo->handle, strerror(-r));
			return r;
		}
	}
	for (size_t k = 0; k < bo->n_mappings; k++) {
		const Vramstream__RenderVaMapping *m = bo->mappings[k];
		struct drm_amdgpu_gem_va va = { .handle = bo->handle,
						.operation = AMDGPU_VA_OP_MAP,
						.flags = (uint32_t)m->flags,
						.va_address = m->addr,
						.offset_in_bo = m->offset,
						.map_size = m->size };

		r = drm_ioctl(fd, DRM_IOCTL_AMDGPU_GEM_VA, &va);
		if (r) {
			snprintf(why, why_len,
				 "BO %u: GEM_VA MAP at 0x%" PRIx64 " (0x%" PRIx64 " bytes): %s",
				 bo->handle, m->addr, m->size, strerror(-r));
			return r;
		}
	}
	*mv = (struct plugin_render_bo_moved){ bo->mmap_offset, off, bo->size };
	return 0;
}

int plugin_render_bos_restore(int fd, const Vramstream__RenderFile *rf,
			      struct plugin_render_bo_moved *moved, size_t *n_moved, int *dmabufs,
			      char *why, size_t why_len)
{
	int r = 0;

	*n_moved = 0;
	for (size_t i = 0; i < rf->n_bos; i++)
		dmabufs[i] = -1;
	for (size_t i = 0; !r && i < rf->n_bos; i++) {
		r = restore_one(fd, rf->bos[i], &moved[*n_moved], &dmabufs[i], why, why_len);
		if (!r && rf->bos[i]->has_mmap_offset)
			(*n_moved)++;
	}
	return r;
}
