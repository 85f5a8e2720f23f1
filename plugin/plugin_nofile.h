/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Room in the fd table for KFD's dma-buf fds. CHECKPOINT and RESTORE hand
 * out one dma-buf fd per VRAM/GTT BO, all in the one call, each at the
 * lowest free number, and fail the whole call with EMFILE when one does not
 * fit below the caller's soft RLIMIT_NOFILE (kfd_chardev.c:
 * criu_get_prime_handle -> get_unused_fd_flags, commit_files). Nothing lets
 * a caller take them in batches, so for that call the soft limit must hold
 * them all; an unprivileged process may raise its soft limit up to its hard
 * one (kernel/sys.c: do_prlimit), and only the hard limit is a real bound.
 * The transfer then imports each BO into the DMA engine and closes its fd
 * (plugin_transfer.h: transfer_job.close_fds), so the fds live only from
 * the call to the engine's start.
 */
#ifndef VRAMSTREAM_PLUGIN_NOFILE_H
#define VRAMSTREAM_PLUGIN_NOFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>

struct plugin_nofile {
	struct rlimit saved; /* the limit before plugin_nofile_raise() */
	bool raised;
};

/* Files the plugin opens beside the dma-bufs while they are open: stream
 * files, io_uring rings, the render node, eventfds, sockets. */
#define PLUGIN_NOFILE_SLACK 256

/*
 * Makes sure @fds more fds (and PLUGIN_NOFILE_SLACK) fit below the soft
 * limit, raising it up to the hard limit when needed. -EMFILE when even the
 * hard limit is too low, with @why naming the numbers and how to raise it.
 */
int plugin_nofile_raise(struct plugin_nofile *s, unsigned long fds, char *why, size_t why_len);

/*
 * Raises the soft limit to the hard one, whatever is open now: for criu's
 * process during a restore, whose restore server receives every BO's fd
 * from the tasks (and whose tasks, forked from it, inherit the limit for
 * their RESTORE). 0, or -errno with @why.
 */
int plugin_nofile_raise_all(struct plugin_nofile *s, char *why, size_t why_len);

/* Puts the soft limit back as it was (a no-op unless raised). */
void plugin_nofile_restore(struct plugin_nofile *s);

#endif
