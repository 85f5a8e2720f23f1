/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's fake root ($VRAMSTREAM_EMU_DIR/root): stand-in device nodes
 * and the generated sysfs files the shim redirects to.
 */
#ifndef VRAMSTREAM_EMU_ROOT_H
#define VRAMSTREAM_EMU_ROOT_H

#include <sys/types.h>

#include "emu_config.h"

/*
 * Creates root with dev/kfd, dev/dri (a link to @aperture_dir, made anew, holding the
 * render nodes: emu_aperture.h), the KFD topology, and the render-node files.
 */
int emu_root_create(const char *root, const char *aperture_dir, const struct emu_config *cfg);

/* Creates root/run/kfd/<pid> (the per-process KFD node) if missing; path gets its name. */
int emu_root_kfd_node(const char *root, pid_t pid, char *path, size_t cap);

/* Removes the aperture folder of emulator folder @emu_dir (emu_aperture.h), at the daemon's exit.
 */
void emu_root_remove_apertures(const char *emu_dir);
/* Removes root/run/kfd/<pid>. */
void emu_root_kfd_node_remove(const char *root, pid_t pid);

/* Writes the KFD sysfs topology (kfd_topology.c formats) under root/sys. */
int emu_topology_write(const char *root, const struct emu_config *cfg);

/* CPU cache folders under root/sys/devices/system, only where the host has none (emu_root_cpu.c).
 */
int emu_root_cpu_caches(const char *root);

/* Helpers for the other writers of the fake root. */
int emu_root_mkdirs(const char *path);
int emu_root_write_file(const char *path, const char *text);

#endif
