/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Emulated amdgpu render nodes: the entry points the shim core calls (emu_drm_render_ops),
 * the table of open files, the per-process devices and ioctl dispatch.
 *
 * Per-open-file state is keyed by the open file description, as the kernel's struct
 * drm_file is: libdrm_amdgpu's amdgpu_device_initialize() works on an fcntl(F_DUPFD_CLOEXEC)
 * copy of the caller's fd, so every fd that kcmp(KCMP_FILE) finds equal to a known one is an
 * alias of the same file, and the file lives until its last alias is closed.
 */
#include "emu_drm_internal.h"
#include "emu_devops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <drm.h>

#include "common_drm_criu.h"
#include "emu_gem_wire.h"

struct emu_drm_fdent {
	int fd;
	struct emu_drm_file *file;
};

/* Process-wide state. emu_drm_fds_lock guards the fd table, file reference counts, the
 * configuration and device initialisation. */
static pthread_mutex_t emu_drm_fds_lock = PTHREAD_MUTEX_INITIALIZER;
/* Held (read) by whoever uses an fd of the table for I/O (emu_drm_file_fd_get,
 * emu_drm_gpu_fd_get); close() of a render fd takes it (write) once its entry is gone, so it
 * waits for accesses in progress and no access reaches a number that was closed and reused. */
static pthread_rwlock_t emu_drm_fds_io_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct emu_drm_fdent *emu_drm_fds;
static size_t emu_drm_nfds, emu_drm_fds_cap;
static bool emu_drm_have_config;
static struct emu_config emu_drm_config;
static struct emu_drm_dev emu_drm_devs[EMU_MAX_GPUS];
static __thread int emu_drm_cur_fd = -1;

int emu_drm_current_fd(void)
{
	return emu_drm_cur_fd;
}

bool emu_drm_gem_criu_enabled(void)
{
	/* Loaded with the first device (emu_drm_dev_init_locked), before any ioctl runs. */
	return emu_drm_have_config && emu_drm_config.drm_gem_criu;
}

void emu_drm_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "vramstream-emu: drm: ");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(buf);
	buf[n++] = '\n';
	/* One write, so lines of concurrent threads do not interleave. */
	if (write(STDERR_FILENO, buf, n) < 0)
		return;
}

static bool emu_drm_debug(void)
{
	static int debug = -1;

	if (debug < 0) {
		const char *v = getenv("VRAMSTREAM_EMU_DEBUG");

		debug = v && *v && strcmp(v, "0") != 0;
	}
	return debug;
}

static void emu_drm_atfork_child(void)
{
	/* The child has none of the parent's threads: forget the engine threads (jobs in
	 * flight at fork() do not complete in the child, which has its own copy of the VM). */
	pthread_mutex_init(&emu_drm_fds_lock, NULL);
	pthread_rwlock_init(&emu_drm_fds_io_lock, NULL);
	for (unsigned int i = 0; i < EMU_MAX_GPUS; i++)
		for (unsigned int r = 0; r < emu_drm_devs[i].num_rings; r++)
			emu_sdma_ring_forget_thread(&emu_drm_devs[i].rings[r]);
}

/* Under emu_drm_fds_lock. */
static int emu_drm_dev_init_locked(unsigned int gpu)
{
	struct emu_drm_dev *dev = &emu_drm_devs[gpu];
	static bool atfork_done;

	if (dev->ready)
		return 0;
	if (!emu_drm_have_config) {
		const char *dir = getenv("VRAMSTREAM_EMU_DIR");
		int err;

		if (!dir) {
			emu_drm_log("no emulator configuration (VRAMSTREAM_EMU_DIR unset)");
			return -ENODEV;
		}
		err = emu_config_load(dir, &emu_drm_config);
		if (err) {
			emu_drm_log("cannot load %s/config: %s", dir, strerror(-err));
			return -ENODEV;
		}
		emu_drm_have_config = true;
	}
	if (gpu >= emu_drm_config.num_gpus) {
		emu_drm_log("render node of GPU %u, but the machine has %u GPUs", gpu,
			    emu_drm_config.num_gpus);
		return -ENODEV;
	}
	dev->index = gpu;
	dev->cfg = emu_drm_config.gpus[gpu];
	dev->num_rings = dev->cfg.num_sdma_engines;
	if (dev->num_rings == 0 || dev->num_rings > EMU_DRM_MAX_SDMA) {
		emu_drm_log("GPU %u: %u SDMA engines configured, emulating %u", gpu, dev->num_rings,
			    dev->num_rings ? EMU_DRM_MAX_SDMA : 1u);
		dev->num_rings = dev->num_rings ? EMU_DRM_MAX_SDMA : 1;
	}
	for (unsigned int r = 0; r < dev->num_rings; r++)
		emu_sdma_ring_init(&dev->rings[r], r, dev->cfg.sdma_bytes_per_sec);
	if (!atfork_done) {
		pthread_atfork(NULL, NULL, emu_drm_atfork_child);
		atfork_done = true;
	}
	dev->ready = true;
	return 0;
}

