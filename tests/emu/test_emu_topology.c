// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The machine description round-trips through $DIR/config, and the fake
 * root holds stand-in nodes and the KFD topology in kfd_topology.c's formats.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "emu_config.h"
#include "emu_root.h"
#include "test_common.h"

static char *t_slurp(const char *root, const char *rel)
{
	static char buf[8192];
	char path[PATH_MAX];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* EXPECT: every field written by emu_config_save comes back from emu_config_load. */
static void t_config(const char *dir)
{
	struct emu_config a, b;

	emu_config_defaults(&a, 2, 3ULL << 30);
	a.gpus[1].gpu_id = 0x1234;
	a.gpus[1].sdma_bytes_per_sec = 5000000000ULL;
	a.kfd_major = 500;
	CHECK_EQ_INT(emu_config_save(dir, &a), 0);
	CHECK_EQ_INT(emu_config_load(dir, &b), 0);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK_EQ_INT(b.gpus[1].gpu_id, 0x1234);
	CHECK_EQ_INT(b.gpus[0].vram_size, 3ULL << 30);
}

/* EXPECT: the fake root has stand-ins and the topology files as the kernel prints them. */
static void t_root(const char *dir)
{
	char root[PATH_MAX], path[PATH_MAX], aperture[PATH_MAX];
	struct emu_config cfg;
	struct stat st;
	char *s;

	emu_config_defaults(&cfg, 2, 1ULL << 30);
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(aperture, sizeof(aperture), "%s/aperture", dir);
	CHECK_EQ_INT(emu_root_create(root, aperture, &cfg), 0);
	snprintf(path, sizeof(path), "%s/dev/kfd", root);
	CHECK(stat(path, &st) == 0 && S_ISCHR(st.st_mode) &&
	      st.st_rdev == makedev(EMU_STANDIN_MAJOR, EMU_STANDIN_MINOR));
	/* A render node is its GPU's aperture: a file the kernel maps by offset (emu_aperture.h).
	 */
	snprintf(path, sizeof(path), "%s/dev/dri/renderD129", root);
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));

	s = t_slurp(root, "/sys/class/kfd/kfd/topology/nodes/1/gpu_id");
	CHECK(s && strtoul(s, NULL, 10) == cfg.gpus[0].gpu_id && s[strlen(s) - 1] == '\n');
	s = t_slurp(root, "/sys/devices/virtual/kfd/kfd/topology/nodes/0/gpu_id");
	CHECK(s && strcmp(s, "0\n") == 0);
	s = t_slurp(root, "/sys/class/kfd/kfd/topology/nodes/2/properties");
	CHECK(s && strncmp(s, "cpu_cores_count 0\nsimd_count 416\n", 33) == 0);
	CHECK(s && strstr(s, "\ndrm_render_minor 129\n"));
	CHECK(s && strstr(s, "\ngfx_target_version 90010\n"));
	CHECK(s && strstr(s, "\nlocal_mem_size 0\n"));
	CHECK(s && strstr(s, "\nmax_engine_clk_ccompute 3000\n"));
	s = t_slurp(root, "/sys/class/kfd/kfd/topology/nodes/2/mem_banks/0/properties");
	CHECK(s && strcmp(s, "heap_type 1\nsize_in_bytes 1073741824\nflags 0\nwidth 4096\n"
			     "mem_clk_max 1600\n") == 0);
	s = t_slurp(root, "/sys/class/kfd/kfd/topology/nodes/0/io_links/1/properties");
	CHECK(s && strstr(s, "node_from 0\nnode_to 2\n"));
	s = t_slurp(root, "/sys/class/kfd/kfd/topology/nodes/0/properties");
	CHECK(s && strstr(s, "io_links_count 2\n") && !strstr(s, "fw_version"));
	s = t_slurp(root, "/sys/class/kfd/kfd/topology/system_properties");
	CHECK(s && strcmp(s, "platform_oem 0\nplatform_id 0\nplatform_rev 0\n") == 0);
	snprintf(path, sizeof(path), "%s/sys/class/kfd/kfd/topology/nodes/1/caches", root);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(emu_root_kfd_node(root, 4242, path, sizeof(path)) == 0 && stat(path, &st) == 0);
	emu_root_kfd_node_remove(root, 4242);
	CHECK(stat(path, &st) != 0);

	/*
	 * CPU caches: written only where the host has none (emu_root_cpu.c),
	 * in drivers/base/cacheinfo.c's formats, and reachable through the
	 * node folder as libhsakmt reads them.
	 */
	snprintf(path, sizeof(path), "%s/sys/devices/system/cpu", root);
	if (access("/sys/devices/system/cpu/cpu0/cache", F_OK) == 0) {
		CHECK(stat(path, &st) != 0);
	} else {
		const char *cpu0 = access("/sys/devices/system/node", F_OK) == 0
					   ? "/sys/devices/system/node/node0/cpu0/cache"
					   : "/sys/devices/system/cpu/cpu0/cache";

		static const char *const expect[][2] = {
			{ "index0/level", "1\n" },	     { "index0/type", "Data\n" },
			{ "index1/type", "Instruction\n" },  { "index2/size", "1024K\n" },
			{ "index0/shared_cpu_list", "0\n" },
		};

		for (unsigned int i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", cpu0, expect[i][0]);
			s = t_slurp(root, path);
			CHECK(s && strcmp(s, expect[i][1]) == 0);
		}
		snprintf(path, sizeof(path), "%s/index0/shared_cpu_map", cpu0);
		s = t_slurp(root, path);
		CHECK(s && strlen(s) >= 9 && strcmp(s + strlen(s) - 9, "00000001\n") == 0);
		snprintf(path, sizeof(path), "%s/index3/shared_cpu_list", cpu0);
		s = t_slurp(root, path);
		CHECK(s && s[0] == '0'); /* the L3 is shared from CPU 0 on */
	}
}

