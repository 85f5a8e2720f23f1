// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A handler's reply (struct emu_drep, emu_daemon_internal.h): payload and fds
 * the daemon's loop sends back and then releases. A leaf: the daemon's loop
 * and every handler use it, it uses nothing of theirs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_daemon_internal.h"

int emu_drep_alloc(struct emu_drep *rep, size_t len)
{
	free(rep->payload);
	rep->payload = calloc(1, len ? len : 1);
	if (!rep->payload) {
		rep->len = 0;
		return -ENOMEM;
	}
	rep->len = len;
	return 0;
}

int emu_drep_add_fd(struct emu_drep *rep, int fd)
{
	int *n = realloc(rep->fds, sizeof(int) * (rep->nfds + 1));

	if (!n) {
		close(fd);
		return -ENOMEM;
	}
	rep->fds = n;
	rep->fds[rep->nfds++] = fd;
	return 0;
}

void emu_drep_release(struct emu_drep *rep)
{
	unsigned int i;

	for (i = 0; i < rep->nfds; i++)
		close(rep->fds[i]);
	free(rep->fds);
	free(rep->payload);
	memset(rep, 0, sizeof(*rep));
}
