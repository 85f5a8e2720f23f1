// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The KFD sysfs topology, written as files in the formats of the kernel's
 * drivers/gpu/drm/amd/amdkfd/kfd_topology.c: sysprops_show (generation_id,
 * system_properties), node_show (nodes/N/{gpu_id,name,properties}),
 * mem_show (mem_banks/M/properties), iolink_show (io_links/L/properties),
 * and the folder layout of kfd_build_sysfs_node_entry (mem_banks, caches,
 * io_links, p2p_links, perf). Properties are printed with the kernel's
 * sysfs_show_32bit_prop ("%s %u\n") and sysfs_show_64bit_prop ("%s %llu\n").
 *
 * The real tree lives at /sys/devices/virtual/kfd/kfd and
 * /sys/class/kfd/kfd is a symlink to it (kfd_chardev_init: class "kfd",
 * device "kfd"); libhsakmt reads both names.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "emu_root.h"

/* kfd_crat.h: HSA_MEM_HEAP_TYPE_SYSTEM 0, _FB_PUBLIC 1, _FB_PRIVATE 2 */
#define EMU_HEAP_TYPE_SYSTEM	 0
#define EMU_HEAP_TYPE_FB_PUBLIC	 1
#define EMU_HEAP_TYPE_FB_PRIVATE 2

struct emu_text {
	char buf[4096]; /* a sysfs attribute is at most PAGE_SIZE */
	size_t len;
};

__attribute__((format(printf, 2, 3))) static void emu_text_add(struct emu_text *t, const char *fmt,
							       ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n < sizeof(t->buf) - t->len ? (size_t)n : 0;
}

static void emu_prop32(struct emu_text *t, const char *name, uint32_t v)
{
	emu_text_add(t, "%s %" PRIu32 "\n", name, v);
}

static void emu_prop64(struct emu_text *t, const char *name, uint64_t v)
{
	emu_text_add(t, "%s %" PRIu64 "\n", name, v);
}

static int emu_topo_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return emu_root_write_file(path, text);
}

static int emu_topo_subdirs(const char *node_dir)
{
	static const char *const subs[] = { "mem_banks", "caches", "io_links", "p2p_links",
					    "perf" };
	char path[PATH_MAX];
	unsigned int i;
	int err = 0;

	for (i = 0; !err && i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", node_dir, subs[i]);
		err = emu_root_mkdirs(path);
	}
	return err;
}

static int emu_topo_mem_bank(const char *node_dir, unsigned int idx, uint32_t heap_type,
			     uint64_t size, uint32_t width, uint32_t clk)
{
	char dir[PATH_MAX];
	struct emu_text t = { .len = 0 };
	int err;

	snprintf(dir, sizeof(dir), "%s/mem_banks/%u", node_dir, idx);
	err = emu_root_mkdirs(dir);
	if (err)
		return err;
	/* kfd_topology.c: mem_show */
	emu_prop32(&t, "heap_type", heap_type);
	emu_prop64(&t, "size_in_bytes", size);
	emu_prop32(&t, "flags", 0);
	emu_prop32(&t, "width", width);
	emu_prop32(&t, "mem_clk_max", clk);
	return emu_topo_file(dir, "properties", t.buf);
}

/* kfd_sysfs.h (was kfd_topology.h): HSA_CACHE_TYPE_DATA 0x1, HSA_CACHE_TYPE_HSACU 0x8 */
#define EMU_CACHE_TYPE_DATA  0x1
#define EMU_CACHE_TYPE_HSACU 0x8
/* kfd_crat.h: CRAT_SIBLINGMAP_SIZE bytes of sibling bits */
#define EMU_SIBLINGMAP_BITS (32 * 8)
#define EMU_GPU_CACHES	    2

/*
 * One GPU cache, in kfd_topology.c: kfd_cache_show's format: the
 * properties, then "sibling_map " and one 0/1 per bit of the CU map,
 * comma separated, the last comma replaced by a newline. first_cu and
 * num_cus say which CUs share it (bits of the map).
 */
static int emu_topo_cache(const char *node_dir, unsigned int idx, uint32_t proc_id_low,
			  uint32_t level, uint32_t size_kb, uint32_t line, unsigned int num_cus)
{
	char dir[PATH_MAX];
	struct emu_text t = { .len = 0 };
	unsigned int i;
	int err;

	snprintf(dir, sizeof(dir), "%s/caches/%u", node_dir, idx);
	err = emu_root_mkdirs(dir);
	if (err)
		return err;
	emu_prop32(&t, "processor_id_low", proc_id_low);
	emu_prop32(&t, "level", level);
	emu_prop32(&t, "size", size_kb);
	emu_prop32(&t, "cache_line_size", line);
	emu_prop32(&t, "cache_lines_per_tag", 1);
	emu_prop32(&t, "association", 16);
	emu_prop32(&t, "latency", 1);
	emu_prop32(&t, "type", EMU_CACHE_TYPE_DATA | EMU_CACHE_TYPE_HSACU);
	emu_text_add(&t, "sibling_map ");
	for (i = 0; i < EMU_SIBLINGMAP_BITS; i++)
		emu_text_add(&t, "%d%c", i < num_cus, i + 1 < EMU_SIBLINGMAP_BITS ? ',' : '\n');
	return emu_topo_file(dir, "properties", t.buf);
}

