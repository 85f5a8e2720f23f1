/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Buffer objects and the GPU VM of an emulated render-node file. Memory sources:
 * GEM_CREATE (the GPU's aperture at the BO's DRM offset, which the daemon hands out from the
 * device's one offset space: emu_gem_wire.h), GEM_USERPTR (the process's own pages) and PRIME
 * import of a dma-buf (a view of a GPU's aperture, reached without a mapping; or a test's memfd).
 * Checks and errnos follow the kernel's amdgpu_gem.c (amdgpu_gem_create_ioctl,
 * amdgpu_gem_userptr_ioctl, amdgpu_gem_mmap_ioctl, amdgpu_gem_va_ioctl, amdgpu_gem_op_ioctl,
 * amdgpu_gem_metadata_ioctl), amdgpu_vm.c (amdgpu_vm_bo_map, amdgpu_vm_bo_unmap,
 * amdgpu_vm_bo_clear_mappings), drm_gem.c and drm_prime.c.
 */
#include "emu_drm_internal.h"
#include "emu_aperture.h"
#include "emu_client.h"
#include "emu_proto.h"
#include "emu_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <drm.h>

#include "common_drm_criu.h"
#include "emu_gem_wire.h"

/*
 * Fake mmap offsets of imported BOs. The kernel has one offset space per device
 * (drm_vma_offset_manager, from DRM_FILE_PAGE_OFFSET_START = 4 GiB on 64-bit) shared by GEM
 * BOs and KFD BOs; the daemon hands those out (GEM_CREATE's and KFD's). Imports, whose memory
 * is another buffer's, take theirs here from 64 TiB up, so the two never meet.
 */
#define EMU_DRM_MMAP_OFFSET_START (1ull << 46)

/* Unique in the process. */
static uint64_t emu_drm_next_mmap_offset = EMU_DRM_MMAP_OFFSET_START;

static uint64_t emu_drm_page_align(uint64_t v)
{
	return (v + EMU_DRM_PAGE_SIZE - 1) & ~(EMU_DRM_PAGE_SIZE - 1);
}

struct emu_drm_bo *emu_drm_bo_lookup(struct emu_drm_file *file, uint32_t handle)
{
	return handle < file->nbos ? file->bos[handle] : NULL;
}

/* Puts @bo at @handle, growing the table (DRM_IOCTL_GEM_CHANGE_HANDLE). Under lock. */
int emu_drm_handle_set(struct emu_drm_file *file, uint32_t handle, struct emu_drm_bo *bo)
{
	if (handle == 0)
		return -EINVAL;
	if (handle >= file->nbos) {
		uint32_t n = file->nbos ? file->nbos : 16;
		struct emu_drm_bo **bos;

		while (n <= handle)
			n *= 2;
		bos = realloc(file->bos, n * sizeof(*bos));
		if (!bos)
			return -ENOMEM;
		memset(bos + file->nbos, 0, (n - file->nbos) * sizeof(*bos));
		file->bos = bos;
		file->nbos = n;
	}
	file->bos[handle] = bo;
	return 0;
}

/* drm_gem_handle_create: idr_alloc(..., 1, 0), the lowest free handle from 1. Under lock. */
static int emu_drm_handle_add(struct emu_drm_file *file, struct emu_drm_bo *bo, uint32_t *handle)
{
	uint32_t h;

	for (h = 1; h < file->nbos; h++)
		if (!file->bos[h])
			break;
	if (h >= file->nbos) {
		uint32_t n = file->nbos ? file->nbos * 2 : 16;
		struct emu_drm_bo **bos = realloc(file->bos, n * sizeof(*bos));

		if (!bos)
			return -ENOMEM;
		memset(bos + file->nbos, 0, (n - file->nbos) * sizeof(*bos));
		file->bos = bos;
		h = file->nbos ? file->nbos : 1;
		file->nbos = n;
	}
	file->bos[h] = bo;
	*handle = h;
	return 0;
}

static void emu_drm_bo_free(struct emu_drm_bo *bo)
{
	if (bo->kind != EMU_DRM_BO_USERPTR && bo->host)
		munmap(bo->host, bo->size);
	if (bo->memfd >= 0)
		close(bo->memfd);
	free(bo);
}

static int emu_drm_view_open(unsigned int gpu, uint64_t off, uint64_t size, int flags);

/*
 * A new fd of the file behind a BO, for the rare calls that need one again: GEM BOs keep
 * their memfd; an import of a dma-buf view gets a new view of the same place (what the
 * exporter's dma-buf is); an import of a memfd keeps only its mapping (below), whose file
 * /proc/self/map_files opens (the VMA holding bo->host, found in /proc/self/maps since a
 * neighbour may have merged with it). -1 and errno on failure.
 */
static int emu_drm_bo_file(const struct emu_drm_bo *bo)
{
	unsigned long lo, hi, at = (unsigned long)(uintptr_t)bo->host;
	char line[512], path[96];
	int fd = -1;
	FILE *maps;

	if (bo->memfd >= 0)
		return fcntl(bo->memfd, F_DUPFD_CLOEXEC, 0);
	if (bo->view_io) {
		fd = emu_drm_view_open(bo->src_gpu, bo->view_off, bo->size, DRM_CLOEXEC);
		if (fd < 0) {
			errno = -fd;
			return -1;
		}
		return fd;
	}
	maps = fopen("/proc/self/maps", "re");
	if (!maps)
		return -1;
	errno = ENOENT;
	while (fgets(line, sizeof(line), maps)) {
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || at < lo || at >= hi)
			continue;
		snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", lo, hi);
		fd = open(path, O_RDWR | O_CLOEXEC);
		break;
	}
	fclose(maps);
	return fd;
}

static struct emu_drm_bo *emu_drm_bo_new(enum emu_drm_bo_kind kind, uint64_t size)
{
	struct emu_drm_bo *bo = calloc(1, sizeof(*bo));

	if (!bo)
		return NULL;
	bo->kind = kind;
	bo->size = size;
	bo->memfd = -1;
	return bo;
}

