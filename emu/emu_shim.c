// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The shim's interposition core (LD_PRELOAD). Under the emulator
 * ($VRAMSTREAM_EMU_DIR set), it makes the AMD device paths exist for the
 * process by redirecting them into the daemon's fake root
 * ($VRAMSTREAM_EMU_DIR/root), reports the emulated device numbers from the
 * stat family, and hands ioctl/mmap/close of emulated fds to the device
 * classes (emu_devops.h). Everything else goes straight to the kernel.
 *
 * Emulated fds are recognised by their /proc/self/fd link, so fds received
 * from another process (criu receives the workload's) work the same.
 *
 * The "real" operations are raw system calls, not dlsym(RTLD_NEXT) lookups,
 * so the shim works the same under glibc 2.36 (Debian 12, where it is built)
 * and 2.41 (the criu userland), and before libc is fully initialised;
 * only fopen/opendir/realpath, which are library functions, use RTLD_NEXT.
 */
#undef _FILE_OFFSET_BITS
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "emu_aperture.h"
#include "emu_devops.h"
#include "emu_shim.h"
#include "emu_shim_access.h"

#define EMU_EXPORT __attribute__((visibility("default")))

/* The render-node class may be absent from a build: a weak reference. */
#pragma weak emu_drm_render_ops

/* ioctl type bytes: 'K' (kfd_ioctl.h: AMDKFD_IOCTL_BASE), 'd' (drm.h: DRM_IOCTL_BASE). */
#define EMU_KFD_IOCTL_TYPE 'K'
#define EMU_DRM_IOCTL_TYPE 'd'

static pthread_once_t emu_shim_root_once = PTHREAD_ONCE_INIT;
static char emu_shim_root_path[PATH_MAX];
static size_t emu_shim_root_len;

static pthread_once_t emu_shim_cfg_once = PTHREAD_ONCE_INIT;
static struct emu_config emu_shim_cfg;
static int emu_shim_cfg_ok;

static void emu_shim_root_init(void)
{
	const char *dir = getenv("VRAMSTREAM_EMU_DIR");
	int n;

	if (!dir || dir[0] != '/')
		return;
	n = snprintf(emu_shim_root_path, sizeof(emu_shim_root_path), "%s/root", dir);
	if (n > 0 && (size_t)n < sizeof(emu_shim_root_path) - 64)
		emu_shim_root_len = (size_t)n;
}

const char *emu_shim_root(void)
{
	pthread_once(&emu_shim_root_once, emu_shim_root_init);
	return emu_shim_root_len ? emu_shim_root_path : NULL;
}

/*
 * The aperture folder (emu_aperture.h), where root/dev/dri points: render
 * nodes and dma-bufs are regular files there, told apart from the rest by
 * the folder's device number before any readlink.
 */
static pthread_once_t emu_shim_aperture_once = PTHREAD_ONCE_INIT;
static char emu_shim_aperture_path[PATH_MAX];
static size_t emu_shim_aperture_len;
static dev_t emu_shim_aperture_dev;

static void emu_shim_aperture_init(void)
{
	char link[PATH_MAX];
	const char *root = emu_shim_root();
	struct stat st;
	ssize_t n;

	if (!root || (size_t)snprintf(link, sizeof(link), "%s/dev/dri", root) >= sizeof(link))
		return;
	n = syscall(SYS_readlinkat, AT_FDCWD, link, emu_shim_aperture_path,
		    sizeof(emu_shim_aperture_path) - 1);
	if (n <= 0 || emu_shim_aperture_path[0] != '/')
		return;
	emu_shim_aperture_path[n] = '\0';
	if (syscall(SYS_newfstatat, AT_FDCWD, emu_shim_aperture_path, &st, 0) != 0)
		return;
	emu_shim_aperture_dev = st.st_dev;
	emu_shim_aperture_len = (size_t)n;
}

static const char *emu_shim_aperture(void)
{
	pthread_once(&emu_shim_aperture_once, emu_shim_aperture_init);
	return emu_shim_aperture_len ? emu_shim_aperture_path : NULL;
}

static void emu_shim_cfg_init(void)
{
	const char *dir = getenv("VRAMSTREAM_EMU_DIR");

	if (dir && emu_config_load(dir, &emu_shim_cfg) == 0)
		emu_shim_cfg_ok = 1;
}

const struct emu_config *emu_shim_config(void)
{
	pthread_once(&emu_shim_cfg_once, emu_shim_cfg_init);
	return emu_shim_cfg_ok ? &emu_shim_cfg : NULL;
}

int emu_shim_gpu_by_minor(unsigned int minor)
{
	const struct emu_config *cfg = emu_shim_config();
	unsigned int i;

	if (!cfg)
		return -1;
	for (i = 0; i < cfg->num_gpus; i++)
		if (cfg->gpus[i].render_minor == minor)
			return (int)i;
	return -1;
}

static int emu_shim_has_prefix(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Set when the daemon wrote CPU cache folders for a host without them (emu_root_cpu.c). */
static pthread_once_t emu_shim_cpu_once = PTHREAD_ONCE_INIT;
static int emu_shim_cpu_caches;

static void emu_shim_cpu_init(void)
{
	char path[PATH_MAX];
	const char *root = emu_shim_root();

	if (root &&
	    (size_t)snprintf(path, sizeof(path), "%s/sys/devices/system/cpu", root) < sizeof(path))
		emu_shim_cpu_caches = syscall(SYS_faccessat, AT_FDCWD, path, F_OK, 0) == 0;
}

/* /sys/devices/system/cpu/cpuM/cache or /sys/devices/system/node/nodeN/cpuM/cache, and below. */
static int emu_shim_is_cpu_cache_path(const char *path)
{
	const char *p = path;
	int n = 0;

	if (sscanf(p, "/sys/devices/system/node/node%*u%n", &n) >= 0 && n > 0)
		p += n;
	else if (strncmp(p, "/sys/devices/system/cpu", 23) == 0)
		p += 23;
	else
		return 0;
	n = 0;
	if (sscanf(p, "/cpu%*u%n", &n) < 0 || n == 0 || !emu_shim_has_prefix(p + n, "/cache"))
		return 0;
	pthread_once(&emu_shim_cpu_once, emu_shim_cpu_init);
	return emu_shim_cpu_caches;
}

/* The paths the emulator owns (kept short: everything else must behave as without the shim). */
static int emu_shim_is_emulated_path(const char *path)
{
	static const char *const prefixes[] = {
		"/dev/kfd",
		"/dev/dri",
		"/sys/class/kfd",
		"/sys/devices/virtual/kfd", /* libhsakmt reads the topology here */
		"/sys/class/drm",
		"/sys/devices/emu", /* PCI-like device folders of emulated GPUs */
		"/proc/modules",    /* amdgpu loaded (emu_root.c: emu_root_modules) */
		"/sys/module/amdgpu",
	};
	unsigned int i;

	if (path[0] != '/')
		return 0;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (emu_shim_has_prefix(path, prefixes[i]))
			return 1;
	if (emu_shim_is_cpu_cache_path(path))
		return 1;
	/* /sys/dev/char/MAJ:MIN links of render nodes and of /dev/kfd */
	if (strncmp(path, "/sys/dev/char/", 14) == 0) {
		const struct emu_config *cfg;
		unsigned int maj;

		if (sscanf(path + 14, "%u:", &maj) != 1)
			return 0;
		if (maj == EMU_DRM_MAJOR)
			return 1;
		cfg = emu_shim_config();
		return cfg && maj == cfg->kfd_major;
	}
	return 0;
}

/* Returns the path to use: buf (fake-root path) when redirected, else path. */
static const char *emu_shim_redirect(const char *path, char *buf, size_t cap);

/*
 * As emu_shim_redirect, for a path relative to @dirfd: criu reaches files by
 * paths relative to its mount namespace's root (files-reg.c:
 * check_path_remap's fstatat(mntns_root, "./dev/dri/renderD128")), so a
 * relative path under a dirfd that is "/" is taken as absolute.
 */
static const char *emu_shim_redirect_at(int dirfd, const char *path, char *buf, size_t cap)
{
	char link[64], dir[8], abs[PATH_MAX];
	const char *rel = path;
	ssize_t n;

	if (!path || path[0] == '/' || path[0] == '\0' || dirfd < 0 || !emu_shim_root())
		return emu_shim_redirect(path, buf, cap);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = syscall(SYS_readlinkat, AT_FDCWD, link, dir, sizeof(dir));
	if (n != 1 || dir[0] != '/')
		return path;
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	if ((size_t)snprintf(abs, sizeof(abs), "/%s", rel) >= sizeof(abs))
		return path;
	if (emu_shim_redirect(abs, buf, cap) == buf)
		return buf;
	return path;
}

static const char *emu_shim_redirect(const char *path, char *buf, size_t cap)
{
	const char *root;

	if (!path || !emu_shim_is_emulated_path(path))
		return path;
	root = emu_shim_root();
	if (!root)
		return path;
	if ((size_t)snprintf(buf, cap, "%s%s", root, path) >= cap)
		return path;
	return buf;
}

/* Classifies a canonical (root-relative) path of a stand-in node. */
static enum emu_fd_class emu_shim_rel_class(const char *rel, unsigned int *gpu_index,
					    pid_t *owner_pid)
{
	unsigned int minor;
	int pid, idx, n = 0;

	if (strcmp(rel, "/dev/kfd") == 0) {
		*gpu_index = 0;
		*owner_pid = getpid();
		return EMU_FD_KFD;
	}
	if (sscanf(rel, "/run/kfd/%d%n", &pid, &n) == 1 && rel[n] == '\0' && pid > 0) {
		*gpu_index = 0;
		*owner_pid = pid;
		return EMU_FD_KFD;
	}
	if (sscanf(rel, "/dev/dri/renderD%u%n", &minor, &n) == 1 && rel[n] == '\0') {
		idx = emu_shim_gpu_by_minor(minor);
		*gpu_index = idx >= 0 ? (unsigned int)idx : minor - 128;
		*owner_pid = 0;
		return EMU_FD_RENDER;
	}
	return EMU_FD_NONE;
}

static int emu_shim_is_standin(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(EMU_STANDIN_MAJOR, EMU_STANDIN_MINOR);
}

/* A file of the aperture folder (by name, relative to it): a render node or a dma-buf. */
static enum emu_fd_class emu_shim_aperture_class(const char *name, struct emu_shim_file *f)
{
	unsigned int minor;
	int idx;

	if (emu_aperture_parse_node(name, &minor)) {
		idx = emu_shim_gpu_by_minor(minor);
		f->gpu = idx >= 0 ? (unsigned int)idx : minor - 128;
		return f->cls = EMU_FD_RENDER;
	}
	if (emu_aperture_parse_view(name, &f->gpu, &f->view_off, &f->view_size))
		return f->cls = EMU_FD_DMABUF;
	return EMU_FD_NONE;
}

/* Classifies an open file whose fstat gave @st. */
static enum emu_fd_class emu_shim_classify(int fd, const struct stat *st, struct emu_shim_file *f)
{
	char link[64], target[PATH_MAX];
	const char *root, *ap;
	ssize_t n;

	memset(f, 0, sizeof(*f));
	if (fd < 0)
		return EMU_FD_NONE;
	if (emu_shim_is_standin(st)) {
		root = emu_shim_root();
		ap = NULL;
	} else if (S_ISREG(st->st_mode) && (ap = emu_shim_aperture()) &&
		   st->st_dev == emu_shim_aperture_dev) {
		root = NULL;
	} else {
		return EMU_FD_NONE;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = syscall(SYS_readlinkat, AT_FDCWD, link, target, sizeof(target) - 1);
	if (n <= 0)
		return EMU_FD_NONE;
	target[n] = '\0';
	if (root && strncmp(target, root, emu_shim_root_len) == 0) {
		f->cls = emu_shim_rel_class(target + emu_shim_root_len, &f->gpu, &f->owner);
		return f->cls;
	}
	if (ap && strncmp(target, ap, emu_shim_aperture_len) == 0 &&
	    target[emu_shim_aperture_len] == '/')
		return emu_shim_aperture_class(target + emu_shim_aperture_len + 1, f);
	return EMU_FD_NONE;
}

enum emu_fd_class emu_shim_file_of(int fd, struct emu_shim_file *f)
{
	struct stat st;

	if (fd < 0 || syscall(SYS_fstat, fd, &st) != 0) {
		memset(f, 0, sizeof(*f));
		return EMU_FD_NONE;
	}
	return emu_shim_classify(fd, &st, f);
}

enum emu_fd_class emu_shim_fd_class(int fd, unsigned int *gpu_index, pid_t *owner_pid)
{
	struct emu_shim_file f;

	emu_shim_file_of(fd, &f);
	*gpu_index = f.gpu;
	*owner_pid = f.owner;
	return f.cls;
}

static const struct emu_dev_ops *emu_shim_ops(enum emu_fd_class cls)
{
	if (cls == EMU_FD_KFD)
		return &emu_kfd_ops;
	if (cls == EMU_FD_RENDER && &emu_drm_render_ops)
		return &emu_drm_render_ops;
	return NULL;
}

static dev_t emu_shim_rdev(enum emu_fd_class cls, unsigned int gpu_index)
{
	const struct emu_config *cfg = emu_shim_config();

	if (cls == EMU_FD_KFD)
		return makedev(cfg ? cfg->kfd_major : 511, 0);
	if (cfg && gpu_index < cfg->num_gpus)
		return makedev(EMU_DRM_MAJOR, cfg->gpus[gpu_index].render_minor);
	return makedev(EMU_DRM_MAJOR, 128 + gpu_index);
}

/*
 * What the kernel's stat shows for an emulated file: a character device
 * with the emulated numbers (a render node's aperture is a regular file
 * underneath), a dma-buf of its buffer's size (dma-buf.c: dma_buf_getfile
 * sets i_size) and without a file type: its inode comes from
 * alloc_anon_inode (fs/libfs.c: "Historically anonymous inodes don't have a
 * type at all and userspace has come to rely on this"; since Linux 6.15,
 * "anon_inode: use a proper mode internally", the type is kept inside the
 * kernel and still hidden from stat), mode 0600. criu relies on it: a file of
 * no type it knows goes to the plugins' DUMP_EXT_FILE (files.c:
 * dump_one_file, dump_unsupp_fd), which is how upstream's amdgpu plugin sees
 * dma-bufs (amdgpu_plugin_dmabuf.c).
 */
static void emu_shim_stat_as(const struct emu_shim_file *f, struct stat *st)
{
	if (f->cls == EMU_FD_KFD || f->cls == EMU_FD_RENDER) {
		st->st_mode = S_IFCHR | (st->st_mode & 07777);
		st->st_rdev = emu_shim_rdev(f->cls, f->gpu);
		st->st_size = 0;
		st->st_blocks = 0;
	} else if (f->cls == EMU_FD_DMABUF) {
		st->st_mode = S_IRUSR | S_IWUSR;
		st->st_size = (off_t)f->view_size;
		st->st_blocks = 0;
	}
}

/* Rewrites what stat gave for fake-root path @fake. */
static void emu_shim_fix_stat_path(const char *fake, struct stat *st)
{
	struct emu_shim_file f = { 0 };

	if (!emu_shim_root() || strncmp(fake, emu_shim_root_path, emu_shim_root_len) != 0)
		return;
	f.cls = emu_shim_rel_class(fake + emu_shim_root_len, &f.gpu, &f.owner);
	if (f.cls == EMU_FD_KFD && !emu_shim_is_standin(st))
		return;
	emu_shim_stat_as(&f, st);
}

static void emu_shim_fix_stat_fd(int fd, struct stat *st)
{
	struct emu_shim_file f;

	if (emu_shim_classify(fd, st, &f) != EMU_FD_NONE)
		emu_shim_stat_as(&f, st);
}

/*
 * The kernel's name for a path the shim's files show: fake-root paths lose
 * the root (a per-process KFD node is /dev/kfd), aperture files are render
 * nodes, and a dma-buf reads as the kernel's dma-buf files do
 * (dma-buf.c: dmabuffs_dname, "/dmabuf:" and the buffer's name).
 * Rewrites @path (of capacity @cap) in place; returns its new length.
 */
static size_t emu_shim_untranslate(char *path, size_t len, size_t cap)
{
	char out[PATH_MAX];
	const char *ap = emu_shim_aperture();
	struct emu_shim_file f;
	int n = -1;

	if (len >= sizeof(out))
		return len;
	memcpy(out, path, len);
	out[len] = '\0';
	if (emu_shim_root() && strncmp(out, emu_shim_root_path, emu_shim_root_len) == 0 &&
	    out[emu_shim_root_len] == '/') {
		pid_t owner;
		unsigned int gpu;

		if (emu_shim_rel_class(out + emu_shim_root_len, &gpu, &owner) == EMU_FD_KFD)
			n = snprintf(path, cap, "/dev/kfd");
		else
			n = snprintf(path, cap, "%s", out + emu_shim_root_len);
	} else if (ap && strncmp(out, ap, emu_shim_aperture_len) == 0 &&
		   out[emu_shim_aperture_len] == '/') {
		const char *name = out + emu_shim_aperture_len + 1;

		if (emu_shim_aperture_class(name, &f) == EMU_FD_DMABUF)
			n = snprintf(path, cap, "/dmabuf:");
		else
			n = snprintf(path, cap, "/dev/dri/%s", name);
	}
	if (n < 0)
		return len;
	return (size_t)n < cap ? (size_t)n : cap;
}

/* ---- open ---- */

/* A topology attribute of a GPU the caller may not use: reads fail (emu_shim_access.c). */
static void emu_shim_check_attr_fd(int fd, const char *rel)
{
	struct stat st;

	emu_shim_access_forget_fd(fd);
	if (syscall(SYS_fstat, fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    emu_shim_access_topology(rel) == -EPERM)
		emu_shim_access_deny_fd(fd);
}

static int emu_shim_do_open(int dirfd, const char *path, int flags, mode_t mode)
{
	char buf[PATH_MAX];
	const char *p = emu_shim_redirect_at(dirfd, path, buf, sizeof(buf));
	int fd;

	if (p == buf) {
		enum emu_fd_class cls;
		const struct emu_dev_ops *ops;
		unsigned int gpu;
		pid_t owner;

		cls = emu_shim_rel_class(buf + emu_shim_root_len, &gpu, &owner);
		/* devcgroup_inode_permission: a render node the device cgroup denies */
		if (cls == EMU_FD_RENDER && emu_shim_access_gpu(gpu) == -EPERM) {
			errno = EPERM;
			return -1;
		}
		ops = emu_shim_ops(cls);
		if (ops && ops->open) {
			fd = ops->open(gpu, flags);
			if (fd < 0) {
				errno = -fd;
				return -1;
			}
			return fd;
		}
		fd = (int)syscall(SYS_openat, dirfd, p, flags, mode);
		if (fd >= 0 && cls == EMU_FD_NONE)
			emu_shim_check_attr_fd(fd, buf + emu_shim_root_len);
		return fd;
	}
	return (int)syscall(SYS_openat, dirfd, p, flags, mode);
}

static mode_t emu_shim_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

EMU_EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = emu_shim_mode(flags, ap);
	va_end(ap);
	return emu_shim_do_open(AT_FDCWD, path, flags, mode);
}

EMU_EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = emu_shim_mode(flags, ap);
	va_end(ap);
	return emu_shim_do_open(AT_FDCWD, path, flags, mode);
}

EMU_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = emu_shim_mode(flags, ap);
	va_end(ap);
	return emu_shim_do_open(dirfd, path, flags, mode);
}

EMU_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = emu_shim_mode(flags, ap);
	va_end(ap);
	return emu_shim_do_open(dirfd, path, flags, mode);
}

