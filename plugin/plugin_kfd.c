// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "plugin_kfd.h"

/* Retry as libhsakmt's kmtIoctl does: the KFD returns -EINTR/-EAGAIN when a
 * signal or an eviction interrupts it. */
static int kfd_ioctl(int fd, unsigned long request, void *arg)
{
	int r;

	do {
		r = ioctl(fd, request, arg);
	} while (r == -1 && (errno == EINTR || errno == EAGAIN));
	return r == -1 ? -errno : r;
}

int kfd_criu_process_info(int kfd_fd, struct kfd_criu_info *info)
{
	struct kfd_ioctl_criu_args args = { .op = KFD_CRIU_OP_PROCESS_INFO };
	int r = kfd_ioctl(kfd_fd, AMDKFD_IOC_CRIU_OP, &args);

	if (r)
		return r;
	info->pid = args.pid;
	info->num_devices = args.num_devices;
	info->num_bos = args.num_bos;
	info->num_objects = args.num_objects;
	info->priv_data_size = args.priv_data_size;
	return 0;
}

int kfd_criu_checkpoint(int kfd_fd, const struct kfd_criu_info *info,
			struct kfd_criu_device_bucket *devs, struct kfd_criu_bo_bucket *bos,
			void *priv)
{
	struct kfd_ioctl_criu_args args = {
		.op = KFD_CRIU_OP_CHECKPOINT,
		.devices = (uintptr_t)devs,
		.bos = (uintptr_t)bos,
		.priv_data = (uintptr_t)priv,
		.priv_data_size = info->priv_data_size,
		.num_devices = info->num_devices,
		.num_bos = info->num_bos,
		.num_objects = info->num_objects,
	};

	return kfd_ioctl(kfd_fd, AMDKFD_IOC_CRIU_OP, &args);
}

int kfd_criu_unpause(int kfd_fd)
{
	struct kfd_ioctl_criu_args args = { .op = KFD_CRIU_OP_UNPAUSE };

	return kfd_ioctl(kfd_fd, AMDKFD_IOC_CRIU_OP, &args);
}

int kfd_criu_restore(int kfd_fd, struct kfd_criu_device_bucket *devs, uint32_t num_devices,
		     struct kfd_criu_bo_bucket *bos, uint32_t num_bos, void *priv,
		     uint64_t priv_size, uint32_t num_objects)
{
	struct kfd_ioctl_criu_args args = {
		.op = KFD_CRIU_OP_RESTORE,
		.devices = (uintptr_t)devs,
		.bos = (uintptr_t)bos,
		.priv_data = (uintptr_t)priv,
		.priv_data_size = priv_size,
		.num_devices = num_devices,
		.num_bos = num_bos,
		.num_objects = num_objects,
	};

	return kfd_ioctl(kfd_fd, AMDKFD_IOC_CRIU_OP, &args);
}

int kfd_criu_resume(int kfd_fd, pid_t pid)
{
	struct kfd_ioctl_criu_args args = { .op = KFD_CRIU_OP_RESUME, .pid = (uint32_t)pid };

	return kfd_ioctl(kfd_fd, AMDKFD_IOC_CRIU_OP, &args);
}

int kfd_get_version(int kfd_fd, uint32_t *major, uint32_t *minor)
{
	struct kfd_ioctl_get_version_args args = { 0 };
	int r = kfd_ioctl(kfd_fd, AMDKFD_IOC_GET_VERSION, &args);

	if (r)
		return r;
	*major = args.major_version;
	*minor = args.minor_version;
	return 0;
}

int kfd_check_version(int kfd_fd, char *why, size_t why_len)
{
	uint32_t major, minor;
	int r = kfd_get_version(kfd_fd, &major, &minor);

	if (r) {
		snprintf(why, why_len, "AMDKFD_IOC_GET_VERSION failed: %s", strerror(-r));
		return r;
	}
	/* A major version bump would break the ioctl ABI altogether. */
	if (major == KFD_CRIU_MIN_MAJOR && minor >= KFD_CRIU_MIN_MINOR)
		return 0;
	snprintf(why, why_len,
		 "the kernel's KFD ioctl interface is version %u.%u; checkpoint/restore needs "
		 "%u.%u or newer (AMDKFD_IOC_CRIU_OP came with 1.7 in Linux 5.18, dmabuf export "
		 "of GTT BOs with 1.8): use a newer kernel or amdgpu-dkms driver",
		 major, minor, KFD_CRIU_MIN_MAJOR, KFD_CRIU_MIN_MINOR);
	return -EPROTONOSUPPORT;
}

int kfd_bo_has_contents(uint32_t alloc_flags)
{
	/* kfd_chardev.c: criu_checkpoint_bos() exports dmabufs for exactly these. */
	return !!(alloc_flags & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT));
}

const char *kfd_bo_kind(uint32_t alloc_flags)
{
	if (alloc_flags & KFD_IOC_ALLOC_MEM_FLAGS_VRAM)
		return "VRAM";
	if (alloc_flags & KFD_IOC_ALLOC_MEM_FLAGS_GTT)
		return "GTT";
	if (alloc_flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR)
		return "USERPTR";
	if (alloc_flags & KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL)
		return "DOORBELL";
	if (alloc_flags & KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP)
		return "MMIO";
	return "?";
}
