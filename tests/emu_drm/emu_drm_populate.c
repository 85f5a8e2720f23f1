/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test helper: write the render nodes' sysfs files (emu_drm_populate_root) into the fake root
 * of a running emulator, for a daemon built without the render-node class.
 * Usage: emu_drm_populate EMU_DIR
 */
#include <stdio.h>
#include <string.h>

#include "emu_drm.h"

int main(int argc, char **argv)
{
	struct emu_config cfg;
	char root[4096];
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s EMU_DIR\n", argv[0]);
		return 2;
	}
	err = emu_config_load(argv[1], &cfg);
	if (err) {
		fprintf(stderr, "emu_drm_populate: %s/config: %s\n", argv[1], strerror(-err));
		return 1;
	}
	snprintf(root, sizeof(root), "%s/root", argv[1]);
	err = emu_drm_populate_root(root, &cfg);
	if (err) {
		fprintf(stderr, "emu_drm_populate: %s: %s\n", root, strerror(-err));
		return 1;
	}
	return 0;
}
