// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: defaults are sane; our settings and upstream's KFD_* names are
 * read; ours win; bad values are refused naming the setting; a config file
 * is read and the environment overrides it; values outside the limits of
 * the module that uses them are refused at load; unknown names are named
 * with the closest setting.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "compress.h"
#include "plugin_config.h"
#include "plugin_dma.h"
#include "test_common.h"

struct kv {
	const char *k, *v;
};

static const char *table_get(const char *name, void *ctx)
{
	for (const struct kv *kv = ctx; kv->k; kv++)
		if (!strcmp(kv->k, name))
			return kv->v;
	return NULL;
}

static char warned[1024];

static void collect_warning(void *ctx, const char *msg)
{
	(void)ctx;
	strncat(warned, msg, sizeof(warned) - strlen(warned) - 2);
	strcat(warned, "\n");
}

/* @path now holds @text; the caller unlinks it. */
static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

/* EXPECT: every limit a module sets is checked when the settings are read. */
static void test_module_limits(void)
{
	static const struct {
		const char *name, *value, *says;
	} bad[] = {
		/* compress/: COMPRESS_CHUNK_MAX (was refused only inside the dump) */
		{ "VRAMSTREAM_CHUNK_SIZE", "300M", "between" },
		/* compress/: COMPRESS_CHUNK_ALIGN */
		{ "VRAMSTREAM_CHUNK_SIZE", "100000", "multiple of 4096" },
		/* the restore refused it: each chunk goes through one pinned buffer */
		{ "VRAMSTREAM_CHUNK_SIZE", "16M", "VRAMSTREAM_BUFFER_SIZE" },
		{ "VRAMSTREAM_WORKERS", "1025", "between" },
		{ "VRAMSTREAM_WORKERS", "8K", "VRAMSTREAM_WORKERS" }, /* a count takes no suffix */
		{ "VRAMSTREAM_IO_DEPTH", "4097", "between" },
		{ "VRAMSTREAM_SDMA_LANES", "65", "between" },
		{ "VRAMSTREAM_SDMA_RINGS", "65", "VRAMSTREAM_SDMA_RINGS" },
		{ "VRAMSTREAM_STREAMS", "17", "between" },
	};
	struct plugin_config cfg;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct kv kv[] = { { bad[i].name, bad[i].value }, { NULL, NULL } };
		const struct plugin_config_source src = { .get = table_get, .ctx = (void *)kv };

		CHECK_EQ_INT(plugin_config_load(&cfg, &src, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].says) || !strstr(err, bad[i].name))
			fprintf(stderr, "%s=%s: %s\n", bad[i].name, bad[i].value, err);
		CHECK(strstr(err, bad[i].says) && strstr(err, bad[i].name));
	}
	{
		/* At the limits, and 16M chunks with 16M buffers. */
		const struct kv kv[] = { { "VRAMSTREAM_CHUNK_SIZE", "16M" },
					 { "VRAMSTREAM_BUFFER_SIZE", "16M" },
					 { "VRAMSTREAM_WORKERS", "1024" },
					 { "VRAMSTREAM_IO_DEPTH", "4096" },
					 { "VRAMSTREAM_SDMA_RINGS", "3" }, /* the older name */
					 { NULL, NULL } };
		const struct plugin_config_source src = { .get = table_get, .ctx = (void *)kv };

		CHECK_EQ_INT(plugin_config_load(&cfg, &src, err, sizeof(err)), 0);
		CHECK_EQ_INT(cfg.workers, COMPRESS_WORKERS_MAX);
		CHECK_EQ_INT(cfg.io_depth, COMPRESS_QUEUE_DEPTH_MAX);
		CHECK_EQ_INT(cfg.sdma_lanes, 3);
	}
	{
		const struct kv kv[] = { { "VRAMSTREAM_SDMA_RINGS", "3" },
					 { "VRAMSTREAM_SDMA_LANES", "5" },
					 { NULL, NULL } };
		const struct plugin_config_source src = { .get = table_get, .ctx = (void *)kv };

		CHECK_EQ_INT(plugin_config_load(&cfg, &src, err, sizeof(err)), 0);
		CHECK_EQ_INT(cfg.sdma_lanes, 5); /* the current name wins */
	}
}

/* EXPECT: the file at the fixed place is read when VRAMSTREAM_CONFIG is
 * unset, its absence is no error, the environment wins over it, and a bad
 * value or name in it is refused naming the file, the line and the setting. */
