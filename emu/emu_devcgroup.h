/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which GPUs a process may use, decided as KFD decides it: by the device
 * cgroup's verdict on the GPU's render node (emu_devcgroup.c). Daemon only.
 */
#ifndef VRAMSTREAM_EMU_DEVCGROUP_H
#define VRAMSTREAM_EMU_DEVCGROUP_H

#include <sys/types.h>

/*
 * kfd_devcgroup_check_permission for @pid and the render node 226:@minor:
 * 0 when its device cgroup grants read and write, -EPERM when it does not,
 * another -errno when the cgroup cannot be read (the process is gone).
 */
int emu_devcgroup_check(pid_t pid, unsigned int minor);

#endif
