// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugin_config.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

enum setting_kind {
	SETTING_BOOL,
	SETTING_SIZE,
	SETTING_UINT,
	SETTING_LEVEL,
	SETTING_FILTER,
};

struct setting {
	const char *name;
	/* The upstream CRIU amdgpu plugin's name for the same knob, if any
	 * (criu/plugins/amdgpu/amdgpu_plugin.c: amdgpu_plugin_init), so existing
	 * users' settings carry over. Our own name wins when both are set. */
	const char *upstream;
	enum setting_kind kind;
	size_t offset;
	uint64_t min, max; /* for SIZE and UINT */
	const char *help;
};

#define CFG(field) offsetof(struct plugin_config, field)

static const struct setting settings[] = {
	{ "VRAMSTREAM_LEVEL", NULL, SETTING_LEVEL, CFG(zstd_level), 0, 0,
	  "zstd level: -7..19 (negative = zstd's fast levels), or off to store raw" },
	{ "VRAMSTREAM_FILTER", NULL, SETTING_FILTER, CFG(filter), 0, 0,
	  "byte grouping before zstd: auto (per chunk, whichever of none, 2 and 4 compresses a "
	  "sample best; at levels 1 and up), none, 2 (bf16/fp16) or 4 (fp32)" },
	{ "VRAMSTREAM_WORKERS", NULL, SETTING_UINT, CFG(workers), 0, 1024,
	  "compression threads (0 = one per online CPU)" },
	{ "VRAMSTREAM_CHUNK_SIZE", NULL, SETTING_SIZE, CFG(chunk_size), 64 << 10, 1 * GiB,
	  "bytes per stream chunk (K/M/G suffixes)" },
	{ "VRAMSTREAM_BUFFER_SIZE", NULL, SETTING_SIZE, CFG(buffer_size), 64 << 10, 1 * GiB,
	  "bytes per pinned host buffer" },
	{ "VRAMSTREAM_PINNED_MAX", "KFD_MAX_BUFFER_SIZE", SETTING_SIZE, CFG(pinned_max), 64 << 10,
	  UINT64_MAX, "pinned host memory per GPU, whatever the VRAM size" },
	{ "VRAMSTREAM_SDMA_RINGS", NULL, SETTING_UINT, CFG(sdma_rings), 0, 64,
	  "SDMA rings to use per GPU (0 = all the GPU reports)" },
	{ "VRAMSTREAM_IO_DEPTH", NULL, SETTING_UINT, CFG(io_depth), 0, 4096,
	  "io_uring queue depth and staging buffers per stream (0 = 2 per worker + 2)" },
	{ "VRAMSTREAM_STREAMS", NULL, SETTING_UINT, CFG(streams), 0, 16,
	  "stream files per GPU, written in parallel (0 = one per CPU without compression, one "
	  "per 2 CPUs with it; 1 to 16)" },
	{ "VRAMSTREAM_FSYNC", NULL, SETTING_BOOL, CFG(fsync), 0, 0,
	  "fsync stream files before the dump succeeds" },
	{ "VRAMSTREAM_DIRECT_IO", NULL, SETTING_BOOL, CFG(direct_io), 0, 0,
	  "O_DIRECT where the filesystem allows it" },
	{ "VRAMSTREAM_IO_RATE", NULL, SETTING_SIZE, CFG(io_rate), 0, UINT64_MAX,
	  "bytes per second each GPU's stream files may be written or read at (0 = no cap)" },
	{ "VRAMSTREAM_RESTORE_OVERLAP", NULL, SETTING_BOOL, CFG(restore_overlap), 0, 0,
	  "restore: copy BO contents from criu's process while it restores the rest" },
	{ "VRAMSTREAM_CHECK_FW", "KFD_FW_VER_CHECK", SETTING_BOOL, CFG(checks.fw_version), 0, 0,
	  "restore: target firmware at least the source's" },
	{ "VRAMSTREAM_CHECK_SDMA_FW", "KFD_SDMA_FW_VER_CHECK", SETTING_BOOL,
	  CFG(checks.sdma_fw_version), 0, 0,
	  "restore: target SDMA firmware at least the source's" },
	{ "VRAMSTREAM_CHECK_CACHES", "KFD_CACHES_COUNT_CHECK", SETTING_BOOL,
	  CFG(checks.caches_count), 0, 0, "restore: target has at least as many caches" },
	{ "VRAMSTREAM_CHECK_GWS", "KFD_NUM_GWS_CHECK", SETTING_BOOL, CFG(checks.num_gws), 0, 0,
	  "restore: target has at least as many GWS" },
	{ "VRAMSTREAM_CHECK_VRAM_SIZE", "KFD_VRAM_SIZE_CHECK", SETTING_BOOL, CFG(checks.vram_size),
	  0, 0, "restore: target VRAM at least the source's" },
	{ "VRAMSTREAM_CHECK_NUMA", "KFD_NUMA_CHECK", SETTING_BOOL, CFG(checks.numa), 0, 0,
	  "restore: GPUs keep their NUMA (CPU node) grouping" },
	{ "VRAMSTREAM_CHECK_CAPABILITY", "KFD_CAPABILITY_CHECK", SETTING_BOOL,
	  CFG(checks.capability), 0, 0, "restore: identical capability flags" },
};