/* _FORTIFY_SOURCE entry points (glibc io/open_2.c) */
EMU_EXPORT int __open_2(const char *path, int flags);
EMU_EXPORT int __open_2(const char *path, int flags)
{
	return emu_shim_do_open(AT_FDCWD, path, flags, 0);
}

EMU_EXPORT int __open64_2(const char *path, int flags);
EMU_EXPORT int __open64_2(const char *path, int flags)
{
	return emu_shim_do_open(AT_FDCWD, path, flags, 0);
}

EMU_EXPORT int __openat_2(int dirfd, const char *path, int flags);
EMU_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return emu_shim_do_open(dirfd, path, flags, 0);
}

EMU_EXPORT int __openat64_2(int dirfd, const char *path, int flags);
EMU_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return emu_shim_do_open(dirfd, path, flags, 0);
}

typedef FILE *(*emu_fopen_fn)(const char *, const char *);

static FILE *emu_shim_fopen_common(const char *sym, const char *path, const char *mode)
{
	char buf[PATH_MAX];
	const char *p = emu_shim_redirect(path, buf, sizeof(buf));
	emu_fopen_fn real = (emu_fopen_fn)dlsym(RTLD_NEXT, sym);

	struct stat st;

	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	if (p == buf && syscall(SYS_newfstatat, AT_FDCWD, p, &st, 0) == 0 && S_ISREG(st.st_mode) &&
	    emu_shim_access_topology(buf + emu_shim_root_len) == -EPERM)
		return emu_shim_access_denied_stream();
	return real(p, mode);
}

