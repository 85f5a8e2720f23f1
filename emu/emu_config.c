// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The emulated machine description: defaults, and its text form in
 * $VRAMSTREAM_EMU_DIR/config ("key value" lines, "gpu.N.key value" for GPU N).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_config.h"

/*
 * gpu_ids look like the kernel's: kfd_topology.c:kfd_generate_gpu_id() folds
 * a hash of the device's properties into KFD_GPU_ID_HASH_WIDTH (16) bits, so
 * ids are arbitrary non-zero 16-bit values.
 */
static const uint32_t emu_default_gpu_ids[EMU_MAX_GPUS] = {
	0x8ad4, 0x3c71, 0xd1e2, 0x5a0f, 0x9b37, 0x2e6c, 0xf415, 0x6708,
};

/*
 * Chips by gfx target. IP versions: Linux amdgpu_discovery.c (amdgpu_discovery_set_sdma_ip_blocks
 * and the GC versions its IP tables give: Vega10 GC 9.0.1/SDMA 4.0.0, Vega20 GC 9.4.0/SDMA
 * 4.2.0, Arcturus GC 9.4.1/SDMA 4.2.2, Aldebaran GC 9.4.2/SDMA 4.4.0, Aqua Vanjaram GC
 * 9.4.3/SDMA 4.4.2, Navi10 GC 10.1.10/SDMA 5.0.0, Sienna Cichlid GC 10.3.0/SDMA 5.2.0,
 * GC 11.0.0/SDMA 6.0.0); gfx targets as kfd_topology.c prints them (major * 10000 +
 * minor * 100 + stepping); device ids from amdgpu_drv.c's pciidlist; families from
 * amdgpu_drm.h (newer than Debian 12's libdrm for GC 11).
 */
#define EMU_FAMILY_AI	     141 /* AMDGPU_FAMILY_AI: gfx9 */
#define EMU_FAMILY_NV	     143 /* AMDGPU_FAMILY_NV: gfx10 */
#define EMU_FAMILY_GC_11_0_0 145 /* AMDGPU_FAMILY_GC_11_0_0: gfx11 */
static const struct emu_chip emu_chips[] = {
	{ 90000, "gfx900 (Vega10)", 0x6860, EMU_FAMILY_AI, EMU_IP_VERSION(9, 0, 1),
	  EMU_IP_VERSION(4, 0, 0) },
	{ 90006, "gfx906 (Vega20, MI50)", 0x66a0, EMU_FAMILY_AI, EMU_IP_VERSION(9, 4, 0),
	  EMU_IP_VERSION(4, 2, 0) },
	{ 90008, "gfx908 (Arcturus, MI100)", 0x738c, EMU_FAMILY_AI, EMU_IP_VERSION(9, 4, 1),
	  EMU_IP_VERSION(4, 2, 2) },
	{ 90010, "gfx90a (Aldebaran, MI210)", 0x740f, EMU_FAMILY_AI, EMU_IP_VERSION(9, 4, 2),
	  EMU_IP_VERSION(4, 4, 0) },
	{ 90402, "gfx942 (Aqua Vanjaram, MI300X)", 0x74a1, EMU_FAMILY_AI, EMU_IP_VERSION(9, 4, 3),
	  EMU_IP_VERSION(4, 4, 2) },
	{ 100100, "gfx1010 (Navi10)", 0x731f, EMU_FAMILY_NV, EMU_IP_VERSION(10, 1, 10),
	  EMU_IP_VERSION(5, 0, 0) },
	{ 100300, "gfx1030 (Navi21)", 0x73bf, EMU_FAMILY_NV, EMU_IP_VERSION(10, 3, 0),
	  EMU_IP_VERSION(5, 2, 0) },
	{ 110000, "gfx1100 (Navi31)", 0x744c, EMU_FAMILY_GC_11_0_0, EMU_IP_VERSION(11, 0, 0),
	  EMU_IP_VERSION(6, 0, 0) },
};

const struct emu_chip *emu_config_chip(uint32_t gfx_target_version)
{
	size_t i;

	for (i = 0; i < sizeof(emu_chips) / sizeof(emu_chips[0]); i++)
		if (emu_chips[i].gfx_target_version == gfx_target_version)
			return &emu_chips[i];
	return NULL;
}

