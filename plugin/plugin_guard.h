/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A guard for each task whose GPU queues a dump has paused. From KFD's
 * PROCESS_INFO until the plugin unpauses them (plugin_dump_finish, or the
 * dump's failure path), the task's queues are evicted, and only its own
 * threads or its ptrace tracer may undo that (plugin_unpause.h). If criu
 * dies in between (SIGKILL, SIGTERM, a crash), no hook of ours runs and the
 * kernel does not unpause on its own: the job would run on the CPU with its
 * GPU work stopped for ever.
 *
 * The guard is a small process forked from criu (in a session of its own, so
 * a signal to criu's process group spares it) that holds a copy of the
 * task's KFD file and waits for one of two things: a word from the plugin
 * that the dump no longer needs it (it exits), or criu's exit (a pidfd). On
 * the latter it becomes the task's tracer, issues UNPAUSE, detaches, and
 * removes the temporary files the interrupted dump left in the image folder.
 * It closes every other file criu held, so criu's death is seen at once by
 * everything else (criu's parasite in the task among them).
 */
#ifndef VRAMSTREAM_PLUGIN_GUARD_H
#define VRAMSTREAM_PLUGIN_GUARD_H

#include <stdint.h>
#include <sys/types.h>

struct plugin_guard {
	pid_t pid;   /* the guard process; 0 when none */
	int done_fd; /* write end of the pipe the guard waits on; -1 when none */
};

/*
 * Starts a guard for the task whose KFD file criu handed the plugin as @fd
 * (criu file @id, @own_pid the task's pid in its own namespace), right after
 * PROCESS_INFO paused its queues; temporary files named after (@own_pid, @id) in
 * image folder @dirfd are its to remove. 0 or -errno; on error @g is empty
 * and the dump goes on unguarded (logged).
 */
int plugin_guard_start(struct plugin_guard *g, int fd, uint32_t own_pid, int id, int dirfd);

/* The queues are running again (or were never paused): the guard exits. NULL-safe. */
void plugin_guard_stop(struct plugin_guard *g);

#define PLUGIN_GUARD_KEEP_MAX 8

/*
 * What both guards (this one and plugin_restore_guard.h) start from: runs
 * @fn(@arg) in a process that is not criu's child (forked twice, the middle
 * one reaped at once, so criu never has a child of ours to wait for or to
 * take for one of its tasks), in a session of its own (a signal to criu's
 * process group spares it), named @name, with default signal handlers and
 * no signal blocked, stdin and stdout on /dev/null and every fd from 3 up
 * closed but the @n_keep (at most PLUGIN_GUARD_KEEP_MAX) in @keep (-1s
 * skipped). @fn must not return. Returns the guard's pid once it runs, or -errno.
 */
pid_t plugin_guard_spawn(const char *name, const int *keep, unsigned int n_keep,
			 void (*fn)(void *arg), void *arg);

#endif
