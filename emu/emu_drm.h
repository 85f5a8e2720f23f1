/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Emulated amdgpu render nodes (/dev/dri/renderD<minor>): the DRM and amdgpu ioctls that
 * libdrm_amdgpu issues, executed inside the calling process (the shim runs there), with
 * per-open-file state as the kernel keeps it (GEM handles, GPU VM, contexts, fences) and SDMA
 * IBs executed by emu_sdma_exec on one thread per emulated SDMA engine.
 * The shim core dispatches to emu_drm_render_ops (emu_devops.h).
 *
 * Emulated (each rule cites its kernel function where it is implemented):
 *   DRM core: VERSION (amdgpu 3.54), GET_CAP, GEM_CLOSE, PRIME_FD_TO_HANDLE (memfd "dma-bufs",
 *     e.g. KFD exports), PRIME_HANDLE_TO_FD.
 *   amdgpu: INFO (ACCEL_WORKING, DEV_INFO, HW_IP_INFO/COUNT, FW_VERSION, VRAM_GTT, MEMORY,
 *     READ_MMR_REG of GB_ADDR_CONFIG, usage counters, TIMESTAMP), GEM_CREATE (a memfd),
 *     GEM_USERPTR (the process's pages), GEM_MMAP and mmap() of the render fd (also of KFD
 *     BOs, through the daemon), GEM_VA (MAP, UNMAP, CLEAR, REPLACE), GEM_METADATA, GEM_OP,
 *     GEM_WAIT_IDLE, CTX, BO_LIST, CS (IB, FENCE, DEPENDENCIES, BO_HANDLES chunks on the DMA
 *     IP), WAIT_CS, WAIT_FENCES, VM.
 *   SDMA 4.x packets: see emu_sdma_exec.h.
 * Not emulated (the ioctl fails with -EINVAL and a message): syncobjs, GFX/compute IBs (the
 * GC block reports no rings), partially resident textures, GDS/GWS/OA, TMZ.
 *
 * Behaviour worth knowing:
 *   - A context has 2 DMA entities (rings 0 and 1, amdgpu_ctx_num_entities); an idle entity
 *     moves to the least loaded engine, so N engines run in parallel for N busy entities
 *     (use several contexts). HW_IP_INFO's available_rings has one bit per engine.
 *   - IBs are checked at submission: a malformed packet fails the CS ioctl with -EINVAL, an
 *     address that does not translate with -EFAULT. What fails only while running becomes
 *     the fence's error, returned by WAIT_CS / WAIT_FENCES.
 *   - Each engine may be capped to gpus[i].sdma_bytes_per_sec (emu_config.h).
 *   - Engine threads exist only while they have work and are joined by the waits and by
 *     close(), so a process that waited for its jobs holds no emulator threads.
 *   - Per-file state lives in the process: after fork() the child has a copy (jobs in flight
 *     at fork() do not complete there); after exec() a render fd starts with no state.
 *   - Every GEM or imported BO holds one close-on-exec fd (its memfd) until GEM_CLOSE.
 *   - VRAMSTREAM_EMU_DEBUG=1 logs every failing ioctl.
 */
#ifndef VRAMSTREAM_EMU_DRM_H
#define VRAMSTREAM_EMU_DRM_H

#include "emu_config.h"
/* emu_drm_populate_root(), defined in emu_drm_sysfs.c: the sysfs files libdrm reads for each
 * render node, under /sys/dev/char/226:<minor>, /sys/class/drm and /sys/devices/emu/<slot>
 * of the root. */
#include "emu_drm_root.h"

/* Render minors start at 128 (drm_minor_alloc: DRM_MINOR_RENDER * 64). */
#define EMU_DRM_RENDER_MINOR_BASE 128

#endif
