/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vramstream-bench SUBCOMMAND [options]: the project's benchmarks
 * (bench/BENCHMARKING.md). Each subcommand measures one part against
 * baselines run in the same command.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *what;
} bench_cmds[] = {
	{ "stream", bench_stream_main,
	  "compress/ pipeline vs write()/read() and single-threaded zstd, both directions" },
	{ "e2e", bench_e2e_main,
	  "GPU memory -> image -> GPU through the plugin's pipeline vs copy-wait-write" },
};

static void bench_usage_print(FILE *f)
{
	fprintf(f, "usage: vramstream-bench SUBCOMMAND [options] (SUBCOMMAND --help for its "
		   "options)\n");
	for (size_t i = 0; i < sizeof(bench_cmds) / sizeof(bench_cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", bench_cmds[i].name, bench_cmds[i].what);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		bench_usage_print(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(bench_cmds) / sizeof(bench_cmds[0]); i++)
		if (!strcmp(argv[1], bench_cmds[i].name))
			return bench_cmds[i].main(argc - 1, argv + 1);
	fprintf(stderr, "vramstream-bench: unknown subcommand '%s'\n", argv[1]);
	bench_usage_print(stderr);
	return 2;
}
