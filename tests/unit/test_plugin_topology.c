// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: a KFD sysfs topology (written here in kfd_topology.c's format) is
 * read with its GPUs, VRAM and NUMA links; GPUs match across machines with
 * other gpu_ids and order; fewer GPUs, another device, smaller VRAM or older
 * firmware are refused with the difference named; each relaxable check can
 * be turned off. GPUs linked by XGMI (or PCIe peer links) go to GPUs linked
 * the same way: two XGMI pairs restore onto two pairs in another order, and
 * are refused on a machine whose pairs are PCIe peers, the links named; a
 * small-BAR GPU (FB_PRIVATE heap) does not stand in for a large-BAR one.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin_topology.h"
#include "test_common.h"

__attribute__((format(printf, 2, 3))) static void writef(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	if (!f) {
		perror(path);
		exit(2);
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static void mkdirs(const char *root, const char *sub)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s%s'", root, sub);
	if (system(cmd))
		exit(2);
}

struct fake_gpu {
	unsigned int node, gpu_id, device_id, fw, cpu;
	unsigned long long vram;
};

/* A CPU node 0 (and 1) plus the given GPUs, in kfd_topology.c's format. */
static void make_tree(const char *root, const struct fake_gpu *g, int n)
{
	char d[512], p[600];

	mkdirs(root, "/sys/class/kfd/kfd/topology/nodes/0");
	mkdirs(root, "/sys/class/kfd/kfd/topology/nodes/1");
	for (int cpu = 0; cpu < 2; cpu++) {
		snprintf(p, sizeof(p), "%s/sys/class/kfd/kfd/topology/nodes/%d/gpu_id", root, cpu);
		writef(p, "0\n");
		snprintf(p, sizeof(p), "%s/sys/class/kfd/kfd/topology/nodes/%d/properties", root,
			 cpu);
		writef(p, "cpu_cores_count 16\nsimd_count 0\nmem_banks_count 1\n");
	}
	for (int i = 0; i < n; i++) {
		snprintf(d, sizeof(d), "/sys/class/kfd/kfd/topology/nodes/%u", g[i].node);
		mkdirs(root, d);
		snprintf(p, sizeof(p), "%s%s/gpu_id", root, d);
		writef(p, "%u\n", g[i].gpu_id);
		snprintf(p, sizeof(p), "%s%s/properties", root, d);
		writef(p,
		       "cpu_cores_count 0\nsimd_count 416\nmem_banks_count 1\ncaches_count 204\n"
		       "io_links_count 1\nmax_waves_per_simd 8\nlds_size_in_kb 64\nnum_gws 64\n"
		       "wave_front_size 64\narray_count 8\nsimd_arrays_per_engine 1\n"
		       "cu_per_simd_array 13\nsimd_per_cu 4\nmax_slots_scratch_cu 32\n"
		       "gfx_target_version 90010\nvendor_id 4098\ndevice_id %u\n"
		       "drm_render_minor %u\nnum_sdma_engines 2\nnum_sdma_xgmi_engines 6\n"
		       "num_sdma_queues_per_engine 8\nnum_cp_queues 24\nfw_version %u\n"
		       "capability 671588992\nsdma_fw_version 18\n",
		       g[i].device_id, 128 + i, g[i].fw);
		snprintf(p, sizeof(p), "%s/mem_banks/0", d);
		mkdirs(root, p);
		snprintf(p, sizeof(p), "%s%s/mem_banks/0/properties", root, d);
		writef(p,
		       "heap_type 1\nsize_in_bytes %llu\nflags 0\nwidth 4096\nmem_clk_max 1600\n",
		       g[i].vram);
		snprintf(p, sizeof(p), "%s/io_links/0", d);
		mkdirs(root, p);
		snprintf(p, sizeof(p), "%s%s/io_links/0/properties", root, d);
		writef(p,
		       "type 2\nversion_major 0\nversion_minor 0\nnode_from %u\nnode_to %u\n"
		       "weight 20\n",
		       g[i].node, g[i].cpu);
	}
}

static char *tmp_root(void)
{
	char *dir = strdup("/tmp/vramstream-topo-XXXXXX");

	if (!mkdtemp(dir))
		exit(2);
	return dir;
}

static void rm_root(char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
	free(dir);
}

#define GiB (1ull << 30)

static struct plugin_checks all_checks(void)
{
	return (struct plugin_checks){ true, true, true, true, true, true, true };
}

/*
 * Links between GPU nodes @from and @to in both directions, as io_links/1
 * (kfd_crat.c: kfd_fill_gpu_xgmi_link_to_gpu), and io_links_count 2.
 */
static void link_pair(const char *root, unsigned int from, unsigned int to, unsigned int type,
		      unsigned int weight)
{
	char d[512], p[700];
	unsigned int ends[2] = { from, to };

	for (int e = 0; e < 2; e++) {
		snprintf(d, sizeof(d), "/sys/class/kfd/kfd/topology/nodes/%u/io_links/1", ends[e]);
		mkdirs(root, d);
		snprintf(p, sizeof(p), "%s%s/properties", root, d);
		writef(p, "type %u\nnode_from %u\nnode_to %u\nweight %u\n", type, ends[e], ends[!e],
		       weight);
		snprintf(p, sizeof(p),
			 "sed -i 's/^io_links_count 1$/io_links_count 2/' "
			 "'%s/sys/class/kfd/kfd/topology/nodes/%u/properties'",
			 root, ends[e]);
		if (system(p))
			exit(2);
	}
}

/* The index in @sys of the GPU with @gpu_id. */
static unsigned int index_of(const struct topo_system *sys, unsigned int gpu_id)
{
	for (unsigned int i = 0; i < sys->n_gpus; i++)
		if (sys->gpus[i].gpu_id == gpu_id)
			return i;
	return TOPO_MAX_GPUS;
}

/* EXPECT: XGMI pairs go to XGMI pairs, in any order; PCIe peers do not stand in for them. */
static void t_links(void)
{
	static struct topo_system src, dst;
	struct plugin_checks checks = all_checks();
	unsigned int map[TOPO_MAX_GPUS];
	char err[4096], *a = tmp_root(), *b = tmp_root(), *c = tmp_root();
	const struct fake_gpu four[] = { { 2, 0x1111, 0x740f, 100, 0, 64 * GiB },
					 { 3, 0x2222, 0x740f, 100, 0, 64 * GiB },
					 { 4, 0x3333, 0x740f, 100, 0, 64 * GiB },
					 { 5, 0x4444, 0x740f, 100, 0, 64 * GiB } };
	const struct fake_gpu other[] = { { 2, 0xa, 0x740f, 100, 0, 64 * GiB },
					  { 3, 0xb, 0x740f, 100, 0, 64 * GiB },
					  { 4, 0xc, 0x740f, 100, 0, 64 * GiB },
					  { 5, 0xd, 0x740f, 100, 0, 64 * GiB } };

	/* Source: XGMI pairs (2,3) and (4,5). */
	make_tree(a, four, 4);
	link_pair(a, 2, 3, TOPO_LINK_XGMI, 15);
	link_pair(a, 4, 5, TOPO_LINK_XGMI, 15);
	CHECK_EQ_INT(topology_read(a, &src, err, sizeof(err)), 0);
	CHECK_EQ_INT(src.gpus[0].n_links, 1);
	CHECK_EQ_INT(src.gpus[0].links[0].node_to, 3);
	CHECK_EQ_INT(src.gpus[0].links[0].type, TOPO_LINK_XGMI);
	CHECK_EQ_INT(src.gpus[0].links[0].weight, 15);
	CHECK(src.gpus[0].vram_public && src.gpus[0].have_links);

	/* Target: the pairs are (2,5) and (3,4): each source pair lands on one of them. */
	make_tree(b, other, 4);
	link_pair(b, 2, 5, TOPO_LINK_XGMI, 15);
	link_pair(b, 3, 4, TOPO_LINK_XGMI, 15);
	CHECK_EQ_INT(topology_read(b, &dst, err, sizeof(err)), 0);
	CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), 0);
	for (unsigned int i = 0; i < 4; i += 2) {
		const struct topo_gpu *d0 = &dst.gpus[map[i]], *d1 = &dst.gpus[map[i + 1]];

		CHECK(d0->n_links == 1 && d0->links[0].node_to == d1->node_id);
	}
	CHECK(index_of(&dst, 0xa) < TOPO_MAX_GPUS);

	/* Target: the same pairs as PCIe peers: refused, the links named. */
	make_tree(c, other, 4);
	link_pair(c, 2, 3, TOPO_LINK_PCIE, 15);
	link_pair(c, 4, 5, TOPO_LINK_PCIE, 15);
	CHECK_EQ_INT(topology_read(c, &dst, err, sizeof(err)), 0);
	CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), -ENODEV);
	CHECK(strstr(err, "links to other GPUs") != NULL);
	CHECK(strstr(err, "0x1111->0x2222 XGMI weight 15") != NULL);
	CHECK(strstr(err, "0xa->0xb PCIe weight 15") != NULL);

	/* A small-BAR target (FB_PRIVATE heap) for the large-BAR source. */
	CHECK_EQ_INT(topology_read(b, &dst, err, sizeof(err)), 0);
	dst.gpus[0].vram_public = false;
	dst.gpus[1].vram_public = false;
	dst.gpus[2].vram_public = false;
	dst.gpus[3].vram_public = false;
	CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), -ENODEV);
	CHECK(strstr(err, "VRAM all CPU-visible on the source, not all here") != NULL);
	rm_root(a);
	rm_root(b);
	rm_root(c);
}