EMU_EXPORT FILE *fopen(const char *path, const char *mode)
{
	return emu_shim_fopen_common("fopen", path, mode);
}

EMU_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return emu_shim_fopen_common("fopen64", path, mode);
}

EMU_EXPORT DIR *opendir(const char *path)
{
	char buf[PATH_MAX];
	const char *p = emu_shim_redirect(path, buf, sizeof(buf));
	DIR *(*real)(const char *) = (DIR * (*)(const char *)) dlsym(RTLD_NEXT, "opendir");

	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	return real(p);
}

/*
 * realpath of an emulated path resolves inside the fake root and is given
 * back without the root prefix, so callers keep seeing /sys/... and /dev/...
 */
EMU_EXPORT char *realpath(const char *path, char *resolved)
{
	char buf[PATH_MAX];
	const char *p = emu_shim_redirect(path, buf, sizeof(buf));
	char *(*real)(const char *, char *) =
		(char *(*)(const char *, char *))dlsym(RTLD_NEXT, "realpath");
	char *r;

	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	r = real(p, resolved);
	if (r && p == buf)
		emu_shim_untranslate(r, strlen(r), PATH_MAX);
	return r;
}

/* ---- stat family ---- */

static int emu_shim_do_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	char buf[PATH_MAX];
	const char *p;
	int r;

	if (path && path[0] == '\0' && (flags & AT_EMPTY_PATH)) {
		r = (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
		if (r == 0)
			emu_shim_fix_stat_fd(dirfd, st);
		return r;
	}
	p = emu_shim_redirect_at(dirfd, path, buf, sizeof(buf));
	r = (int)syscall(SYS_newfstatat, dirfd, p, st, flags);
	/* root/dev/dri is a link to the aperture folder; /dev/dri is a folder. */
	if (r == 0 && p == buf && S_ISLNK(st->st_mode))
		r = (int)syscall(SYS_newfstatat, dirfd, p, st, flags & ~AT_SYMLINK_NOFOLLOW);
	if (r == 0 && p == buf)
		emu_shim_fix_stat_path(buf, st);
	return r;
}

