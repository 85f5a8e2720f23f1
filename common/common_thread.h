/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Threads that never take a signal. The plugin's threads (and compress/'s,
 * started from them or from criu's own thread) run inside criu, whose
 * handlers expect to run in criu's thread: a process-directed SIGCHLD taken
 * by one of ours runs criu's handler there, which reaps a helper criu is
 * about to wait for (criu/cr-restore.c: sigchld_handler; criu/util.c:
 * cr_system_userns: "waitpid() failed: No child processes", then "Locking
 * network failed" in a runc restore, seen with the restore server's threads
 * before they blocked signals), and a blocking call of ours could see EINTR. A thread
 * starts with its creator's mask, so the mask is filled around
 * pthread_create (glibc blocks them the same way for its own helper
 * threads). Libc only (common/README.md).
 */
#ifndef VRAMSTREAM_COMMON_THREAD_H
#define VRAMSTREAM_COMMON_THREAD_H

#include <pthread.h>
#include <signal.h>

/* pthread_create with every signal blocked in the new thread; 0 or -errno. */
static inline int common_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	r = pthread_sigmask(SIG_BLOCK, &all, &old);
	if (r)
		return -r;
	r = -pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

#endif
