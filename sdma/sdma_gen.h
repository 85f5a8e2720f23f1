/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SDMA generations: the packet limits of each SDMA IP version the engine
 * supports, chosen from the DMA IP version that the amdgpu driver reports
 * (AMDGPU_INFO_HW_IP_INFO). The table and its sources are in sdma_gen.c and
 * sdma/README.md.
 */
#ifndef VRAMSTREAM_SDMA_GEN_H
#define VRAMSTREAM_SDMA_GEN_H

#include <stdint.h>

/*
 * An IP version as the kernel's uapi packs drm_amdgpu_info_hw_ip's
 * ip_discovery_version: bits 23:16 major, 15:8 minor, 7:0 revision
 * (include/uapi/drm/amdgpu_drm.h), the same as the kernel's
 * IP_VERSION(mj, mn, rv) for the 3-field form.
 */
#define SDMA_IP_VERSION(major, minor, rev) (((major) << 16) | ((minor) << 8) | (rev))
#define SDMA_IP_MAJOR(v)		   (((v) >> 16) & 0xff)
#define SDMA_IP_MINOR(v)		   (((v) >> 8) & 0xff)
#define SDMA_IP_REV(v)			   ((v)&0xff)

/* One SDMA generation: a range of IP versions that share packet layout and limits. */
struct sdma_gen {
	const char *name;	 /* e.g. "SDMA 4.4" */
	const char *gpus;	 /* GPUs that carry it, for messages */
	uint32_t ip_first;	 /* first SDMA_IP_VERSION in the range */
	uint32_t ip_last;	 /* last SDMA_IP_VERSION in the range (inclusive) */
	uint32_t count_bits;	 /* width of COPY_LINEAR's COUNT field (bytes - 1) */
	uint64_t copy_max_bytes; /* bytes one COPY_LINEAR packet may move */
	uint64_t fill_max_bytes; /* bytes one CONST_FILL packet may write (multiple of 4) */
	uint32_t ib_pad_dw;	 /* an IB's length must be a multiple of this many dwords */
	uint32_t ib_align_bytes; /* an IB's GPU address must be aligned to this */
};

/*
 * The generation of SDMA IP version ip (SDMA_IP_VERSION). Returns 0 and sets
 * *gen, or -ENOTSUP for a version this module does not know (SDMA < 4.0 or
 * >= 7.0, whose packets differ).
 */
int sdma_gen_lookup(uint32_t ip, const struct sdma_gen **gen);

/*
 * Chooses the IP version from what AMDGPU_INFO_HW_IP_INFO returned for
 * AMDGPU_HW_IP_DMA: discovery_version (the uapi's ip_discovery_version, 0 on
 * kernels before it existed or on pre-Vega parts) when set, else the IP
 * block's major.minor (hw_ip_version_major/minor). The block version is
 * coarser (sdma_v4_0_ip_block serves 4.0 through 4.4.0, so MI200 reports 4.0
 * there), which only ever selects the more conservative limits.
 */
uint32_t sdma_gen_ip_from_hw_ip(uint32_t hw_major, uint32_t hw_minor, uint32_t discovery_version);

#endif
