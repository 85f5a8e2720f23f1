/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Emulated machine description, shared by the daemon (which creates the fake
 * root and owns VRAM), the shim (which reads it in every process under the
 * emulator) and the device classes. The daemon writes it to
 * $VRAMSTREAM_EMU_DIR/config; emu_config_load() reads it back.
 * Fields may be added; keep defaults in emu_config.c.
 */
#ifndef VRAMSTREAM_EMU_CONFIG_H
#define VRAMSTREAM_EMU_CONFIG_H

#include <stdint.h>

#define EMU_MAX_GPUS 8

struct emu_gpu_config {
	uint32_t gpu_id;	     /* KFD gpu_id (kfd_topology.c derives it from a hash) */
	uint32_t node_id;	     /* KFD topology node: 0 is the CPU, GPUs follow */
	uint32_t render_minor;	     /* renderD<minor>, 128 + index by default */
	uint64_t vram_size;	     /* bytes */
	uint32_t pci_vendor_id;	     /* 0x1002 */
	uint32_t pci_device_id;	     /* e.g. 0x740f (MI210) */
	uint32_t gfx_target_version; /* e.g. 90010 for gfx90a, as kfd_topology.c prints it */
	uint32_t sdma_ip_version;    /* EMU_IP_VERSION; must be the chip's (emu_config_check) */
	uint32_t num_sdma_engines;
	/* KFD's XGMI SDMA engines (kfd_device.c: kfd_get_num_xgmi_sdma_engines, the instances
	 * beyond the two kept for PCIe where XGMI is supported: 3 on an MI200); 0 by default,
	 * as on Vega20, which has XGMI links but no XGMI SDMA engines. */
	uint32_t num_sdma_xgmi_engines;
	uint64_t sdma_bytes_per_sec; /* per-engine bandwidth cap, 0 = unlimited */
	uint32_t fw_version;
	uint32_t sdma_fw_version;
	uint32_t domain, bus, device, function; /* PCI location */
	/* All VRAM CPU-visible (a large BAR), 1 by default; 0 is a small BAR: the topology
	 * shows an FB_PRIVATE heap and peers cannot map its VRAM over PCIe (emu_config.c). */
	uint32_t vram_public;
};

/*
 * A link between two GPUs, written into both GPUs' io_links as kfd_crat.c
 * does for an XGMI hive (kfd_fill_gpu_xgmi_link_to_gpu) or a PCIe peer.
 * Config line "link.A.B TYPE[:WEIGHT]", TYPE xgmi or pcie.
 */
#define EMU_MAX_LINKS (EMU_MAX_GPUS * (EMU_MAX_GPUS - 1) / 2)
struct emu_link_config {
	uint32_t a, b;	 /* GPU indices */
	uint32_t type;	 /* CRAT_IOLINK_TYPE_* */
	uint32_t weight; /* KFD's distance */
};

/* An IP version as the kernel's IP_VERSION(major, minor, revision) and the uapi's
 * drm_amdgpu_info_hw_ip.ip_discovery_version pack it. */
#define EMU_IP_VERSION(major, minor, rev) (((major) << 16) | ((minor) << 8) | (rev))
#define EMU_IP_MAJOR(v)			  (((v) >> 16) & 0xff)
#define EMU_IP_MINOR(v)			  (((v) >> 8) & 0xff)
#define EMU_IP_REV(v)			  ((v)&0xff)

/*
 * A chip the emulator can present: what one gfx target implies (emu_config.c cites each).
 * Setting gpu.N.gfx_target_version in a config sets pci_device_id and sdma_ip_version to
 * the chip's; lines after it may give another device id of the same chip.
 */
struct emu_chip {
	uint32_t gfx_target_version;
	const char *name;	/* "gfx90a (MI210, Aldebaran)" */
	uint32_t pci_device_id; /* one board of the chip (amdgpu_drv.c pciidlist) */
	uint32_t family;	/* AMDGPU_FAMILY_* of AMDGPU_INFO_DEV_INFO */
	uint32_t gc_ip;		/* GC IP version (EMU_IP_VERSION) */
	uint32_t sdma_ip;	/* SDMA IP version (EMU_IP_VERSION) */
};