static int emu_drm_kcmp_file(int fd1, int fd2)
{
	pid_t pid = getpid();

	return (int)syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd1, fd2);
}

static struct emu_drm_file *emu_drm_file_new(unsigned int gpu)
{
	struct emu_drm_file *file = calloc(1, sizeof(*file));
	pthread_condattr_t ca;

	if (!file)
		return NULL;
	file->gpu = gpu;
	file->dev = &emu_drm_devs[gpu];
	pthread_mutex_init(&file->lock, NULL);
	/* Fence waits take absolute CLOCK_MONOTONIC deadlines (amdgpu_gem_timeout). */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&file->cond, &ca);
	pthread_condattr_destroy(&ca);
	{
		/* Engine threads hold the VM packet by packet; a VA change must not starve. */
		pthread_rwlockattr_t ra;

		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&file->vm_lock, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	return file;
}

static void emu_drm_file_free(struct emu_drm_file *file)
{
	emu_drm_cs_file_fini(file);
	emu_drm_gem_file_fini(file);
	pthread_rwlock_destroy(&file->vm_lock);
	pthread_cond_destroy(&file->cond);
	pthread_mutex_destroy(&file->lock);
	free(file);
}

void emu_drm_file_ref(struct emu_drm_file *file)
{
	pthread_mutex_lock(&emu_drm_fds_lock);
	file->refs++;
	pthread_mutex_unlock(&emu_drm_fds_lock);
}

void emu_drm_file_put(struct emu_drm_file *file)
{
	bool last;

	pthread_mutex_lock(&emu_drm_fds_lock);
	last = --file->refs == 0;
	pthread_mutex_unlock(&emu_drm_fds_lock);
	if (last)
		emu_drm_file_free(file);
}

