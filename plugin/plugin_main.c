// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CRIU plugin registration. CRIU dlopen()s every .so in its plugin folder
 * (criu/plugin.c:cr_plugin_init) and looks up CR_PLUGIN_DESC, the one symbol
 * this library exports (plugin/plugin.map).
 */
#include <criu-plugin.h>

#include "plugin_log.h"

static const char *plugin_stage_name(int stage)
{
	switch (stage) {
	case CR_PLUGIN_STAGE__DUMP:
		return "dump";
	case CR_PLUGIN_STAGE__PRE_DUMP:
		return "pre-dump";
	case CR_PLUGIN_STAGE__RESTORE:
		return "restore";
	}
	return "unknown";
}

static int vramstream_plugin_init(int stage)
{
	pr_info("plugin initialised for %s (version " VRAMSTREAM_VERSION ")",
		plugin_stage_name(stage));
	return 0;
}

static void vramstream_plugin_exit(int stage, int ret)
{
	pr_info("plugin finished %s (%s)", plugin_stage_name(stage), ret ? "failed" : "ok");
}

/* Built with hidden visibility: the descriptor alone is made visible. */
#pragma GCC visibility push(default)
CR_PLUGIN_REGISTER("vramstream", vramstream_plugin_init, vramstream_plugin_exit)
#pragma GCC visibility pop
