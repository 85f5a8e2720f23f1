// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>

#include "img.h"
int img_cmd_tune(const struct img_common *c, int argc, char **argv) {
	(void)c;
	(void)argc;
	(void)argv;
	fprintf(stderr, "vramstream-img tune: not implemented yet\n");
	return IMG_EXIT_USAGE;
}
