// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The emulator's own end-to-end CRIU plugin (not the product plugin): the
 * minimum a KFD checkpoint needs, with BO contents copied through CPU
 * mappings of the BOs' dma-bufs.
 *   DUMP_EXT_FILE (in criu):      PROCESS_INFO, CHECKPOINT, save, UNPAUSE;
 *                                 a render node: its minor
 *   HANDLE_DEVICE_VMA (criu):     mappings of /dev/kfd and render nodes
 *   RESTORE_EXT_FILE (in task):   open /dev/kfd and render nodes, RESTORE,
 *                                 write BO contents back; a render node: the
 *                                 one the VM came from
 *   UPDATE_VMA_MAP (in task):     restored offset, fd the kernel maps it by
 *   RESUME_DEVICES_LATE (criu):   RESUME(pid)
 * It restores onto the same GPUs only (same render minors).
 * Built with -DEMU_TEST_RESUME_EARLY=1 it also issues RESUME from
 * RESTORE_EXT_FILE, before criu has put the task's VMAs back, which the
 * emulator (as the kernel) must refuse, failing the restore.
 */
#include <criu-plugin.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kfd_ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common_io.h"

#ifndef EMU_TEST_RESUME_EARLY
#define EMU_TEST_RESUME_EARLY 0
#endif

void print_on_level(unsigned int loglevel, const char *format, ...)
	__attribute__((format(printf, 2, 3)));
#define pr_err(fmt, ...)  print_on_level(1, "emu-test-plugin: " fmt "\n", ##__VA_ARGS__)
#define pr_info(fmt, ...) print_on_level(3, "emu-test-plugin: " fmt "\n", ##__VA_ARGS__)

#define ETP_MAGIC 0x45545031u /* "ETP1" */

struct etp_header {
	uint32_t magic;
	uint32_t pid;
	uint32_t num_devices;
	uint32_t num_bos;
	uint32_t num_objects;
	uint32_t pad;
	uint64_t priv_data_size;
};

#define ETP_DRM_MAJOR 226 /* include/drm/drm.h: DRM_MAJOR */
/* Files the plugin keeps in the task sit here, above the workload's (criu restores those later). */
#define ETP_FD_BASE 900

static int etp_is_kfd(int fd)
{
	struct stat st, kst;

	if (fstat(fd, &st) != 0 || stat("/dev/kfd", &kst) != 0)
		return 0;
	return S_ISCHR(st.st_mode) && st.st_rdev == kst.st_rdev;
}

/* Render minor of a render-node fd, or -1. */
static int etp_render_fd_minor(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != ETP_DRM_MAJOR)
		return -1;
	return (int)minor(st.st_rdev);
}

/* What RESTORE gave, for UPDATE_VMA_MAP and render-node files (one task at a time). */
struct etp_remap {
	int minor; /* -1: a /dev/kfd offset */
	uint64_t old_off, new_off, size;
};
static struct {
	pid_t pid;
	int kfd;
	int drm_fd[256]; /* by render minor, the files the VMs came from */
	struct etp_remap *remaps;
	uint32_t n_remaps;
} etp_rs = { .kfd = -1 };

/* Copies len bytes between a BO's dma-buf (mapped: dma-bufs have no read/write) and a stream fd. */
static int etp_copy(int from, int to, uint64_t len, int from_is_bo)
{
	int bo = from_is_bo ? from : to;
	uint8_t *map;
	int err;

	if (!len)
		return 0;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bo, 0);
	if (map == MAP_FAILED)
		return -errno;
	if (from_is_bo)
		err = common_write_all(to, map, len, COMMON_IO_POS);
	else
		err = common_read_all(from, map, len, COMMON_IO_POS);
	munmap(map, len);
	return err;
}

