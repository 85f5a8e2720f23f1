// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's side of the GPUs' CPU apertures (emu_aperture.h): VRAM and GTT
 * BOs are placed in their GPU's aperture file at their DRM mmap offset, and
 * their dma-bufs are named views of that file.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kfd_ioctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "emu_aperture.h"
#include "emu_daemon_internal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

int emu_daemon_apertures_open(struct emu_daemon *d)
{
	char path[PATH_MAX + 32];
	struct stat st;
	unsigned int i;
	int err = 0;

	for (i = 0; i < EMU_MAX_GPUS; i++)
		d->aperture_fd[i] = -1;
	snprintf(path, sizeof(path), "%s/dev/kfd", d->root);
	if (stat(path, &st) != 0)
		return -errno;
	d->kfd_node_dev = st.st_dev;
	d->kfd_node_ino = st.st_ino;
	for (i = 0; !err && i < d->cfg.num_gpus; i++) {
		snprintf(path, sizeof(path), "%s/renderD%u", d->aperture_dir,
			 d->cfg.gpus[i].render_minor);
		d->aperture_fd[i] = open(path, O_RDWR | O_CLOEXEC);
		if (d->aperture_fd[i] < 0 || fstat(d->aperture_fd[i], &st) != 0) {
			err = -errno;
			break;
		}
		d->aperture_ino[i] = st.st_ino;
		d->aperture_dev = st.st_dev;
	}
	return err;
}

/*
 * Places a VRAM/GTT BO of @aligned bytes at its DRM offset in its GPU's
 * aperture and maps it for the daemon. The file grows to cover it (a sparse
 * tmpfs file: only written pages take memory).
 */
int emu_daemon_aperture_place(struct emu_daemon *d, struct emu_bo *bo, uint64_t aligned)
{
	int fd = d->aperture_fd[bo->gpu_index];
	struct stat st;

	if (fd < 0 || fstat(fd, &st) != 0)
		return -EIO;
	if ((uint64_t)st.st_size < bo->mmap_offset + aligned &&
	    ftruncate(fd, (off_t)(bo->mmap_offset + aligned)) != 0)
		return -errno;
	bo->cpu =
		mmap(NULL, aligned, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)bo->mmap_offset);
	if (bo->cpu == MAP_FAILED) {
		bo->cpu = NULL;
		return -ENOMEM;
	}
	/*
	 * VRAM is taken (and cleared) when the BO is made, as amdgpu_bo_create
	 * places it at once, not when something first touches it: allocate and
	 * zero the pages now, so the cost lands on the allocation as on hardware
	 * and not on whoever maps the BO first (an SDMA import in the middle of a
	 * restore). Before Linux 5.14 (EINVAL) they come on first touch.
	 */
	if ((bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_VRAM) &&
	    madvise(bo->cpu, aligned, MADV_POPULATE_WRITE) != 0 && errno != EINVAL) {
		emu_daemon_aperture_release(d, bo, aligned);
		return -ENOMEM;
	}
	return 0;
}

/* Gives the BO's pages back (offsets are never reused: the hole stays). */
void emu_daemon_aperture_release(struct emu_daemon *d, struct emu_bo *bo, uint64_t aligned)
{
	if (bo->cpu)
		munmap(bo->cpu, aligned);
	bo->cpu = NULL;
	fallocate(d->aperture_fd[bo->gpu_index], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		  (off_t)bo->mmap_offset, (off_t)aligned);
}

/*
 * amdgpu_gem_prime_export: a dma-buf is a new file of its own. Here it is an
 * open file of a hard link named after the BO's place, unlinked at once, so
 * its /proc link names the BO to whoever holds it.
 */
int emu_bo_dmabuf(struct emu_daemon *d, const struct emu_bo *bo)
{
	char name[128], path[PATH_MAX + 160], node[PATH_MAX + 32];
	int fd, err;

	if (!bo->cpu || !(bo->flags & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)))
		return -EINVAL;
	err = emu_aperture_view_name(name, sizeof(name), bo->gpu_index, bo->mmap_offset, bo->size);
	if (err)
		return err;
	snprintf(node, sizeof(node), "%s/renderD%u", d->aperture_dir,
		 d->cfg.gpus[bo->gpu_index].render_minor);
	snprintf(path, sizeof(path), "%s/%s", d->aperture_dir, name);
	if (link(node, path) != 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDWR | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	unlink(path);
	return fd < 0 ? err : fd;
}

