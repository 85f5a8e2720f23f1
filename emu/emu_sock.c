// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emu_proto.h"
#include "emu_sock.h"

int emu_sock_send_all(int sock, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(sock, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int emu_sock_recv_all(int sock, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = recv(sock, p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int emu_sock_send_fds(int sock, const int *fds, unsigned int n)
{
	while (n) {
		unsigned int batch = n < EMU_PROTO_MAX_FDS ? n : EMU_PROTO_MAX_FDS;
		char cbuf[CMSG_SPACE(sizeof(int) * EMU_PROTO_MAX_FDS)];
		char byte = 'F';
		struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
		struct msghdr msg = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf,
			.msg_controllen = CMSG_SPACE(sizeof(int) * batch),
		};
		struct cmsghdr *cm;
		ssize_t r;

		memset(cbuf, 0, sizeof(cbuf));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * batch);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * batch);
		do
			r = sendmsg(sock, &msg, MSG_NOSIGNAL);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		fds += batch;
		n -= batch;
	}
	return 0;
}

int emu_sock_recv_fds(int sock, int *fds, unsigned int n)
{
	unsigned int got = 0;
	int err = 0;

	while (got < n) {
		unsigned int batch = n - got < EMU_PROTO_MAX_FDS ? n - got : EMU_PROTO_MAX_FDS;
		char cbuf[CMSG_SPACE(sizeof(int) * EMU_PROTO_MAX_FDS)];
		char byte;
		struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
		struct msghdr msg = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf,
			.msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *cm;
		ssize_t r;

		do
			r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		while (r < 0 && errno == EINTR);
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0) {
			err = -ECONNRESET;
			break;
		}
		cm = CMSG_FIRSTHDR(&msg);
		if ((msg.msg_flags & MSG_CTRUNC) && cm && cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS) {
			/*
			 * Past RLIMIT_NOFILE the kernel installs the fds that fit and
			 * drops the rest (net/core/scm.c: scm_detach_fds ->
			 * receive_fd -> get_unused_fd_flags, -EMFILE, MSG_CTRUNC).
			 * Our control buffer holds a whole batch, so that is the only
			 * cause, and the same rule as KFD's own fd handouts: -EMFILE.
			 */
			unsigned int in =
				(unsigned int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			int tmp[EMU_PROTO_MAX_FDS];

			if (in > EMU_PROTO_MAX_FDS)
				in = EMU_PROTO_MAX_FDS;
			memcpy(tmp, CMSG_DATA(cm), sizeof(int) * in);
			while (in)
				close(tmp[--in]);
			err = -EMFILE;
			break;
		}
		if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len != CMSG_LEN(sizeof(int) * batch) || (msg.msg_flags & MSG_CTRUNC)) {
			err = -EPROTO;
			break;
		}
		memcpy(fds + got, CMSG_DATA(cm), sizeof(int) * batch);
		got += batch;
	}
	if (err) {
		while (got)
			close(fds[--got]);
	}
	return err;
}
