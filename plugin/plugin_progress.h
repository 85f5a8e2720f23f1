/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Progress lines for long transfers ("dump of pid 42: 12.0 of 80.0 GB of GPU
 * memory moved (15%) after 5 s"), written from the thread criu called the
 * plugin on, every PLUGIN_PROGRESS_INTERVAL_S seconds.
 */
#ifndef VRAMSTREAM_PLUGIN_PROGRESS_H
#define VRAMSTREAM_PLUGIN_PROGRESS_H

#include "plugin_transfer.h"

#define PLUGIN_PROGRESS_INTERVAL_S 5.0

struct plugin_progress {
	const char *what; /* "dump" or "restore" */
	int pid;
	struct transfer_progress tp; /* set by plugin_progress_init() */
};

void plugin_progress_init(struct plugin_progress *p, const char *what, int pid);

#endif