static uint64_t emu_drm_mmap_offset_alloc(uint64_t size)
{
	return __atomic_fetch_add(&emu_drm_next_mmap_offset, emu_drm_page_align(size),
				  __ATOMIC_RELAXED);
}

int emu_drm_gem_create(struct emu_drm_file *file, void *arg)
{
	union drm_amdgpu_gem_create *args = arg;
	const uint64_t valid_flags =
		AMDGPU_GEM_CREATE_CPU_ACCESS_REQUIRED | AMDGPU_GEM_CREATE_NO_CPU_ACCESS |
		AMDGPU_GEM_CREATE_CPU_GTT_USWC | AMDGPU_GEM_CREATE_VRAM_CLEARED |
		AMDGPU_GEM_CREATE_VRAM_CONTIGUOUS | AMDGPU_GEM_CREATE_VM_ALWAYS_VALID |
		AMDGPU_GEM_CREATE_EXPLICIT_SYNC | AMDGPU_GEM_CREATE_VRAM_WIPE_ON_RELEASE |
		AMDGPU_GEM_CREATE_ENCRYPTED | (1ull << 12) /* DISCARDABLE */ |
		(1ull << 13) /* COHERENT */ | (1ull << 14) /* UNCACHED */;
	uint64_t flags = args->in.domain_flags, size = args->in.bo_size;
	uint32_t domains = (uint32_t)args->in.domains, handle;
	struct emu_drm_bo *bo;
	int err;

	/* amdgpu_gem_create_ioctl: reject invalid flags and domains. */
	if (flags & ~valid_flags)
		return -EINVAL;
	if (args->in.domains & ~(uint64_t)AMDGPU_GEM_DOMAIN_MASK)
		return -EINVAL;
	/* No TMZ on the emulated GPU: "Cannot allocate secure buffer since TMZ is disabled". */
	if (flags & AMDGPU_GEM_CREATE_ENCRYPTED)
		return -EINVAL;
	if (domains & (AMDGPU_GEM_DOMAIN_GDS | AMDGPU_GEM_DOMAIN_GWS | AMDGPU_GEM_DOMAIN_OA)) {
		emu_drm_log("GEM_CREATE in GDS/GWS/OA is not emulated");
		return -EINVAL;
	}
	if (size == 0 || size > (1ull << 48))
		return -EINVAL;
	size = emu_drm_page_align(size);

	bo = emu_drm_bo_new(EMU_DRM_BO_GEM, size);
	if (!bo)
		return -ENOMEM;
	bo->domains = domains;
	bo->flags = flags;
	bo->alignment = args->in.alignment;
	pthread_mutex_lock(&file->lock);
	err = emu_drm_handle_add(file, bo, &handle);
	pthread_mutex_unlock(&file->lock);
	if (err)
		goto fail;
	/*
	 * The BO lives in the GPU's aperture at its DRM offset, as every holder of the file
	 * sees it (emu_gem_wire.h); the engine reaches it through a mapping of the render
	 * node's own file there, a device VMA like the ones libdrm's amdgpu_bo_cpu_map makes.
	 */
	err = emu_drm_gem_register(file, handle, bo, &bo->mmap_offset, 0, NULL);
	/* No CPU mapping of a NO_CPU_ACCESS BO (amdgpu_gem_object_mmap: -EPERM), so none that
	 * criu could see, not even the engine's: it goes through the file (emu_drm_gem_nomap_io).
	 */
	bo->nomap = flags & AMDGPU_GEM_CREATE_NO_CPU_ACCESS;
	pthread_mutex_lock(&file->lock);
	file->n_nomap += bo->nomap;
	pthread_mutex_unlock(&file->lock);
	if (!err && !bo->nomap) {
		bo->host = (void *)syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
					   emu_drm_current_fd(), (off_t)bo->mmap_offset);
		if (bo->host == MAP_FAILED) {
			bo->host = NULL;
			err = -ENOMEM;
			emu_drm_gem_daemon(file, emu_drm_current_fd(), EMU_GEM_CLOSE, handle, NULL,
					   0, NULL, 0, NULL);
		}
	}
	if (err) {
		pthread_mutex_lock(&file->lock);
		file->bos[handle] = NULL;
		pthread_mutex_unlock(&file->lock);
		goto fail;
	}
	memset(args, 0, sizeof(*args));
	args->out.handle = handle;
	return 0;
fail:
	emu_drm_bo_free(bo);
	return err;
}

/*
 * What amdgpu_ttm_tt_get_user_pages() finds in the process: the first VMA must exist
 * (-EFAULT) and, with ANONONLY, have no file (-EPERM); hmm_range_fault then needs the whole
 * range mapped (-EFAULT), and writable unless the BO is read-only (-EFAULT).
 */
static int emu_drm_userptr_check(uint64_t addr, uint64_t size, uint32_t flags)
{
	uint64_t pos = addr, end = addr + size;
	bool first = true;
	char line[512];
	FILE *maps;
	int err = -EFAULT;

	maps = fopen("/proc/self/maps", "re");
	if (!maps)
		return -errno;
	while (pos < end && fgets(line, sizeof(line), maps)) {
		unsigned long long lo, hi, off, inode;
		unsigned int maj, mnr;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &lo, &hi, perms, &off, &maj, &mnr,
			   &inode) != 7)
			continue;
		if (hi <= pos)
			continue;
		if (lo > pos)
			break; /* a hole */
		if (first && (flags & AMDGPU_GEM_USERPTR_ANONONLY) && inode != 0) {
			err = -EPERM;
			goto out;
		}
		first = false;
		if (perms[0] != 'r' || (!(flags & AMDGPU_GEM_USERPTR_READONLY) && perms[1] != 'w'))
			goto out;
		pos = hi;
	}
	if (pos >= end)
		err = 0;
out:
	fclose(maps);
	return err;
}