static void test_config_file(void)
{
	char path[] = "/tmp/vramstream-config-XXXXXX";
	const struct kv env[] = { { "VRAMSTREAM_WORKERS", "5" }, { NULL, NULL } };
	struct plugin_config_source src = { .get = table_get, .ctx = (void *)env, .file = path };
	struct plugin_config cfg;
	char err[512];

	close(mkstemp(path));
	write_file(path, "# site settings\n\nVRAMSTREAM_LEVEL=7\nVRAMSTREAM_WORKERS=2\n"
			 "KFD_NUMA_CHECK=NO\n");
	CHECK_EQ_INT(plugin_config_load(&cfg, &src, err, sizeof(err)), 0);
	CHECK_EQ_INT(cfg.zstd_level, 7);
	CHECK_EQ_INT(cfg.workers, 5);
	CHECK(!cfg.checks.numa);

	write_file(path, "VRAMSTREAM_LEVEL=7\n# chunks\nVRAMSTREAM_CHUNK_SIZE = 300M\n");
	CHECK_EQ_INT(plugin_config_load(&cfg, &src, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, path) && strstr(err, ":3: VRAMSTREAM_CHUNK_SIZE=\"300M\""));

	write_file(path, "\nVRAMSTREAM_CHUNKSIZE=4M\n");
	CHECK_EQ_INT(plugin_config_load(&cfg, &src, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":2: unknown setting VRAMSTREAM_CHUNKSIZE"));
	CHECK(strstr(err, "did you mean VRAMSTREAM_CHUNK_SIZE?"));

	write_file(path, "VRAMSTREAM_LEVEL\n");
	CHECK_EQ_INT(plugin_config_load(&cfg, &src, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":1: not NAME=VALUE"));

	unlink(path);
	CHECK_EQ_INT(plugin_config_load(&cfg, &src, err, sizeof(err)), 0); /* none there */
	CHECK_EQ_INT(cfg.zstd_level, 1);
}

/* EXPECT: unknown VRAMSTREAM_* names in the environment are named with the
 * closest setting; the emulator's and the build scripts' names are not. */
static void test_unknown_env(void)
{
	char *environ_[] = { "VRAMSTREAM_LEVL=3",
			     "VRAMSTREAM_EMU_DIR=/tmp/x",
			     "VRAMSTREAM_CACHE=/tmp/c",
			     "VRAMSTREAM_LEVEL=3",
			     "VRAMSTREAM_SDMA_RINGS=2",
			     "VRAMSTREAM_CONFIG=",
			     "VRAMSTREAM_DIRECTIO=0",
			     "PATH=/bin",
			     NULL };
	const struct kv kv[] = { { NULL, NULL } };
	const struct plugin_config_source src = {
		.get = table_get, .ctx = (void *)kv, .env = environ_, .warn = collect_warning
	};
	struct plugin_config cfg;
	char err[256];

	warned[0] = '\0';
	CHECK_EQ_INT(plugin_config_load(&cfg, &src, err, sizeof(err)), 0);
	CHECK(strstr(warned, "unknown setting VRAMSTREAM_LEVL in the environment is ignored; "
			     "did you mean VRAMSTREAM_LEVEL?"));
	CHECK(strstr(warned, "VRAMSTREAM_DIRECTIO in the environment is ignored; did you mean "
			     "VRAMSTREAM_DIRECT_IO?"));
	CHECK(!strstr(warned, "EMU") && !strstr(warned, "CACHE") && !strstr(warned, "RINGS") &&
	      !strstr(warned, "CONFIG"));
	CHECK(!strcmp(plugin_config_closest("VRAMSTREAM_PINED_MAX"), "VRAMSTREAM_PINNED_MAX"));
}

static int load(struct plugin_config *cfg, const struct kv *kv, char *err)
{
	const struct plugin_config_source src = { .get = table_get, .ctx = (void *)kv };

	err[0] = '\0';
	return plugin_config_load(cfg, &src, err, 256);
}

