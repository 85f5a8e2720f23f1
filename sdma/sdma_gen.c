// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SDMA generation table. Every number here is cited; sdma/README.md
 * carries the same table for readers.
 *
 * Packet layout: COPY_LINEAR (7 dwords, COUNT = bytes - 1), CONST_FILL and
 * FENCE are the same on SDMA 4.x, 5.x and 6.x: Linux sdma_v4_0.c,
 * sdma_v4_4_2.c, sdma_v5_0.c, sdma_v5_2.c and sdma_v6_0.c emit identical
 * dwords in their *_emit_copy_buffer / *_emit_fill_buffer / *_ring_emit_fence,
 * and Mesa's ac_emit_sdma_copy_linear() (src/amd/common/ac_cmdbuf_sdma.c)
 * uses one encoding for every SDMA >= 4.0. SDMA 7 (gfx12) adds a CPV bit and
 * an optional eighth COPY_LINEAR dword (sdma_v7_0_emit_copy_buffer), and SDMA
 * before 4.0 counts bytes rather than bytes - 1, so both are refused.
 *
 * Per-packet byte limits:
 *  - Mesa src/amd/common/sid.h: SDMA_V2_0_COPY_MAX_BYTES 0x3fff00 ("an
 *    undocumented HW limitation ... prevents the HW from copying the last 255
 *    bytes of (1 << 22) - 1") and SDMA_V5_2_COPY_MAX_BYTES 0x3fffff00 for
 *    SDMA >= 5.2; ac_emit_sdma_constant_fill() limits fills to
 *    BITFIELD64_MASK(22 or, from SDMA 6.0, 30) & ~3 bytes.
 *  - The kernel used 0x400000 for SDMA 4.x/5.x copies until AMD's 2025
 *    series "drm/amdgpu/sdma4.4: adjust SDMA limits" and ".../sdma5.2: adjust
 *    SDMA limits" (amd-gfx, Sep 2025, resent Feb 2026) raised SDMA 4.4.x and
 *    5.2.x to 1 << 30 after AMD's hardware team confirmed the wider COUNT
 *    field (the patches, and the discussion with Mesa's limits, are on the
 *    list; that a released kernel carries them is not established here).
 *    Mesa never drives SDMA 4.4 parts (compute-only), so no shipped user
 *    space vouches for the wider count there: SDMA 4.4 keeps the proven
 *    22-bit limit. A packet per 4 MiB costs 28 bytes of IB, nothing
 *    measurable.
 *
 * IB rules: the kernel's amdgpu_hw_ip_info() reports ib_start_alignment 256
 * for AMDGPU_HW_IP_DMA; Mesa's ac_gpu_info.c pads SDMA IBs to 16 dwords
 * (ib_pad_dw_mask[AMD_IP_SDMA] = 0xf, "align_mask copied from the kernel,
 * maximums of all IP versions").
 *
 * IP versions per GPU: Linux amdgpu_discovery.c (Vega10 4.0.0, Vega12 4.0.1,
 * Raven 4.1.x, Vega20/MI50 4.2.0, Arcturus/MI100 4.2.2, Aldebaran/MI200
 * 4.4.0, MI300 4.4.2 with sdma_v4_4_2_ip_block, also used for 4.4.4/4.4.5).
 */
#include <errno.h>
#include <stddef.h>

#include "sdma_gen.h"

#define SDMA_COPY_MAX_22BIT 0x3fff00ULL	  /* Mesa sid.h SDMA_V2_0_COPY_MAX_BYTES */
#define SDMA_COPY_MAX_30BIT 0x3fffff00ULL /* Mesa sid.h SDMA_V5_2_COPY_MAX_BYTES */
#define SDMA_FILL_MAX_22BIT (((1ULL << 22) - 1) & ~3ULL)
#define SDMA_FILL_MAX_30BIT (((1ULL << 30) - 1) & ~3ULL)
#define SDMA_IB_PAD_DW	    16
#define SDMA_IB_ALIGN_BYTES 256

static const struct sdma_gen sdma_gens[] = {
	{
		.name = "SDMA 4.0",
		.gpus = "Vega10/12, Raven, Vega20 (MI50/MI60), Arcturus (MI100)",
		.ip_first = SDMA_IP_VERSION(4, 0, 0),
		.ip_last = SDMA_IP_VERSION(4, 3, 255),
		.count_bits = 22, /* vega10_sdma_pkt_open.h: COPY_LINEAR_COUNT mask 0x003FFFFF */
		.copy_max_bytes = SDMA_COPY_MAX_22BIT,
		.fill_max_bytes = SDMA_FILL_MAX_22BIT,
		.ib_pad_dw = SDMA_IB_PAD_DW,
		.ib_align_bytes = SDMA_IB_ALIGN_BYTES,
	},
	{
		.name = "SDMA 4.4",
		.gpus = "Aldebaran (MI200), Aqua Vanjaram (MI300)",
		.ip_first = SDMA_IP_VERSION(4, 4, 0),
		.ip_last = SDMA_IP_VERSION(4, 255, 255),
		/* Wider in hardware (1 << 30, see above); only 22 bits are used. */
		.count_bits = 22,
		.copy_max_bytes = SDMA_COPY_MAX_22BIT,
		.fill_max_bytes = SDMA_FILL_MAX_22BIT,
		.ib_pad_dw = SDMA_IB_PAD_DW,
		.ib_align_bytes = SDMA_IB_ALIGN_BYTES,
	},
	{
		.name = "SDMA 5.0",
		.gpus = "Navi10/12/14, Cyan Skillfish",
		.ip_first = SDMA_IP_VERSION(5, 0, 0),
		.ip_last = SDMA_IP_VERSION(5, 1, 255),
		.count_bits = 22, /* navi10_sdma_pkt_open.h: COPY_LINEAR_COUNT mask 0x003FFFFF */
		.copy_max_bytes = SDMA_COPY_MAX_22BIT,
		.fill_max_bytes = SDMA_FILL_MAX_22BIT,
		.ib_pad_dw = SDMA_IB_PAD_DW,
		.ib_align_bytes = SDMA_IB_ALIGN_BYTES,
	},
	{
		.name = "SDMA 5.2",
		.gpus = "Navi21-24 (gfx10.3), Van Gogh, Rembrandt, Raphael",
		.ip_first = SDMA_IP_VERSION(5, 2, 0),
		.ip_last = SDMA_IP_VERSION(5, 255, 255),
		.count_bits = 30,
		.copy_max_bytes = SDMA_COPY_MAX_30BIT,
		/* Mesa uses 30-bit fills only from SDMA 6.0. */
		.fill_max_bytes = SDMA_FILL_MAX_22BIT,
		.ib_pad_dw = SDMA_IB_PAD_DW,
		.ib_align_bytes = SDMA_IB_ALIGN_BYTES,
	},
	{
		.name = "SDMA 6",
		.gpus = "Navi31-33 (gfx11), gfx11.5 APUs",
		.ip_first = SDMA_IP_VERSION(6, 0, 0),
		.ip_last = SDMA_IP_VERSION(6, 255, 255),
		.count_bits = 30,
		.copy_max_bytes = SDMA_COPY_MAX_30BIT,
		.fill_max_bytes = SDMA_FILL_MAX_30BIT,
		.ib_pad_dw = SDMA_IB_PAD_DW,
		.ib_align_bytes = SDMA_IB_ALIGN_BYTES,
	},
};

int sdma_gen_lookup(uint32_t ip, const struct sdma_gen **gen)
{
	size_t i;

	for (i = 0; i < sizeof(sdma_gens) / sizeof(sdma_gens[0]); i++) {
		if (ip >= sdma_gens[i].ip_first && ip <= sdma_gens[i].ip_last) {
			*gen = &sdma_gens[i];
			return 0;
		}
	}
	*gen = NULL;
	return -ENOTSUP;
}

uint32_t sdma_gen_ip_from_hw_ip(uint32_t hw_major, uint32_t hw_minor, uint32_t discovery_version)
{
	if (discovery_version)
		return discovery_version & 0xffffff;
	return SDMA_IP_VERSION(hw_major & 0xff, hw_minor & 0xff, 0);
}
