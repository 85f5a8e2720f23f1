/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The KFD CRIU operations (AMDKFD_IOC_CRIU_OP, linux/kfd_ioctl.h). Every KFD
 * ioctl the plugin issues is in plugin_kfd.c, so the kernel boundary is in
 * one place. Semantics: drivers/gpu/drm/amd/amdkfd/kfd_chardev.c,
 * kfd_ioctl_criu() and criu_*().
 */
#ifndef VRAMSTREAM_PLUGIN_KFD_H
#define VRAMSTREAM_PLUGIN_KFD_H

#include <stdint.h>
#include <sys/types.h>

#include <linux/kfd_ioctl.h>

struct kfd_criu_info {
	uint32_t pid; /* the process the KFD file belongs to */
	uint32_t num_devices;
	uint32_t num_bos;
	uint32_t num_objects; /* queues, events, SVM ranges: opaque to us */
	uint64_t priv_data_size;
};

/*
 * PROCESS_INFO: pauses (evicts) the process's queues and reports what
 * CHECKPOINT will return. After success the caller must UNPAUSE, also on
 * every failure path (kfd_chardev.c: criu_process_info).
 */
int kfd_criu_process_info(int kfd_fd, struct kfd_criu_info *info);

/* CHECKPOINT: fills @devs (num_devices), @bos (num_bos) and @priv
 * (priv_data_size). BO buckets of VRAM/GTT BOs carry a dmabuf fd the caller
 * must close. */
int kfd_criu_checkpoint(int kfd_fd, const struct kfd_criu_info *info,
			struct kfd_criu_device_bucket *devs, struct kfd_criu_bo_bucket *bos,
			void *priv);

int kfd_criu_unpause(int kfd_fd);

/* RESTORE, issued by the restored task on its own new KFD file. On success
 * the BO buckets hold restored_offset and dmabuf fds; queues stay paused. */
int kfd_criu_restore(int kfd_fd, struct kfd_criu_device_bucket *devs, uint32_t num_devices,
		     struct kfd_criu_bo_bucket *bos, uint32_t num_bos, void *priv,
		     uint64_t priv_size, uint32_t num_objects);

/* RESUME for @pid, issued from criu once the task's VMAs are in place. */
int kfd_criu_resume(int kfd_fd, pid_t pid);

/* Does @flags describe a BO whose contents the plugin saves (VRAM, GTT)?
 * Userptr contents are process memory criu saves; doorbell and MMIO remap
 * BOs have none. */
int kfd_bo_has_contents(uint32_t alloc_flags);

/* "VRAM", "GTT", "USERPTR", "DOORBELL", "MMIO" or "?", for logs and tools. */
const char *kfd_bo_kind(uint32_t alloc_flags);

#endif
