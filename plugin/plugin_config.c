// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common_err.h"
#include "common_size.h"
#include "compress.h"
#include "image.h"
#include "plugin_config.h"
#include "plugin_dma.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* VRAMSTREAM_STREAMS: at most IMAGE_PARTS_MAX stream files per GPU (image.h). */

enum setting_kind {
	SETTING_BOOL,
	SETTING_SIZE,
	SETTING_UINT,
	SETTING_LEVEL,
	SETTING_FILTER,
	SETTING_PATH,
};

struct setting {
	const char *name;
	/*
	 * Another name for the same knob, if any: the upstream CRIU amdgpu
	 * plugin's (criu/plugins/amdgpu/amdgpu_plugin.c: amdgpu_plugin_init),
	 * so existing users' settings carry over, or an older name of ours.
	 * Our own name wins when both are set.
	 */
	const char *alias;
	enum setting_kind kind;
	size_t offset;
	uint64_t min, max; /* for SIZE and UINT: the limits of the module that uses it */
	const char *help;
};

#define CFG(field) offsetof(struct plugin_config, field)

static const struct setting settings[] = {
	{ "VRAMSTREAM_LEVEL", NULL, SETTING_LEVEL, CFG(zstd_level), 0, 0,
	  "zstd level: -7..19 (negative = zstd's fast levels), or off to store raw" },
	{ "VRAMSTREAM_FILTER", NULL, SETTING_FILTER, CFG(filter), 0, 0,
	  "byte grouping before zstd: auto (per chunk, whichever of none, 2 and 4 compresses a "
	  "sample best; at levels 1 and up), none, 2 (bf16/fp16) or 4 (fp32)" },
	{ "VRAMSTREAM_WORKERS", NULL, SETTING_UINT, CFG(workers), 0, COMPRESS_WORKERS_MAX,
	  "compression threads (0 = one per online CPU)" },
	{ "VRAMSTREAM_CHUNK_SIZE", NULL, SETTING_SIZE, CFG(chunk_size), COMPRESS_CHUNK_MIN,
	  COMPRESS_CHUNK_MAX,
	  "bytes per stream chunk, a multiple of 4K, at most VRAMSTREAM_BUFFER_SIZE (K/M/G "
	  "suffixes)" },
	{ "VRAMSTREAM_BUFFER_SIZE", NULL, SETTING_SIZE, CFG(buffer_size), 64 << 10, 1 * GiB,
	  "bytes per pinned host buffer" },
	{ "VRAMSTREAM_PINNED_MAX", "KFD_MAX_BUFFER_SIZE", SETTING_SIZE, CFG(pinned_max), 64 << 10,
	  UINT64_MAX, "pinned host memory per GPU, whatever the VRAM size" },
	{ "VRAMSTREAM_SDMA_LANES", "VRAMSTREAM_SDMA_RINGS", SETTING_UINT, CFG(sdma_lanes), 0,
	  PLUGIN_DMA_MAX_LANES,
	  "SDMA lanes (in-order copy queues) per GPU (0 = one per SDMA instance the GPU reports)" },
	{ "VRAMSTREAM_IO_DEPTH", NULL, SETTING_UINT, CFG(io_depth), 0, COMPRESS_QUEUE_DEPTH_MAX,
	  "io_uring queue depth and staging buffers per stream file (0 = its workers + 2)" },
	{ "VRAMSTREAM_STREAMS", NULL, SETTING_UINT, CFG(streams), 0, IMAGE_PARTS_MAX,
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
	{ "VRAMSTREAM_PARENT", NULL, SETTING_PATH, CFG(parent), 0, 0,
	  "dump: the parent image folder whose chunks this dump refers to instead of storing them "
	  "again (relative to the image folder, or absolute; unset: criu's \"parent\" link)" },
	{ "VRAMSTREAM_FULL", NULL, SETTING_BOOL, CFG(full), 0, 0,
	  "dump: store every chunk, with no parent image (even where criu names one)" },
	{ "VRAMSTREAM_DEDUP", NULL, SETTING_BOOL, CFG(dedup), 0, 0,
	  "dump: store chunks of equal bytes once across the dump's BOs and GPUs" },
	{ "VRAMSTREAM_RENDER_BOS_OPTIONAL", NULL, SETTING_BOOL, CFG(render_bos_optional), 0, 0,
	  "dump: on a kernel that cannot list render-node BOs (before Linux 6.18), save the "
	  "render-node files without them instead of failing (for processes that create none, "
	  "as ROCm compute alone)" },
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
	cfg->sdma_lanes = 0;
	cfg->io_depth = 0;
	cfg->fsync = false;
	cfg->direct_io = true;
	cfg->dedup = true;
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

/* Counts take digits only; sizes the one dialect of common/common_size.h. */
static int parse_u64(const char *s, bool size, uint64_t *out)
{
	if (!size && s[strspn(s, "0123456789")])
		return -EINVAL;
	return common_size_parse(s, out);
}

/* Where a value came from, for messages: "VRAMSTREAM_X" or "FILE:LINE: VRAMSTREAM_X". */
struct origin {
	const char *file; /* NULL: the environment */
	unsigned int line;
	const char *name;
};

static void origin_print(char *buf, size_t len, const struct origin *o)
{
	if (o->file)
		snprintf(buf, len, "%s:%u: %s", o->file, o->line, o->name);
	else
		snprintf(buf, len, "%s (environment)", o->name);
}

static int apply_level(struct plugin_config *cfg, const char *value)
{
	char *end;
	long v;

	if (!strcasecmp(value, "off") || !strcasecmp(value, "none")) {
		cfg->compress = false;
		return 0;
	}
	errno = 0;
	v = strtol(value, &end, 10);
	/* zstd accepts down to ZSTD_minCLevel() (very negative); below -7
	 * the ratio is near 1 and "off" is the better choice. */
	if (errno || end == value || *end || v < -7 || v > 19)
		return -EINVAL;
	cfg->compress = true;
	cfg->zstd_level = (int)v;
	return 0;
}

static int apply_filter(struct plugin_config *cfg, const char *value)
{
	if (!strcasecmp(value, "none") || !strcmp(value, "0"))
		cfg->filter = PLUGIN_FILTER_NONE;
	else if (!strcasecmp(value, "auto"))
		cfg->filter = PLUGIN_FILTER_AUTO;
	else if (!strcmp(value, "2") || !strcasecmp(value, "bf16") || !strcasecmp(value, "fp16"))
		cfg->filter = PLUGIN_FILTER_BYTES2;
	else if (!strcmp(value, "4") || !strcasecmp(value, "fp32"))
		cfg->filter = PLUGIN_FILTER_BYTES4;
	else
		return -EINVAL;
	return 0;
}

static int apply(struct plugin_config *cfg, const struct setting *st, const char *value,
		 const struct origin *from, char *err, size_t err_len)
{
	char *field = (char *)cfg + st->offset;
	char where[PLUGIN_CONFIG_PATH_MAX + 64];
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
	case SETTING_LEVEL:
		r = apply_level(cfg, value);
		break;
	case SETTING_FILTER:
		r = apply_filter(cfg, value);
		break;
	case SETTING_PATH:
		if (strlen(value) >= sizeof(cfg->parent))
			r = -ENAMETOOLONG;
		else
			strcpy(field, value);
		break;
	}
	if (!r)
		return 0;
	origin_print(where, sizeof(where), from);
	if ((st->kind == SETTING_SIZE || st->kind == SETTING_UINT) && r == -ERANGE)
		COMMON_RETURN_ERR(-EINVAL, err, err_len,
				  "%s=\"%s\" is not valid: expected %s (between %llu and %llu)",
				  where, value, st->help, (unsigned long long)st->min,
				  (unsigned long long)st->max);
	COMMON_RETURN_ERR(-EINVAL, err, err_len, "%s=\"%s\" is not valid: expected %s", where,
			  value, st->help);
}

/* Limits that tie settings together, checked once every value is in. */
static int check_together(const struct plugin_config *cfg, char *err, size_t err_len)
{
	/* compress/compress.h: the stream format's chunk alignment. */
	if (cfg->chunk_size % COMPRESS_CHUNK_ALIGN)
		COMMON_RETURN_ERR(-EINVAL, err, err_len,
				  "VRAMSTREAM_CHUNK_SIZE (%llu) is not a multiple of %u",
				  (unsigned long long)cfg->chunk_size, COMPRESS_CHUNK_ALIGN);
	/* A chunk is copied through one pinned buffer: the restore refuses
	 * streams whose chunks do not fit (plugin_transfer.c, restore_job). */
	if (cfg->chunk_size > cfg->buffer_size)
		COMMON_RETURN_ERR(
			-EINVAL, err, err_len,
			"VRAMSTREAM_CHUNK_SIZE (%llu) is larger than VRAMSTREAM_BUFFER_SIZE (%llu): "
			"each chunk goes through one pinned buffer",
			(unsigned long long)cfg->chunk_size, (unsigned long long)cfg->buffer_size);
	if (cfg->buffer_size > cfg->pinned_max)
		COMMON_RETURN_ERR(
			-EINVAL, err, err_len,
			"VRAMSTREAM_BUFFER_SIZE (%llu) is larger than VRAMSTREAM_PINNED_MAX (%llu): "
			"the pinned pool must hold at least one buffer",
			(unsigned long long)cfg->buffer_size, (unsigned long long)cfg->pinned_max);
	return 0;
}

#define FILE_SETTINGS_MAX 64

/* The NAME=VALUE lines of a config file, with their line numbers. */
struct file_settings {
	const char *path;
	char *text;
	size_t count;
	const char *names[FILE_SETTINGS_MAX];
	const char *values[FILE_SETTINGS_MAX];
	unsigned int lines[FILE_SETTINGS_MAX];
};

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	for (end = s + strlen(s); end > s && isspace((unsigned char)end[-1]); end--)
		end[-1] = '\0';
	return s;
}