static int emu_shim_do_fstat(int fd, struct stat *st)
{
	int r = (int)syscall(SYS_fstat, fd, st);

	if (r == 0)
		emu_shim_fix_stat_fd(fd, st);
	return r;
}

EMU_EXPORT int stat(const char *path, struct stat *st)
{
	return emu_shim_do_fstatat(AT_FDCWD, path, st, 0);
}

EMU_EXPORT int stat64(const char *path, struct stat64 *st)
{
	return emu_shim_do_fstatat(AT_FDCWD, path, (struct stat *)st, 0);
}

EMU_EXPORT int lstat(const char *path, struct stat *st)
{
	return emu_shim_do_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

EMU_EXPORT int lstat64(const char *path, struct stat64 *st)
{
	return emu_shim_do_fstatat(AT_FDCWD, path, (struct stat *)st, AT_SYMLINK_NOFOLLOW);
}

EMU_EXPORT int fstat(int fd, struct stat *st)
{
	return emu_shim_do_fstat(fd, st);
}

EMU_EXPORT int fstat64(int fd, struct stat64 *st)
{
	return emu_shim_do_fstat(fd, (struct stat *)st);
}

EMU_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return emu_shim_do_fstatat(dirfd, path, st, flags);
}

EMU_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	return emu_shim_do_fstatat(dirfd, path, (struct stat *)st, flags);
}

