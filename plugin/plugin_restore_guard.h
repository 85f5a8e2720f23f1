/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A guard for the tasks of a restore. criu sets no parent-death signal on
 * the tasks it restores (criu/pie/restorer.c: restore_pdeath_sig sets only
 * the one the image holds, and that one would outlive the restore), so when
 * criu dies mid-restore (SIGKILL, a crash; SIGTERM it blocks while it
 * restores: cr-restore.c, criu_signals_setup) its tasks are left for ever
 * where they were: in criu's restore code waiting on its futexes
 * (restore_switch_stage, restore_finish_stage), or, detached from their dead
 * tracer past CR_STATE_COMPLETE, running with the GPU queues that only
 * RESUME_DEVICES_LATE would have started still stopped. Neither can go on
 * meaningfully, and while they live the same image cannot be restored again
 * (their pids are taken).
 *
 * So a restore with GPU state of ours starts a guard from criu's process at
 * plugin init: cr_plugin_init(CR_PLUGIN_STAGE__RESTORE) runs in
 * cr_restore_tasks before criu_signals_setup installs the SIGCHLD handler
 * that fails the restore on any child's exit (sigchld_handler ->
 * sigchld_process), and before any task is forked; the guard is forked twice
 * (plugin_guard_spawn) so it is never criu's child. A guard forked from a
 * restored task would be a child criu does not know (the same handler fails
 * the restore, and criu's fd and memory cleanup in the task would be ours).
 *
 * The guard learns the restore's tasks itself, from /proc/PID/task/TID/
 * children (what criu's own dump reads): while criu lives, the root is the
 * child of criu whose innermost pid (NSpid) is the first entry of
 * pstree.img (or, with --restore-sibling, the child of criu's parent that
 * criu traces: maybe_clone_parent, restore_root_task seizes it); every other
 * task is a descendant of the root (criu forks each task from its parent:
 * restore_task_with_children, fork_with_pid), so the children of the tasks
 * found are looked at again when criu has died, before the kill. It holds
 * a pidfd of each, opened and then checked against the parent it was found
 * under, so a reused pid never makes it signal a stranger. This needs no
 * hook inside the tasks, which may sit in pid, network and mount namespaces
 * of their own (the guard stays in criu's first ones, where /proc names
 * them all). Left open: criu dying within the first few milliseconds after
 * it forked the root, before the guard looked (it looks every 5 ms until
 * it has found the root).
 *
 * The plugin tells the guard, from criu's process, which task
 * RESUME_DEVICES_LATE has handled; once every live task of the tree has
 * been handled the restore is complete and the guard exits without doing
 * anything. (criu calls the hook for every live task, and our hook answers
 * for each; a task another plugin's hook answered first, criu/include/
 * plugin.h: run_plugins stops at the first answer but -ENOTSUP, is never
 * reported, and the guard then stays until the exit hook below: right
 * after the restore with -d, after the restored job with criu attached.) When the restore fails,
 * criu kills its tasks itself (restore_root_task, out_kill) and the plugin's exit hook tells the
 * guard to leave. When criu dies first, the guard kills every task of the tree (SIGKILL through the
 * pidfds), says so on criu's log and stderr, and exits. The image folder is not touched.
 */
#ifndef VRAMSTREAM_PLUGIN_RESTORE_GUARD_H
#define VRAMSTREAM_PLUGIN_RESTORE_GUARD_H

#include <stdbool.h>
#include <sys/types.h>

struct plugin_restore_guard {
	pid_t pid;  /* the guard process; 0 when none */
	int cmd_fd; /* our end of the socket pair the guard reads; -1 when none */
};

/*
 * At plugin init of a restore, in criu's process, before criu forks
 * anything and before the plugin starts threads: starts a guard for the
 * tasks of the restore from image folder @dirfd. 0 or -errno (logged; the
 * restore goes on unguarded).
 */
int plugin_restore_guard_start(struct plugin_restore_guard *g, int dirfd);

/* RESUME_DEVICES_LATE is done with task @pid (criu's namespace). NULL-safe. */
void plugin_restore_guard_resumed(struct plugin_restore_guard *g, pid_t pid);

/* criu ends the restore (plugin exit hook): the guard leaves. NULL-safe. */
void plugin_restore_guard_stop(struct plugin_restore_guard *g);

#endif
