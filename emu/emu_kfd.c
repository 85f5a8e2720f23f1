// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The KFD device class in the shim (emu_kfd_ops): open gives the process its
 * own stand-in node (the daemon's root/run/kfd/<pid>), so any holder of the
 * fd, criu included, names the process that opened it; ioctls are marshalled
 * to the daemon as emu_kfd_wire.h describes; mmaps of doorbell/event/MMIO
 * offsets map a memfd the daemon hands out.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "emu_client.h"
#include "emu_devops.h"
#include "emu_kfd_wire.h"
#include "emu_shim.h"

#define EMU_KFD_MAX_ARRAY 65536u

static int emu_kfd_open(unsigned int gpu_index, int flags)
{
	char path[PATH_MAX];
	struct emu_call c = { .req = { .op = EMU_OP_KFD_OPEN } };
	int err, fd;

	c.rep_buf = path;
	c.rep_cap = sizeof(path) - 1;
	err = emu_client_call(&c);
	if (err < 0)
		return err == -ECONNREFUSED || err == -ENOENT ? -ENOENT : err;
	path[c.rep_len] = '\0';
	fd = (int)syscall(SYS_openat, AT_FDCWD, path, flags & ~(O_CREAT | O_EXCL | O_TRUNC));
	return fd < 0 ? -errno : fd;
}

static int32_t emu_kfd_render_minor(int fd)
{
	const struct emu_config *cfg = emu_shim_config();
	unsigned int gpu;
	pid_t owner;

	if (emu_shim_fd_class(fd, &gpu, &owner) != EMU_FD_RENDER)
		return -1;
	if (cfg && gpu < cfg->num_gpus)
		return (int32_t)cfg->gpus[gpu].render_minor;
	return (int32_t)(128 + gpu);
}

struct emu_kfd_msg {
	uint8_t *req;
	size_t req_len;
	size_t rep_cap;
	unsigned int rep_fds;
	/* Files the request carries: a dma-buf to look up, or the render files KFD takes a
	 * reference to (ACQUIRE_VM, CRIU RESTORE: fget(drm_fd)). */
	int in_fds[EMU_MAX_GPUS];
	unsigned int n_in_fds;
};

static int emu_kfd_msg_append(struct emu_kfd_msg *m, const void *src, size_t len)
{
	uint8_t *n;

	if (!len)
		return 0;
	if (m->req_len + len > EMU_PROTO_MAX_PAYLOAD)
		return -E2BIG;
	n = realloc(m->req, m->req_len + len);
	if (!n)
		return -ENOMEM;
	m->req = n;
	memcpy(m->req + m->req_len, src, len);
	m->req_len += len;
	return 0;
}

/* What the request carries beyond the argument struct, and how big the reply may be. */
static int emu_kfd_marshal(unsigned int nr, const void *arg, size_t size, struct emu_kfd_msg *m)
{
	int err = emu_kfd_msg_append(m, arg, size);

	m->rep_cap = size;
	m->n_in_fds = 0;
	if (err)
		return err;
	switch (nr) {
	case _IOC_NR(AMDKFD_IOC_MAP_MEMORY_TO_GPU):
	case _IOC_NR(AMDKFD_IOC_UNMAP_MEMORY_FROM_GPU): {
		const struct kfd_ioctl_map_memory_to_gpu_args *a = arg;

		if (a->n_devices > EMU_KFD_MAX_ARRAY)
			return -ENOMEM;
		return emu_kfd_msg_append(m, (const void *)(uintptr_t)a->device_ids_array_ptr,
					  a->n_devices * sizeof(uint32_t));
	}
	case _IOC_NR(AMDKFD_IOC_ACQUIRE_VM): {
		const struct kfd_ioctl_acquire_vm_args *a = arg;
		int32_t minor = emu_kfd_render_minor((int)a->drm_fd);

		/* kfd_ioctl_acquire_vm: fget(args->drm_fd), kept by the pdd on success. */
		if (minor >= 0)
			m->in_fds[m->n_in_fds++] = (int)a->drm_fd;
		return emu_kfd_msg_append(m, &minor, sizeof(minor));
	}
	case _IOC_NR(AMDKFD_IOC_GET_PROCESS_APERTURES_NEW): {
		const struct kfd_ioctl_get_process_apertures_new_args *a = arg;

		m->rep_cap += (size_t)(a->num_of_nodes < 64 ? a->num_of_nodes : 64) *
			      sizeof(struct kfd_process_device_apertures);
		return 0;
	}
	case _IOC_NR(AMDKFD_IOC_WAIT_EVENTS): {
		const struct kfd_ioctl_wait_events_args *a = arg;
		size_t n = (size_t)a->num_events * sizeof(struct kfd_event_data);

		if (a->num_events > KFD_SIGNAL_EVENT_LIMIT)
			return -EINVAL;
		m->rep_cap += n;
		return emu_kfd_msg_append(m, (const void *)(uintptr_t)a->events_ptr, n);
	}
	case _IOC_NR(AMDKFD_IOC_GET_DMABUF_INFO): {
		const struct kfd_ioctl_get_dmabuf_info_args *a = arg;

		m->in_fds[m->n_in_fds++] = (int)a->dmabuf_fd;
		return 0;
	}
	case _IOC_NR(AMDKFD_IOC_EXPORT_DMABUF):
		m->rep_fds = 1;
		return 0;
	case _IOC_NR(AMDKFD_IOC_CRIU_OP): {
		const struct kfd_ioctl_criu_args *a = arg;
		size_t devs = (size_t)a->num_devices * sizeof(struct kfd_criu_device_bucket);
		size_t bos = (size_t)a->num_bos * sizeof(struct kfd_criu_bo_bucket);

		if (a->op != KFD_CRIU_OP_CHECKPOINT && a->op != KFD_CRIU_OP_RESTORE)
			return 0;
		if (a->num_devices > EMU_KFD_MAX_ARRAY || a->num_bos > (1u << 24) ||
		    a->priv_data_size > EMU_PROTO_MAX_PAYLOAD / 2)
			return -EINVAL;
		if (a->op == KFD_CRIU_OP_CHECKPOINT) {
			m->rep_cap += devs + bos + a->priv_data_size;
			m->rep_fds = a->num_bos;
			return 0;
		}
		/* RESTORE: the kernel reads devices, bos and priv_data */
		if (!a->devices || (a->num_bos && !a->bos) || !a->priv_data)
			return 0; /* the daemon rejects it with the kernel's errno */
		{
			struct kfd_criu_device_bucket *d = malloc(devs ? devs : 1);
			unsigned int i;

			if (!d)
				return -ENOMEM;
			memcpy(d, (const void *)(uintptr_t)a->devices, devs);
			/* criu_restore_devices: fget(drm_fd) of each device, kept by its pdd. The
			 * files go in device order; the daemon stops at the first device without
			 * one (an fd that is no render node: -EINVAL). */
			for (i = 0; i < a->num_devices; i++) {
				int fd = (int)d[i].drm_fd;

				d[i].drm_fd = (uint32_t)emu_kfd_render_minor(fd);
				if ((int32_t)d[i].drm_fd >= 0 && m->n_in_fds < EMU_MAX_GPUS)
					m->in_fds[m->n_in_fds++] = fd;
			}
			err = emu_kfd_msg_append(m, d, devs);
			free(d);
		}
		if (!err)
			err = emu_kfd_msg_append(m, (const void *)(uintptr_t)a->bos, bos);
		if (!err)
			err = emu_kfd_msg_append(m, (const void *)(uintptr_t)a->priv_data,
						 a->priv_data_size);
		m->rep_cap += bos;
		m->rep_fds = a->num_bos;
		return err;
	}
	}
	return 0;
}

/*
 * Received fds come with close-on-exec (emu_sock.c: MSG_CMSG_CLOEXEC); a
 * dma-buf fd from the kernel has it only when its flags ask for it
 * (dma_buf_fd(dmabuf, flags)).
 */
static void emu_kfd_fd_flags(int fd, int open_flags)
{
	if (fd >= 0 && !(open_flags & O_CLOEXEC))
		fcntl(fd, F_SETFD, 0);
}

/* Hands out received dmabuf fds to the buckets that have one, in order:
 * without close-on-exec, as CHECKPOINT and RESTORE give them
 * (kfd_chardev.c: criu_get_prime_handle(..., DRM_RDWR, ...)). */
static void emu_kfd_assign_fds(struct kfd_criu_bo_bucket *b, unsigned int n, const int *fds,
			       unsigned int nfds)
{
	unsigned int i, k = 0;

	for (i = 0; i < n; i++) {
		if (b[i].dmabuf_fd == KFD_INVALID_FD)
			continue;
		if (k < nfds)
			emu_kfd_fd_flags(fds[k], O_RDWR);
		b[i].dmabuf_fd = k < nfds ? (uint32_t)fds[k++] : KFD_INVALID_FD;
	}
	while (k < nfds)
		close(fds[k++]);
}

static void emu_kfd_unmarshal(unsigned int nr, unsigned long request, void *arg, size_t size,
			      const uint8_t *rep, size_t rep_len, const int *fds, unsigned int nfds)
{
	const uint8_t *extra = rep + size;

	if (_IOC_DIR(request) & _IOC_READ)
		memcpy(arg, rep, size);
	switch (nr) {
	case _IOC_NR(AMDKFD_IOC_GET_PROCESS_APERTURES_NEW): {
		struct kfd_ioctl_get_process_apertures_new_args *a = arg;
		size_t n = rep_len - size;

		if (n && a->kfd_process_device_apertures_ptr)
			memcpy((void *)(uintptr_t)a->kfd_process_device_apertures_ptr, extra, n);
		break;
	}
	case _IOC_NR(AMDKFD_IOC_WAIT_EVENTS): {
		struct kfd_ioctl_wait_events_args *a = arg;

		if (rep_len > size)
			memcpy((void *)(uintptr_t)a->events_ptr, extra, rep_len - size);
		break;
	}
	case _IOC_NR(AMDKFD_IOC_EXPORT_DMABUF): {
		struct kfd_ioctl_export_dmabuf_args *a = arg;

		a->dmabuf_fd = nfds ? (uint32_t)fds[0] : KFD_INVALID_FD;
		/* kfd_ioctl_export_dmabuf: dma_buf_fd(dmabuf, args->flags). */
		if (nfds)
			emu_kfd_fd_flags(fds[0], (int)a->flags);
		break;
	}
	case _IOC_NR(AMDKFD_IOC_CRIU_OP): {
		struct kfd_ioctl_criu_args *a = arg;
		size_t devs = (size_t)a->num_devices * sizeof(struct kfd_criu_device_bucket);
		size_t bos = (size_t)a->num_bos * sizeof(struct kfd_criu_bo_bucket);
		struct kfd_criu_bo_bucket *b = (void *)(uintptr_t)a->bos;

		if (a->op == KFD_CRIU_OP_CHECKPOINT && rep_len >= size + devs + bos) {
			memcpy((void *)(uintptr_t)a->devices, extra, devs);
			memcpy(b, extra + devs, bos);
			memcpy((void *)(uintptr_t)a->priv_data, extra + devs + bos,
			       rep_len - size - devs - bos);
			emu_kfd_assign_fds(b, a->num_bos, fds, nfds);
		} else if (a->op == KFD_CRIU_OP_RESTORE && rep_len >= size + bos) {
			memcpy(b, extra, bos);
			emu_kfd_assign_fds(b, a->num_bos, fds, nfds);
		}
		break;
	}
	}
}

static int emu_kfd_call(pid_t owner, unsigned long request, void *arg)
{
	unsigned int nr = _IOC_NR(request);
	size_t size = _IOC_SIZE(request);
	struct emu_kfd_msg m = { .req = NULL };
	struct emu_call c = { .req = { .op = EMU_OP_KFD_IOCTL } };
	uint8_t *rep = NULL;
	int *fds = NULL, err;

	if (nr < AMDKFD_COMMAND_START || nr >= EMU_KFD_COMMAND_END)
		return -ENOTTY;
	if (!arg)
		return -EFAULT;
	err = emu_kfd_marshal(nr, arg, size, &m);
	if (err)
		goto out;
	rep = malloc(m.rep_cap ? m.rep_cap : 1);
	fds = calloc(m.rep_fds + 1, sizeof(int));
	if (!rep || !fds) {
		err = -ENOMEM;
		goto out;
	}
	c.req.owner_pid = (uint32_t)owner;
	c.req.arg0 = request;
	c.payload = m.req;
	c.payload_len = (uint32_t)m.req_len;
	if (m.n_in_fds) {
		c.fds = m.in_fds;
		c.nfds = m.n_in_fds;
	}
	c.rep_buf = rep;
	c.rep_cap = m.rep_cap;
	c.rep_fds = fds;
	c.rep_fds_cap = m.rep_fds;
	err = emu_client_call(&c);
	if (err == -ECONNREFUSED || err == -ENOENT)
		err = -ENODEV; /* the device went away with the daemon */
	if (err >= 0 && c.rep_len >= size)
		emu_kfd_unmarshal(nr, request, arg, size, rep, c.rep_len, fds, c.rep_nfds);
	else if (err < 0 && err != -ENODEV && c.rep_len >= size && (_IOC_DIR(request) & _IOC_READ))
		memcpy(arg, rep, size); /* kfd_ioctl copies the struct out on failure too */
out:
	free(fds);
	free(rep);
	free(m.req);
	return err;
}

/* VRAMSTREAM_EMU_DEBUG: 1 names failing KFD ioctls, 2 every one (as emu_drm.c does for DRM). */
static int emu_kfd_debug_level(void)
{
	static int level = -1;

	if (level < 0) {
		const char *v = getenv("VRAMSTREAM_EMU_DEBUG");

		level = v ? atoi(v) : 0;
	}
	return level;
}

static void emu_kfd_debug(unsigned long request, int err)
{
	int level = emu_kfd_debug_level();
	char line[96];
	int n;

	if (level <= 0 || (err >= 0 && level < 2))
		return;
	n = snprintf(line, sizeof(line), "emu-kfd[%d]: ioctl nr 0x%02x size %u: %s\n",
		     (int)getpid(), (unsigned int)_IOC_NR(request),
		     (unsigned int)_IOC_SIZE(request), err < 0 ? strerror(-err) : "ok");
	if (n > 0)
		(void)!write(STDERR_FILENO, line,
			     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line));
}