/* Pre-2.33 glibc entry points, still used by binaries built against older glibc. */
EMU_EXPORT int __xstat(int ver, const char *path, struct stat *st);
EMU_EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
	return emu_shim_do_fstatat(AT_FDCWD, path, st, 0);
}

EMU_EXPORT int __xstat64(int ver, const char *path, struct stat64 *st);
EMU_EXPORT int __xstat64(int ver, const char *path, struct stat64 *st)
{
	return emu_shim_do_fstatat(AT_FDCWD, path, (struct stat *)st, 0);
}

EMU_EXPORT int __lxstat(int ver, const char *path, struct stat *st);
EMU_EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
	return emu_shim_do_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

EMU_EXPORT int __lxstat64(int ver, const char *path, struct stat64 *st);
EMU_EXPORT int __lxstat64(int ver, const char *path, struct stat64 *st)
{
	return emu_shim_do_fstatat(AT_FDCWD, path, (struct stat *)st, AT_SYMLINK_NOFOLLOW);
}

EMU_EXPORT int __fxstat(int ver, int fd, struct stat *st);
EMU_EXPORT int __fxstat(int ver, int fd, struct stat *st)
{
	return emu_shim_do_fstat(fd, st);
}

EMU_EXPORT int __fxstat64(int ver, int fd, struct stat64 *st);
EMU_EXPORT int __fxstat64(int ver, int fd, struct stat64 *st)
{
	return emu_shim_do_fstat(fd, (struct stat *)st);
}

