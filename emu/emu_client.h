/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The shim's side of the daemon protocol (emu_proto.h): one connection per
 * call. Used by the KFD class (emu_kfd.c) and available to the render-node
 * class (emu_drm*.c).
 */
#ifndef VRAMSTREAM_EMU_CLIENT_H
#define VRAMSTREAM_EMU_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "emu_proto.h"

struct emu_call {
	/* in: op, owner_pid, gpu_index, arg0, arg1 (magic, payload_len, nfds are set by the call)
	 */
	struct emu_req req;
	const void *payload;
	uint32_t payload_len;
	const int *fds;
	unsigned int nfds;
	/* in: where the reply payload and fds go */
	void *rep_buf;
	size_t rep_cap;
	int *rep_fds;
	unsigned int rep_fds_cap;
	/* out */
	size_t rep_len;
	unsigned int rep_nfds;
};

/* $VRAMSTREAM_EMU_DIR, or NULL when the process does not run under the emulator. */
const char *emu_client_dir(void);

/*
 * Runs one request. Returns the daemon's result (>= 0 or -errno), or -errno
 * of the transport (-ECONNREFUSED/-ENOENT when no daemon runs). A reply larger
 * than rep_cap or carrying more fds than rep_fds_cap gives -EMSGSIZE (extra
 * fds are closed).
 */
int emu_client_call(struct emu_call *c);

#endif