/* Reads all of a (small) file into a string; -ENOENT passes through. */
static int file_slurp(const char *path, char **out, char *err, size_t err_len)
{
	FILE *f = fopen(path, "re");
	size_t cap = 8192, len = 0, got;
	char *text = NULL, *n;
	int r = 0;

	if (!f) {
		r = -errno;
		common_errf(err, err_len, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	do {
		if (cap > (1u << 20)) {
			common_errf(err, err_len, "%s is larger than 1 MiB", path);
			r = -EFBIG;
			goto out;
		}
		n = realloc(text, cap + 1);
		if (!n) {
			r = -ENOMEM;
			goto out;
		}
		text = n;
		got = fread(text + len, 1, cap - len, f);
		len += got;
		cap *= 2;
	} while (len == cap / 2);
	text[len] = '\0';
out:
	fclose(f);
	if (r)
		free(text);
	else
		*out = text;
	return r;
}

static int file_settings_read(const char *path, struct file_settings *fs, char *err, size_t err_len)
{
	unsigned int lineno = 0;
	char *line, *next;
	int r;

	memset(fs, 0, sizeof(*fs));
	fs->path = path;
	r = file_slurp(path, &fs->text, err, err_len);
	if (r)
		return r;
	for (line = fs->text; line; line = next) {
		char *eq;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line = trim(line);
		if (!*line || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq)
			COMMON_RETURN_ERR(-EINVAL, err, err_len, "%s:%u: not NAME=VALUE: %.60s",
					  path, lineno, line);
		if (fs->count == FILE_SETTINGS_MAX)
			COMMON_RETURN_ERR(-EINVAL, err, err_len, "%s:%u: more than %u settings",
					  path, lineno, FILE_SETTINGS_MAX);
		*eq = '\0';
		fs->names[fs->count] = trim(line);
		fs->values[fs->count] = trim(eq + 1);
		fs->lines[fs->count] = lineno;
		fs->count++;
	}
	return 0;
}

/* The last assignment wins, as in a shell; -1 when the file has none. */
static int file_settings_find(const struct file_settings *fs, const char *name)
{
	int found = -1;

	for (size_t i = 0; name && i < fs->count; i++)
		if (!strcmp(fs->names[i], name))
			found = (int)i;
	return found;
}

static bool known_setting(const char *name)
{
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (!strcmp(settings[i].name, name) ||
		    (settings[i].alias && !strcmp(settings[i].alias, name)))
			return true;
	return false;
}

/* Levenshtein distance, for "did you mean"; names are short. */
static unsigned int edit_distance(const char *a, const char *b)
{
	unsigned int row[80], la = (unsigned int)strlen(a), lb = (unsigned int)strlen(b);

	if (la >= sizeof(row) / sizeof(row[0]) || lb >= sizeof(row) / sizeof(row[0]))
		return ~0u;
	for (unsigned int j = 0; j <= lb; j++)
		row[j] = j;
	for (unsigned int i = 1; i <= la; i++) {
		unsigned int diag = row[0];

		row[0] = i;
		for (unsigned int j = 1; j <= lb; j++) {
			unsigned int up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

const char *plugin_config_closest(const char *name)
{
	const char *best = settings[0].name;
	unsigned int best_d = ~0u;

	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		unsigned int d = edit_distance(name, settings[i].name);

		if (d < best_d) {
			best_d = d;
			best = settings[i].name;
		}
	}
	return best;
}

/*
 * VRAMSTREAM_* names that are not the plugin's: the emulator's own
 * (emu/README.md) and the build scripts' (scripts/setup.sh).
 */
static bool foreign_name(const char *name)
{
	static const char *const others[] = { "VRAMSTREAM_CACHE", "VRAMSTREAM_DEBIAN_MIRROR" };

	if (!strncmp(name, "VRAMSTREAM_EMU_", 15))
		return true;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (!strcmp(name, others[i]))
			return true;
	return false;
}

/* Names each VRAMSTREAM_* variable of @env that no setting has. */
static void warn_unknown_env(const struct plugin_config_source *src)
{
	char name[128], msg[256];

	for (char *const *e = src->env; e && *e; e++) {
		size_t n = strcspn(*e, "=");

		if (strncmp(*e, "VRAMSTREAM_", 11) || n >= sizeof(name))
			continue;
		memcpy(name, *e, n);
		name[n] = '\0';
		if (known_setting(name) || !strcmp(name, "VRAMSTREAM_CONFIG") || foreign_name(name))
			continue;
		snprintf(msg, sizeof(msg),
			 "unknown setting %s in the environment is ignored; did you mean %s?", name,
			 plugin_config_closest(name));
		src->warn(src->warn_ctx, msg);
	}
}

/* The file to read, if any: VRAMSTREAM_CONFIG's (must exist), else src->file (may not). */
static int config_file_open(const struct plugin_config_source *src, struct file_settings *fs,
			    char *err, size_t err_len)
{
	const char *path = src->get("VRAMSTREAM_CONFIG", src->ctx);
	int r;

	memset(fs, 0, sizeof(*fs));
	if (path && *path) {
		r = file_settings_read(path, fs, err, err_len);
		if (r == -ENOENT)
			common_errf(err, err_len, "VRAMSTREAM_CONFIG=%s: no such file", path);
		return r;
	}
	if (!src->file)
		return 0;
	r = file_settings_read(src->file, fs, err, err_len);
	if (r == -ENOENT) {
		/* No file at the default place: the defaults and the environment. */
		memset(fs, 0, sizeof(*fs));
		return 0;
	}
	return r;
}

/* Applies one setting from its sources, lowest precedence first. */
static int load_setting(struct plugin_config *cfg, const struct setting *st,
			const struct plugin_config_source *src, const struct file_settings *fs,
			char *err, size_t err_len)
{
	const char *names[2] = { st->alias, st->name };
	int r;

	for (int s = 0; s < 4; s++) {
		const char *name = names[s % 2];
		struct origin o = { NULL, 0, name };
		const char *value;

		if (!name)
			continue;
		if (s < 2) {
			int i = file_settings_find(fs, name);

			if (i < 0)
				continue;
			o.file = fs->path;
			o.line = fs->lines[i];
			value = fs->values[i];
		} else {
			value = src->get(name, src->ctx);
			if (!value)
				continue;
		}
		r = apply(cfg, st, value, &o, err, err_len);
		if (r)
			return r;
	}
	return 0;
}

int plugin_config_load(struct plugin_config *cfg, const struct plugin_config_source *src, char *err,
		       size_t err_len)
{
	struct file_settings fs;
	int r;

	plugin_config_defaults(cfg);
	r = config_file_open(src, &fs, err, err_len);
	if (r)
		goto out;
	for (size_t i = 0; i < fs.count; i++) {
		if (!known_setting(fs.names[i])) {
			common_errf(err, err_len,
				    "%s:%u: unknown setting %s (did you mean %s? see README.md, "
				    "Configuration)",
				    fs.path, fs.lines[i], fs.names[i],
				    plugin_config_closest(fs.names[i]));
			r = -EINVAL;
			goto out;
		}
	}
	/*
	 * Precedence, lowest first: the file's other name, the file's own
	 * name, the environment's other name, the environment's own name.
	 */
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		r = load_setting(cfg, &settings[i], src, &fs, err, err_len);
		if (r)
			goto out;
	}
	r = check_together(cfg, err, err_len);
	if (!r && src->warn)
		warn_unknown_env(src);
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
		"sdma_lanes=%u io_depth=%u streams=%u fsync=%d direct_io=%d io_rate=%lluM/s restore_overlap=%d "
		"parent=%s full=%d dedup=%d checks(fw=%d sdma_fw=%d "
		"caches=%d gws=%d vram=%d numa=%d capability=%d)",
		level, filters[cfg->filter], cfg->workers,
		(unsigned long long)(cfg->chunk_size >> 10),
		(unsigned long long)(cfg->buffer_size >> 10),
		(unsigned long long)(cfg->pinned_max >> 20), cfg->sdma_lanes, cfg->io_depth,
		cfg->streams, cfg->fsync, cfg->direct_io, (unsigned long long)(cfg->io_rate >> 20),
		cfg->restore_overlap, *cfg->parent ? cfg->parent : "(criu's link)", cfg->full,
		cfg->dedup, cfg->checks.fw_version, cfg->checks.sdma_fw_version,
		cfg->checks.caches_count, cfg->checks.num_gws, cfg->checks.vram_size,
		cfg->checks.numa, cfg->checks.capability);
}
