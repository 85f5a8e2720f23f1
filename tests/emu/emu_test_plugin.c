// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The emulator's own end-to-end CRIU plugin (not the product plugin): the
 * minimum a KFD checkpoint needs, with BO contents copied by reading and
 * writing the emulator's dmabuf memfds directly.
 *   DUMP_EXT_FILE (in criu):      PROCESS_INFO, CHECKPOINT, save, UNPAUSE
 *   RESTORE_EXT_FILE (in task):   open /dev/kfd and render nodes, RESTORE,
 *                                 write BO contents back
 *   RESUME_DEVICES_LATE (criu):   RESUME(pid)
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
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

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

static int etp_is_kfd(int fd)
{
	struct stat st, kst;

	if (fstat(fd, &st) != 0 || stat("/dev/kfd", &kst) != 0)
		return 0;
	return S_ISCHR(st.st_mode) && st.st_rdev == kst.st_rdev;
}

static int etp_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int etp_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies len bytes between an fd (at offset 0) and a stream fd. */
static int etp_copy(int from, int to, uint64_t len, int from_is_bo)
{
	static char buf[1 << 20];
	uint64_t off = 0;
	int err = 0;

	while (!err && off < len) {
		size_t n = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);

		if (from_is_bo) {
			err = pread(from, buf, n, (off_t)off) == (ssize_t)n ? 0 : -EIO;
			if (!err)
				err = etp_write_all(to, buf, n);
		} else {
			err = etp_read_all(from, buf, n);
			if (!err)
				err = pwrite(to, buf, n, (off_t)off) == (ssize_t)n ? 0 : -EIO;
		}
		off += n;
	}
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
		err = etp_write_all(img, &h, sizeof(h));
	if (!err)
		err = etp_write_all(img, devs, h.num_devices * sizeof(*devs));
	if (!err)
		err = etp_write_all(img, bos, h.num_bos * sizeof(*bos));
	if (!err)
		err = etp_write_all(img, priv, h.priv_data_size);
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

static int etp_restore(int id)
{
	struct kfd_ioctl_criu_args a = { .op = KFD_CRIU_OP_RESTORE };
	struct kfd_criu_device_bucket *devs = NULL;
	struct kfd_criu_bo_bucket *bos = NULL;
	struct etp_header h;
	void *priv = NULL;
	int drm[16], ndrm = 0, img, kfd = -1, err;
	char name[64];
	uint32_t i;

	snprintf(name, sizeof(name), "emu-kfd-%d.img", id);
	img = openat(criu_get_image_dir(), name, O_RDONLY | O_CLOEXEC);
	if (img < 0)
		return -ENOTSUP; /* not ours */
	err = etp_read_all(img, &h, sizeof(h));
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
	err = etp_read_all(img, devs, h.num_devices * sizeof(*devs));
	if (!err)
		err = etp_read_all(img, bos, h.num_bos * sizeof(*bos));
	if (!err)
		err = etp_read_all(img, priv, h.priv_data_size);
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
		snprintf(name, sizeof(name), "/dev/dri/renderD%d", minor);
		drm[ndrm] = open(name, O_RDWR | O_CLOEXEC);
		if (drm[ndrm] < 0) {
			err = -errno;
			goto out;
		}
		devs[i].drm_fd = (uint32_t)drm[ndrm++];
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
	while (ndrm)
		close(drm[--ndrm]);
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
	return etp_is_kfd(fd) ? etp_dump(fd, id) : -ENOTSUP;
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
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESUME_DEVICES_LATE, etp_resume_late)
