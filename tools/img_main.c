// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vramstream-img: inspect, verify, recompress and tune vramstream images
 * (tools/README.md). Options common to every subcommand come before or
 * after its name: --json, --quiet, --workers N.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vramstream-img [--json] [--quiet] [--workers N] COMMAND [options] DIR\n"
		"commands:\n"
		"  info DIR                 what the image holds, per process and GPU\n"
		"  verify [--all] DIR       read every chunk, check checksums and metadata\n"
		"  recompress DIR --level L [--filter F] [--chunk-size S] [--out DIR2]\n"
		"                           rewrite the stream files with other settings, "
		"crash-safe\n"
		"  tune DIR|FILE.vrs [--storage-gbps G] [--sample S] [--plot FILE.svg]\n"
		"                           try settings on a sample, predict size and time\n"
		"  unpause PID              restart GPU queues an interrupted dump left paused\n"
		"  --json on any command prints JSON for scripts; `COMMAND --help` for details\n");
}

/* Takes the common options out of ARGV wherever they appear; returns the new argc. */
static int common_options(struct img_common *c, int argc, char **argv, int *bad)
{
	int out = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			c->json = true;
		} else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
			c->quiet = true;
		} else if (!strcmp(argv[i], "--workers") || !strncmp(argv[i], "--workers=", 10)) {
			const char *v = argv[i][9] == '=' ? argv[i] + 10
							  : (i + 1 < argc ? argv[++i] : NULL);
			char *end;
			long n = v ? strtol(v, &end, 10) : -1;

			if (!v || *end || n < 0 || n > 1024) {
				fprintf(stderr, "vramstream-img: --workers takes 0..1024\n");
				*bad = 1;
			}
			c->workers = (unsigned int)(n < 0 ? 0 : n);
		} else if (!strcmp(argv[i], "--")) {
			while (i < argc)
				argv[out++] = argv[i++];
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	return out;
}

int main(int argc, char **argv)
{
	struct img_common c = { 0 };
	int bad = 0;

	argc = common_options(&c, argc, argv, &bad);
	if (bad)
		return IMG_EXIT_USAGE;
	if (argc < 2) {
		usage(stderr);
		return IMG_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return IMG_EXIT_OK;
	}
	if (!c.workers)
		c.workers = img_cpus();
	/* Subcommands parse their own options from their name on. */
	if (!strcmp(argv[1], "info"))
		return img_cmd_info(&c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return img_cmd_verify(&c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "recompress"))
		return img_cmd_recompress(&c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "tune"))
		return img_cmd_tune(&c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "unpause"))
		return img_cmd_unpause(&c, argc - 1, argv + 1);
	fprintf(stderr, "vramstream-img: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return IMG_EXIT_USAGE;
}