const char *plugin_config_getenv(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

void plugin_config_defaults(struct plugin_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->compress = true;
	cfg->zstd_level = 1;
	cfg->filter = PLUGIN_FILTER_AUTO;
	cfg->workers = 0;
	cfg->chunk_size = 8 * MiB;
	cfg->buffer_size = 8 * MiB;
	cfg->pinned_max = 1 * GiB;
	cfg->sdma_rings = 0;
	cfg->io_depth = 0;
	cfg->fsync = false;
	cfg->direct_io = true;
	cfg->restore_overlap = true;
	cfg->checks = (struct plugin_checks){ true, true, true, true, true, true, true };
}

static int parse_bool(const char *s, bool *out)
{
	/* Upstream accepts 0/1/YES/NO; we also take true/false/on/off. */
	static const char *const yes[] = { "1", "yes", "y", "true", "on" };
	static const char *const no[] = { "0", "no", "n", "false", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_u64(const char *s, bool suffixes, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!*s || *s == '-' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	if (suffixes && *end) {
		switch (*end) {
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		default:
			return -EINVAL;
		}
		end++;
		/* Accept "8M", "8MB", "8MiB". */
		if (!strcasecmp(end, "b") || !strcasecmp(end, "ib"))
			end += strlen(end);
	}
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static int apply(struct plugin_config *cfg, const struct setting *st, const char *value,
		 const char *from, char *err, size_t err_len)
{
	char *field = (char *)cfg + st->offset;
	uint64_t u;
	bool b;
	int r = 0;

	switch (st->kind) {
	case SETTING_BOOL:
		r = parse_bool(value, &b);
		if (!r)
			*(bool *)field = b;
		break;
	case SETTING_SIZE:
	case SETTING_UINT:
		r = parse_u64(value, st->kind == SETTING_SIZE, &u);
		if (!r && (u < st->min || u > st->max))
			r = -ERANGE;
		if (!r && st->kind == SETTING_SIZE)
			*(uint64_t *)field = u;
		else if (!r)
			*(unsigned int *)field = (unsigned int)u;
		break;
	case SETTING_LEVEL: {
		char *end;
		long v;

		if (!strcasecmp(value, "off") || !strcasecmp(value, "none")) {
			cfg->compress = false;
			break;
		}
		errno = 0;
		v = strtol(value, &end, 10);
		/* zstd accepts down to ZSTD_minCLevel() (very negative); below -7
		 * the ratio is near 1 and "off" is the better choice. */
		if (errno || end == value || *end || v < -7 || v > 19)
			r = -EINVAL;
		else {
			cfg->compress = true;
			cfg->zstd_level = (int)v;
		}
		break;
	}
	case SETTING_FILTER:
		if (!strcasecmp(value, "none") || !strcmp(value, "0"))
			cfg->filter = PLUGIN_FILTER_NONE;
		else if (!strcasecmp(value, "auto"))
			cfg->filter = PLUGIN_FILTER_AUTO;
		else if (!strcmp(value, "2") || !strcasecmp(value, "bf16") ||
			 !strcasecmp(value, "fp16"))
			cfg->filter = PLUGIN_FILTER_BYTES2;
		else if (!strcmp(value, "4") || !strcasecmp(value, "fp32"))
			cfg->filter = PLUGIN_FILTER_BYTES4;
		else
			r = -EINVAL;
		break;
	}
	if (r) {
		snprintf(err, err_len, "%s=\"%s\" is not valid: expected %s", from, value,
			 st->help);
		if ((st->kind == SETTING_SIZE || st->kind == SETTING_UINT) && r == -ERANGE) {
			size_t n = strlen(err);

			snprintf(err + n, err_len - n, " (between %llu and %llu)",
				 (unsigned long long)st->min, (unsigned long long)st->max);
		}
		return -EINVAL;
	}
	return 0;
}

/* A small NAME=VALUE store for the optional config file. */
struct file_settings {
	char *text;
	size_t count;
	const char *names[64];
	const char *values[64];
};

static int file_settings_read(const char *path, struct file_settings *fs, char *err, size_t err_len)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0, len = 0;
	char *line, *save = NULL;
	int lineno = 0;

	memset(fs, 0, sizeof(*fs));
	if (!f) {
		int e = errno;

		snprintf(err, err_len, "cannot read VRAMSTREAM_CONFIG=%s: %s", path, strerror(e));
		return -e;
	}
	/* Read the whole (small) file. */
	for (;;) {
		char *n;

		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (1u << 20)) {
				snprintf(err, err_len, "VRAMSTREAM_CONFIG=%s is larger than 1 MiB",
					 path);
				free(fs->text);
				fclose(f);
				return -EFBIG;
			}
			n = realloc(fs->text, cap);
			if (!n) {
				free(fs->text);
				fclose(f);
				return -ENOMEM;
			}
			fs->text = n;
		}
		size_t got = fread(fs->text + len, 1, 4096, f);

		len += got;
		if (got < 4096)
			break;
	}
	fclose(f);
	fs->text[len] = '\0';

	for (line = strtok_r(fs->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq, *end;

		lineno++;
		while (isspace((unsigned char)*line))
			line++;
		if (!*line || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq || fs->count == sizeof(fs->names) / sizeof(fs->names[0])) {
			snprintf(err, err_len, "%s: line %d is not NAME=VALUE", path, lineno);
			free(fs->text);
			fs->text = NULL;
			return -EINVAL;
		}
		*eq = '\0';
		for (end = eq; end > line && isspace((unsigned char)end[-1]); end--)
			end[-1] = '\0';
		for (eq++; isspace((unsigned char)*eq); eq++)
			;
		for (end = eq + strlen(eq); end > eq && isspace((unsigned char)end[-1]); end--)
			end[-1] = '\0';
		fs->names[fs->count] = line;
		fs->values[fs->count] = eq;
		fs->count++;
	}
	return 0;
}

static const char *file_settings_get(const struct file_settings *fs, const char *name)
{
	const char *v = NULL;

	/* The last assignment wins, as in a shell. */
	for (size_t i = 0; i < fs->count; i++)
		if (!strcmp(fs->names[i], name))
			v = fs->values[i];
	return v;
}

static bool known_setting(const char *name)
{
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (!strcmp(settings[i].name, name) ||
		    (settings[i].upstream && !strcmp(settings[i].upstream, name)))
			return true;
	return false;
}

int plugin_config_load(struct plugin_config *cfg, plugin_config_get_fn get, void *ctx, char *err,
		       size_t err_len)
{
	struct file_settings fs = { 0 };
	const char *path = get("VRAMSTREAM_CONFIG", ctx);
	int r = 0;

	plugin_config_defaults(cfg);
	if (path && *path) {
		r = file_settings_read(path, &fs, err, err_len);
		if (r)
			return r;
		for (size_t i = 0; i < fs.count; i++) {
			if (!known_setting(fs.names[i])) {
				snprintf(err, err_len,
					 "%s: unknown setting %s (see README.md, "
					 "Configuration)",
					 path, fs.names[i]);
				r = -EINVAL;
				goto out;
			}
		}
	}

	/*
	 * Precedence, lowest first: file upstream name, file own name,
	 * environment upstream name, environment own name.
	 */
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		const struct setting *st = &settings[i];
		const char *sources[4] = {
			st->upstream ? file_settings_get(&fs, st->upstream) : NULL,
			file_settings_get(&fs, st->name),
			st->upstream ? get(st->upstream, ctx) : NULL,
			get(st->name, ctx),
		};
		const char *names[4] = { st->upstream, st->name, st->upstream, st->name };

		for (int s = 0; s < 4; s++) {
			if (!sources[s])
				continue;
			r = apply(cfg, st, sources[s], names[s], err, err_len);
			if (r)
				goto out;
		}
	}

	if (cfg->buffer_size > cfg->pinned_max) {
		snprintf(
			err, err_len,
			"VRAMSTREAM_BUFFER_SIZE (%llu) is larger than VRAMSTREAM_PINNED_MAX (%llu): "
			"the pinned pool must hold at least one buffer",
			(unsigned long long)cfg->buffer_size, (unsigned long long)cfg->pinned_max);
		r = -EINVAL;
	}
out:
	free(fs.text);
	return r;
}

void plugin_config_describe(const struct plugin_config *cfg, char *buf, size_t len)
{
	static const char *const filters[] = { "none", "auto", "2", "?", "4" };
	char level[16];

	if (cfg->compress)
		snprintf(level, sizeof(level), "%d", cfg->zstd_level);
	else
		snprintf(level, sizeof(level), "off");
	snprintf(
		buf, len,
		"level=%s filter=%s workers=%u chunk=%lluK buffer=%lluK pinned_max=%lluM "
		"sdma_rings=%u io_depth=%u streams=%u fsync=%d direct_io=%d io_rate=%lluM/s restore_overlap=%d checks(fw=%d sdma_fw=%d "
		"caches=%d gws=%d vram=%d numa=%d capability=%d)",
		level, filters[cfg->filter], cfg->workers,
		(unsigned long long)(cfg->chunk_size >> 10),
		(unsigned long long)(cfg->buffer_size >> 10),
		(unsigned long long)(cfg->pinned_max >> 20), cfg->sdma_rings, cfg->io_depth,
		cfg->streams, cfg->fsync, cfg->direct_io, (unsigned long long)(cfg->io_rate >> 20),
		cfg->restore_overlap, cfg->checks.fw_version, cfg->checks.sdma_fw_version,
		cfg->checks.caches_count, cfg->checks.num_gws, cfg->checks.vram_size,
		cfg->checks.numa, cfg->checks.capability);
}
