// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "emu_client.h"
#include "emu_sock.h"

const char *emu_client_dir(void)
{
	const char *d = getenv("VRAMSTREAM_EMU_DIR");

	return d && *d ? d : NULL;
}

static int emu_client_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *dir = emu_client_dir();
	int s, n;

	if (!dir)
		return -ENODEV;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/socket", dir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(s);
		return err;
	}
	return s;
}

static int emu_client_drain(int s, size_t len)
{
	char buf[4096];
	int err = 0;

	while (len && !err) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		err = emu_sock_recv_all(s, buf, n);
		len -= n;
	}
	return err;
}

int emu_client_call(struct emu_call *c)
{
	struct emu_rep rep;
	int s, err, fds_tmp[EMU_PROTO_MAX_FDS];
	unsigned int i;

	c->rep_len = 0;
	c->rep_nfds = 0;
	s = emu_client_connect();
	if (s < 0)
		return s;
	c->req.magic = EMU_PROTO_MAGIC;
	c->req.payload_len = c->payload_len;
	c->req.nfds = c->nfds;
	err = emu_sock_send_all(s, &c->req, sizeof(c->req));
	if (!err && c->payload_len)
		err = emu_sock_send_all(s, c->payload, c->payload_len);
	if (!err && c->nfds)
		err = emu_sock_send_fds(s, c->fds, c->nfds);
	if (!err)
		err = emu_sock_recv_all(s, &rep, sizeof(rep));
	if (err)
		goto out;
	if (rep.payload_len > c->rep_cap) {
		err = emu_sock_recv_all(s, c->rep_buf, c->rep_cap);
		if (!err)
			err = emu_client_drain(s, rep.payload_len - c->rep_cap);
		if (!err)
			err = -EMSGSIZE;
	} else if (rep.payload_len) {
		err = emu_sock_recv_all(s, c->rep_buf, rep.payload_len);
		c->rep_len = rep.payload_len;
	}
	if (err && err != -EMSGSIZE)
		goto out;
	/* Receive every fd, keep what fits, close the rest. */
	for (i = 0; i < rep.nfds;) {
		unsigned int batch =
			rep.nfds - i < EMU_PROTO_MAX_FDS ? rep.nfds - i : EMU_PROTO_MAX_FDS;
		unsigned int j;
		int e = emu_sock_recv_fds(s, fds_tmp, batch);

		if (e) {
			err = e;
			break;
		}
		for (j = 0; j < batch; j++, i++) {
			if (i < c->rep_fds_cap) {
				c->rep_fds[i] = fds_tmp[j];
				c->rep_nfds = i + 1;
			} else {
				close(fds_tmp[j]);
				err = -EMSGSIZE;
			}
		}
	}
	if (!err)
		err = rep.result;
out:
	if (err < 0) {
		while (c->rep_nfds)
			close(c->rep_fds[--c->rep_nfds]);
	}
	close(s);
	return err;
}