EMU_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
EMU_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	return emu_shim_do_fstatat(dirfd, path, st, flags);
}

EMU_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags);
EMU_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags)
{
	return emu_shim_do_fstatat(dirfd, path, (struct stat *)st, flags);
}

EMU_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx)
{
	struct stat st;
	int r;

	/* Through the stat family, so statx and stat agree; then the fields they share. */
	r = emu_shim_do_fstatat(dirfd, path, &st, flags & (AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
	if (r != 0)
		return r;
	r = (int)syscall(SYS_statx, dirfd, path, flags, mask, stx);
	if (r != 0 ||
	    (st.st_mode == stx->stx_mode && major(st.st_rdev) == stx->stx_rdev_major &&
	     minor(st.st_rdev) == stx->stx_rdev_minor && (uint64_t)st.st_size == stx->stx_size))
		return r;
	stx->stx_mode = (uint16_t)st.st_mode;
	stx->stx_rdev_major = major(st.st_rdev);
	stx->stx_rdev_minor = minor(st.st_rdev);
	stx->stx_size = (uint64_t)st.st_size;
	stx->stx_blocks = (uint64_t)st.st_blocks;
	return r;
}

/*
 * A dma-buf lives on the dma-buf pseudo filesystem (dma-buf.c:
 * dma_buf_fs_init_context, DMA_BUF_MAGIC); criu reads f_type of every file
 * it dumps (files.c: fill_fd_params).
 */
#define EMU_DMA_BUF_MAGIC 0x444d4142 /* include/uapi/linux/magic.h */

static void emu_shim_fix_statfs(int fd, struct statfs *sfs)
{
	struct emu_shim_file f;

	if (emu_shim_file_of(fd, &f) == EMU_FD_DMABUF)
		sfs->f_type = EMU_DMA_BUF_MAGIC;
}

EMU_EXPORT int fstatfs(int fd, struct statfs *sfs)
{
	int r = (int)syscall(SYS_fstatfs, fd, sfs);

	if (r == 0)
		emu_shim_fix_statfs(fd, sfs);
	return r;
}

EMU_EXPORT int fstatfs64(int fd, struct statfs64 *sfs)
{
	int r = (int)syscall(SYS_fstatfs, fd, sfs);

	if (r == 0)
		emu_shim_fix_statfs(fd, (struct statfs *)sfs);
	return r;
}

EMU_EXPORT int access(const char *path, int mode)
{
	char buf[PATH_MAX];

	return (int)syscall(SYS_faccessat, AT_FDCWD, emu_shim_redirect(path, buf, sizeof(buf)),
			    mode);
}

EMU_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	char buf[PATH_MAX];
	const char *p = emu_shim_redirect_at(dirfd, path, buf, sizeof(buf));

	if (flags)
		return (int)syscall(SYS_faccessat2, dirfd, p, mode, flags);
	return (int)syscall(SYS_faccessat, dirfd, p, mode);
}

/* Links (e.g. /proc/PID/fd/N, map_files) name emulated files as the kernel would. */
static ssize_t emu_shim_do_readlinkat(int dirfd, const char *path, char *out, size_t len)
{
	char buf[PATH_MAX];
	ssize_t n;

	n = syscall(SYS_readlinkat, dirfd, emu_shim_redirect_at(dirfd, path, buf, sizeof(buf)), out,
		    len);
	if (n > 0 && emu_shim_root())
		n = (ssize_t)emu_shim_untranslate(out, (size_t)n, len);
	return n;
}

EMU_EXPORT ssize_t readlink(const char *path, char *out, size_t len)
{
	return emu_shim_do_readlinkat(AT_FDCWD, path, out, len);
}

EMU_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *out, size_t len)
{
	return emu_shim_do_readlinkat(dirfd, path, out, len);
}