/* p2p links between GPU nodes @from and @to, both directions (kfd_add_peer_prop). */
static void p2p_pair(const char *root, unsigned int from, unsigned int to, unsigned int weight)
{
	char d[512], p[700];
	unsigned int ends[2] = { from, to };

	for (int e = 0; e < 2; e++) {
		snprintf(d, sizeof(d), "/sys/class/kfd/kfd/topology/nodes/%u/p2p_links/0", ends[e]);
		mkdirs(root, d);
		snprintf(p, sizeof(p), "%s%s/properties", root, d);
		writef(p, "type %u\nnode_from %u\nnode_to %u\nweight %u\n", TOPO_LINK_PCIE, ends[e],
		       ends[!e], weight);
	}
}

/*
 * EXPECT: PCIe peers by the kernel's p2p links go to GPUs that are peers too: a target
 * without them (no CONFIG_HSA_AMD_P2P, small BAR) is refused with the p2p links named;
 * an image without p2p links recorded (have_p2p false) is matched on io_links alone.
 */
static void t_p2p(void)
{
	static struct topo_system src, dst;
	struct plugin_checks checks = all_checks();
	unsigned int map[TOPO_MAX_GPUS];
	char err[4096], *a = tmp_root(), *b = tmp_root(), *c = tmp_root();
	const struct fake_gpu two[] = { { 2, 0x1111, 0x740f, 100, 0, 64 * GiB },
					{ 3, 0x2222, 0x740f, 100, 0, 64 * GiB } };
	const struct fake_gpu other[] = { { 2, 0xa, 0x740f, 100, 0, 64 * GiB },
					  { 3, 0xb, 0x740f, 100, 0, 64 * GiB } };

	make_tree(a, two, 2);
	p2p_pair(a, 2, 3, 40);
	CHECK_EQ_INT(topology_read(a, &src, err, sizeof(err)), 0);
	CHECK(src.gpus[0].have_p2p && src.gpus[0].n_links == 1 && src.gpus[0].links[0].p2p);
	CHECK_EQ_INT(src.gpus[0].links[0].node_to, 3);
	CHECK_EQ_INT(src.gpus[0].cpu_node, 0); /* from io_links only */

	make_tree(b, other, 2);
	p2p_pair(b, 2, 3, 40);
	CHECK_EQ_INT(topology_read(b, &dst, err, sizeof(err)), 0);
	CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), 0);

	make_tree(c, other, 2);
	CHECK_EQ_INT(topology_read(c, &dst, err, sizeof(err)), 0);
	CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), -ENODEV);
	CHECK(strstr(err, "0x1111->0x2222 PCIe p2p weight 40") != NULL);

	/* An image from before p2p links were kept. */
	src.gpus[0].have_p2p = src.gpus[1].have_p2p = false;
	src.gpus[0].n_links = src.gpus[1].n_links = 0;
	CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), 0);
	rm_root(a);
	rm_root(b);
	rm_root(c);
}