/*
 * EXPECT: p2p_links as kfd_dev_create_p2p_links makes them with CONFIG_HSA_AMD_P2P:
 * GPU A links to GPU B (PCIe, both CPU-link weights) when B's VRAM is all behind its BAR
 * and A, B are no XGMI hive; a small-BAR GPU shows an FB_PRIVATE heap and gets no
 * p2p link pointing at it; pcie_p2p 0 leaves none.
 */
static void t_p2p(const char *dir)
{
	char root[PATH_MAX], aperture[PATH_MAX], cmd[PATH_MAX * 2];
	struct emu_config cfg;
	struct stat st;
	char *s;

	emu_config_defaults(&cfg, 4, 1ULL << 30);
	cfg.links[cfg.num_links++] = (struct emu_link_config){ 0, 1, EMU_IOLINK_XGMI, 15 };
	cfg.gpus[3].vram_public = 0;
	snprintf(root, sizeof(root), "%s/root-p2p", dir);
	snprintf(aperture, sizeof(aperture), "%s/aperture-p2p", dir);
	CHECK_EQ_INT(emu_root_create(root, aperture, &cfg), 0);
	/* GPU 0 (node 1): peers 2 and 3 (nodes 3, 4) but not its hive mate or small-BAR 3. */
	s = t_slurp(root, "/sys/class/kfd/kfd/topology/nodes/1/properties");
	CHECK(s && strstr(s, "\np2p_links_count 1\n"));
	s = t_slurp(root, "/sys/class/kfd/kfd/topology/nodes/1/p2p_links/0/properties");
	CHECK(s && strstr(s, "type 2\n") && strstr(s, "node_from 1\nnode_to 3\nweight 40\n"));
	/* GPU 3 (node 4) reaches the large-BAR GPUs 0, 1 and 2. */
	s = t_slurp(root, "/sys/class/kfd/kfd/topology/nodes/4/properties");
	CHECK(s && strstr(s, "\np2p_links_count 3\n"));
	s = t_slurp(root, "/sys/class/kfd/kfd/topology/nodes/4/p2p_links/2/properties");
	CHECK(s && strstr(s, "node_from 4\nnode_to 3\n"));
	s = t_slurp(root, "/sys/class/kfd/kfd/topology/nodes/4/mem_banks/0/properties");
	CHECK(s && strncmp(s, "heap_type 2\n", 12) == 0);
	CHECK(!emu_config_peer_vram_ok(&cfg, 3, 2) && emu_config_peer_vram_ok(&cfg, 2, 3));
	CHECK(emu_config_peer_vram_ok(&cfg, 0, 1));

	cfg.pcie_p2p = 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", root, aperture);
	CHECK(system(cmd) == 0);
	CHECK_EQ_INT(emu_root_create(root, aperture, &cfg), 0);
	s = t_slurp(root, "/sys/class/kfd/kfd/topology/nodes/4/properties");
	CHECK(s && strstr(s, "\np2p_links_count 0\n"));
	snprintf(cmd, sizeof(cmd), "%s/sys/class/kfd/kfd/topology/nodes/4/p2p_links/0", root);
	CHECK(stat(cmd, &st) != 0);
	CHECK(!emu_config_peer_vram_ok(&cfg, 2, 3) && emu_config_peer_vram_ok(&cfg, 1, 0));
}

int main(void)
{
	char dir[] = "/tmp/vramstream-emu-topo.XXXXXX";
	char cmd[PATH_MAX];

	if (!mkdtemp(dir))
		return 1;
	t_config(dir);
	t_root(dir);
	t_p2p(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return test_finish("test_emu_topology");
}