int main(void)
{
	struct plugin_config cfg;
	char err[256];

	{
		const struct kv none[] = { { NULL, NULL } };

		CHECK_EQ_INT(load(&cfg, none, err), 0);
		CHECK(cfg.compress);
		CHECK_EQ_INT(cfg.zstd_level, 1);
		CHECK_EQ_INT(cfg.filter, PLUGIN_FILTER_AUTO);
		CHECK(cfg.pinned_max == 1ull << 30);
		CHECK(cfg.checks.fw_version && cfg.checks.numa && cfg.checks.vram_size);
	}
	{
		const struct kv kv[] = {
			{ "VRAMSTREAM_LEVEL", "-5" },	   { "VRAMSTREAM_FILTER", "bf16" },
			{ "VRAMSTREAM_CHUNK_SIZE", "4M" }, { "VRAMSTREAM_BUFFER_SIZE", "16MiB" },
			{ "KFD_FW_VER_CHECK", "NO" },	   { "KFD_NUMA_CHECK", "0" },
			{ "KFD_MAX_BUFFER_SIZE", "512M" }, { NULL, NULL }
		};

		CHECK_EQ_INT(load(&cfg, kv, err), 0);
		CHECK_EQ_INT(cfg.zstd_level, -5);
		CHECK_EQ_INT(cfg.filter, PLUGIN_FILTER_BYTES2);
		CHECK(cfg.chunk_size == 4ull << 20);
		CHECK(cfg.buffer_size == 16ull << 20);
		CHECK(cfg.pinned_max == 512ull << 20);
		CHECK(!cfg.checks.fw_version);
		CHECK(!cfg.checks.numa);
		CHECK(cfg.checks.sdma_fw_version);
	}
	{
		/* Ours wins over upstream's name. */
		const struct kv kv[] = { { "KFD_VRAM_SIZE_CHECK", "NO" },
					 { "VRAMSTREAM_CHECK_VRAM_SIZE", "yes" },
					 { "VRAMSTREAM_LEVEL", "off" },
					 { NULL, NULL } };

		CHECK_EQ_INT(load(&cfg, kv, err), 0);
		CHECK(cfg.checks.vram_size);
		CHECK(!cfg.compress);
	}
	{
		const struct kv kv[] = { { "VRAMSTREAM_LEVEL", "fast" }, { NULL, NULL } };

		CHECK_EQ_INT(load(&cfg, kv, err), -EINVAL);
		CHECK(strstr(err, "VRAMSTREAM_LEVEL") != NULL);
	}
	{
		const struct kv kv[] = { { "VRAMSTREAM_CHUNK_SIZE", "12Q" }, { NULL, NULL } };

		CHECK_EQ_INT(load(&cfg, kv, err), -EINVAL);
		CHECK(strstr(err, "VRAMSTREAM_CHUNK_SIZE") != NULL);
	}
	{
		const struct kv kv[] = { { "VRAMSTREAM_CHUNK_SIZE", "1" }, { NULL, NULL } };

		CHECK_EQ_INT(load(&cfg, kv, err), -EINVAL);
		CHECK(strstr(err, "between") != NULL);
	}
	{
		const struct kv kv[] = { { "KFD_CAPABILITY_CHECK", "maybe" }, { NULL, NULL } };

		CHECK_EQ_INT(load(&cfg, kv, err), -EINVAL);
		CHECK(strstr(err, "KFD_CAPABILITY_CHECK") != NULL);
	}
	{
		const struct kv kv[] = { { "VRAMSTREAM_BUFFER_SIZE", "64M" },
					 { "VRAMSTREAM_PINNED_MAX", "32M" },
					 { NULL, NULL } };

		CHECK_EQ_INT(load(&cfg, kv, err), -EINVAL);
		CHECK(strstr(err, "PINNED_MAX") != NULL);
	}
	{
		char path[] = "/tmp/vramstream-config-XXXXXX";
		int fd = mkstemp(path);
		const char text[] = "# site defaults\n VRAMSTREAM_LEVEL = 3 \nKFD_NUMA_CHECK=0\n"
				    "VRAMSTREAM_WORKERS=2\n";
		const struct kv kv[] = { { "VRAMSTREAM_CONFIG", path },
					 { "VRAMSTREAM_WORKERS", "5" },
					 { NULL, NULL } };

		CHECK(fd >= 0);
		CHECK(write(fd, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1);
		close(fd);
		CHECK_EQ_INT(load(&cfg, kv, err), 0);
		CHECK_EQ_INT(cfg.zstd_level, 3);
		CHECK(!cfg.checks.numa);
		CHECK_EQ_INT(cfg.workers, 5); /* environment over file */

		fd = open(path, O_WRONLY | O_TRUNC);
		CHECK(write(fd, "VRAMSTREAM_LEVL=3\n", 18) == 18);
		close(fd);
		CHECK_EQ_INT(load(&cfg, kv, err), -EINVAL);
		CHECK(strstr(err, "unknown setting VRAMSTREAM_LEVL") != NULL);
		unlink(path);

		CHECK(load(&cfg, kv, err) < 0); /* missing file */
		CHECK(strstr(err, path) != NULL);
	}
	/* EXPECT: the filter's names, auto the default (above) */
	{
		const struct kv f_none[] = { { "VRAMSTREAM_FILTER", "none" }, { NULL, NULL } };
		const struct kv f_auto[] = { { "VRAMSTREAM_FILTER", "AUTO" }, { NULL, NULL } };
		const struct kv f_bad[] = { { "VRAMSTREAM_FILTER", "3" }, { NULL, NULL } };

		CHECK_EQ_INT(load(&cfg, f_none, err), 0);
		CHECK_EQ_INT(cfg.filter, PLUGIN_FILTER_NONE);
		CHECK_EQ_INT(load(&cfg, f_auto, err), 0);
		CHECK_EQ_INT(cfg.filter, PLUGIN_FILTER_AUTO);
		CHECK(load(&cfg, f_bad, err) < 0 && strstr(err, "VRAMSTREAM_FILTER"));
	}
	test_module_limits();
	test_config_file();
	test_unknown_env();
	return test_finish("test_plugin_config");
}
