// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * SDMA packet builders (see sdma_packet.h). Field positions are those of
 * Linux's drivers/gpu/drm/amd/amdgpu/vega10_sdma_pkt_open.h (SDMA 4.x) and
 * navi10_sdma_pkt_open.h (SDMA 5.x), which agree for every packet here; the
 * dword sequences match sdma_v4_0_emit_copy_buffer(),
 * sdma_v4_0_emit_fill_buffer() and sdma_v4_0_ring_emit_fence() in
 * sdma_v4_0.c, and Mesa's ac_emit_sdma_copy_linear(),
 * ac_emit_sdma_constant_fill() and ac_emit_sdma_fence()
 * (src/amd/common/ac_cmdbuf_sdma.c).
 */
#include <assert.h>
#include <errno.h>

#include "sdma_packet.h"

/* COPY_LINEAR dword 2 (PARAMETER): dst_sw bits 17:16, src_sw bits 25:24 = 0, no endian swap. */
#define SDMA_COPY_LINEAR_PARAMETER_NO_SWAP 0u

/* CONST_FILL header: sw bits 17:16 (no swap), fillsize bits 31:30. */
#define SDMA_CONST_FILL_FILLSIZE_SHIFT 30
/*
 * fillsize 2 fills whole dwords; COUNT is still programmed in bytes - 1
 * (Mesa ac_emit_sdma_constant_fill: "This means that count is in DWORDS" /
 * "Must be programmed in bytes, even if the fill is done in dwords").
 */
#define SDMA_CONST_FILL_FILLSIZE_DWORD 2u

static inline uint32_t sdma_lo32(uint64_t v)
{
	return (uint32_t)v;
}

static inline uint32_t sdma_hi32(uint64_t v)
{
	return (uint32_t)(v >> 32);
}

static inline uint32_t sdma_header(uint32_t op, uint32_t sub_op)
{
	return (op & SDMA_HDR_OP_MASK) << SDMA_HDR_OP_SHIFT | (sub_op & SDMA_HDR_SUB_OP_MASK)
								      << SDMA_HDR_SUB_OP_SHIFT;
}

static inline int sdma_cs_room(const struct sdma_cs *cs, uint32_t dw)
{
	return cs->cdw <= cs->max_dw && cs->max_dw - cs->cdw >= dw;
}

uint64_t sdma_copy_linear_dw(const struct sdma_gen *gen, uint64_t size)
{
	/* One packet per copy_max_bytes, plus one for a sub-dword tail (see below). */
	return ((size + gen->copy_max_bytes - 1) / gen->copy_max_bytes + 1) * SDMA_COPY_LINEAR_DW;
}

uint64_t sdma_emit_copy_linear(struct sdma_cs *cs, const struct sdma_gen *gen, uint64_t dst_va,
			       uint64_t src_va, uint64_t size)
{
	uint64_t bytes = size;
	uint32_t *p;

	if (!size || !sdma_cs_room(cs, SDMA_COPY_LINEAR_DW))
		return 0;

	/*
	 * The SDMA firmware switches to a faster dword copy when source,
	 * destination and size are all dword aligned. With aligned addresses and
	 * an odd size, copy the aligned bulk first and the last 1-3 bytes in a
	 * packet of their own (Mesa ac_emit_sdma_copy_linear). copy_max_bytes is
	 * a multiple of 256, so splitting at it keeps later packets aligned.
	 */
	if (!((src_va | dst_va) & 3) && size > 4 && (size & 3))
		bytes = size & ~3ULL;
	if (bytes > gen->copy_max_bytes)
		bytes = gen->copy_max_bytes;
	assert(bytes - 1 < (1ULL << gen->count_bits));

	p = cs->buf + cs->cdw;
	/* Header flags encrypt (bit 16), tmz (bit 18) and broadcast (bit 27) stay 0. */
	p[0] = sdma_header(SDMA_OP_COPY, SDMA_SUBOP_COPY_LINEAR);
	/* COUNT is bytes - 1 from SDMA 4.0 on (sdma_v4_0_emit_copy_buffer). */
	p[1] = (uint32_t)(bytes - 1);
	p[2] = SDMA_COPY_LINEAR_PARAMETER_NO_SWAP;
	p[3] = sdma_lo32(src_va);
	p[4] = sdma_hi32(src_va);
	p[5] = sdma_lo32(dst_va);
	p[6] = sdma_hi32(dst_va);
	cs->cdw += SDMA_COPY_LINEAR_DW;
	return bytes;
}

uint64_t sdma_emit_const_fill(struct sdma_cs *cs, const struct sdma_gen *gen, uint64_t dst_va,
			      uint64_t size, uint32_t value)
{
	uint64_t bytes = size;
	uint32_t *p;

	if (!size || ((dst_va | size) & 3) || !sdma_cs_room(cs, SDMA_CONST_FILL_DW))
		return 0;
	if (bytes > gen->fill_max_bytes)
		bytes = gen->fill_max_bytes;
	assert(!(bytes & 3) && bytes - 1 < (1ULL << gen->count_bits));

	p = cs->buf + cs->cdw;
	p[0] = sdma_header(SDMA_OP_CONST_FILL, 0) | SDMA_CONST_FILL_FILLSIZE_DWORD
							    << SDMA_CONST_FILL_FILLSIZE_SHIFT;
	p[1] = sdma_lo32(dst_va);
	p[2] = sdma_hi32(dst_va);
	p[3] = value;
	p[4] = (uint32_t)(bytes - 1);
	cs->cdw += SDMA_CONST_FILL_DW;
	return bytes;
}

int sdma_emit_nop(struct sdma_cs *cs)
{
	if (!sdma_cs_room(cs, SDMA_NOP_DW))
		return -ENOSPC;
	/*
	 * A NOP with COUNT (bits 29:16) 0 is one dword long. Multi-dword "burst"
	 * NOPs depend on the firmware version (sdma_v4_0_ring_pad_ib checks
	 * sdma->burst_nop), so this module only emits single ones.
	 */
	cs->buf[cs->cdw++] = sdma_header(SDMA_OP_NOP, 0);
	return 0;
}

int sdma_pad_ib(struct sdma_cs *cs, const struct sdma_gen *gen)
{
	uint32_t pad = (gen->ib_pad_dw - cs->cdw % gen->ib_pad_dw) % gen->ib_pad_dw;

	if (!sdma_cs_room(cs, pad))
		return -ENOSPC;
	while (pad--)
		sdma_emit_nop(cs);
	return 0;
}