/* One link in @kind ("io_links" or "p2p_links", kfd_build_p2p_node_entry's folder). */
static int emu_topo_link(const char *node_dir, const char *kind, unsigned int idx, uint32_t from,
			 uint32_t to, uint32_t type, uint32_t weight)
{
	char dir[PATH_MAX];
	struct emu_text t = { .len = 0 };
	int err;

	snprintf(dir, sizeof(dir), "%s/%s/%u", node_dir, kind, idx);
	err = emu_root_mkdirs(dir);
	if (err)
		return err;
	/*
	 * kfd_topology.c: iolink_show; PCIe link values as kfd_crat.c fills them
	 * for dGPUs; XGMI ones as kfd_fill_gpu_xgmi_link_to_gpu does (weight
	 * KFD_CRAT_XGMI_WEIGHT per hop; bandwidths left as the PCIe ones).
	 */
	emu_prop32(&t, "type", type);
	emu_prop32(&t, "version_major", 0);
	emu_prop32(&t, "version_minor", 0);
	emu_prop32(&t, "node_from", from);
	emu_prop32(&t, "node_to", to);
	emu_prop32(&t, "weight", weight);
	emu_prop32(&t, "min_latency", 0);
	emu_prop32(&t, "max_latency", 0);
	emu_prop32(&t, "min_bandwidth", 312);
	emu_prop32(&t, "max_bandwidth", 64000);
	emu_prop32(&t, "recommended_transfer_size", 0);
	emu_prop32(&t, "flags", 1); /* CRAT_IOLINK_FLAGS_ENABLED */
	return emu_topo_file(dir, "properties", t.buf);
}

static int emu_topo_io_link(const char *node_dir, unsigned int idx, uint32_t from, uint32_t to,
			    uint32_t type, uint32_t weight)
{
	return emu_topo_link(node_dir, "io_links", idx, from, to, type, weight);
}

/*
 * Whether the kernel gives GPU @from a p2p link to GPU @to (kfd_topology.c:
 * kfd_dev_create_p2p_links, built with CONFIG_HSA_AMD_P2P): for GPUs outside one XGMI
 * hive, kfd_add_peer_prop links @from to @to when amdgpu_device_is_peer_accessible
 * says @to's VRAM is reachable from a peer over PCIe (emu_config_peer_vram_ok). Its
 * properties are the first io_link of @to (its PCIe link to the CPU) with both GPUs'
 * CPU-link weights added. Without P2P (config pcie_p2p 0) there are none; the only
 * CPU node gets no indirect links (kfd_create_indirect_link_prop skips the CPU a GPU
 * links to directly).
 */
static bool emu_topo_p2p(const struct emu_config *cfg, unsigned int from, unsigned int to)
{
	uint64_t hive = emu_config_hive_id(cfg, from);

	if (from == to || (hive && hive == emu_config_hive_id(cfg, to)))
		return false;
	return emu_config_peer_vram_ok(cfg, to, from);
}

static unsigned int emu_topo_p2p_count(const struct emu_config *cfg, unsigned int from)
{
	unsigned int i, n = 0;

	for (i = 0; i < cfg->num_gpus; i++)
		n += emu_topo_p2p(cfg, from, i);
	return n;
}

/* GPU @idx's links to other GPUs (emu_config.h: links), in config order. */
static unsigned int emu_topo_gpu_links(const struct emu_config *cfg, unsigned int idx,
				       const struct emu_link_config **out)
{
	unsigned int i, n = 0;

	for (i = 0; i < cfg->num_links; i++)
		if (cfg->links[i].a == idx || cfg->links[i].b == idx)
			out[n++] = &cfg->links[i];
	return n;
}

