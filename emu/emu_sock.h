/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Socket plumbing shared by the emulator's client (the shim) and daemon: exact
 * reads and writes, and fds passed in batches of EMU_PROTO_MAX_FDS, each batch
 * riding on one byte with SCM_RIGHTS (unix(7)), so any number of BO fds can
 * travel.
 */
#ifndef VRAMSTREAM_EMU_SOCK_H
#define VRAMSTREAM_EMU_SOCK_H

#include <stddef.h>

int emu_sock_send_all(int sock, const void *buf, size_t len);
int emu_sock_recv_all(int sock, void *buf, size_t len);
int emu_sock_send_fds(int sock, const int *fds, unsigned int n);
/* Receives n fds (O_CLOEXEC); on failure closes those already received. */
int emu_sock_recv_fds(int sock, int *fds, unsigned int n);

#endif