int emu_drm_gem_userptr(struct emu_drm_file *file, void *arg)
{
	struct drm_amdgpu_gem_userptr *args = arg;
	struct emu_drm_bo *bo;
	uint32_t handle;
	int err;

	/* amdgpu_gem_userptr_ioctl */
	if ((args->addr | args->size) & (EMU_DRM_PAGE_SIZE - 1))
		return -EINVAL;
	if (args->flags & ~(AMDGPU_GEM_USERPTR_READONLY | AMDGPU_GEM_USERPTR_ANONONLY |
			    AMDGPU_GEM_USERPTR_VALIDATE | AMDGPU_GEM_USERPTR_REGISTER))
		return -EINVAL;
	if (!(args->flags & AMDGPU_GEM_USERPTR_READONLY) &&
	    !(args->flags & AMDGPU_GEM_USERPTR_REGISTER))
		return -EACCES;
	if (args->size == 0 || args->addr + args->size < args->addr)
		return -EINVAL;
	if (args->flags & AMDGPU_GEM_USERPTR_VALIDATE) {
		err = emu_drm_userptr_check(args->addr, args->size, args->flags);
		if (err)
			return err;
	}
	bo = emu_drm_bo_new(EMU_DRM_BO_USERPTR, args->size);
	if (!bo)
		return -ENOMEM;
	bo->host = (uint8_t *)(uintptr_t)args->addr;
	bo->readonly = args->flags & AMDGPU_GEM_USERPTR_READONLY;
	bo->domains = AMDGPU_GEM_DOMAIN_GTT;
	pthread_mutex_lock(&file->lock);
	err = emu_drm_handle_add(file, bo, &handle);
	pthread_mutex_unlock(&file->lock);
	if (!err) {
		err = emu_drm_gem_register(file, handle, bo, NULL, 0, NULL);
		if (err) {
			pthread_mutex_lock(&file->lock);
			file->bos[handle] = NULL;
			pthread_mutex_unlock(&file->lock);
		}
	}
	if (err) {
		emu_drm_bo_free(bo);
		return err;
	}
	args->handle = handle;
	return 0;
}

/* Remove every VA mapping of @bo (amdgpu_gem_object_close -> amdgpu_vm_bo_del). Under the
 * VM write lock. */
static void emu_drm_vm_drop_bo(struct emu_drm_file *file, struct emu_drm_bo *bo)
{
	size_t j = 0;

	for (size_t i = 0; i < file->nmaps; i++)
		if (file->maps[i].bo != bo)
			file->maps[j++] = file->maps[i];
	file->nmaps = j;
}

int emu_drm_gem_close(struct emu_drm_file *file, void *arg)
{
	struct drm_gem_close *args = arg;
	struct emu_drm_bo *bo;

	/* Jobs in flight read the VM for the whole of an IB: wait for them to let go. */
	pthread_rwlock_wrlock(&file->vm_lock);
	pthread_mutex_lock(&file->lock);
	bo = emu_drm_bo_lookup(file, args->handle);
	if (bo)
		file->bos[args->handle] = NULL;
	pthread_mutex_unlock(&file->lock);
	if (bo)
		emu_drm_vm_drop_bo(file, bo);
	pthread_rwlock_unlock(&file->vm_lock);
	/* drm_gem_handle_delete: an unknown handle is -EINVAL. */
	if (!bo)
		return -EINVAL;
	if (file->gem_registered)
		emu_drm_gem_daemon(file, emu_drm_current_fd(), EMU_GEM_CLOSE, args->handle, NULL, 0,
				   NULL, 0, NULL);
	emu_drm_bo_free(bo);
	return 0;
}

int emu_drm_gem_mmap(struct emu_drm_file *file, void *arg)
{
	union drm_amdgpu_gem_mmap *args = arg;
	uint32_t handle = args->in.handle;
	struct emu_drm_bo *bo;
	int err = 0;

	uint64_t offset, flags;

	pthread_mutex_lock(&file->lock);
	bo = emu_drm_bo_lookup(file, handle);
	memset(args, 0, sizeof(*args));
	/* amdgpu_mode_dumb_mmap: unknown -ENOENT; userptr or NO_CPU_ACCESS -EPERM. */
	if (bo && bo->kind == EMU_DRM_BO_USERPTR)
		err = -EPERM;
	else if (bo && bo->kind == EMU_DRM_BO_IMPORT)
		args->out.addr_ptr = bo->mmap_offset;
	pthread_mutex_unlock(&file->lock);
	if (err || (bo && bo->kind == EMU_DRM_BO_IMPORT))
		return err;
	/* A GEM_CREATE BO's offset is the daemon's: this file may be one criu received, or the
	 * process's view of it may predate a restore that gave the BO a new offset. */
	err = emu_drm_gem_offset_of(file, handle, &offset, &flags);
	if (!err && (!offset || (flags & AMDGPU_GEM_CREATE_NO_CPU_ACCESS)))
		err = -EPERM;
	if (!err)
		args->out.addr_ptr = offset;
	return err;
}

/*
 * A KFD BO's CPU mapping goes through the render node (libhsakmt mmaps VRAM at the offset
 * ALLOC_MEMORY_OF_GPU returned, on the fd given to ACQUIRE_VM). drm_gem_mmap: the offset must
 * be exactly a BO's and the length fit in it (drm_vma_offset_exact_lookup_locked), else
 * -EINVAL; a BO of another process's file is -EACCES (drm_vma_node_is_allowed). Then the
 * kernel maps the render node's own file, the GPU's aperture (emu_aperture.h), at that
 * offset: the mapping is what criu's restorer re-creates with a raw mmap.
 */
static int emu_drm_kfd_bo_check(struct emu_drm_file *file, off_t offset, size_t len)
{
	struct emu_call c = { .req = { .op = EMU_OP_BO_BY_OFFSET } };
	struct emu_bo_info info;
	int err;

	c.req.gpu_index = file->gpu;
	c.req.arg0 = (uint64_t)offset;
	c.rep_buf = &info;
	c.rep_cap = sizeof(info);
	err = emu_client_call(&c);
	if (err < 0 || c.rep_len < sizeof(info))
		return -EINVAL;
	if (info.owner_pid != (uint32_t)getpid())
		return -EACCES;
	if (emu_drm_page_align(len) > emu_drm_page_align(info.size))
		return -EINVAL;
	return 0;
}

