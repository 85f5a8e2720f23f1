/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Queries of the emulated render node: DRM_IOCTL_VERSION, DRM_IOCTL_GET_CAP and
 * DRM_AMDGPU_INFO, following the kernel's drm_ioctl.c (drm_version, drm_getcap) and
 * amdgpu_kms.c (amdgpu_info_ioctl, amdgpu_hw_ip_info, amdgpu_firmware_info). What
 * libdrm_amdgpu 2.4.114's amdgpu_device_initialize() asks: ACCEL_WORKING, DEV_INFO and, for
 * families from AI (gfx9) on, READ_MMR_REG of GB_ADDR_CONFIG (amdgpu_gpu_info.c
 * amdgpu_query_gpu_info_init).
 */
#include "emu_drm_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>

#include <drm.h>

/* amdgpu_drv.c: DRIVER_NAME, DRIVER_DESC, DRIVER_DATE and KMS_DRIVER_MAJOR (libdrm_amdgpu
 * accepts only 3); the minor is that of the 6.x kernels the emulated feature set follows. */
#define EMU_DRM_NAME	      "amdgpu"
#define EMU_DRM_DESC	      "AMD GPU"
#define EMU_DRM_DATE	      "20150101"
#define EMU_DRM_VERSION_MAJOR 3
#define EMU_DRM_VERSION_MINOR 54

/* GB_ADDR_CONFIG, the one register libdrm reads on gfx9 (dword offset 0x263e), with the
 * golden value vega10 programs (gfx_v9_0.c, VEGA10_GB_ADDR_CONFIG_GOLDEN). */
#define EMU_DRM_REG_GB_ADDR_CONFIG 0x263e
#define EMU_DRM_GB_ADDR_CONFIG	   0x2a114042u

/* drm_ioctl.c drm_copy_field: copy at most *buf_len bytes, report the full length. */
static int emu_drm_copy_field(uint64_t buf, size_t *buf_len, const char *value)
{
	size_t len = strlen(value), n = len < *buf_len ? len : *buf_len;

	*buf_len = len;
	if (n && buf)
		return emu_drm_uwrite(buf, value, n);
	return 0;
}

int emu_drm_version(struct emu_drm_file *file, void *arg)
{
	struct drm_version *v = arg;
	int err;

	v->version_major = EMU_DRM_VERSION_MAJOR;
	v->version_minor = EMU_DRM_VERSION_MINOR;
	v->version_patchlevel = 0;
	err = emu_drm_copy_field((uintptr_t)v->name, &v->name_len, EMU_DRM_NAME);
	if (!err)
		err = emu_drm_copy_field((uintptr_t)v->date, &v->date_len, EMU_DRM_DATE);
	if (!err)
		err = emu_drm_copy_field((uintptr_t)v->desc, &v->desc_len, EMU_DRM_DESC);
	return err;
}