/* node_show's common part, in its order. gpu == NULL for the CPU node. */
static void emu_topo_node_props(struct emu_text *t, const struct emu_config *cfg,
				const struct emu_gpu_config *gpu)
{
	const struct emu_link_config *links[EMU_MAX_LINKS];

	emu_prop32(t, "cpu_cores_count", gpu ? 0 : cfg->cpu_cores);
	emu_prop32(t, "simd_count", gpu ? 416 : 0); /* MI210: 104 CUs x 4 SIMDs */
	emu_prop32(t, "mem_banks_count", 1);
	emu_prop32(t, "caches_count", gpu ? EMU_GPU_CACHES : 0);
	emu_prop32(t, "io_links_count",
		   gpu ? 1 + emu_topo_gpu_links(cfg, (unsigned int)(gpu - cfg->gpus), links)
		       : cfg->num_gpus);
	/* node_show prints p2p_links_count on every kernel that has p2p links, 0 included;
	 * libhsakmt (topology.c) then reads them and makes no indirect links of its own. */
	emu_prop32(t, "p2p_links_count",
		   gpu ? emu_topo_p2p_count(cfg, (unsigned int)(gpu - cfg->gpus)) : 0);
	emu_prop32(t, "cpu_core_id_base", 0);
	emu_prop32(t, "simd_id_base", gpu ? 0x80000000u + 416 * (gpu->node_id - 1) : 0);
	emu_prop32(t, "max_waves_per_simd", gpu ? 8 : 0);
	emu_prop32(t, "lds_size_in_kb", gpu ? 64 : 0);
	emu_prop32(t, "gds_size_in_kb", 0);
	emu_prop32(t, "num_gws", gpu ? 64 : 0);
	emu_prop32(t, "wave_front_size", gpu ? 64 : 0);
	emu_prop32(t, "array_count", gpu ? 8 : 0);
	emu_prop32(t, "simd_arrays_per_engine", gpu ? 1 : 0);
	emu_prop32(t, "cu_per_simd_array", gpu ? 16 : 0);
	emu_prop32(t, "simd_per_cu", gpu ? 4 : 0);
	emu_prop32(t, "max_slots_scratch_cu", gpu ? 32 : 0);
	emu_prop32(t, "gfx_target_version", gpu ? gpu->gfx_target_version : 0);
	emu_prop32(t, "vendor_id", gpu ? gpu->pci_vendor_id : 0);
	emu_prop32(t, "device_id", gpu ? gpu->pci_device_id : 0);
	/* kfd_topology_add_device: location_id = pci_dev_id() = bus << 8 | devfn */
	emu_prop32(t, "location_id",
		   gpu ? (gpu->bus << 8) | (gpu->device << 3) | gpu->function : 0);
	emu_prop32(t, "domain", gpu ? gpu->domain : 0);
	emu_prop32(t, "drm_render_minor", gpu ? gpu->render_minor : 0);
	emu_prop64(t, "hive_id",
		   gpu ? emu_config_hive_id(cfg, (unsigned int)(gpu - cfg->gpus)) : 0);
	emu_prop32(t, "num_sdma_engines", gpu ? gpu->num_sdma_engines : 0);
	emu_prop32(t, "num_sdma_xgmi_engines", gpu ? gpu->num_sdma_xgmi_engines : 0);
	emu_prop32(t, "num_sdma_queues_per_engine", gpu ? 8 : 0);
	emu_prop32(t, "num_cp_queues", gpu ? 24 : 0);
	if (gpu) {
		emu_prop32(t, "max_engine_clk_fcompute", 1700);
		/* node_show prints local_mem_size as 0 (VRAM size is in mem_banks) */
		emu_prop64(t, "local_mem_size", 0);
		emu_prop32(t, "fw_version", gpu->fw_version);
		/* HSA_CAP_* bits as a gfx90a node reports them (kfd_topology.h) */
		emu_prop32(t, "capability", 0x0a3c2280);
		emu_prop32(t, "sdma_fw_version", gpu->sdma_fw_version);
		emu_prop64(t, "unique_id", 0x5a1e000000000000ULL | gpu->gpu_id);
	}
	emu_prop32(t, "max_engine_clk_ccompute", 3000);
}

