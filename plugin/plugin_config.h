/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Plugin settings: read once at init from the environment and a config
 * file, validated, then passed down by pointer. No globals.
 *
 * Every setting, its default and its meaning is listed in plugin_config.c's
 * table and in README.md ("Configuration").
 */
#ifndef VRAMSTREAM_PLUGIN_CONFIG_H
#define VRAMSTREAM_PLUGIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Restore-time topology checks, each relaxable (upstream's KFD_*_CHECK too). */
struct plugin_checks {
	bool fw_version;
	bool sdma_fw_version;
	bool caches_count;
	bool num_gws;
	bool vram_size;
	bool numa;
	bool capability;
};

enum plugin_filter {
	PLUGIN_FILTER_NONE = 0,
	PLUGIN_FILTER_AUTO = 1,	  /* per chunk, whichever grouping compresses best */
	PLUGIN_FILTER_BYTES2 = 2, /* group bytes of 2-byte elements (bf16/fp16) */
	PLUGIN_FILTER_BYTES4 = 4, /* group bytes of 4-byte elements (fp32) */
};

struct plugin_config {
	bool compress;	/* false when VRAMSTREAM_LEVEL=off */
	int zstd_level; /* negative levels are zstd's fast modes */
	enum plugin_filter filter;
	unsigned int workers;	 /* compression threads; 0 = online CPUs */
	uint64_t chunk_size;	 /* bytes per stream chunk */
	uint64_t buffer_size;	 /* bytes per pinned buffer */
	uint64_t pinned_max;	 /* pinned host memory per GPU */
	unsigned int sdma_lanes; /* SDMA lanes per GPU; 0 = one per SDMA instance */
	unsigned int io_depth;	 /* io_uring queue depth; 0 = 2 per worker + 2 */
	unsigned int streams;	 /* stream files per GPU; 0 = one per CPU (per 2 CPUs when
				    compressing), 1..16 */
	bool fsync;
	bool direct_io;
	uint64_t io_rate;     /* bytes/s cap on each GPU's stream I/O; 0 = none */
	bool restore_overlap; /* restore BO contents from criu's process while it restores the rest
			       */
	/* Incremental dumps (README.md, "Periodic checkpoints"): the parent image
	 * folder, relative to the image folder or absolute ("" = criu's "parent"
	 * link if there is one); full: no parent at all; dedup: store chunks of
	 * equal bytes once within the dump. */
	char parent[4096];
	bool full;
	bool dedup;
	/* Dump on a kernel that cannot list render-node BOs (before 6.18): the render-node
	 * files without them rather than no dump. */
	bool render_bos_optional;
	struct plugin_checks checks;
};

/*
 * The file read when VRAMSTREAM_CONFIG is unset: container runtimes start
 * criu without the user's environment, so a site puts its settings here
 * (README.md, "Configuration"). Beside criu's own /etc/criu/default.conf,
 * which criu parses itself and would refuse our names in.
 */
#define PLUGIN_CONFIG_FILE     "/etc/vramstream/vramstream.conf"
#define PLUGIN_CONFIG_PATH_MAX 4096

/*
 * Looks a setting up by name; returns NULL when unset. plugin_config_getenv
 * reads the environment; tests pass their own.
 */
typedef const char *(*plugin_config_get_fn)(const char *name, void *ctx);
const char *plugin_config_getenv(const char *name, void *ctx);

/* Where settings come from. */
struct plugin_config_source {
	plugin_config_get_fn get; /* the environment (wins over the file) */
	void *ctx;
	/* Read when VRAMSTREAM_CONFIG is unset; its absence is no error. NULL: none. */
	const char *file;
	/* NAME=VALUE list (environ) whose unknown VRAMSTREAM_* names are
	 * handed to @warn, with the closest setting; NULL: none. */
	char *const *env;
	void (*warn)(void *warn_ctx, const char *msg);
	void *warn_ctx;
};

void plugin_config_defaults(struct plugin_config *cfg);

/*
 * Fills @cfg from defaults, then the file named by VRAMSTREAM_CONFIG, or
 * else @src->file (NAME=VALUE lines, # comments), then @src->get (the
 * environment wins over the file). Every value is checked against the
 * limits of the module that uses it (compress/, plugin_dma.h) and against
 * the others (a chunk fits a pinned buffer), so a bad one fails here,
 * before any ioctl. Returns 0, or -errno with @err naming the file and line
 * (or the environment), the setting, what it holds and what is accepted.
 */
int plugin_config_load(struct plugin_config *cfg, const struct plugin_config_source *src, char *err,
		       size_t err_len);

/* The known setting whose name is closest to @name (for "did you mean"). */
const char *plugin_config_closest(const char *name);

/* One line per setting, for the log at init. Writes at most @len bytes. */
void plugin_config_describe(const struct plugin_config *cfg, char *buf, size_t len);

#endif