int emu_drm_get_cap(struct emu_drm_file *file, void *arg)
{
	struct drm_get_cap *cap = arg;

	/* drm_getcap. Syncobjs are not emulated, so DRM_CAP_SYNCOBJ says so. */
	switch (cap->capability) {
	case DRM_CAP_TIMESTAMP_MONOTONIC:
		cap->value = 1;
		return 0;
	case DRM_CAP_PRIME:
		cap->value = DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT;
		return 0;
	case DRM_CAP_SYNCOBJ:
	case DRM_CAP_SYNCOBJ_TIMELINE:
		cap->value = 0;
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * The chip of the device (emu_config_check refused unknown ones at daemon start; the gfx90a
 * default stands in for a config written by hand past it).
 */
static const struct emu_chip *emu_drm_chip(const struct emu_gpu_config *cfg)
{
	const struct emu_chip *c = emu_config_chip(cfg->gfx_target_version);

	return c ? c : emu_config_chip(90010);
}

/*
 * hw_ip_version_major/minor are the version of the kernel's IP block driving the IP
 * (amdgpu_hw_ip_info: adev->ip_blocks[i].version), coarser than the IP itself:
 * sdma_v4_0_ip_block (4.0) serves SDMA 4.0 through 4.4.0, sdma_v4_4_2_ip_block (4.4) 4.4.2
 * and later 4.4.x, sdma_v5_0/v5_2/v6_0 their own (amdgpu_discovery_set_sdma_ip_blocks);
 * gfx_v9_0_ip_block (9.0) GC 9.x but 9.4.3 (gfx_v9_4_3_ip_block, 9.4), gfx_v10_0 and gfx_v11_0
 * (x.0) theirs.
 */
static void emu_drm_ip_block_version(uint32_t ip, uint32_t *major, uint32_t *minor)
{
	*major = EMU_IP_MAJOR(ip);
	*minor = EMU_IP_MINOR(ip);
	if (*major == 4)
		*minor = ip >= EMU_IP_VERSION(4, 4, 2) ? 4 : 0;
	else if (*major == 9)
		*minor = ip >= EMU_IP_VERSION(9, 4, 3) ? 4 : 0;
	else if (*major == 10 || *major == 11)
		*minor = 0;
}

static int emu_drm_hw_ip_info(struct emu_drm_file *file, const struct drm_amdgpu_info *info,
			      struct drm_amdgpu_info_hw_ip *ip)
{
	const struct emu_drm_dev *dev = file->dev;

	/* amdgpu_hw_ip_info */
	if (info->query_hw_ip.ip_instance >= AMDGPU_HW_IP_INSTANCE_MAX_COUNT)
		return -EINVAL;
	memset(ip, 0, sizeof(*ip));
	switch (info->query_hw_ip.type) {
	case AMDGPU_HW_IP_DMA:
		emu_drm_ip_block_version(dev->cfg.sdma_ip_version, &ip->hw_ip_version_major,
					 &ip->hw_ip_version_minor);
		ip->ib_start_alignment = 256;
		ip->ib_size_alignment = 4;
		/* Rings of one context: amdgpu_ctx_num_entities caps DMA at 2 entities,
		 * which drm_sched spreads over every engine (more engines take more
		 * contexts; AMDGPU_INFO_HW_IP_COUNT says how many there are). */
		ip->available_rings = (1u << (dev->num_rings < 2 ? dev->num_rings : 2)) - 1;
		/* ip_discovery_version (uapi field after available_rings since Linux 6.4; _pad
		 * in older headers): major << 16 | minor << 8 | revision. */
		ip->_pad = dev->cfg.sdma_ip_version;
		return 0;
	case AMDGPU_HW_IP_GFX:
	case AMDGPU_HW_IP_COMPUTE:
		/* The GC block exists, but the emulator runs no PM4 through the render node,
		 * so it reports no rings rather than rings that would not execute. */
		emu_drm_ip_block_version(emu_drm_chip(&dev->cfg)->gc_ip, &ip->hw_ip_version_major,
					 &ip->hw_ip_version_minor);
		ip->_pad = emu_drm_chip(&dev->cfg)->gc_ip;
		ip->ib_start_alignment = 32;
		ip->ib_size_alignment = 32;
		return 0;
	default:
		if (info->query_hw_ip.type >= AMDGPU_HW_IP_NUM)
			return -EINVAL;
		return 0; /* no such block: no rings */
	}
}

static int emu_drm_fw_info(struct emu_drm_file *file, const struct drm_amdgpu_info *info,
			   struct drm_amdgpu_info_firmware *fw)
{
	const struct emu_drm_dev *dev = file->dev;

	/* amdgpu_firmware_info */
	memset(fw, 0, sizeof(*fw));
	switch (info->query_fw.fw_type) {
	case AMDGPU_INFO_FW_SDMA:
		if (info->query_fw.index >= dev->num_rings)
			return -EINVAL;
		fw->ver = dev->cfg.sdma_fw_version;
		return 0;
	case AMDGPU_INFO_FW_GFX_MEC:
		if (info->query_fw.index > 1)
			return -EINVAL;
		fw->ver = dev->cfg.fw_version;
		return 0;
	case AMDGPU_INFO_FW_VCE:
	case AMDGPU_INFO_FW_UVD:
	case AMDGPU_INFO_FW_GMC:
	case AMDGPU_INFO_FW_GFX_ME:
	case AMDGPU_INFO_FW_GFX_PFP:
	case AMDGPU_INFO_FW_GFX_CE:
	case AMDGPU_INFO_FW_GFX_RLC:
	case AMDGPU_INFO_FW_SMC:
	case AMDGPU_INFO_FW_SOS:
	case AMDGPU_INFO_FW_ASD:
	case AMDGPU_INFO_FW_VCN:
	case AMDGPU_INFO_FW_TA:
	case AMDGPU_INFO_FW_DMCU:
	case AMDGPU_INFO_FW_DMCUB:
	case AMDGPU_INFO_FW_TOC:
	case AMDGPU_INFO_FW_GFX_RLC_RESTORE_LIST_CNTL:
	case AMDGPU_INFO_FW_GFX_RLC_RESTORE_LIST_GPM_MEM:
	case AMDGPU_INFO_FW_GFX_RLC_RESTORE_LIST_SRM_MEM:
		return 0; /* firmware the emulated GPU does not have: version 0 */
	default:
		return -EINVAL;
	}
}

static void emu_drm_dev_info(struct emu_drm_file *file, struct drm_amdgpu_info_device *d)
{
	const struct emu_gpu_config *cfg = &file->dev->cfg;
	uint64_t vm_size = EMU_DRM_VM_SIZE - EMU_DRM_VA_RESERVED_TOP;

	memset(d, 0, sizeof(*d));
	d->device_id = cfg->pci_device_id;
	d->chip_rev = 0;
	d->external_rev = 1;
	d->pci_rev = 1; /* matches the emulated sysfs "revision" */
	d->family = emu_drm_chip(cfg)->family;
	d->num_shader_engines = 8;
	d->num_shader_arrays_per_engine = 1;
	d->gpu_counter_freq = 100000;  /* kHz */
	d->max_engine_clock = 1700000; /* kHz */
	d->max_memory_clock = 1600000;
	d->cu_active_number = 104;
	d->num_cu_per_sh = 16;
	d->num_tcc_blocks = 16;
	d->wave_front_size = 64;
	d->num_shader_visible_vgprs = 512;
	/* amdgpu_info_ioctl AMDGPU_INFO_DEV_INFO: the VA layout the GEM_VA checks enforce. */
	d->virtual_address_offset = EMU_DRM_VA_RESERVED_BOTTOM;
	d->virtual_address_max =
		vm_size < EMU_DRM_GMC_HOLE_START ? vm_size : EMU_DRM_GMC_HOLE_START;
	if (vm_size > EMU_DRM_GMC_HOLE_START) {
		d->high_va_offset = EMU_DRM_GMC_HOLE_END;
		d->high_va_max = EMU_DRM_GMC_HOLE_END | vm_size;
	}
	d->virtual_address_alignment = EMU_DRM_PAGE_SIZE;
	d->pte_fragment_size = 512 * EMU_DRM_PAGE_SIZE; /* fragment_size 9 (gfx9 default) */
	d->gart_page_size = EMU_DRM_PAGE_SIZE;
	d->vram_type = AMDGPU_VRAM_TYPE_HBM;
	d->vram_bit_width = 4096;
}

static uint64_t emu_drm_gtt_size(void)
{
	struct sysinfo si;

	/* amdgpu_ttm.c: the default GTT size is half of system memory (at least 3 GiB). */
	if (sysinfo(&si))
		return 3ull << 30;
	return (uint64_t)si.totalram * si.mem_unit / 2;
}

int emu_drm_info(struct emu_drm_file *file, void *arg)
{
	struct drm_amdgpu_info *info = arg;
	const struct emu_gpu_config *cfg = &file->dev->cfg;
	union {
		uint32_t u32;
		uint64_t u64;
		uint32_t regs[128];
		struct drm_amdgpu_info_device dev;
		struct drm_amdgpu_info_hw_ip ip;
		struct drm_amdgpu_info_firmware fw;
		struct drm_amdgpu_info_vram_gtt vram_gtt;
		struct drm_amdgpu_memory_info mem;
		struct drm_amdgpu_info_gds gds;
	} out;
	size_t len;
	int err = 0;

	/* amdgpu_info_ioctl */
	if (!info->return_size || !info->return_pointer)
		return -EINVAL;
	memset(&out, 0, sizeof(out));
	switch (info->query) {
	case AMDGPU_INFO_ACCEL_WORKING:
		out.u32 = 1;
		len = 4;
		break;
	case AMDGPU_INFO_HW_IP_INFO:
		err = emu_drm_hw_ip_info(file, info, &out.ip);
		len = sizeof(out.ip);
		break;
	case AMDGPU_INFO_HW_IP_COUNT:
		/* SDMA: adev->sdma.num_instances (amdgpu_kms.c); one GC block. */
		if (info->query_hw_ip.type >= AMDGPU_HW_IP_NUM)
			return -EINVAL;
		out.u32 = info->query_hw_ip.type == AMDGPU_HW_IP_DMA
				  ? file->dev->num_rings
				  : info->query_hw_ip.type == AMDGPU_HW_IP_GFX ||
					    info->query_hw_ip.type == AMDGPU_HW_IP_COMPUTE;
		len = 4;
		break;
	case AMDGPU_INFO_TIMESTAMP: {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		out.u64 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		len = 8;
		break;
	}
	case AMDGPU_INFO_FW_VERSION:
		err = emu_drm_fw_info(file, info, &out.fw);
		len = sizeof(out.fw);
		break;
	case AMDGPU_INFO_NUM_BYTES_MOVED:
	case AMDGPU_INFO_NUM_EVICTIONS:
	case AMDGPU_INFO_NUM_VRAM_CPU_PAGE_FAULTS:
	case AMDGPU_INFO_VRAM_USAGE:
	case AMDGPU_INFO_VIS_VRAM_USAGE:
	case AMDGPU_INFO_GTT_USAGE:
		out.u64 = 0; /* the render node's own allocations are host memory */
		len = 8;
		break;
	case AMDGPU_INFO_VRAM_LOST_COUNTER:
		len = 4;
		break;
	case AMDGPU_INFO_GDS_CONFIG:
		len = sizeof(out.gds);
		break;
	case AMDGPU_INFO_VRAM_GTT:
		out.vram_gtt.vram_size = cfg->vram_size;
		out.vram_gtt.vram_cpu_accessible_size = cfg->vram_size; /* large BAR */
		out.vram_gtt.gtt_size = emu_drm_gtt_size();
		len = sizeof(out.vram_gtt);
		break;
	case AMDGPU_INFO_MEMORY: {
		uint64_t gtt = emu_drm_gtt_size();

		out.mem.vram.total_heap_size = cfg->vram_size;
		out.mem.vram.usable_heap_size = cfg->vram_size;
		out.mem.vram.max_allocation = cfg->vram_size * 3 / 4;
		out.mem.cpu_accessible_vram = out.mem.vram;
		out.mem.gtt.total_heap_size = gtt;
		out.mem.gtt.usable_heap_size = gtt;
		out.mem.gtt.max_allocation = gtt * 3 / 4;
		len = sizeof(out.mem);
		break;
	}
	case AMDGPU_INFO_READ_MMR_REG: {
		uint32_t n = info->read_mmr_reg.count;

		/* amdgpu_info_ioctl: at most 128 registers, each on the allowed list. */
		if (n == 0 || n > 128)
			return -EINVAL;
		for (uint32_t i = 0; i < n; i++) {
			if (info->read_mmr_reg.dword_offset + i != EMU_DRM_REG_GB_ADDR_CONFIG)
				return -EINVAL;
			out.regs[i] = EMU_DRM_GB_ADDR_CONFIG;
		}
		len = n * 4;
		break;
	}
	case AMDGPU_INFO_DEV_INFO:
		emu_drm_dev_info(file, &out.dev);
		len = sizeof(out.dev);
		break;
	default:
		emu_drm_log("AMDGPU_INFO query 0x%x is not emulated", info->query);
		return -EINVAL;
	}
	if (err)
		return err;
	if (len > info->return_size)
		len = info->return_size;
	return emu_drm_uwrite(info->return_pointer, &out, len);
}