int emu_config_check(const struct emu_config *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->num_gpus; i++) {
		const struct emu_gpu_config *g = &cfg->gpus[i];
		const struct emu_chip *c = emu_config_chip(g->gfx_target_version);

		if (!c) {
			fprintf(stderr,
				"emu config: gpu.%u.gfx_target_version %" PRIu32
				" is not a chip the emulator knows\n",
				i, g->gfx_target_version);
			return -EINVAL;
		}
		if (g->sdma_ip_version != c->sdma_ip) {
			fprintf(stderr,
				"emu config: gpu.%u.sdma_ip_version 0x%06" PRIx32
				" is not %s's SDMA IP version 0x%06" PRIx32 "\n",
				i, g->sdma_ip_version, c->name, c->sdma_ip);
			return -EINVAL;
		}
	}
	return 0;
}

void emu_config_defaults(struct emu_config *cfg, unsigned int num_gpus, uint64_t vram)
{
	unsigned int i;

	memset(cfg, 0, sizeof(*cfg));
	if (num_gpus > EMU_MAX_GPUS)
		num_gpus = EMU_MAX_GPUS;
	cfg->num_gpus = num_gpus;
	/* The KFD major is dynamic (kfd_chardev.c: register_chrdev(0, ...)). */
	cfg->kfd_major = 511;
	cfg->cpu_cores = 16;
	cfg->system_mem_size = 64ULL << 30;
	cfg->drm_gem_criu = 1;
	cfg->pcie_p2p = 1;
	for (i = 0; i < num_gpus; i++) {
		struct emu_gpu_config *g = &cfg->gpus[i];

		g->gpu_id = emu_default_gpu_ids[i];
		g->node_id = i + 1;
		g->render_minor = 128 + i;
		g->vram_size = vram;
		g->pci_vendor_id = 0x1002;
		g->pci_device_id = 0x740f;     /* MI210 (amdgpu_drv.c pciidlist, CHIP_ALDEBARAN) */
		g->gfx_target_version = 90010; /* gfx90a, as kfd_topology.c prints it */
		g->sdma_ip_version = EMU_IP_VERSION(4, 4, 0); /* its SDMA (emu_chips) */
		g->num_sdma_engines = 2;
		g->sdma_bytes_per_sec = 0;
		g->fw_version = 78;
		g->sdma_fw_version = 8;
		g->domain = 0;
		g->bus = 0x03 + i;
		g->device = 0;
		g->function = 0;
		g->vram_public = 1;
	}
}

#define EMU_CFG_GPU_FIELDS(X)                                                                      \
	X(gpu_id, "%" SCNu32, "%" PRIu32)                                                          \
	X(node_id, "%" SCNu32, "%" PRIu32)                                                         \
	X(render_minor, "%" SCNu32, "%" PRIu32)                                                    \
	X(vram_size, "%" SCNu64, "%" PRIu64)                                                       \
	X(pci_vendor_id, "%" SCNu32, "%" PRIu32)                                                   \
	X(gfx_target_version, "%" SCNu32, "%" PRIu32)                                              \
	X(pci_device_id, "%" SCNu32, "%" PRIu32)                                                   \
	X(sdma_ip_version, "%" SCNx32, "0x%06" PRIx32)                                             \
	X(num_sdma_engines, "%" SCNu32, "%" PRIu32)                                                \
	X(num_sdma_xgmi_engines, "%" SCNu32, "%" PRIu32)                                           \
	X(sdma_bytes_per_sec, "%" SCNu64, "%" PRIu64)                                              \
	X(fw_version, "%" SCNu32, "%" PRIu32)                                                      \
	X(sdma_fw_version, "%" SCNu32, "%" PRIu32)                                                 \
	X(domain, "%" SCNu32, "%" PRIu32)                                                          \
	X(bus, "%" SCNu32, "%" PRIu32)                                                             \
	X(device, "%" SCNu32, "%" PRIu32)                                                          \
	X(function, "%" SCNu32, "%" PRIu32)                                                        \
	X(vram_public, "%" SCNu32, "%" PRIu32)

