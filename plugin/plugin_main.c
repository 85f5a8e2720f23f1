// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CRIU plugin registration. CRIU dlopen()s every .so in its plugin folder
 * (criu/plugin.c:cr_plugin_init) and looks up CR_PLUGIN_DESC, the one symbol
 * this library exports (plugin/plugin.map).
 */
#include <criu-plugin.h>

#include "plugin_config.h"
#include "plugin_log.h"

/*
 * The plugin's state for one criu run. CRIU calls hooks from one thread at a
 * time; it is owned by this file and handed down by pointer.
 */
static struct plugin_config plugin_cfg;

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
	char msg[512];
	int r;

	r = plugin_config_load(&plugin_cfg, plugin_config_getenv, NULL, msg, sizeof(msg));
	if (r) {
		pr_err("cannot start: %s", msg);
		return r;
	}
	plugin_config_describe(&plugin_cfg, msg, sizeof(msg));
	pr_info("plugin initialised for %s (version " VRAMSTREAM_VERSION ")",
		plugin_stage_name(stage));
	pr_info("settings: %s", msg);
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