/* The chip of a gfx target, or NULL when the emulator does not know it. */
const struct emu_chip *emu_config_chip(uint32_t gfx_target_version);

struct emu_config {
	unsigned int num_gpus;
	struct emu_gpu_config gpus[EMU_MAX_GPUS];
	unsigned int num_links;
	struct emu_link_config links[EMU_MAX_LINKS];
	/* Added by emu-kfd: */
	uint32_t kfd_major;	  /* st_rdev major reported for /dev/kfd (dynamic in the kernel) */
	uint32_t cpu_cores;	  /* cpu_cores_count of topology node 0 */
	uint64_t system_mem_size; /* size_in_bytes of node 0's memory bank */
	/* The render nodes answer the GEM checkpoint ioctls of Linux 6.18 (LIST_HANDLES,
	 * GEM_OP GET_MAPPING_INFO, GEM_CHANGE_HANDLE); 0 stands for an older kernel. */
	uint32_t drm_gem_criu;
	/* The kernel has CONFIG_HSA_AMD_P2P and the chipset passes pci_p2pdma_distance: GPUs
	 * reach large-BAR peers' VRAM over PCIe (1, the default); 0: only within a hive. */
	uint32_t pcie_p2p;
};

/*
 * Whether every GPU is a chip the emulator knows with that chip's SDMA IP version. Returns 0,
 * or -EINVAL after naming the GPU, its values and the chip's on stderr.
 */
int emu_config_check(const struct emu_config *cfg);

/*
 * The XGMI hive of GPU @gpu (amdgpu_xgmi.c: the hive's id, the same non-zero number on
 * every GPU of a hive, 0 outside one): here made from the lowest GPU index of the GPUs
 * XGMI-linked with it.
 */
uint64_t emu_config_hive_id(const struct emu_config *cfg, unsigned int gpu);

/*
 * Whether GPU @gpu may map VRAM of GPU @owner into its VM (amdgpu_amdkfd_gpuvm.c:
 * kfd_mem_attach): the same GPU, the same XGMI hive, or a PCIe peer whose VRAM is all
 * behind its BAR (emu_config.c cites the rule).
 */
int emu_config_peer_vram_ok(const struct emu_config *cfg, unsigned int owner, unsigned int gpu);

/* Read $emu_dir/config. Returns 0 or -errno. */
int emu_config_load(const char *emu_dir, struct emu_config *cfg);

/*
 * Added by emu-kfd: fill cfg with num_gpus GPUs of the default kind (MI210-like,
 * vram bytes each) and write it to $emu_dir/config.
 */
void emu_config_defaults(struct emu_config *cfg, unsigned int num_gpus, uint64_t vram);
int emu_config_save(const char *emu_dir, const struct emu_config *cfg);
/* Added by emu-kfd: applies the "key value" lines of a config file on top of cfg. */
int emu_config_apply_file(const char *path, struct emu_config *cfg);

/* The stand-in device KFD's nodes are made of: /dev/zero's numbers (emu_root.c says why). */
#define EMU_STANDIN_MAJOR 1
#define EMU_STANDIN_MINOR 5
/* kfd_crat.h: CRAT_IOLINK_TYPE_PCIEXPRESS, CRAT_IOLINK_TYPE_XGMI; kfd_crat.c: KFD_CRAT_XGMI_WEIGHT
 */
#define EMU_IOLINK_PCIE 2
#define EMU_IOLINK_XGMI 11
#define EMU_XGMI_WEIGHT 15
#define EMU_PCIE_WEIGHT 20
/* DRM's render node major (include/drm/drm.h: DRM_MAJOR). */
#define EMU_DRM_MAJOR 226

#endif
