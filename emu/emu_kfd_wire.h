/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How KFD ioctls travel from the shim (emu_kfd.c) to the daemon
 * (emu_kfd_ioctl.c, emu_kfd_criu.c) in an EMU_OP_KFD_IOCTL request: the
 * shim copies every piece of user memory the kernel would read into the
 * payload, and the daemon's reply carries everything the kernel would write.
 *
 * Request payload: the ioctl's argument struct (_IOC_SIZE bytes), then
 *   MAP/UNMAP_MEMORY_*:        uint32_t device_ids[n_devices]
 *   ACQUIRE_VM:                int32_t render minor of drm_fd
 *   WAIT_EVENTS:               struct kfd_event_data[num_events]
 *   CRIU_OP RESTORE:           devices[num_devices] (drm_fd replaced by its
 *                              render minor), bos[num_bos], priv_data
 *   GET_DMABUF_INFO:           the dmabuf fd rides as SCM_RIGHTS
 * Reply payload: the updated argument struct, then
 *   GET_PROCESS_APERTURES_NEW: struct kfd_process_device_apertures[num_of_nodes]
 *   WAIT_EVENTS:               struct kfd_event_data[num_events]
 *   CRIU_OP CHECKPOINT:        devices, bos, priv_data; one fd per BO bucket
 *                              whose dmabuf_fd is not KFD_INVALID_FD, in order
 *   CRIU_OP RESTORE:           bos; fds as for CHECKPOINT
 *   EXPORT_DMABUF:             the fd
 */
#ifndef VRAMSTREAM_EMU_KFD_WIRE_H
#define VRAMSTREAM_EMU_KFD_WIRE_H

#include <linux/kfd_ioctl.h>

/*
 * KFD 1.14 (kernel 6.10) added AMDKFD_IOC_EXPORT_DMABUF; the headers here are
 * 1.11, so the emulator carries the definition (uapi/linux/kfd_ioctl.h).
 */
#ifndef AMDKFD_IOC_EXPORT_DMABUF
struct kfd_ioctl_export_dmabuf_args {
	__u64 handle;	 /* to KFD */
	__u32 flags;	 /* to KFD */
	__u32 dmabuf_fd; /* from KFD */
};
#define AMDKFD_IOC_EXPORT_DMABUF AMDKFD_IOWR(0x24, struct kfd_ioctl_export_dmabuf_args)
#define EMU_KFD_COMMAND_END	 0x25
#else
#define EMU_KFD_COMMAND_END AMDKFD_COMMAND_END
#endif

/* The kernel-internal ENOTSUPP (include/linux/errno.h), which KFD returns for bad queue types. */
#define EMU_ENOTSUPP 524

#endif