/* ---- fd operations ---- */

EMU_EXPORT int ioctl(int fd, unsigned long request, ...)
{
	unsigned int type = _IOC_TYPE(request);
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (type == EMU_KFD_IOCTL_TYPE || type == EMU_DRM_IOCTL_TYPE) {
		unsigned int gpu;
		pid_t owner;
		enum emu_fd_class cls = emu_shim_fd_class(fd, &gpu, &owner);
		const struct emu_dev_ops *ops = emu_shim_ops(cls);

		if (cls != EMU_FD_NONE) {
			int r;

			if (!ops || !ops->ioctl) {
				errno = ENOTTY;
				return -1;
			}
			r = ops->ioctl(fd, gpu, request, arg);
			if (r < 0) {
				errno = -r;
				return -1;
			}
			return r;
		}
	}
	return (int)syscall(SYS_ioctl, fd, request, arg);
}

/*
 * dma_buf_mmap_internal: pages of the buffer only (-EINVAL past its end); the
 * view maps the BO's place in the aperture, the same pages the GPU uses.
 */
static void *emu_shim_dmabuf_mmap(const struct emu_shim_file *f, void *addr, size_t len, int prot,
				  int flags, int fd, off_t off)
{
	uint64_t size = (f->view_size + 4095) & ~4095ULL;

	if (off < 0 || (uint64_t)off > size || len > size - (uint64_t)off) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd,
			       (off_t)(f->view_off + (uint64_t)off));
}