void *emu_drm_gem_mmap_fd(struct emu_drm_file *file, int fd, void *addr, size_t len, int prot,
			  int flags, off_t offset)
{
	struct emu_drm_bo *bo = NULL;
	bool known = false;
	int memfd = -EINVAL, err;
	void *p;

	/*
	 * ttm_bo_mmap_obj: no copy-on-write mappings of a BO; but amdgpu_gem_object_mmap
	 * clears VM_MAYWRITE of a PROT_NONE private mapping first ("Workaround for Thunk bug
	 * creating PROT_NONE,MAP_PRIVATE mappings", which is how libhsakmt's
	 * fmm_allocate_device reserves VRAM the CPU may not reach), so that one is no COW
	 * mapping and is allowed.
	 */
	if (!(flags & MAP_SHARED) && prot != PROT_NONE) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	pthread_mutex_lock(&file->lock);
	/* drm_gem_mmap: the offset must be exactly a BO's and the length fit in it. */
	for (uint32_t h = 1; h < file->nbos; h++) {
		bo = file->bos[h];
		if (bo && bo->kind == EMU_DRM_BO_IMPORT && bo->mmap_offset == (uint64_t)offset) {
			known = true;
			if (emu_drm_page_align(len) <= bo->size)
				memfd = emu_drm_bo_file(bo);
			break;
		}
	}
	pthread_mutex_unlock(&file->lock);
	if (!known) {
		uint64_t len64 = len;
		uint32_t handle;

		/* A GEM_CREATE BO of this file (the daemon's record), else a KFD BO. */
		err = emu_drm_gem_daemon(file, fd, EMU_GEM_MMAP_CHECK, (uint64_t)offset, &len64,
					 sizeof(len64), &handle, sizeof(handle), NULL);
		if (err == -EACCES) {
			errno = EACCES;
			return MAP_FAILED;
		}
		if (err >= 0)
			return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, offset);
		err = emu_drm_kfd_bo_check(file, offset, len);
		if (err) {
			errno = -err;
			return MAP_FAILED;
		}
		return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, offset);
	}
	if (memfd < 0) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	/* The file is the aperture itself for a view (a hard link of it), a memfd otherwise. */
	p = (void *)syscall(SYS_mmap, addr, len, prot, flags, memfd,
			    (off_t)(bo->view_io ? bo->view_off : 0));
	err = errno;
	close(memfd);
	errno = err;
	return p;
}

int emu_drm_gem_metadata(struct emu_drm_file *file, void *arg)
{
	struct drm_amdgpu_gem_metadata *args = arg;
	struct emu_drm_bo *bo;
	int err = 0;

	pthread_mutex_lock(&file->lock);
	bo = emu_drm_bo_lookup(file, args->handle);
	if (!bo) {
		err = -ENOENT;
	} else if (args->op == AMDGPU_GEM_METADATA_OP_GET_METADATA) {
		args->data.tiling_info = bo->tiling_info;
		args->data.flags = bo->metadata_flags;
		args->data.data_size_bytes = bo->metadata_size;
		memcpy(args->data.data, bo->metadata, bo->metadata_size);
	} else if (args->op == AMDGPU_GEM_METADATA_OP_SET_METADATA) {
		if (args->data.data_size_bytes > sizeof(args->data.data)) {
			err = -EINVAL;
		} else {
			bo->tiling_info = args->data.tiling_info;
			bo->metadata_flags = args->data.flags;
			bo->metadata_size = args->data.data_size_bytes;
			memcpy(bo->metadata, args->data.data, bo->metadata_size);
		}
	} else {
		err = -EPERM; /* amdgpu_gem_metadata_ioctl leaves r = -1 for unknown ops */
	}
	pthread_mutex_unlock(&file->lock);
	return err;
}

int emu_drm_gem_op(struct emu_drm_file *file, void *arg)
{
	struct drm_amdgpu_gem_op *args = arg;
	struct drm_amdgpu_gem_create_in info;
	struct emu_drm_bo *bo;
	int err = 0;

	/* Answered from the daemon's record, which every holder of the file shares. */
	if (args->op == COMMON_AMDGPU_GEM_OP_GET_MAPPING_INFO)
		return emu_drm_gem_mapping_info(file, arg);
	pthread_mutex_lock(&file->lock);
	bo = emu_drm_bo_lookup(file, args->handle);
	if (!bo) {
		pthread_mutex_unlock(&file->lock);
		return -ENOENT;
	}
	switch (args->op) {
	case AMDGPU_GEM_OP_GET_GEM_CREATE_INFO:
		memset(&info, 0, sizeof(info));
		info.bo_size = bo->size;
		info.alignment = bo->alignment;
		info.domains = bo->domains;
		info.domain_flags = bo->flags;
		pthread_mutex_unlock(&file->lock);
		return emu_drm_uwrite(args->value, &info, sizeof(info));
	case AMDGPU_GEM_OP_SET_PLACEMENT:
		if (bo->kind == EMU_DRM_BO_IMPORT && (args->value & AMDGPU_GEM_DOMAIN_VRAM))
			err = -EINVAL;
		else if (bo->kind == EMU_DRM_BO_USERPTR)
			err = -EPERM;
		else
			bo->domains = (uint32_t)args->value &
				      (AMDGPU_GEM_DOMAIN_VRAM | AMDGPU_GEM_DOMAIN_GTT |
				       AMDGPU_GEM_DOMAIN_CPU);
		break;
	default:
		err = -EINVAL;
	}
	pthread_mutex_unlock(&file->lock);
	return err;
}

/* The aperture file behind render fd @fd, by its real /proc link (not the shim's). */
static int emu_drm_aperture_path(int fd, char *out, size_t cap)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = syscall(SYS_readlinkat, AT_FDCWD, link, out, cap - 1);
	if (n <= 0)
		return -EBADF;
	out[n] = '\0';
	return 0;
}

/*
 * A dma-buf view of @size bytes at @off of GPU @gpu's aperture: as for KFD BOs (emu_aperture.h),
 * an open file of a hard link of the aperture named after the place, unlinked at once. The
 * aperture files sit side by side; the one of the render fd of the call in progress gives the
 * folder.
 */