int emu_config_save(const char *emu_dir, const struct emu_config *cfg)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	unsigned int i;
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/config", emu_dir);
	snprintf(tmp, sizeof(tmp), "%s/config.tmp", emu_dir);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "num_gpus %u\n", cfg->num_gpus);
	fprintf(f, "kfd_major %" PRIu32 "\n", cfg->kfd_major);
	fprintf(f, "cpu_cores %" PRIu32 "\n", cfg->cpu_cores);
	fprintf(f, "system_mem_size %" PRIu64 "\n", cfg->system_mem_size);
	fprintf(f, "drm_gem_criu %" PRIu32 "\n", cfg->drm_gem_criu);
	fprintf(f, "pcie_p2p %" PRIu32 "\n", cfg->pcie_p2p);
	for (i = 0; i < cfg->num_gpus; i++) {
		const struct emu_gpu_config *g = &cfg->gpus[i];
#define X(name, scn, pri) fprintf(f, "gpu.%u." #name " " pri "\n", i, g->name);
		EMU_CFG_GPU_FIELDS(X)
#undef X
	}
	for (i = 0; i < cfg->num_links; i++) {
		const struct emu_link_config *l = &cfg->links[i];

		fprintf(f, "link.%u.%u %s:%" PRIu32 "\n", l->a, l->b,
			l->type == EMU_IOLINK_XGMI ? "xgmi" : "pcie", l->weight);
	}
	if (fflush(f) != 0 || ferror(f))
		err = -EIO;
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) != 0)
		err = -errno;
	return err;
}

