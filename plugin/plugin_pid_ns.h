/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which pid names a task where. A task inside a pid namespace (a container)
 * has one number per namespace from criu's down to its own:
 *  - KFD reports it by its number in its own, innermost namespace
 *    (kfd_chardev.c, criu_process_info: task_pid_nr_ns(p->lead_thread,
 *    task_active_pid_ns(p->lead_thread))); the plugin names the task's KFD
 *    image by it at dump, and RESTORE_EXT_FILE, running inside the restored
 *    task, finds it again by getpid(), the same number;
 *  - criu passes RESUME_DEVICES_LATE its number in criu's namespace
 *    (criu/cr-restore.c: run_plugins(RESUME_DEVICES_LATE, item->pid->real)),
 *    and KFD RESUME wants exactly that one: it looks args->pid up in the
 *    caller's namespace (criu_resume: find_get_pid -> find_vpid);
 *  - the restore server learns a task's number in criu's namespace from
 *    SO_PEERCRED, read in criu's process (net/core/sock.c: pid_vnr of the
 *    peer), so it matches RESUME_DEVICES_LATE's without translation.
 * Only the image name needs translating, from criu's number to the task's own.
 */
#ifndef VRAMSTREAM_PLUGIN_PID_NS_H
#define VRAMSTREAM_PLUGIN_PID_NS_H

#include <sys/types.h>

/*
 * @pid (a pid in the namespace of the caller's /proc) as the task knows
 * itself: the last NSpid entry of /proc/<pid>/status (fs/proc/array.c,
 * task_state). 0 or -errno (-ESRCH/-ENOENT when it is gone).
 */
int plugin_pid_ns_own(pid_t pid, pid_t *own);

/*
 * The other way, where a file tells tasks apart: the pid (in the namespace
 * of the caller's /proc) of the task that knows itself as @own and holds the
 * open file our @fd refers to (a dump's copy of the task's KFD file, whose
 * PROCESS_INFO gave @own). 0, or -ESRCH when no task does.
 */
int plugin_pid_ns_holder(pid_t own, int fd, pid_t *pid);

#endif