static int emu_drm_view_open(unsigned int gpu, uint64_t off, uint64_t size, int flags)
{
	char node[512], path[700], name[128], *slash;
	const struct emu_config *cfg = emu_shim_config();
	int fd, err;

	if (!cfg || gpu >= cfg->num_gpus)
		return -ENODEV;
	err = emu_drm_aperture_path(emu_drm_current_fd(), node, sizeof(node));
	if (err)
		return err;
	slash = strrchr(node, '/');
	if (!slash)
		return -EBADF;
	snprintf(slash + 1, sizeof(node) - (size_t)(slash + 1 - node), "renderD%u",
		 cfg->gpus[gpu].render_minor);
	err = emu_aperture_view_name(name, sizeof(name), gpu, off, size);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - node), node, name);
	if (link(node, path) != 0 && errno != EEXIST)
		return -errno;
	fd = (int)syscall(SYS_openat, AT_FDCWD, path,
			  O_RDWR | ((flags & DRM_CLOEXEC) ? O_CLOEXEC : 0));
	err = fd < 0 ? -errno : fd;
	unlink(path);
	return err;
}

/* amdgpu_gem_prime_export of a GEM_CREATE BO: a view of its place in the file's GPU. */
static int emu_drm_gem_export_view(struct emu_drm_file *file, const struct emu_drm_bo *bo,
				   int flags)
{
	return emu_drm_view_open(file->gpu, bo->mmap_offset, bo->size, flags);
}

/*
 * PRIME import (drm_gem_prime_fd_to_handle). The emulator's dma-bufs are views of a GPU's
 * aperture (KFD BOs: emu_aperture.h; GEM BOs: emu_drm_gem_export_view); its tests also import
 * memfds as stand-ins.
 * Importing the same buffer twice in one file gives the same handle, as drm_prime's per-file
 * lookup does (libdrm relies on it).
 */
