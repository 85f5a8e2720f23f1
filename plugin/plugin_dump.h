/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VRAMSTREAM_PLUGIN_DUMP_H
#define VRAMSTREAM_PLUGIN_DUMP_H

#include <stdbool.h>
#include <stdint.h>

#include "plugin_config.h"
#include "plugin_guard.h"

/*
 * The processes whose GPU queues a dump has paused. They stay paused until
 * criu has dumped their memory too (plugin_dump_finish from the plugin's
 * exit hook, which criu calls after the images are written and before it
 * resumes or kills the tasks: criu/cr-dump.c, cr_dump_finish): were they
 * unpaused at the end of DUMP_EXT_FILE, as the upstream amdgpu plugin does,
 * GPU work would change VRAM and host memory between the two, and the image
 * would hold a state the process never had.
 */
struct plugin_dump_session {
	struct plugin_paused {
		int fd; /* our own dup of the KFD file */
		uint32_t pid;
		struct plugin_guard guard; /* unpauses the task if criu dies first */
	} * paused;
	unsigned int n_paused, cap_paused;
	bool kfd_version_ok; /* checked once per dump */
};

/*
 * Checkpoints the process behind KFD file @fd (criu's copy of it) into the
 * image folder @dirfd as criu file @id: PROCESS_INFO, CHECKPOINT, metadata,
 * BO contents of every GPU in parallel. On success the queues stay paused
 * and the process is recorded in @session; on failure they are unpaused at
 * once, so a failed dump leaves the process running.
 */
int plugin_dump_kfd(const struct plugin_config *cfg, struct plugin_dump_session *session, int dirfd,
		    int fd, int id);

/* UNPAUSE every process @session paused; 0 or the first error. */
int plugin_dump_finish(struct plugin_dump_session *session);

/* Records render-node file @fd (criu file @id) with its GPU. */
int plugin_dump_render(const struct plugin_config *cfg, int dirfd, int fd, int id,
		       unsigned int minor);

#endif
