/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unpausing a task's GPU queues from a process other than the criu that
 * paused them: the plugin's guard (plugin_guard.c) when criu dies in the
 * middle of a dump, and `vramstream-img unpause PID` by hand.
 *
 * What the kernel allows (drivers/gpu/drm/amd/amdkfd/kfd_chardev.c):
 *  - kfd_ioctl serves a KFD file only to threads of the process that opened
 *    it (process->lead_thread != current->group_leader -> -EBADF), except
 *    that the ioctls flagged KFD_IOC_FLAG_CHECKPOINT_RESTORE, that is
 *    AMDKFD_IOC_CRIU_OP, are also served to the thread that ptrace-traces
 *    the process's leader (ptrace_parent(process->lead_thread) == current);
 *    CRIU ops further need CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN (-EACCES);
 *  - criu_unpause restores the queues PROCESS_INFO evicted, once, when
 *    p->queues_paused is set, else -EINVAL;
 *  - nothing unpauses them when the criu that paused them exits: the flag
 *    lives on the kfd_process, and kfd_release (criu closing its copy of the
 *    file) only drops a reference. The tracer's exit detaches the task
 *    (kernel/ptrace.c, exit_ptrace), so it runs on, with its queues evicted.
 * So any process with those capabilities may unpause: PTRACE_SEIZE the
 * leader (it does not stop the task), take a copy of its KFD file
 * (pidfd_getfd, which needs PTRACE_MODE_ATTACH_REALCREDS, or a copy it
 * already holds), issue UNPAUSE from the seizing thread, detach.
 */
#ifndef VRAMSTREAM_PLUGIN_UNPAUSE_H
#define VRAMSTREAM_PLUGIN_UNPAUSE_H

#include <sys/types.h>

/*
 * PTRACE_SEIZE task @pid (a thread-group leader in the caller's pid
 * namespace). While another tracer holds it (a criu that is still exiting)
 * the kernel answers -EPERM; this retries for up to @wait_s seconds.
 * 0, -ESRCH when the task is gone, or -errno.
 */
int plugin_unpause_seize(pid_t pid, double wait_s);

/* Detaches from @pid after plugin_unpause_seize(): interrupt, wait, detach. */
void plugin_unpause_detach(pid_t pid);

/*
 * UNPAUSE through KFD file @kfd_fd of @pid, which the calling thread traces.
 * 0 when the queues were paused and now run, -EINVAL when they were not
 * paused, or the kernel's error.
 */
int plugin_unpause_kfd(int kfd_fd);

/*
 * The whole sequence for `vramstream-img unpause`: seize @pid, take every
 * /dev/kfd file it holds (pidfd_getfd), UNPAUSE through them, detach.
 * *@unpaused says whether queues were paused (and now run). 0, -ENOENT when
 * the task holds no /dev/kfd file, or -errno; @why gets a sentence.
 */
int plugin_unpause_pid(pid_t pid, int *unpaused, char *why, size_t why_len);

/*
 * The host pid (in the caller's namespace) of the task traced by the calling
 * process that holds the very file @kfd_fd refers to (kcmp KCMP_FILE), with
 * @own_pid its pid in its own namespace (KFD's PROCESS_INFO's answer).
 * 0, -ESRCH when no such tracee, or -errno.
 */
int plugin_unpause_find_tracee(int kfd_fd, pid_t own_pid, pid_t *host_pid);

#endif