int emu_drm_prime_fd_to_handle(struct emu_drm_file *file, void *arg)
{
	struct drm_prime_handle *args = arg;
	char link[64], target[128];
	struct emu_shim_file view;
	unsigned int view_gpu = ~0u;
	struct emu_drm_bo *bo;
	struct stat st;
	uint32_t handle, own = 0;
	uint64_t off = 0;
	ssize_t n;
	int err;

	if (syscall(SYS_fstat, args->fd, &st))
		return -EBADF; /* dma_buf_get: fget fails */
	if (emu_shim_file_of(args->fd, &view) == EMU_FD_DMABUF) {
		off = view.view_off;
		st.st_size = (off_t)view.view_size;
		view_gpu = view.gpu;
	} else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", args->fd);
		n = syscall(SYS_readlinkat, AT_FDCWD, link, target, sizeof(target) - 1);
		if (n < 0)
			return -EBADF;
		target[n] = '\0';
		/* dma_buf_get: a file that is not a dma-buf is -EINVAL. */
		if (strncmp(target, "/memfd:", 7) || !S_ISREG(st.st_mode) || st.st_size <= 0) {
			emu_drm_log("PRIME import of fd %d (%s): not an emulated dma-buf", args->fd,
				    target);
			return -EINVAL;
		}
	}
	pthread_mutex_lock(&file->lock);
	for (uint32_t h = 1; h < file->nbos; h++) {
		bo = file->bos[h];
		if (bo && bo->kind == EMU_DRM_BO_IMPORT && bo->st_dev == st.st_dev &&
		    bo->st_ino == st.st_ino && bo->view_off == off) {
			args->handle = h;
			pthread_mutex_unlock(&file->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&file->lock);

	bo = emu_drm_bo_new(EMU_DRM_BO_IMPORT, (uint64_t)st.st_size);
	if (!bo)
		return -ENOMEM;
	bo->st_dev = st.st_dev;
	bo->st_ino = st.st_ino;
	bo->view_off = off;
	bo->domains = AMDGPU_GEM_DOMAIN_GTT;
	/*
	 * The kernel maps nothing of an import (drm_prime.c: drm_gem_prime_fd_to_handle ->
	 * amdgpu_dma_buf.c: amdgpu_gem_prime_import makes a GEM object attached to the
	 * exporter's dma-buf, dma_buf_dynamic_attach; a CPU mapping exists only once the process
	 * mmaps it), so criu sees none. A view of a GPU's aperture needs none either:
	 * the engine reaches it through a render fd of that GPU the process holds
	 * (emu_drm_gem_view_io). The import holds the dma-buf, not an fd of the importer's
	 * (drm_gem_prime_import_dev -> get_dma_buf), so the caller may close its fd and its
	 * RLIMIT_NOFILE counts nothing for the import; the view's memory is the exporter's
	 * place in the aperture, which needs no reference here.
	 */
	if (view_gpu != ~0u) {
		bo->view_io = true;
		bo->src_gpu = view_gpu;
	} else {
		/*
		 * A memfd is no dma-buf (dma_buf_get: -EINVAL); the emulator's own tests use one
		 * as a stand-in, mapped here for the engine and kept by that mapping (below), not
		 * populated: its copies fault the pages in as they go.
		 */
		bo->host = (void *)syscall(SYS_mmap, NULL, bo->size, PROT_READ | PROT_WRITE,
					   MAP_SHARED, args->fd, (off_t)off);
		if (bo->host == MAP_FAILED) {
			bo->host = NULL;
			err = -EINVAL;
			emu_drm_log("PRIME import of fd %d: cannot map it read-write: %s", args->fd,
				    strerror(errno));
			goto fail;
		}
	}
	bo->mmap_offset = emu_drm_mmap_offset_alloc(bo->size);
	pthread_mutex_lock(&file->lock);
	err = emu_drm_handle_add(file, bo, &handle);
	pthread_mutex_unlock(&file->lock);
	if (err)
		goto fail;
	/*
	 * A dma-buf of one of the file's own GEM BOs gives back its handle (drm_prime's per-file
	 * lookup of obj->dma_buf, which every export of the object shares); the daemon, which has
	 * the BO's place now (this process's view of the file may predate a restore that moved
	 * it), tells, and the import is undone.
	 */
	err = emu_drm_gem_register(file, handle, bo, NULL, view_gpu == file->gpu ? bo->view_off : 0,
				   &own);
	if (err || own) {
		pthread_mutex_lock(&file->lock);
		file->bos[handle] = NULL;
		pthread_mutex_unlock(&file->lock);
		if (err)
			goto fail;
		emu_drm_bo_free(bo);
		args->handle = own;
		return 0;
	}
	args->handle = handle;
	return 0;
fail:
	emu_drm_bo_free(bo);
	return err;
}

/*
 * PRIME export of a GEM_CREATE BO from the daemon's record: it has the BO's place now (this
 * process's view of the file may predate a restore that moved it), and the objects of a file
 * the process received (criu's copy of the task's), which its view lacks. Handles belong to
 * the struct drm_file, so any holder may export them (drm_prime_handle_to_fd_ioctl ->
 * drm_gem_object_lookup on file_priv); amdgpu_gem_prime_export refuses userptr BOs and
 * VM_ALWAYS_VALID ones (-EPERM). Re-exporting an import gives the dma-buf it came from
 * (drm_gem_prime_handle_to_fd: obj->import_attach), which the record keeps for a view of
 * this GPU's aperture (src_off) and not for a memfd.
 */
static int emu_drm_prime_export_record(struct emu_drm_file *file, uint32_t handle, int flags)
{
	struct emu_gem_wire_bo rec;
	struct emu_drm_bo view = { .kind = EMU_DRM_BO_GEM };
	int err = emu_drm_gem_record_of(file, handle, &rec);

	if (err)
		return err;
	if (rec.kind == EMU_GEM_KIND_USERPTR || (rec.flags & AMDGPU_GEM_CREATE_VM_ALWAYS_VALID))
		return -EPERM;
	/* drm_gem_prime_handle_to_dmabuf: an import gives back the dma-buf it came from
	 * (obj->import_attach->dmabuf), here the view of the source's place. */
	if (rec.kind == EMU_GEM_KIND_IMPORT && rec.src_off) {
		view.mmap_offset = rec.src_off;
		view.size = rec.size;
		return emu_drm_gem_export_view(file, &view, flags);
	}
	if (rec.kind != EMU_GEM_KIND_CREATE || !rec.mmap_offset) {
		emu_drm_log("PRIME export of handle %u of a received file: re-exporting an import "
			    "is not emulated",
			    handle);
		return -EOPNOTSUPP;
	}
	view.mmap_offset = rec.mmap_offset;
	view.size = emu_drm_page_align(rec.size);
	return emu_drm_gem_export_view(file, &view, flags);
}

int emu_drm_prime_handle_to_fd(struct emu_drm_file *file, void *arg)
{
	struct drm_prime_handle *args = arg;
	struct emu_drm_bo *bo;
	int fd, err = 0;

	/* drm_prime_handle_to_fd_ioctl: only DRM_CLOEXEC and DRM_RDWR. */
	if (args->flags & ~(DRM_CLOEXEC | DRM_RDWR))
		return -EINVAL;
	pthread_mutex_lock(&file->lock);
	bo = emu_drm_bo_lookup(file, args->handle);
	/* GEM_CREATE BOs from the daemon's record, which has their place now. */
	if (!bo || bo->kind == EMU_DRM_BO_GEM) {
		pthread_mutex_unlock(&file->lock);
		fd = emu_drm_prime_export_record(file, args->handle, (int)args->flags);
		if (fd < 0)
			return fd;
		args->fd = fd;
		return 0;
	} else if (bo->kind == EMU_DRM_BO_USERPTR ||
		   (bo->flags & AMDGPU_GEM_CREATE_VM_ALWAYS_VALID)) {
		err = -EPERM; /* amdgpu_gem_prime_export */
	} else {
		fd = emu_drm_bo_file(bo);
		if (fd >= 0 && !(args->flags & DRM_CLOEXEC))
			fcntl(fd, F_SETFD, 0);
		if (fd < 0)
			err = fd == -1 ? -errno : fd;
		else
			args->fd = fd;
	}
	pthread_mutex_unlock(&file->lock);
	return err;
}

/* Canonical GPU VA to the VM's 48-bit address, or false for a non-canonical one. */
static bool emu_drm_va_mask(uint64_t va, uint64_t *out)
{
	uint64_t top = va >> 47;

	if (top != 0 && top != 0x1ffff)
		return false;
	*out = va & EMU_DRM_GMC_HOLE_MASK;
	return true;
}

void *emu_drm_vm_translate(struct emu_drm_file *file, uint64_t va, uint64_t len, bool write,
			   uint64_t *avail, struct emu_drm_bo **nomap, uint64_t *bo_off)
{
	uint64_t a;

	if (nomap)
		*nomap = NULL;
	if (!emu_drm_va_mask(va, &a))
		return NULL;
	for (size_t i = 0; i < file->nmaps; i++) {
		const struct emu_drm_mapping *m = &file->maps[i];
		uint64_t n;

		if (a < m->start || a > m->last)
			continue;
		if (write && (!(m->flags & AMDGPU_VM_PAGE_WRITEABLE) || m->bo->readonly))
			return NULL;
		if (!write && !(m->flags & AMDGPU_VM_PAGE_READABLE))
			return NULL;
		n = m->last - a + 1;
		if (!m->bo->host) {
			if (!(m->bo->nomap || m->bo->view_io) || !nomap)
				return NULL;
			*avail = n < len ? n : len;
			*nomap = m->bo;
			*bo_off = m->offset + (a - m->start);
			return NULL;
		}
		*avail = n < len ? n : len;
		return m->bo->host + m->offset + (a - m->start);
	}
	return NULL;
}

/* Under the VM write lock. */
static int emu_drm_vm_insert(struct emu_drm_file *file, const struct emu_drm_mapping *m)
{
	if (file->nmaps == file->maps_cap) {
		size_t cap = file->maps_cap ? file->maps_cap * 2 : 16;
		struct emu_drm_mapping *n = realloc(file->maps, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		file->maps = n;
		file->maps_cap = cap;
	}
	file->maps[file->nmaps++] = *m;
	return 0;
}

/* amdgpu_vm_bo_clear_mappings: cut [start, last] out of every mapping. Under the write lock. */
static int emu_drm_vm_clear(struct emu_drm_file *file, uint64_t start, uint64_t last)
{
	size_t i = 0;

	while (i < file->nmaps) {
		struct emu_drm_mapping *m = &file->maps[i];

		if (m->last < start || m->start > last) {
			i++;
		} else if (m->start < start && m->last > last) {
			/* Split: keep the head here, append the tail (which lies past @last). */
			struct emu_drm_mapping tail = *m;

			tail.offset += last + 1 - m->start;
			tail.start = last + 1;
			m->last = start - 1;
			if (emu_drm_vm_insert(file, &tail))
				return -ENOMEM;
			i++;
		} else if (m->start < start) {
			m->last = start - 1;
			i++;
		} else if (m->last > last) {
			m->offset += last + 1 - m->start;
			m->start = last + 1;
			i++;
		} else {
			*m = file->maps[--file->nmaps]; /* look at the moved one next */
		}
	}
	return 0;
}

int emu_drm_gem_va(struct emu_drm_file *file, void *arg)
{
	struct drm_amdgpu_gem_va *args = arg;
	const uint32_t valid = AMDGPU_VM_DELAY_UPDATE | AMDGPU_VM_PAGE_READABLE |
			       AMDGPU_VM_PAGE_WRITEABLE | AMDGPU_VM_PAGE_EXECUTABLE |
			       AMDGPU_VM_MTYPE_MASK | (1u << 9) /* NOALLOC */;
	const uint32_t prt = AMDGPU_VM_DELAY_UPDATE | AMDGPU_VM_PAGE_PRT;
	uint64_t va = args->va_address, size = args->map_size, offset = args->offset_in_bo;
	uint64_t vm_size = EMU_DRM_VM_SIZE - EMU_DRM_VA_RESERVED_TOP, start, last;
	struct emu_drm_mapping m;
	struct emu_drm_bo *bo = NULL;
	int err = 0;

	/* amdgpu_gem_va_ioctl */
	if (va < EMU_DRM_VA_RESERVED_BOTTOM) {
		emu_drm_log("GEM_VA: va_address 0x%" PRIx64 " is in the reserved area", va);
		return -EINVAL;
	}
	if (va >= EMU_DRM_GMC_HOLE_START && va < EMU_DRM_GMC_HOLE_END) {
		emu_drm_log("GEM_VA: va_address 0x%" PRIx64 " is in the VA hole", va);
		return -EINVAL;
	}
	va &= EMU_DRM_GMC_HOLE_MASK;
	if (va + size > vm_size || va + size < va) {
		emu_drm_log("GEM_VA: va_address 0x%" PRIx64 " + size 0x%" PRIx64
			    " is beyond the VM",
			    va, size);
		return -EINVAL;
	}
	if ((args->flags & ~valid) && (args->flags & ~prt))
		return -EINVAL;
	if (args->flags & AMDGPU_VM_PAGE_PRT) {
		emu_drm_log("GEM_VA: partially resident textures are not emulated");
		return -EINVAL;
	}
	switch (args->operation) {
	case AMDGPU_VA_OP_MAP:
	case AMDGPU_VA_OP_UNMAP:
	case AMDGPU_VA_OP_CLEAR:
	case AMDGPU_VA_OP_REPLACE:
		break;
	default:
		return -EINVAL;
	}

	pthread_rwlock_wrlock(&file->vm_lock);
	pthread_mutex_lock(&file->lock);
	if (args->operation != AMDGPU_VA_OP_CLEAR) {
		bo = emu_drm_bo_lookup(file, args->handle);
		if (!bo) {
			err = -ENOENT;
			goto out;
		}
	}
	start = va;
	last = va + size - 1;
	if (args->operation == AMDGPU_VA_OP_UNMAP) {
		/* amdgpu_vm_bo_unmap: the BO's mapping starting at va, else -ENOENT. */
		for (size_t i = 0; i < file->nmaps; i++) {
			if (file->maps[i].bo == bo && file->maps[i].start == start) {
				file->maps[i] = file->maps[--file->nmaps];
				goto out;
			}
		}
		err = -ENOENT;
		goto out;
	}
	/* amdgpu_vm_verify_parameters: page aligned, non-empty, inside the BO. */
	if ((start | size | (args->operation == AMDGPU_VA_OP_CLEAR ? 0 : offset)) &
	    (EMU_DRM_PAGE_SIZE - 1)) {
		err = -EINVAL;
		goto out;
	}
	if (size == 0 || offset + size < offset || (bo && offset + size > bo->size)) {
		err = -EINVAL;
		goto out;
	}
	if (args->operation == AMDGPU_VA_OP_CLEAR) {
		err = emu_drm_vm_clear(file, start, last);
		goto out;
	}
	if (args->operation == AMDGPU_VA_OP_REPLACE) {
		err = emu_drm_vm_clear(file, start, last);
		if (err)
			goto out;
	} else {
		/* amdgpu_vm_bo_map: an overlap with any mapping of the VM is -EINVAL. */
		for (size_t i = 0; i < file->nmaps; i++) {
			const struct emu_drm_mapping *o = &file->maps[i];

			if (o->start <= last && o->last >= start) {
				emu_drm_log("GEM_VA: bo %u 0x%" PRIx64 "-0x%" PRIx64
					    " overlaps bo %u 0x%" PRIx64 "-0x%" PRIx64,
					    args->handle, start, last, o->handle, o->start,
					    o->last);
				err = -EINVAL;
				goto out;
			}
		}
	}
	m = (struct emu_drm_mapping){ .start = start,
				      .last = last,
				      .offset = offset,
				      .flags = args->flags,
				      .handle = args->handle,
				      .bo = bo };
	err = emu_drm_vm_insert(file, &m);
out:
	/* The daemon keeps the mappings of GEM_CREATE BOs (GET_MAPPING_INFO); a change
	 * of an import's (the plugin maps thousands of KFD BOs) does not concern it. */
	if (!err && (!bo || bo->kind == EMU_DRM_BO_GEM))
		err = emu_drm_gem_sync_maps(file);
	pthread_mutex_unlock(&file->lock);
	pthread_rwlock_unlock(&file->vm_lock);
	return err;
}

/*
 * The engine's way to NO_CPU_ACCESS BOs. Hardware's SDMA reaches VRAM without any CPU mapping,
 * and the kernel makes none of such a BO (amdgpu_gem.c: amdgpu_gem_object_mmap refuses a BO
 * with AMDGPU_GEM_CREATE_NO_CPU_ACCESS with -EPERM; amdgpu_bo_mmap_offset's offset is never
 * mapped), so criu never sees one, in the middle of a job or not. The emulated engine runs in
 * the process, so it reads and writes such a BO with pread/pwrite on the render node's own
 * file (the GPU's aperture, emu_aperture.h) at the BO's DRM offset, through an fd the process
 * already holds: no mapping, no extra fd.
 *
 * A restore gives the BO a new offset, and a job frozen by the dump goes on after it. The
 * file position carries the check: the kernel's render files have none (amdgpu_drv.c:
 * amdgpu_driver_kms_fops has no llseek), and criu keeps none for a device file (the plugin
 * opens the render node again at restore, at 0),
 * so the offsets are current while the position is EMU_DRM_NOMAP_POS; else they are asked of
 * the daemon again. An access that a restore overtook (the position changed under it) is
 * made again at the new place; the old one was never reused (emu_daemon_aperture.c).
 */
#define EMU_DRM_NOMAP_POS 0x6e6f6d6170ll /* "nomap" */

int emu_drm_gem_nomap_sync(struct emu_drm_file *file, int fd)
{
	struct emu_gem_wire_bo *recs;
	size_t n;
	int err;

	if (!file->n_nomap || syscall(SYS_lseek, fd, 0, SEEK_CUR) == EMU_DRM_NOMAP_POS)
		return 0;
	err = emu_drm_gem_records(file, fd, &recs, &n);
	if (err)
		return err;
	for (uint32_t h = 1; h < file->nbos; h++)
		if (file->bos[h] && file->bos[h]->nomap)
			file->bos[h]->mmap_offset = 0; /* not in the record: the engine faults */
	for (size_t i = 0; i < n; i++) {
		struct emu_drm_bo *bo = emu_drm_bo_lookup(file, recs[i].handle);

		if (bo && bo->nomap && recs[i].kind == EMU_GEM_KIND_CREATE)
			bo->mmap_offset = recs[i].mmap_offset;
	}
	free(recs);
	if (syscall(SYS_lseek, fd, EMU_DRM_NOMAP_POS, SEEK_SET) < 0)
		return -errno;
	return 0;
}

/*
 * An import of a dma-buf view: pread/pwrite at its place in the aperture of the GPU that
 * exported it, through a render fd of that GPU the process holds (the importing file's own
 * when it is that GPU's, @hint first). Imports are not carried over a restore (the plugin
 * refuses to dump them), so the place does not move under the process.
 */
static int emu_drm_gem_view_io(struct emu_drm_file *file, int hint, struct emu_drm_bo *bo,
			       uint64_t off, uint8_t *buf, uint64_t len, bool write)
{
	int fd = bo->src_gpu == file->gpu ? emu_drm_file_fd_get(file, hint)
					  : emu_drm_gpu_fd_get(bo->src_gpu);
	int err = 0;

	if (fd < 0) {
		emu_drm_log("no render fd of GPU %u left to reach an imported dma-buf",
			    bo->src_gpu);
		return -EFAULT;
	}
	while (!err && len) {
		off_t at = (off_t)(bo->view_off + off);
		ssize_t done = write ? syscall(SYS_pwrite64, fd, buf, len, at)
				     : syscall(SYS_pread64, fd, buf, len, at);

		if (done < 0 && errno == EINTR)
			continue;
		if (done < 0)
			err = -errno;
		else if (done == 0)
			err = -EIO;
		else {
			buf += done;
			off += (uint64_t)done;
			len -= (uint64_t)done;
		}
	}
	emu_drm_file_fd_put();
	return err;
}

int emu_drm_gem_nomap_io(struct emu_drm_file *file, int hint, struct emu_drm_bo *bo, uint64_t off,
			 void *buf, uint64_t len, bool write)
{
	int fd, err;

	if (off > bo->size || len > bo->size - off)
		return -EFAULT;
	if (bo->view_io)
		return emu_drm_gem_view_io(file, hint, bo, off, buf, len, write);
	pthread_mutex_lock(&file->lock);
	fd = emu_drm_file_fd_get(file, hint);
	if (fd < 0) {
		pthread_mutex_unlock(&file->lock);
		emu_drm_log("no fd of the render node left to reach a NO_CPU_ACCESS BO");
		return -EFAULT;
	}
	do {
		ssize_t done;

		err = emu_drm_gem_nomap_sync(file, fd);
		if (err)
			break;
		if (!bo->mmap_offset) {
			err = -EFAULT;
			break;
		}
		done = write ? syscall(SYS_pwrite64, fd, buf, len, (off_t)(bo->mmap_offset + off))
			     : syscall(SYS_pread64, fd, buf, len, (off_t)(bo->mmap_offset + off));
		if (done < 0)
			err = -errno;
		else if ((uint64_t)done != len)
			err = -EIO;
	} while (!err && syscall(SYS_lseek, fd, 0, SEEK_CUR) != EMU_DRM_NOMAP_POS);
	emu_drm_file_fd_put();
	pthread_mutex_unlock(&file->lock);
	return err;
}

void emu_drm_gem_file_fini(struct emu_drm_file *file)
{
	for (uint32_t h = 1; h < file->nbos; h++)
		if (file->bos[h])
			emu_drm_bo_free(file->bos[h]);
	free(file->bos);
	free(file->maps);
	file->bos = NULL;
	file->maps = NULL;
	file->nbos = 0;
	file->nmaps = 0;
}
