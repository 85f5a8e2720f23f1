/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Overlapped restore: BO contents are copied back from criu's own process
 * while criu goes on restoring the tasks' memory, files and the rest.
 *
 * CRIU 4.1 runs RESTORE_EXT_FILE inside the restored task, which cannot keep
 * a thread of its own (the restorer unmaps everything of criu's before the
 * task resumes). So, as upstream's amdgpu plugin does since CRIU 4.2
 * (plugins/amdgpu/amdgpu_plugin.c: parallel_restore_bo_contents, the gCROP
 * design of "On-demand and Parallel Checkpoint/Restore for GPU
 * Applications", SoCC'24), the task creates its BOs through KFD and hands
 * their dma-buf fds to criu's process over a unix socket; a thread there
 * streams the contents in, and RESUME_DEVICES_LATE waits for it before it
 * lets the GPU run. Unlike upstream, this also serves process trees: each
 * task's request is queued and waited for by its own pid.
 *
 * CRIU 4.1 has no hook in criu's process between forking the root task and
 * the tasks' file restore, so the server starts at plugin init, before the
 * root task is cloned, and stays idle (holding no lock) until a task calls.
 * The socket is abstract (named, not a file), so tasks restored into another
 * network namespace cannot reach it: restore_server_submit() then fails and
 * the caller restores the contents in the task as without the server.
 *
 * Nothing here logs (the threads must not write criu's log while criu
 * does): requests carry their errors and statistics back to the caller.
 */
#ifndef VRAMSTREAM_PLUGIN_RESTORE_SERVER_H
#define VRAMSTREAM_PLUGIN_RESTORE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "plugin_config.h"
#include "plugin_dma.h"
#include "plugin_transfer.h"

struct restore_server;

/*
 * In criu's process, before any task exists: binds the socket and starts the
 * receiving and copying threads. @image_dir is the folder the stream files
 * of requests are in (as criu's process sees it). Copies @cfg.
 */
int restore_server_start(const struct plugin_config *cfg, const struct plugin_dma_ops *dma,
			 const char *image_dir, struct restore_server **out, char *err,
			 size_t err_len);

/*
 * In a restored task (a copy of criu's process made after start): hands
 * @jobs to the server. Each job's stream_path names its file by its last
 * component, which the server looks up in its own image folder. The server
 * holds its own references to the BOs' dma-buf fds once this returns 0; the
 * caller closes its own. On failure nothing was queued and @err says why.
 */
int restore_server_submit(const struct restore_server *s, const struct transfer_job *jobs,
			  unsigned int n_jobs, char *err, size_t err_len);

struct restore_server_done {
	const struct transfer_job *jobs; /* each with status, err and stats */
	unsigned int n_jobs;
	int status;			     /* 0, or the first job's error */
	double submitted, started, finished; /* CLOCK_MONOTONIC seconds */
};

/*
 * In criu's process: waits until the request of task @pid (the pid as criu's
 * process sees it) has been carried out, calling @progress (may be NULL)
 * every interval meanwhile. Returns 1 and fills @done (valid until stop), or
 * 0 when @pid handed nothing over.
 */
int restore_server_wait(struct restore_server *s, pid_t pid,
			const struct transfer_progress *progress, struct restore_server_done *done);

/*
 * Ends the threads. When @discard (the restore failed), copies stop early and
 * requests not started are dropped; otherwise everything queued is carried
 * out first. Frees everything.
 */
void restore_server_stop(struct restore_server *s, bool discard);

#endif