static int emu_topo_node(const char *nodes_dir, unsigned int id, const struct emu_config *cfg,
			 const struct emu_gpu_config *gpu)
{
	char dir[PATH_MAX];
	struct emu_text t = { .len = 0 };
	unsigned int i;
	int err;

	snprintf(dir, sizeof(dir), "%s/%u", nodes_dir, id);
	err = emu_root_mkdirs(dir);
	if (!err)
		err = emu_topo_subdirs(dir);
	if (err)
		return err;
	/* node_show: gpu_id is sysfs_show_32bit_val, 0 for CPU nodes */
	emu_text_add(&t, "%" PRIu32 "\n", gpu ? gpu->gpu_id : 0);
	err = emu_topo_file(dir, "gpu_id", t.buf);
	if (err)
		return err;
	t.len = 0;
	t.buf[0] = '\0';
	/* node_show: name is sysfs_show_str_val; GPU nodes carry the gfx name */
	emu_text_add(&t, "%s\n", gpu ? "gfx90a" : "");
	err = emu_topo_file(dir, "name", t.buf);
	if (err)
		return err;
	t.len = 0;
	t.buf[0] = '\0';
	emu_topo_node_props(&t, cfg, gpu);
	err = emu_topo_file(dir, "properties", t.buf);
	if (err)
		return err;
	if (gpu) {
		const struct emu_link_config *links[EMU_MAX_LINKS];
		unsigned int idx = (unsigned int)(gpu - cfg->gpus), n;
		uint32_t simd_base = 0x80000000u + 416 * (gpu->node_id - 1);

		/*
		 * kfd_crat.c: kfd_create_vcrat_image_gpu writes one VRAM bank, FB_PUBLIC
		 * when all of it is CPU-visible (real_vram_size == visible_vram_size),
		 * FB_PRIVATE on a small BAR.
		 */
		err = emu_topo_mem_bank(dir, 0,
					gpu->vram_public ? EMU_HEAP_TYPE_FB_PUBLIC
							 : EMU_HEAP_TYPE_FB_PRIVATE,
					gpu->vram_size, 4096, 1600);
		/*
		 * gfx90a's caches as kfd_crat.c's aldebaran_cache_info lists them,
		 * reduced to the data caches ROCr keeps (amd_gpu_agent.cpp:
		 * InitCacheList): a 16 KiB L1 per CU and the 8 MiB L2 of all CUs.
		 */
		if (!err)
			err = emu_topo_cache(dir, 0, simd_base, 1, 16, 64, 1);
		if (!err)
			err = emu_topo_cache(dir, 1, simd_base, 2, 8192, 128, 104);
		if (!err)
			err = emu_topo_io_link(dir, 0, id, 0, EMU_IOLINK_PCIE, EMU_PCIE_WEIGHT);
		n = emu_topo_gpu_links(cfg, idx, links);
		for (i = 0; !err && i < n; i++) {
			unsigned int peer = links[i]->a == idx ? links[i]->b : links[i]->a;

			err = emu_topo_io_link(dir, 1 + i, id, cfg->gpus[peer].node_id,
					       links[i]->type, links[i]->weight);
		}
		/* p2p links in peer order: each made when the later GPU of a pair was added. */
		for (i = 0, n = 0; !err && i < cfg->num_gpus; i++)
			if (emu_topo_p2p(cfg, idx, i))
				err = emu_topo_link(dir, "p2p_links", n++, id, cfg->gpus[i].node_id,
						    EMU_IOLINK_PCIE, 2 * EMU_PCIE_WEIGHT);
		return err;
	}
	err = emu_topo_mem_bank(dir, 0, EMU_HEAP_TYPE_SYSTEM, cfg->system_mem_size, 64, 3200);
	for (i = 0; !err && i < cfg->num_gpus; i++)
		err = emu_topo_io_link(dir, i, 0, cfg->gpus[i].node_id, EMU_IOLINK_PCIE,
				       EMU_PCIE_WEIGHT);
	return err;
}

int emu_topology_write(const char *root, const struct emu_config *cfg)
{
	char kfd_dir[PATH_MAX], topo[PATH_MAX], nodes[PATH_MAX], path[PATH_MAX];
	struct emu_text t = { .len = 0 };
	unsigned int i;
	int err;

	snprintf(kfd_dir, sizeof(kfd_dir), "%s/sys/devices/virtual/kfd/kfd", root);
	snprintf(topo, sizeof(topo), "%s/topology", kfd_dir);
	snprintf(nodes, sizeof(nodes), "%s/nodes", topo);
	err = emu_root_mkdirs(nodes);
	if (err)
		return err;
	/* The device attribute "dev" of the kfd class device (MAJ:MIN). */
	emu_text_add(&t, "%" PRIu32 ":0\n", cfg->kfd_major);
	err = emu_topo_file(kfd_dir, "dev", t.buf);
	/* sysprops_show */
	if (!err)
		err = emu_topo_file(topo, "generation_id", "1\n");
	if (!err)
		err = emu_topo_file(topo, "system_properties",
				    "platform_oem 0\nplatform_id 0\nplatform_rev 0\n");
	if (!err)
		err = emu_topo_node(nodes, 0, cfg, NULL);
	for (i = 0; !err && i < cfg->num_gpus; i++)
		err = emu_topo_node(nodes, cfg->gpus[i].node_id, cfg, &cfg->gpus[i]);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/sys/class/kfd", root);
	err = emu_root_mkdirs(path);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/sys/class/kfd/kfd", root);
	unlink(path);
	if (symlink("../../devices/virtual/kfd/kfd", path) != 0)
		return -errno;
	return 0;
}