struct emu_bo *emu_bo_by_dmabuf(struct emu_daemon *d, int fd, struct emu_kproc **owner)
{
	char link[64], target[PATH_MAX];
	size_t dlen = strlen(d->aperture_dir);
	uint64_t off, size;
	unsigned int gpu;
	struct emu_kproc *p;
	struct emu_bo *bo;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return NULL;
	target[n] = '\0';
	if (strncmp(target, d->aperture_dir, dlen) != 0 || target[dlen] != '/' ||
	    !emu_aperture_parse_view(target + dlen + 1, &gpu, &off, &size))
		return NULL;
	bo = emu_bo_by_offset(d, gpu, off, &p);
	if (!bo || bo->size != size)
		return NULL;
	if (owner)
		*owner = p;
	return bo;
}

/*
 * One device VMA of @t, as the kernel's mmap handler would have judged it
 * when criu's restorer made it (emu_daemon_device_vmas_check). Returns 0 or
 * the errno that mmap would have failed with.
 */
static int emu_vma_check(struct emu_daemon *d, struct emu_kproc *t, int gpu, bool kfd,
			 uint64_t pgoff, uint64_t len, const char **why)
{
	struct emu_bo *bo;

	if (kfd) {
		uint64_t type = pgoff & EMU_KFD_MMAP_TYPE_MASK;

		/* kfd_mmap: the gpu_id in the offset is a device's (kfd_device_by_id) */
		*why = "no GPU has the offset's gpu_id (kfd_mmap: -ENODEV)";
		if (emu_daemon_gpu_by_id(d, EMU_KFD_MMAP_GET_GPU_ID(pgoff)) < 0)
			return -ENODEV;
		*why = "not a doorbell or MMIO offset (kfd_mmap: -EINVAL)";
		return type == EMU_KFD_MMAP_TYPE_DOORBELL || type == EMU_KFD_MMAP_TYPE_MMIO
			       ? 0
			       : -EINVAL;
	}
	/*
	 * drm_gem_mmap: the range lies in a BO of the device (a VMA that
	 * starts inside one is what criu saw when part of a mapping was
	 * unmapped) that this process's file may map (drm_vma_node_is_allowed).
	 */
	for (bo = t->bos; bo; bo = bo->next) {
		uint64_t aligned = (bo->size + EMU_PAGE - 1) & ~(EMU_PAGE - 1);

		if (bo->gpu_index == (unsigned int)gpu && bo->cpu && pgoff >= bo->mmap_offset &&
		    pgoff + len <= bo->mmap_offset + aligned)
			return 0;
	}
	/* The same rule for GEM objects of the process's render files (emu_daemon_gem.c). */
	if (emu_gem_range_of(d, t->pid, (unsigned int)gpu, pgoff, len))
		return 0;
	*why = "no BO of the process on that GPU has this offset (drm_gem_mmap: -EINVAL)";
	return -EINVAL;
}

/*
 * The device VMAs criu's restorer made in @t with raw mmap calls, checked
 * at RESUME as the kernel's mmap handlers check them at mmap time: on
 * hardware a mapping at a wrong offset or through another GPU's render node
 * fails the restore (or maps another BO). Here the aperture files map any
 * offset, so the rule is applied to /proc/PID/maps, before the queues start.
 */
int emu_daemon_device_vmas_check(struct emu_daemon *d, struct emu_kproc *t)
{
	unsigned long long start, end, pgoff, ino;
	unsigned int maj, min, g;
	char path[64], line[512], perms[8];
	const char *why = "";
	int err = 0, gpu;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)t->pid);
	f = fopen(path, "re");
	if (!f)
		return -ESRCH;
	while (!err && fgets(line, sizeof(line), f)) {
		bool kfd;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &start, &end, perms, &pgoff, &maj,
			   &min, &ino) != 7)
			continue;
		kfd = makedev(maj, min) == d->kfd_node_dev && ino == d->kfd_node_ino;
		gpu = -1;
		for (g = 0; g < d->cfg.num_gpus; g++)
			if (makedev(maj, min) == d->aperture_dev && ino == d->aperture_ino[g])
				gpu = (int)g;
		if (!kfd && gpu < 0)
			continue;
		err = emu_vma_check(d, t, gpu, kfd, pgoff, end - start, &why);
		if (err)
			fprintf(stderr,
				"emu-daemon: pid %d: RESUME refused: its mapping %llx-%llx of %s at "
				"offset 0x%llx would not exist on hardware: %s\n",
				(int)t->pid, start, end, kfd ? "/dev/kfd" : "a render node", pgoff,
				why);
	}
	fclose(f);
	return err;
}
