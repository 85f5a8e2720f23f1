// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: defaults are sane; our settings and upstream's KFD_* names are
 * read; ours win; bad values are refused naming the setting; a config file
 * is read and the environment overrides it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "plugin_config.h"
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

static int load(struct plugin_config *cfg, const struct kv *kv, char *err)
{
	err[0] = '\0';
	return plugin_config_load(cfg, table_get, (void *)kv, err, 256);
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
			{ "VRAMSTREAM_LEVEL", "-5" },	    { "VRAMSTREAM_FILTER", "bf16" },
			{ "VRAMSTREAM_CHUNK_SIZE", "16M" }, { "VRAMSTREAM_BUFFER_SIZE", "4MiB" },
			{ "KFD_FW_VER_CHECK", "NO" },	    { "KFD_NUMA_CHECK", "0" },
			{ "KFD_MAX_BUFFER_SIZE", "512M" },  { NULL, NULL }
		};

		CHECK_EQ_INT(load(&cfg, kv, err), 0);
		CHECK_EQ_INT(cfg.zstd_level, -5);
		CHECK_EQ_INT(cfg.filter, PLUGIN_FILTER_BYTES2);
		CHECK(cfg.chunk_size == 16ull << 20);
		CHECK(cfg.buffer_size == 4ull << 20);
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
	return test_finish("test_plugin_config");
}