/* Under emu_drm_fds_lock. */
static int emu_drm_fds_add(int fd, struct emu_drm_file *file)
{
	if (emu_drm_nfds == emu_drm_fds_cap) {
		size_t cap = emu_drm_fds_cap ? emu_drm_fds_cap * 2 : 16;
		struct emu_drm_fdent *n = realloc(emu_drm_fds, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		emu_drm_fds = n;
		emu_drm_fds_cap = cap;
	}
	emu_drm_fds[emu_drm_nfds++] = (struct emu_drm_fdent){ fd, file };
	file->refs++;
	return 0;
}

/* Under emu_drm_fds_lock. */
static bool emu_drm_fds_has(const struct emu_drm_file *file)
{
	for (size_t i = 0; i < emu_drm_nfds; i++)
		if (emu_drm_fds[i].file == file)
			return true;
	return false;
}

int emu_drm_file_fd_get(struct emu_drm_file *file, int hint)
{
	int fd = -EBADF;

	pthread_mutex_lock(&emu_drm_fds_lock);
	for (size_t i = 0; i < emu_drm_nfds && fd < 0; i++)
		if (emu_drm_fds[i].fd == hint && emu_drm_fds[i].file == file)
			fd = hint;
	for (size_t i = 0; i < emu_drm_nfds && fd < 0; i++)
		if (emu_drm_fds[i].file == file)
			fd = emu_drm_fds[i].fd;
	if (fd >= 0)
		pthread_rwlock_rdlock(&emu_drm_fds_io_lock);
	pthread_mutex_unlock(&emu_drm_fds_lock);
	return fd;
}

int emu_drm_gpu_fd_get(unsigned int gpu)
{
	int fd = -EBADF;

	pthread_mutex_lock(&emu_drm_fds_lock);
	for (size_t i = 0; i < emu_drm_nfds && fd < 0; i++)
		if (emu_drm_fds[i].file->gpu == gpu)
			fd = emu_drm_fds[i].fd;
	if (fd >= 0)
		pthread_rwlock_rdlock(&emu_drm_fds_io_lock);
	pthread_mutex_unlock(&emu_drm_fds_lock);
	return fd;
}

void emu_drm_file_fd_put(void)
{
	pthread_rwlock_unlock(&emu_drm_fds_io_lock);
}

/* Under emu_drm_fds_lock. */
static void emu_drm_fds_del(size_t i)
{
	struct emu_drm_file *file = emu_drm_fds[i].file;

	emu_drm_fds[i] = emu_drm_fds[--emu_drm_nfds];
	file->refs--; /* the caller holds a reference too, so this is never the last */
}

/* The file @fd refers to, with a reference; created on first use. */
static int emu_drm_file_get(int fd, unsigned int gpu, struct emu_drm_file **out)
{
	struct emu_drm_file *file = NULL;
	int err;

	pthread_mutex_lock(&emu_drm_fds_lock);
	err = emu_drm_dev_init_locked(gpu);
	if (err)
		goto out;
	for (size_t i = 0; i < emu_drm_nfds; i++) {
		if (emu_drm_fds[i].fd == fd) {
			file = emu_drm_fds[i].file;
			if (file->gpu == gpu)
				goto found;
			/* A stale entry: the fd was closed behind our back and reused. */
			file->refs++;
			emu_drm_fds_del(i);
			pthread_mutex_unlock(&emu_drm_fds_lock);
			emu_drm_file_put(file);
			pthread_mutex_lock(&emu_drm_fds_lock);
			file = NULL;
			break;
		}
	}
	/* An alias (dup, fcntl F_DUPFD, inherited) of a file we know? */
	for (size_t i = 0; i < emu_drm_nfds; i++) {
		if (emu_drm_fds[i].file->gpu == gpu &&
		    emu_drm_kcmp_file(fd, emu_drm_fds[i].fd) == 0) {
			file = emu_drm_fds[i].file;
			err = emu_drm_fds_add(fd, file);
			if (err)
				goto out;
			goto found;
		}
	}
	file = emu_drm_file_new(gpu);
	if (!file) {
		err = -ENOMEM;
		goto out;
	}
	err = emu_drm_fds_add(fd, file);
	if (err) {
		emu_drm_file_free(file);
		goto out;
	}
found:
	file->refs++;
	*out = file;
out:
	pthread_mutex_unlock(&emu_drm_fds_lock);
	return err;
}

/*
 * close() of a render-node fd, before the real close: drop the alias; when it was the last
 * one we know of, look for aliases made behind our back (dup2, fds inherited) before the
 * file's state goes, as the kernel frees a drm_file only on the last close.
 */
static void emu_drm_close(int fd)
{
	struct emu_drm_file *file = NULL;
	unsigned int file_gpu;
	bool others = false;
	DIR *d;

	pthread_mutex_lock(&emu_drm_fds_lock);
	for (size_t i = 0; i < emu_drm_nfds; i++) {
		if (emu_drm_fds[i].fd == fd) {
			file = emu_drm_fds[i].file;
			file->refs++;
			emu_drm_fds_del(i);
			break;
		}
	}
	/* Accesses through @fd in progress end before the real close (none can start now). */
	if (file) {
		pthread_rwlock_wrlock(&emu_drm_fds_io_lock);
		pthread_rwlock_unlock(&emu_drm_fds_io_lock);
	}
	if (!file) {
		pthread_mutex_unlock(&emu_drm_fds_lock);
		return;
	}
	file_gpu = file->gpu;
	for (size_t i = 0; i < emu_drm_nfds; i++)
		if (emu_drm_fds[i].file == file)
			others = true;
	/* The last close of a file this process made objects in: they go (drm_release), unless
	 * a KFD process keeps the file (kfd_chardev.c: kfd_ioctl_acquire_vm, fget(drm_fd)), in
	 * which case the daemon keeps them until it goes (emu_daemon_gem.c). A process that
	 * only received the file (criu) never made any, and leaves them. */
	if (!others && (d = opendir("/proc/self/fd"))) {
		struct dirent *de;

		while ((de = readdir(d))) {
			int other = atoi(de->d_name);

			if (de->d_name[0] == '.' || other == fd || other == dirfd(d))
				continue;
			if (emu_drm_kcmp_file(fd, other) == 0 && emu_drm_fds_add(other, file) == 0)
				break;
		}
		closedir(d);
	}
	others = others || emu_drm_fds_has(file);
	pthread_mutex_unlock(&emu_drm_fds_lock);
	if (!others && file->gem_registered)
		emu_drm_gem_daemon(file, fd, EMU_GEM_FILE_CLOSE, 0, NULL, 0, NULL, 0, NULL);
	emu_drm_file_put(file);
	/* Join engine threads that have finished, so none outlives the last close. */
	for (unsigned int r = 0; r < emu_drm_devs[file_gpu].num_rings; r++)
		emu_sdma_ring_reap(&emu_drm_devs[file_gpu].rings[r]);
}

int emu_drm_uread(void *dst, uint64_t uptr, size_t len)
{
	struct iovec local = { dst, len }, remote = { (void *)(uintptr_t)uptr, len };
	ssize_t n;

	if (!len)
		return 0;
	if (!uptr)
		return -EFAULT;
	/* copy_from_user: a bad pointer gives -EFAULT, not a crash. */
	n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
		memcpy(dst, (void *)(uintptr_t)uptr, len);
		return 0;
	}
	return -EFAULT;
}

