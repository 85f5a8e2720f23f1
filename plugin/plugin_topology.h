/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * KFD topology: read the GPUs a machine has from sysfs, and match the GPUs
 * an image was dumped on to the GPUs of the machine restoring it.
 *
 * Source of the files and formats: the kernel's
 * drivers/gpu/drm/amd/amdkfd/kfd_topology.c (node_show, mem_show,
 * iolink_show): /sys/class/kfd/kfd/topology/nodes/N/{gpu_id,properties,
 * mem_banks/M/properties,io_links/L/properties,p2p_links/L/properties},
 * "name value" lines.
 */
#ifndef VRAMSTREAM_PLUGIN_TOPOLOGY_H
#define VRAMSTREAM_PLUGIN_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plugin_config.h"

#define TOPO_MAX_GPUS  64
#define TOPO_MAX_PROPS 96
#define TOPO_PROP_NAME 48
#define TOPO_MAX_LINKS 16

/* io_links/L/properties "type" (kfd_crat.h: CRAT_IOLINK_TYPE_*) */
#define TOPO_LINK_PCIE 2
#define TOPO_LINK_XGMI 11

/*
 * A GPU's io_link or p2p link to another GPU (kfd_topology.c: iolink_show, which prints
 * both). p2p links are the kernel's PCIe peers with CONFIG_HSA_AMD_P2P
 * (kfd_dev_create_p2p_links: kfd_add_peer_prop links a GPU to each GPU outside its hive
 * whose VRAM it may map, amdgpu_device_is_peer_accessible).
 */
struct topo_link {
	uint32_t node_to; /* topology node of the peer GPU */
	uint32_t type;	  /* TOPO_LINK_* */
	uint32_t weight;  /* KFD's distance (kfd_crat.c: KFD_CRAT_XGMI_WEIGHT and co.) */
	bool p2p;	  /* from p2p_links/, not io_links/ */
};

struct topo_prop {
	char name[TOPO_PROP_NAME];
	uint64_t value;
};

struct topo_gpu {
	uint32_t node_id;
	uint32_t gpu_id;
	uint64_t vram_size; /* sum of the node's VRAM heaps (mem_banks) */
	/* CPU node of the GPU's first io_link to a CPU: its NUMA placement. */
	int32_t cpu_node;
	/* vram_public and links were read (images before they were kept lack them) */
	bool have_links;
	/* p2p links were read too (images before they were kept lack them) */
	bool have_p2p;
	/* All of VRAM is CPU-visible (a FB_PUBLIC heap and no FB_PRIVATE one). */
	bool vram_public;
	/* io_links to other GPUs (XGMI in a hive, or PCIe peers), both directions
	 * appear as each GPU's own list. */
	unsigned int n_links;
	struct topo_link links[TOPO_MAX_LINKS];
	unsigned int n_props;
	struct topo_prop props[TOPO_MAX_PROPS];
};

struct topo_system {
	unsigned int n_gpus;
	struct topo_gpu gpus[TOPO_MAX_GPUS];
};

/*
 * Read the GPU nodes below @sysfs_root ("" for the real /sys; tests pass a
 * folder). CPU-only nodes (gpu_id 0) are skipped, and so are GPUs the
 * caller's device cgroup denies (their gpu_id reads -EPERM), with links to
 * them. GPUs come out sorted by node id. Returns 0 or -errno with @err naming the file and the
 * problem.
 */
int topology_read(const char *sysfs_root, struct topo_system *sys, char *err, size_t err_len);

/* A property's value by name; returns 0 and sets @value, or -ENOENT. */
int topology_prop(const struct topo_gpu *gpu, const char *name, uint64_t *value);

/*
 * Match every GPU of @src (the dumping machine) to a distinct GPU of @dst
 * with compatible properties under @checks, such that GPUs linked to each
 * other on the source (XGMI or PCIe io_links between GPUs, and p2p links where the
 * image has them, either direction) go to GPUs linked the same way (type and weight). On success
 * @map[i] is the index in @dst->gpus of src->gpus[i]. On failure returns -ENODEV and writes into
 * @why what differs (GPU counts, or for each unmatched source GPU the
 * properties that differ on every candidate and the setting that relaxes
 * each check).
 */
int topology_match(const struct topo_system *src, const struct topo_system *dst,
		   const struct plugin_checks *checks, unsigned int map[TOPO_MAX_GPUS], char *why,
		   size_t why_len);

#endif