int main(void)
{
	static struct topo_system src, dst;
	struct plugin_checks checks = all_checks();
	unsigned int map[TOPO_MAX_GPUS];
	char err[4096];
	char *a = tmp_root(), *b = tmp_root();
	uint64_t v;

	/* Source: two MI210-like GPUs on CPU nodes 0 and 1. */
	const struct fake_gpu src_gpus[] = { { 2, 0x1111, 0x740f, 100, 0, 64 * GiB },
					     { 3, 0x2222, 0x740f, 100, 1, 64 * GiB } };
	make_tree(a, src_gpus, 2);
	CHECK_EQ_INT(topology_read(a, &src, err, sizeof(err)), 0);
	CHECK_EQ_INT(src.n_gpus, 2);
	CHECK_EQ_INT(src.gpus[0].gpu_id, 0x1111);
	CHECK_EQ_INT(src.gpus[0].node_id, 2);
	CHECK(src.gpus[1].vram_size == 64 * GiB);
	CHECK_EQ_INT(src.gpus[1].cpu_node, 1);
	CHECK_EQ_INT(topology_prop(&src.gpus[0], "device_id", &v), 0);
	CHECK_EQ_INT(v, 0x740f);
	CHECK_EQ_INT(topology_prop(&src.gpus[0], "no_such_thing", &v), -ENOENT);

	/* Target: same GPUs, other gpu_ids, CPU nodes numbered the other way
	 * round: fits, the CPU nodes being renamed 0->1 and 1->0 (NUMA keeps the
	 * grouping, not the numbers, as upstream's CPU maps do). */
	{
		const struct fake_gpu g[] = { { 2, 0xaaaa, 0x740f, 100, 1, 64 * GiB },
					      { 3, 0xbbbb, 0x740f, 100, 0, 64 * GiB } };
		rm_root(b);
		b = tmp_root();
		make_tree(b, g, 2);
		CHECK_EQ_INT(topology_read(b, &dst, err, sizeof(err)), 0);
		CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), 0);
		CHECK_EQ_INT(dst.gpus[map[0]].gpu_id, 0xaaaa);
		CHECK_EQ_INT(dst.gpus[map[1]].gpu_id, 0xbbbb);
	}
	/* Fewer GPUs. */
	{
		const struct fake_gpu g[] = { { 2, 0xaaaa, 0x740f, 100, 0, 64 * GiB } };
		rm_root(b);
		b = tmp_root();
		make_tree(b, g, 1);
		CHECK_EQ_INT(topology_read(b, &dst, err, sizeof(err)), 0);
		CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), -ENODEV);
		CHECK(strstr(err, "2 GPU(s), this machine has 1") != NULL);
	}
	/* Another device, smaller VRAM and older firmware on one GPU. */
	{
		const struct fake_gpu g[] = { { 2, 0xaaaa, 0x740f, 100, 0, 64 * GiB },
					      { 3, 0xbbbb, 0x740f, 90, 1, 32 * GiB } };
		rm_root(b);
		b = tmp_root();
		make_tree(b, g, 2);
		CHECK_EQ_INT(topology_read(b, &dst, err, sizeof(err)), 0);
		CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), -ENODEV);
		CHECK(strstr(err, "fw_version 100 > 90 (relax with VRAMSTREAM_CHECK_FW=0)") !=
		      NULL);
		CHECK(strstr(err, "VRAM 65536 MiB > 32768 MiB") != NULL);
		/* Relaxing both checks lets it through. */
		checks.fw_version = false;
		checks.vram_size = false;
		CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), 0);
		checks = all_checks();
	}
	{
		const struct fake_gpu g[] = { { 2, 0xaaaa, 0x740f, 100, 0, 64 * GiB },
					      { 3, 0xbbbb, 0x73bf, 100, 1, 64 * GiB } };
		rm_root(b);
		b = tmp_root();
		make_tree(b, g, 2);
		CHECK_EQ_INT(topology_read(b, &dst, err, sizeof(err)), 0);
		CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), -ENODEV);
		CHECK(strstr(err, "device_id 29711 != 29631") != NULL);
	}
	/* Both target GPUs on one CPU node: NUMA grouping differs. */
	{
		const struct fake_gpu g[] = { { 2, 0xaaaa, 0x740f, 100, 0, 64 * GiB },
					      { 3, 0xbbbb, 0x740f, 100, 0, 64 * GiB } };
		rm_root(b);
		b = tmp_root();
		make_tree(b, g, 2);
		CHECK_EQ_INT(topology_read(b, &dst, err, sizeof(err)), 0);
		CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), -ENODEV);
		CHECK(strstr(err, "VRAMSTREAM_CHECK_NUMA=0") != NULL);
		checks.numa = false;
		CHECK_EQ_INT(topology_match(&src, &dst, &checks, map, err, sizeof(err)), 0);
		checks = all_checks();
	}
	/* No KFD at all. */
	CHECK(topology_read("/nonexistent-root", &dst, err, sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent-root/sys/class/kfd") != NULL);

	rm_root(a);
	rm_root(b);
	t_links();
	t_p2p();
	return test_finish("test_plugin_topology");
}