int emu_drm_uwrite(uint64_t uptr, const void *src, size_t len)
{
	struct iovec local = { (void *)src, len }, remote = { (void *)(uintptr_t)uptr, len };
	ssize_t n;

	if (!len)
		return 0;
	if (!uptr)
		return -EFAULT;
	n = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
		memcpy((void *)(uintptr_t)uptr, src, len);
		return 0;
	}
	return -EFAULT;
}

typedef int (*emu_drm_ioctl_fn)(struct emu_drm_file *file, void *arg);

static int emu_drm_set_client_cap(struct emu_drm_file *file, void *arg)
{
	/* drm_setclientcap: the caps concern KMS (stereo, atomic, ...) on primary nodes. */
	return -EINVAL;
}

struct emu_drm_ioctl_desc {
	unsigned int nr;
	const char *name;
	emu_drm_ioctl_fn fn;
};

/* The DRM core ioctls a render node answers here (drm_ioctl.c drm_ioctls[]). */
static const struct emu_drm_ioctl_desc emu_drm_core_ioctls[] = {
	{ _IOC_NR(DRM_IOCTL_VERSION), "VERSION", emu_drm_version },
	{ _IOC_NR(DRM_IOCTL_GET_CAP), "GET_CAP", emu_drm_get_cap },
	{ _IOC_NR(DRM_IOCTL_SET_CLIENT_CAP), "SET_CLIENT_CAP", emu_drm_set_client_cap },
	{ _IOC_NR(DRM_IOCTL_GEM_CLOSE), "GEM_CLOSE", emu_drm_gem_close },
	{ _IOC_NR(DRM_IOCTL_PRIME_HANDLE_TO_FD), "PRIME_HANDLE_TO_FD", emu_drm_prime_handle_to_fd },
	{ _IOC_NR(DRM_IOCTL_PRIME_FD_TO_HANDLE), "PRIME_FD_TO_HANDLE", emu_drm_prime_fd_to_handle },
	{ _IOC_NR(COMMON_DRM_IOCTL_GEM_CHANGE_HANDLE), "GEM_CHANGE_HANDLE",
	  emu_drm_gem_change_handle },
};

static int emu_drm_vm_ioctl(struct emu_drm_file *file, void *arg)
{
	union drm_amdgpu_vm *vm = arg;

	/* amdgpu_vm_ioctl: reserving a VMID only changes how the hardware flushes. */
	switch (vm->in.op) {
	case AMDGPU_VM_OP_RESERVE_VMID:
	case AMDGPU_VM_OP_UNRESERVE_VMID:
		memset(vm, 0, sizeof(*vm));
		return 0;
	default:
		return -EINVAL;
	}
}

/* amdgpu_drv.c amdgpu_ioctls_kms[], by DRM_AMDGPU_* number. */
static const struct emu_drm_ioctl_desc emu_drm_amdgpu_ioctls[] = {
	{ DRM_AMDGPU_GEM_CREATE, "GEM_CREATE", emu_drm_gem_create },
	{ DRM_AMDGPU_GEM_MMAP, "GEM_MMAP", emu_drm_gem_mmap },
	{ DRM_AMDGPU_CTX, "CTX", emu_drm_ctx_ioctl },
	{ DRM_AMDGPU_BO_LIST, "BO_LIST", emu_drm_bo_list_ioctl },
	{ DRM_AMDGPU_CS, "CS", emu_drm_cs },
	{ DRM_AMDGPU_INFO, "INFO", emu_drm_info },
	{ DRM_AMDGPU_GEM_METADATA, "GEM_METADATA", emu_drm_gem_metadata },
	{ DRM_AMDGPU_GEM_WAIT_IDLE, "GEM_WAIT_IDLE", emu_drm_gem_wait_idle },
	{ DRM_AMDGPU_GEM_VA, "GEM_VA", emu_drm_gem_va },
	{ DRM_AMDGPU_WAIT_CS, "WAIT_CS", emu_drm_wait_cs },
	{ DRM_AMDGPU_GEM_OP, "GEM_OP", emu_drm_gem_op },
	{ DRM_AMDGPU_GEM_USERPTR, "GEM_USERPTR", emu_drm_gem_userptr },
	{ DRM_AMDGPU_WAIT_FENCES, "WAIT_FENCES", emu_drm_wait_fences },
	{ DRM_AMDGPU_VM, "VM", emu_drm_vm_ioctl },
	{ COMMON_DRM_AMDGPU_GEM_LIST_HANDLES, "GEM_LIST_HANDLES", emu_drm_gem_list_handles },
};

