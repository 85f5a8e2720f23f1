/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The KFD CRIU operations (AMDKFD_IOC_CRIU_OP, linux/kfd_ioctl.h). Every KFD
 * ioctl the plugin issues is in plugin_kfd.c, so the kernel boundary is in
 * one place. Semantics: drivers/gpu/drm/amd/amdkfd/kfd_chardev.c,
 * kfd_ioctl_criu() and criu_*().
 */
#ifndef VRAMSTREAM_PLUGIN_KFD_H
#define VRAMSTREAM_PLUGIN_KFD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/kfd_ioctl.h>

/*
 * The oldest KFD ioctl interface the plugin works with. 1.7 brought
 * AMDKFD_IOC_CRIU_OP (Linux 5.18); 1.8 made CHECKPOINT and RESTORE hand out
 * dmabuf fds for GTT BOs as well as VRAM ones, which the plugin copies with
 * SDMA (linux/kfd_ioctl.h, the version history above KFD_IOCTL_MAJOR_VERSION;
 * upstream criu's amdgpu plugin asks for the same: MIN_KFD_IOCTL_MINOR_VERSION).
 */
#define KFD_CRIU_MIN_MAJOR 1
#define KFD_CRIU_MIN_MINOR 8

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

/* AMDKFD_IOC_GET_VERSION (kfd_chardev.c, kfd_ioctl_get_version). */
int kfd_get_version(int kfd_fd, uint32_t *major, uint32_t *minor);

/*
 * Is the KFD behind @kfd_fd new enough for the CRIU operations? Returns 0,
 * -EPROTONOSUPPORT when it is too old or of another major version, or the
 * ioctl's error; @why then names the versions and the kernel needed.
 */
int kfd_check_version(int kfd_fd, char *why, size_t why_len);

/* Does @flags describe a BO whose contents the plugin saves (VRAM, GTT)?
 * Userptr contents are process memory criu saves; doorbell and MMIO remap
 * BOs have none. */
int kfd_bo_has_contents(uint32_t alloc_flags);

/* "VRAM", "GTT", "USERPTR", "DOORBELL", "MMIO" or "?", for logs and tools. */
const char *kfd_bo_kind(uint32_t alloc_flags);

#endif
