// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vramstream-img unpause PID: lets a job run on whose GPU queues a dump
 * paused and never unpaused (criu killed together with the plugin's guard,
 * or a plugin without one). As KFD allows (plugin/plugin_unpause.h): this
 * process traces the task for a moment, takes a copy of its /dev/kfd file
 * and issues KFD's UNPAUSE as its tracer. Needs CAP_CHECKPOINT_RESTORE or
 * CAP_SYS_ADMIN, and no other tracer attached (a live criu still dumping it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img.h"
#include "plugin_unpause.h"

static void unpause_usage(FILE *f)
{
	fprintf(f,
		"usage: vramstream-img unpause [--json] PID\n"
		"  restart the GPU queues of process PID that an interrupted criu dump left paused\n"
		"  (KFD UNPAUSE, issued as the process's ptrace tracer); a process whose queues\n"
		"  are not paused is left as it is\n");
}

int img_cmd_unpause(const struct img_common *c, int argc, char **argv)
{
	int unpaused = 0, r;
	char why[256], *end;
	long pid;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		unpause_usage(stdout);
		return IMG_EXIT_OK;
	}
	if (argc != 2) {
		unpause_usage(stderr);
		return IMG_EXIT_USAGE;
	}
	pid = strtol(argv[1], &end, 10);
	if (*end || pid <= 0 || pid > 0x3fffffff) {
		fprintf(stderr, "vramstream-img unpause: '%s' is not a process id\n", argv[1]);
		return IMG_EXIT_USAGE;
	}
	r = plugin_unpause_pid((pid_t)pid, &unpaused, why, sizeof(why));
	if (c->json) {
		struct img_json j;

		img_json_init(&j, stdout);
		img_json_obj_begin(&j, NULL);
		img_json_i64(&j, "pid", pid);
		img_json_bool(&j, "ok", r == 0);
		img_json_bool(&j, "unpaused", unpaused);
		img_json_str(&j, "message", why);
		img_json_obj_end(&j);
		fputc('\n', stdout);
	} else {
		fprintf(r ? stderr : stdout, "%s\n", why);
	}
	return r ? IMG_EXIT_PROBLEM : IMG_EXIT_OK;
}
