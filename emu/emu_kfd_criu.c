// SPDX-License-Identifier: GPL-2.0-or-later
/* KFD CRIU ops (placeholder until the state machine lands). */
#include <errno.h>

#include "emu_daemon_internal.h"

int emu_kfd_criu_op(struct emu_daemon *d, struct emu_kproc *p, const struct emu_dreq *rq,
		    struct emu_drep *rep)
{
	return -EINVAL;
}