static int emu_config_parse_gpu(struct emu_gpu_config *g, const char *key, const char *val)
{
	/* A gfx target names a chip: its device id and SDMA IP version follow (emu_chips);
	 * gfx_target_version comes before both in the saved form, so theirs still apply. */
	if (strcmp(key, "gfx_target_version") == 0) {
		const struct emu_chip *c;

		if (sscanf(val, "%" SCNu32, &g->gfx_target_version) != 1)
			return -EINVAL;
		c = emu_config_chip(g->gfx_target_version);
		if (c) {
			g->pci_device_id = c->pci_device_id;
			g->sdma_ip_version = c->sdma_ip;
		}
		return 0;
	}
#define X(name, scn, pri)                                                                          \
	if (strcmp(key, #name) == 0)                                                               \
		return sscanf(val, scn, &g->name) == 1 ? 0 : -EINVAL;
	EMU_CFG_GPU_FIELDS(X)
#undef X
	return 0; /* unknown keys are ignored: newer writers may add fields */
}

uint64_t emu_config_hive_id(const struct emu_config *cfg, unsigned int gpu)
{
	unsigned int i, low = gpu;
	int in_hive = 0;

	for (i = 0; i < cfg->num_links; i++) {
		const struct emu_link_config *l = &cfg->links[i];

		if (l->type != EMU_IOLINK_XGMI || (l->a != gpu && l->b != gpu))
			continue;
		in_hive = 1;
		if (l->a < low)
			low = l->a;
		if (l->b < low)
			low = l->b;
	}
	return in_hive ? 0x7e11000000000000ULL + low : 0;
}

/*
 * amdgpu_amdkfd_gpuvm.c: kfd_mem_attach refuses (-EINVAL) to add another GPU's VRAM BO to
 * a VM unless both are in one XGMI hive (amdgpu_xgmi_same_hive) or
 * amdgpu_device_is_peer_accessible(bo_adev, adev) holds (amdgpu_device.c): the owner's
 * VRAM all behind its BAR (real_vram_size == visible_vram_size) and PCIe P2P possible.
 * The emulated machine has CONFIG_HSA_AMD_P2P and a chipset that passes
 * pci_p2pdma_distance unless its config says pcie_p2p 0 (amdgpu_device_is_peer_accessible
 * is false without CONFIG_HSA_AMD_P2P).
 */
int emu_config_peer_vram_ok(const struct emu_config *cfg, unsigned int owner, unsigned int gpu)
{
	uint64_t hive = emu_config_hive_id(cfg, owner);

	if (owner == gpu)
		return 1;
	if (hive && hive == emu_config_hive_id(cfg, gpu))
		return 1;
	return cfg->pcie_p2p && cfg->gpus[owner].vram_public != 0;
}

/* "link.A.B xgmi[:W]" or "pcie[:W]": one link between GPUs A and B, replacing an earlier one. */
static int emu_config_parse_link(struct emu_config *cfg, unsigned int a, unsigned int b,
				 const char *val)
{
	struct emu_link_config l = { .a = a, .b = b };
	unsigned int i;
	int n = 0;

	if (a == b || a >= EMU_MAX_GPUS || b >= EMU_MAX_GPUS)
		return -EINVAL;
	if (strncmp(val, "xgmi", 4) == 0) {
		l.type = EMU_IOLINK_XGMI;
		l.weight = EMU_XGMI_WEIGHT;
		n = 4;
	} else if (strncmp(val, "pcie", 4) == 0) {
		l.type = EMU_IOLINK_PCIE;
		l.weight = EMU_PCIE_WEIGHT;
		n = 4;
	} else {
		return -EINVAL;
	}
	if (val[n] == ':' && sscanf(val + n + 1, "%" SCNu32, &l.weight) != 1)
		return -EINVAL;
	else if (val[n] != ':' && val[n] != '\0')
		return -EINVAL;
	for (i = 0; i < cfg->num_links; i++) {
		struct emu_link_config *o = &cfg->links[i];

		if ((o->a == a && o->b == b) || (o->a == b && o->b == a)) {
			*o = l;
			return 0;
		}
	}
	if (cfg->num_links == EMU_MAX_LINKS)
		return -E2BIG;
	cfg->links[cfg->num_links++] = l;
	return 0;
}

int emu_config_load(const char *emu_dir, struct emu_config *cfg)
{
	char path[PATH_MAX];

	emu_config_defaults(cfg, 0, 0);
	snprintf(path, sizeof(path), "%s/config", emu_dir);
	return emu_config_apply_file(path, cfg);
}

int emu_config_apply_file(const char *path, struct emu_config *cfg)
{
	char line[256], key[128], val[128];
	unsigned int idx;
	FILE *f;
	int err = 0;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!err && fgets(line, sizeof(line), f)) {
		unsigned int a, b;
		char sub[128];
		int n = 0;

		if (sscanf(line, "%127s %127s", key, val) != 2)
			continue;
		if (sscanf(key, "gpu.%u.%127s", &idx, sub) == 2) {
			if (idx >= EMU_MAX_GPUS) {
				err = -EINVAL;
				break;
			}
			err = emu_config_parse_gpu(&cfg->gpus[idx], sub, val);
		} else if (sscanf(key, "link.%u.%u%n", &a, &b, &n) == 2 && key[n] == '\0') {
			err = emu_config_parse_link(cfg, a, b, val);
		} else if (strcmp(key, "num_gpus") == 0) {
			if (sscanf(val, "%u", &cfg->num_gpus) != 1 || cfg->num_gpus > EMU_MAX_GPUS)
				err = -EINVAL;
		} else if (strcmp(key, "kfd_major") == 0) {
			err = sscanf(val, "%" SCNu32, &cfg->kfd_major) == 1 ? 0 : -EINVAL;
		} else if (strcmp(key, "cpu_cores") == 0) {
			err = sscanf(val, "%" SCNu32, &cfg->cpu_cores) == 1 ? 0 : -EINVAL;
		} else if (strcmp(key, "system_mem_size") == 0) {
			err = sscanf(val, "%" SCNu64, &cfg->system_mem_size) == 1 ? 0 : -EINVAL;
		} else if (strcmp(key, "pcie_p2p") == 0) {
			err = sscanf(val, "%" SCNu32, &cfg->pcie_p2p) == 1 && cfg->pcie_p2p <= 1
				      ? 0
				      : -EINVAL;
		} else if (strcmp(key, "drm_gem_criu") == 0) {
			err = sscanf(val, "%" SCNu32, &cfg->drm_gem_criu) == 1 &&
					      cfg->drm_gem_criu <= 1
				      ? 0
				      : -EINVAL;
		}
	}
	fclose(f);
	return err;
}
