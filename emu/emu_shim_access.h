/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a process sees of a GPU its device cgroup denies (emu_shim_access.c):
 * the shim's side of kfd_devcgroup_check_permission. Only valid inside the shim.
 */
#ifndef VRAMSTREAM_EMU_SHIM_ACCESS_H
#define VRAMSTREAM_EMU_SHIM_ACCESS_H

#include <stdio.h>

/* 0 when the caller may use GPU @gpu_index, -EPERM when its device cgroup denies it. */
int emu_shim_access_gpu(unsigned int gpu_index);

/*
 * For a fake-root path (@rel, relative to the root) of a regular file:
 * -EPERM when it is an attribute of a GPU node of the KFD topology that the
 * caller may not use (its reads fail), else 0.
 */
int emu_shim_access_topology(const char *rel);

/* An fd whose reads fail with EPERM (a denied attribute), until closed. */
void emu_shim_access_deny_fd(int fd);
int emu_shim_access_fd_denied(int fd);
void emu_shim_access_forget_fd(int fd);

/* A stream of a denied attribute: opens, but every read fails with EPERM. */
FILE *emu_shim_access_denied_stream(void);

#endif