static int emu_kfd_ioctl(int fd, unsigned int gpu_index, unsigned long request, void *arg)
{
	unsigned int gpu;
	pid_t owner;
	int err;

	if (emu_shim_fd_class(fd, &gpu, &owner) != EMU_FD_KFD)
		return -EBADF;
	err = emu_kfd_call(owner, request, arg);
	/* kfd_wait_on_events sleeps up to timeout ms; the daemon answers at once. */
	if (err == 0 && _IOC_NR(request) == _IOC_NR(AMDKFD_IOC_WAIT_EVENTS)) {
		struct kfd_ioctl_wait_events_args *a = arg;
		uint32_t waited = 0;

		while (a->wait_result == KFD_IOC_WAIT_RESULT_TIMEOUT && waited < a->timeout) {
			struct timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };

			nanosleep(&ts, NULL);
			waited++;
			err = emu_kfd_call(owner, request, arg);
			if (err)
				break;
		}
	}
	emu_kfd_debug(request, err);
	return err;
}

static void *emu_kfd_mmap(int fd, unsigned int gpu_index, void *addr, size_t len, int prot,
			  int flags, off_t offset)
{
	struct emu_call c = { .req = { .op = EMU_OP_KFD_MMAP } };
	unsigned int gpu;
	pid_t owner;
	int mfd = -1, err;
	void *p;

	if (emu_shim_fd_class(fd, &gpu, &owner) != EMU_FD_KFD) {
		errno = EBADF;
		return MAP_FAILED;
	}
	c.req.owner_pid = (uint32_t)owner;
	c.req.arg0 = (uint64_t)offset;
	c.req.arg1 = len;
	c.rep_fds = &mfd;
	c.rep_fds_cap = 1;
	err = emu_client_call(&c);
	if (err < 0) {
		errno = -err;
		return MAP_FAILED;
	}
	/*
	 * Doorbells and the MMIO page: the kernel maps them from /dev/kfd itself
	 * (kfd_doorbell_mmap, kfd_mmio_mmap: io_remap_pfn_range into the VMA of
	 * the kfd file), so criu finds a device mapping of /dev/kfd and its
	 * restorer re-creates it with a raw mmap of a /dev/kfd fd. The node is
	 * /dev/zero's device (emu_root.c), which keeps its file only in a
	 * private mapping: shared, the kernel would swap in a shmem file. No
	 * driver of this kernel keeps its file in a shared mapping at offsets
	 * of 2^63 and above (KFD_MMAP_TYPE_DOORBELL); nobody reads these pages.
	 */
	if (c.rep_nfds == 0)
		return (void *)syscall(SYS_mmap, addr, len, prot, (flags & ~MAP_TYPE) | MAP_PRIVATE,
				       fd, offset);
	if (c.rep_nfds != 1) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	p = (void *)syscall(SYS_mmap, addr, len, prot, flags, mfd, 0);
	err = errno;
	syscall(SYS_close, mfd);
	errno = err;
	return p;
}

const struct emu_dev_ops emu_kfd_ops = {
	.name = "kfd",
	.ioctl = emu_kfd_ioctl,
	.mmap = emu_kfd_mmap,
	.close = NULL,
	.open = emu_kfd_open,
};
