/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Wire protocol between processes under the emulator (the shim) and the
 * daemon, over the unix stream socket $VRAMSTREAM_EMU_DIR/socket.
 *
 * One connection per request: connect, send a struct emu_req followed by
 * payload_len bytes (fds, if any, ride on the header's sendmsg with
 * SCM_RIGHTS), read a struct emu_rep followed by its payload (fds on the
 * header), close. A workload therefore never holds a socket to the daemon
 * between ioctls, so criu never finds one in it. The daemon learns the
 * caller's pid from SO_PEERCRED, never from the request.
 */
#ifndef VRAMSTREAM_EMU_PROTO_H
#define VRAMSTREAM_EMU_PROTO_H

#include <stdint.h>

#define EMU_PROTO_MAGIC	      0x454d5531u /* "EMU1" */
#define EMU_PROTO_MAX_PAYLOAD (256u << 20)
#define EMU_PROTO_MAX_FDS     250 /* SCM_MAX_FD is 253 (include/net/scm.h) */

enum emu_op {
	EMU_OP_PING = 1,
	/* KFD file open: make the caller's per-process stand-in node. Reply payload: its path. */
	EMU_OP_KFD_OPEN = 2,
	/* A KFD ioctl: arg0 = request, owner_pid = the pid that opened the KFD file. */
	EMU_OP_KFD_IOCTL = 3,
	/* KFD mmap: arg0 = mmap offset, arg1 = length. Reply: one fd to map at offset 0. */
	EMU_OP_KFD_MMAP = 4,
	/*
	 * A VRAM/GTT BO's memory by its DRM mmap offset (for render-node mmap):
	 * arg0 = mmap offset, gpu_index = GPU. Reply payload: struct
	 * emu_bo_info (the caller maps its own render node's file, an
	 * aperture: emu_aperture.h).
	 */
	EMU_OP_BO_BY_OFFSET = 5,
	/* Daemon statistics, for tests. Reply payload: struct emu_stats. */
	EMU_OP_STATS = 6,
	/* Stop the daemon. */
	EMU_OP_SHUTDOWN = 7,
	/*
	 * May the caller use GPU gpu_index (kfd_devcgroup_check_permission)?
	 * Result 0 or -EPERM; the shim asks before it shows a GPU's topology
	 * or opens its render node (emu_devcgroup.c).
	 */
	EMU_OP_GPU_ACCESS = 8,
	/* A render-node file's GEM objects: arg0 = enum emu_gem_op (emu_gem_wire.h). */
	EMU_OP_GEM = 9,
};

struct emu_req {
	uint32_t magic;
	uint32_t op;	    /* enum emu_op */
	uint32_t owner_pid; /* KFD: pid that opened the file the ioctl is on */
	uint32_t gpu_index; /* render node ops */
	uint64_t arg0;
	uint64_t arg1;
	uint32_t payload_len;
	uint32_t nfds;
};

struct emu_rep {
	int32_t result; /* >= 0, or -errno */
	uint32_t payload_len;
	uint32_t nfds;
	uint32_t pad;
};

struct emu_bo_info {
	uint64_t size;
	uint64_t va;
	uint32_t alloc_flags;
	uint32_t gpu_id;
	uint32_t owner_pid;
	uint32_t pad;
};

struct emu_stats {
	uint32_t num_processes;	   /* processes with KFD state */
	uint32_t num_bos;	   /* BOs of all processes */
	uint64_t vram_used[8];	   /* per GPU index, bytes */
	uint64_t packets_executed; /* compute packets run since start */
};

#endif