static const struct emu_drm_ioctl_desc *emu_drm_ioctl_find(unsigned int nr)
{
	const struct emu_drm_ioctl_desc *t = emu_drm_core_ioctls;
	size_t n = sizeof(emu_drm_core_ioctls) / sizeof(emu_drm_core_ioctls[0]);

	/* drm_ioctl(): driver ioctls start at DRM_COMMAND_BASE. */
	if (nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END) {
		t = emu_drm_amdgpu_ioctls;
		n = sizeof(emu_drm_amdgpu_ioctls) / sizeof(emu_drm_amdgpu_ioctls[0]);
		nr -= DRM_COMMAND_BASE;
	}
	for (size_t i = 0; i < n; i++)
		if (t[i].nr == nr)
			return &t[i];
	return NULL;
}

static int emu_drm_ioctl(int fd, unsigned int gpu, unsigned long request, void *arg)
{
	unsigned int nr = _IOC_NR(request), dir = _IOC_DIR(request), size = _IOC_SIZE(request);
	uint64_t kbuf[64]; /* largest argument: drm_amdgpu_gem_metadata, 288 bytes */
	const struct emu_drm_ioctl_desc *desc;
	struct emu_drm_file *file;
	bool called = false;
	int err;

	/* drm_ioctl(): DRM ioctls are type 'd'. */
	if (_IOC_TYPE(request) != DRM_IOCTL_BASE)
		return -ENOTTY;
	desc = emu_drm_ioctl_find(nr);
	if (!desc) {
		emu_drm_log("ioctl 0x%lx (nr 0x%x) is not emulated", request, nr);
		return -EINVAL;
	}
	if (size > sizeof(kbuf))
		return -EINVAL;
	err = emu_drm_file_get(fd, gpu, &file);
	if (err)
		return err;
	/* drm_ioctl copies the argument in and out, zero-filling what the caller's (older)
	 * struct lacks. */
	memset(kbuf, 0, sizeof(kbuf));
	if ((dir & _IOC_WRITE) && size)
		err = emu_drm_uread(kbuf, (uintptr_t)arg, size);
	if (!err) {
		called = true;
		emu_drm_cur_fd = fd;
		err = desc->fn(file, kbuf);
		emu_drm_cur_fd = -1;
	}
	/* drm_ioctl copies the argument back whatever the handler returned. */
	if (called && (dir & _IOC_READ) && size) {
		int werr = emu_drm_uwrite((uintptr_t)arg, kbuf, size);

		if (werr)
			err = werr;
	}
	emu_drm_file_put(file);
	/* VRAMSTREAM_EMU_DEBUG=1 names every failing ioctl (the kernel's DRM_DEBUG). */
	if (err < 0 && emu_drm_debug())
		emu_drm_log("GPU %u fd %d %s: %s", gpu, fd, desc->name, strerror(-err));
	return err;
}

static void *emu_drm_mmap(int fd, unsigned int gpu, void *addr, size_t len, int prot, int flags,
			  off_t offset)
{
	struct emu_drm_file *file;
	void *p;
	int err;

	err = emu_drm_file_get(fd, gpu, &file);
	if (err) {
		errno = -err;
		return MAP_FAILED;
	}
	emu_drm_cur_fd = fd;
	p = emu_drm_gem_mmap_fd(file, fd, addr, len, prot, flags, offset);
	emu_drm_cur_fd = -1;
	emu_drm_file_put(file);
	return p;
}

const struct emu_dev_ops emu_drm_render_ops = {
	.name = "amdgpu render node",
	.ioctl = emu_drm_ioctl,
	.mmap = emu_drm_mmap,
	.close = emu_drm_close,
};