static void *emu_shim_do_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (fd >= 0 && !(flags & MAP_ANONYMOUS)) {
		struct emu_shim_file f;
		enum emu_fd_class cls = emu_shim_file_of(fd, &f);
		const struct emu_dev_ops *ops = emu_shim_ops(cls);
		unsigned int gpu = f.gpu;

		if (cls == EMU_FD_DMABUF)
			return emu_shim_dmabuf_mmap(&f, addr, len, prot, flags, fd, off);
		if (cls != EMU_FD_NONE) {
			if (!ops || !ops->mmap) {
				errno = ENODEV;
				return MAP_FAILED;
			}
			return ops->mmap(fd, gpu, addr, len, prot, flags, off);
		}
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

EMU_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return emu_shim_do_mmap(addr, len, prot, flags, fd, off);
}

EMU_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return emu_shim_do_mmap(addr, len, prot, flags, fd, off);
}

/* dma_buf_llseek: SEEK_END or SEEK_SET with offset 0 only; the size or 0, the position unmoved. */
static off_t emu_shim_do_lseek(int fd, off_t off, int whence)
{
	struct emu_shim_file f;

	if (emu_shim_file_of(fd, &f) != EMU_FD_DMABUF)
		return (off_t)syscall(SYS_lseek, fd, off, whence);
	if ((whence != SEEK_END && whence != SEEK_SET) || off != 0) {
		errno = EINVAL;
		return -1;
	}
	return whence == SEEK_END ? (off_t)f.view_size : 0;
}

EMU_EXPORT off_t lseek(int fd, off_t off, int whence)
{
	return emu_shim_do_lseek(fd, off, whence);
}

EMU_EXPORT off_t lseek64(int fd, off_t off, int whence)
{
	return emu_shim_do_lseek(fd, off, whence);
}

/* read(2) of a topology attribute of a GPU the caller may not use (emu_shim_access.c). */
EMU_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	if (emu_shim_access_fd_denied(fd)) {
		errno = EPERM;
		return -1;
	}
	return (ssize_t)syscall(SYS_read, fd, buf, len);
}

EMU_EXPORT ssize_t pread64(int fd, void *buf, size_t len, off64_t off)
{
	if (emu_shim_access_fd_denied(fd)) {
		errno = EPERM;
		return -1;
	}
	return (ssize_t)syscall(SYS_pread64, fd, buf, len, off);
}

EMU_EXPORT ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	return pread64(fd, buf, len, off);
}

EMU_EXPORT int close(int fd)
{
	unsigned int gpu;
	pid_t owner;
	enum emu_fd_class cls = emu_shim_fd_class(fd, &gpu, &owner);
	const struct emu_dev_ops *ops = emu_shim_ops(cls);

	if (ops && ops->close)
		ops->close(fd);
	emu_shim_access_forget_fd(fd);
	return (int)syscall(SYS_close, fd);
}
