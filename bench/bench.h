/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vramstream-bench: subcommands and the helpers they share. */
#ifndef VRAMSTREAM_BENCH_H
#define VRAMSTREAM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common_clock.h"
#include "common_size.h"

enum bench_kind { BENCH_ZEROS, BENCH_RANDOM, BENCH_BF16, BENCH_MIXED, BENCH_KINDS };

/* Fills BUF with LEN bytes of synthetic data of KIND (deterministic for a seed). */
void bench_data_fill(enum bench_kind kind, uint8_t *buf, size_t len, uint64_t seed);
int bench_kind_parse(const char *s, enum bench_kind *kind);
const char *bench_kind_name(enum bench_kind kind);

/* write()/read() all of LEN bytes, retrying short transfers; 0 or -errno (-EIO at EOF). */
int bench_write_all(int fd, const void *buf, size_t len);
int bench_read_all(int fd, void *buf, size_t len);
/* Writes PATH back and drops it from the page cache (a no-op on tmpfs). */
void bench_drop_cached(const char *path);

/*
 * The folder's own limit (bench_ceiling.c): N_FILES threads write BYTES in
 * all with plain write() in BLOCK records into files of their own in DIR,
 * then read them back, O_DIRECT if DIRECT and the folder takes it; the files
 * are removed after. The records cycle through MEM bytes of memory in all
 * (the pipeline's pinned pool), so they come from DRAM, not from a cache.
 * 0 or a negative errno.
 */
struct bench_ceiling {
	double write_gbps, read_gbps;
	uint64_t bytes; /* written and read, BYTES rounded up to whole records */
	bool direct;	/* O_DIRECT was used */
};
int bench_storage_ceiling(const char *dir, unsigned int n_files, uint64_t bytes, size_t block,
			  uint64_t mem, bool direct, struct bench_ceiling *out);

/* Process resource counters around a measured section. */
struct bench_usage {
	double wall_s;
	double cpu_s;	   /* user + system, all threads */
	uint64_t peak_rss; /* bytes, since the last bench_usage_start() */
};
struct bench_clock {
	double wall0, cpu0;
};
void bench_usage_start(struct bench_clock *c);
void bench_usage_stop(const struct bench_clock *c, struct bench_usage *u);

int bench_stream_main(int argc, char **argv);
int bench_e2e_main(int argc, char **argv);

#endif