static int etp_dump(int fd, int id)
{
	struct kfd_ioctl_criu_args a = { .op = KFD_CRIU_OP_PROCESS_INFO };
	struct kfd_criu_device_bucket *devs = NULL;
	struct kfd_criu_bo_bucket *bos = NULL;
	struct etp_header h = { .magic = ETP_MAGIC };
	void *priv = NULL;
	char name[64];
	uint32_t i;
	int img = -1, err;

	if (ioctl(fd, AMDKFD_IOC_CRIU_OP, &a) != 0) {
		err = -errno;
		pr_err("PROCESS_INFO failed: %s", strerror(errno));
		return err;
	}
	h.pid = a.pid;
	h.num_devices = a.num_devices;
	h.num_bos = a.num_bos;
	h.num_objects = a.num_objects;
	h.priv_data_size = a.priv_data_size;
	devs = calloc(a.num_devices + 1, sizeof(*devs));
	bos = calloc(a.num_bos + 1, sizeof(*bos));
	priv = calloc(1, a.priv_data_size + 1);
	if (!devs || !bos || !priv) {
		err = -ENOMEM;
		goto unpause;
	}
	a.op = KFD_CRIU_OP_CHECKPOINT;
	a.devices = (uint64_t)(uintptr_t)devs;
	a.bos = (uint64_t)(uintptr_t)bos;
	a.priv_data = (uint64_t)(uintptr_t)priv;
	if (ioctl(fd, AMDKFD_IOC_CRIU_OP, &a) != 0) {
		err = -errno;
		pr_err("CHECKPOINT of pid %u failed: %s", h.pid, strerror(errno));
		goto unpause;
	}
	snprintf(name, sizeof(name), "emu-kfd-%d.img", id);
	img = openat(criu_get_image_dir(), name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	err = img < 0 ? -errno : 0;
	if (!err)
		err = common_write_all(img, &h, sizeof(h), COMMON_IO_POS);
	if (!err)
		err = common_write_all(img, devs, h.num_devices * sizeof(*devs), COMMON_IO_POS);
	if (!err)
		err = common_write_all(img, bos, h.num_bos * sizeof(*bos), COMMON_IO_POS);
	if (!err)
		err = common_write_all(img, priv, h.priv_data_size, COMMON_IO_POS);
	for (i = 0; i < h.num_bos; i++) {
		if (bos[i].dmabuf_fd == KFD_INVALID_FD)
			continue;
		if (!err)
			err = etp_copy((int)bos[i].dmabuf_fd, img, bos[i].size, 1);
		close((int)bos[i].dmabuf_fd);
	}
	if (!err) {
		/* marks the pid for RESUME_DEVICES_LATE, which runs in criu */
		snprintf(name, sizeof(name), "emu-kfd-pid-%u", h.pid);
		int m = openat(criu_get_image_dir(), name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		err = m < 0 ? -errno : 0;
		if (m >= 0)
			close(m);
	}
	if (err)
		pr_err("saving KFD state of pid %u: %s", h.pid, strerror(-err));
	else
		pr_info("dumped KFD state of pid %u: %u BOs, %u objects", h.pid, h.num_bos,
			h.num_objects);
unpause:
	a.op = KFD_CRIU_OP_UNPAUSE;
	if (ioctl(fd, AMDKFD_IOC_CRIU_OP, &a) != 0)
		pr_err("UNPAUSE failed: %s", strerror(errno));
	if (img >= 0)
		close(img);
	free(devs);
	free(bos);
	free(priv);
	return err;
}

/* The render minor of the GPU with gpu_id, from the KFD topology. */
static int etp_render_minor(uint32_t gpu_id)
{
	unsigned int node;

	for (node = 0; node < 64; node++) {
		char path[128], line[128];
		unsigned int id = 0, minor = 0;
		int found = 0;
		FILE *f;

		snprintf(path, sizeof(path), "/sys/class/kfd/kfd/topology/nodes/%u/gpu_id", node);
		f = fopen(path, "r");
		if (!f)
			break;
		if (fscanf(f, "%u", &id) != 1)
			id = 0;
		fclose(f);
		if (id != gpu_id)
			continue;
		snprintf(path, sizeof(path), "/sys/class/kfd/kfd/topology/nodes/%u/properties",
			 node);
		f = fopen(path, "r");
		if (!f)
			return -ENOENT;
		while (!found && fgets(line, sizeof(line), f))
			found = sscanf(line, "drm_render_minor %u", &minor) == 1;
		fclose(f);
		return found ? (int)minor : -ENOENT;
	}
	return -ENOENT;
}

static void etp_state_for_task(void)
{
	if (etp_rs.pid == getpid())
		return;
	free(etp_rs.remaps);
	etp_rs.remaps = NULL;
	etp_rs.n_remaps = 0;
	etp_rs.kfd = -1;
	for (int m = 0; m < 256; m++)
		etp_rs.drm_fd[m] = -1;
	etp_rs.pid = getpid();
}

/* The task's file of render node @minor, opened once: the VM comes from it, mappings go through it.
 */
static int etp_drm_fd(int minor)
{
	char name[64];

	etp_state_for_task();
	if (minor < 0 || minor > 255)
		return -EINVAL;
	if (etp_rs.drm_fd[minor] < 0) {
		int fd;

		snprintf(name, sizeof(name), "/dev/dri/renderD%d", minor);
		fd = open(name, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		etp_rs.drm_fd[minor] = fcntl(fd, F_DUPFD_CLOEXEC, ETP_FD_BASE);
		close(fd);
		if (etp_rs.drm_fd[minor] < 0)
			return -errno;
	}
	return etp_rs.drm_fd[minor];
}

/* Old and restored offsets of every BO, by device, for UPDATE_VMA_MAP. */
static int etp_remember(int kfd, const struct kfd_criu_device_bucket *devs, uint32_t ndevs,
			const struct kfd_criu_bo_bucket *bos, uint32_t nbos)
{
	etp_state_for_task();
	etp_rs.kfd = fcntl(kfd, F_DUPFD_CLOEXEC, ETP_FD_BASE);
	etp_rs.remaps = calloc(nbos + 1, sizeof(*etp_rs.remaps));
	if (etp_rs.kfd < 0 || !etp_rs.remaps)
		return -ENOMEM;
	for (uint32_t i = 0; i < nbos; i++) {
		struct etp_remap *r = &etp_rs.remaps[etp_rs.n_remaps++];

		r->minor = -1;
		if (bos[i].alloc_flags &
		    (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)) {
			for (uint32_t k = 0; k < ndevs; k++)
				if (devs[k].user_gpu_id == bos[i].gpu_id)
					r->minor = etp_render_minor(devs[k].actual_gpu_id);
			if (r->minor < 0)
				return -ENOENT;
		}
		r->old_off = bos[i].offset;
		r->new_off = bos[i].restored_offset;
		r->size = (bos[i].size + 4095) & ~4095ULL;
	}
	return 0;
}

/* A render-node file: the task's file of that node, which the VM came from. */
static int etp_restore_render(int id)
{
	char name[64];
	int img, minor = -1, fd;

	snprintf(name, sizeof(name), "emu-render-%d.img", id);
	img = openat(criu_get_image_dir(), name, O_RDONLY | O_CLOEXEC);
	if (img < 0)
		return -ENOTSUP; /* not ours */
	if (common_read_all(img, &minor, sizeof(minor), COMMON_IO_POS))
		minor = -1;
	close(img);
	fd = etp_drm_fd(minor);
	if (fd < 0)
		return fd;
	fd = fcntl(fd, F_DUPFD, 0);
	return fd < 0 ? -errno : fd;
}

static int etp_dump_render(int fd, int id)
{
	char name[64];
	int img, minor = etp_render_fd_minor(fd), err;

	snprintf(name, sizeof(name), "emu-render-%d.img", id);
	img = openat(criu_get_image_dir(), name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (img < 0)
		return -errno;
	err = common_write_all(img, &minor, sizeof(minor), COMMON_IO_POS);
	close(img);
	return err;
}

static int etp_handle_device_vma(int fd, const struct stat *st)
{
	struct stat kst;

	if (S_ISCHR(st->st_mode) && major(st->st_rdev) == ETP_DRM_MAJOR)
		return 0;
	if (S_ISCHR(st->st_mode) && stat("/dev/kfd", &kst) == 0 && st->st_rdev == kst.st_rdev)
		return 0;
	return -ENOTSUP;
}

/* criu's open_filemap takes new_pgoff only when this returns 1, and maps through *plugin_fd. */
static int etp_update_vma_map(const char *path, const uint64_t addr, const uint64_t old_pgoff,
			      uint64_t *new_pgoff, int *plugin_fd)
{
	int minor = -1, n = 0;

	if (strcmp(path, "/dev/kfd") != 0 &&
	    !(sscanf(path, "/dev/dri/renderD%d%n", &minor, &n) == 1 && path[n] == '\0'))
		return -ENOTSUP;
	for (uint32_t i = 0; i < etp_rs.n_remaps; i++) {
		const struct etp_remap *r = &etp_rs.remaps[i];
		int fd = minor < 0 ? etp_rs.kfd : etp_rs.drm_fd[minor];

		if (r->minor != minor || old_pgoff < r->old_off ||
		    old_pgoff - r->old_off >= (minor < 0 ? 1 : r->size))
			continue;
		*new_pgoff = r->new_off + (old_pgoff - r->old_off);
		*plugin_fd = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (*plugin_fd < 0)
			return -EBADF;
		return 1;
	}
	pr_err("no restored BO for the mapping at 0x%llx of %s, offset 0x%llx",
	       (unsigned long long)addr, path, (unsigned long long)old_pgoff);
	return -ENOENT;
}

static int etp_restore(int id)
{
	struct kfd_ioctl_criu_args a = { .op = KFD_CRIU_OP_RESTORE };
	struct kfd_criu_device_bucket *devs = NULL;
	struct kfd_criu_bo_bucket *bos = NULL;
	struct etp_header h;
	void *priv = NULL;
	int img, kfd = -1, err;
	char name[64];
	uint32_t i;

	snprintf(name, sizeof(name), "emu-kfd-%d.img", id);
	img = openat(criu_get_image_dir(), name, O_RDONLY | O_CLOEXEC);
	if (img < 0)
		return etp_restore_render(id);
	err = common_read_all(img, &h, sizeof(h), COMMON_IO_POS);
	if (!err && (h.magic != ETP_MAGIC || h.num_devices > 16))
		err = -EINVAL;
	if (err)
		goto out;
	devs = calloc(h.num_devices + 1, sizeof(*devs));
	bos = calloc(h.num_bos + 1, sizeof(*bos));
	priv = calloc(1, h.priv_data_size + 1);
	if (!devs || !bos || !priv) {
		err = -ENOMEM;
		goto out;
	}
	err = common_read_all(img, devs, h.num_devices * sizeof(*devs), COMMON_IO_POS);
	if (!err)
		err = common_read_all(img, bos, h.num_bos * sizeof(*bos), COMMON_IO_POS);
	if (!err)
		err = common_read_all(img, priv, h.priv_data_size, COMMON_IO_POS);
	if (err)
		goto out;
	kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	if (kfd < 0) {
		err = -errno;
		pr_err("open /dev/kfd: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < h.num_devices; i++) {
		int minor = etp_render_minor(devs[i].actual_gpu_id);

		if (minor < 0) {
			err = minor;
			pr_err("no render node for gpu 0x%x", devs[i].actual_gpu_id);
			goto out;
		}
		err = etp_drm_fd(minor);
		if (err < 0)
			goto out;
		devs[i].drm_fd = (uint32_t)err;
		err = 0;
	}
	a.devices = (uint64_t)(uintptr_t)devs;
	a.bos = (uint64_t)(uintptr_t)bos;
	a.priv_data = (uint64_t)(uintptr_t)priv;
	a.priv_data_size = h.priv_data_size;
	a.num_devices = h.num_devices;
	a.num_bos = h.num_bos;
	a.num_objects = h.num_objects;
	if (ioctl(kfd, AMDKFD_IOC_CRIU_OP, &a) != 0) {
		err = -errno;
		pr_err("RESTORE failed: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < h.num_bos; i++) {
		if (bos[i].dmabuf_fd == KFD_INVALID_FD)
			continue;
		if (!err)
			err = etp_copy(img, (int)bos[i].dmabuf_fd, bos[i].size, 0);
		close((int)bos[i].dmabuf_fd);
	}
	if (!err)
		err = etp_remember(kfd, devs, h.num_devices, bos, h.num_bos);
	if (err)
		goto out;
	if (EMU_TEST_RESUME_EARLY) {
		struct kfd_ioctl_criu_args r = { .op = KFD_CRIU_OP_RESUME,
						 .pid = (uint32_t)getpid() };

		if (ioctl(kfd, AMDKFD_IOC_CRIU_OP, &r) != 0) {
			err = -errno;
			pr_err("early RESUME of pid %d refused: %s", (int)getpid(),
			       strerror(errno));
			goto out;
		}
		pr_info("early RESUME of pid %d accepted", (int)getpid());
	}
	pr_info("restored KFD state of pid %d: %u BOs", (int)getpid(), h.num_bos);
out:
	close(img);
	free(devs);
	free(bos);
	free(priv);
	if (err) {
		if (kfd >= 0)
			close(kfd);
		return err;
	}
	return kfd;
}

static int etp_resume_late(int pid)
{
	struct kfd_ioctl_criu_args a = { .op = KFD_CRIU_OP_RESUME, .pid = (uint32_t)pid };
	char name[64];
	int kfd, err = 0;

	snprintf(name, sizeof(name), "emu-kfd-pid-%d", pid);
	if (faccessat(criu_get_image_dir(), name, F_OK, 0) != 0)
		return 0;
	kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	if (kfd < 0)
		return -errno;
	if (ioctl(kfd, AMDKFD_IOC_CRIU_OP, &a) != 0) {
		err = -errno;
		pr_err("RESUME of pid %d failed: %s", pid, strerror(errno));
	} else {
		pr_info("resumed pid %d", pid);
	}
	close(kfd);
	return err;
}

static int etp_dump_file(int fd, int id)
{
	if (etp_is_kfd(fd))
		return etp_dump(fd, id);
	return etp_render_fd_minor(fd) >= 0 ? etp_dump_render(fd, id) : -ENOTSUP;
}

static int etp_init(int stage)
{
	pr_info("initialised (resume %s)", EMU_TEST_RESUME_EARLY ? "early" : "late");
	return 0;
}

static void etp_exit(int stage, int ret)
{
}

#pragma GCC visibility push(default)
CR_PLUGIN_REGISTER("emu-test", etp_init, etp_exit)
#pragma GCC visibility pop
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__DUMP_EXT_FILE, etp_dump_file)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESTORE_EXT_FILE, etp_restore)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__HANDLE_DEVICE_VMA, etp_handle_device_vma)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__UPDATE_VMA_MAP, etp_update_vma_map)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESUME_DEVICES_LATE, etp_resume_late)
