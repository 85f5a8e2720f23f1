/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SDMA packet builders, in the manner of Mesa's ac_emit_sdma_*(): pure
 * functions that only write dwords into a caller's buffer. No ioctls, no
 * allocation; limits come from the generation (sdma_gen.h). Builders that
 * move bytes return how many bytes the packet covers, so callers loop:
 *
 *	while (size) {
 *		uint64_t n = sdma_emit_copy_linear(&cs, gen, dst, src, size);
 *		if (!n)
 *			break;	// IB full: submit it and start another
 *		dst += n; src += n; size -= n;
 *	}
 *
 * Layouts (dword index: contents) follow Linux's vega10_sdma_pkt_open.h and
 * navi10_sdma_pkt_open.h, identical for these packets on SDMA 4.x-6.x.
 */
#ifndef VRAMSTREAM_SDMA_PACKET_H
#define VRAMSTREAM_SDMA_PACKET_H

#include <stdint.h>

#include "sdma_gen.h"

/* Opcodes (header bits 7:0) and sub-opcodes (15:8): vega10_sdma_pkt_open.h. */
#define SDMA_OP_NOP	       0
#define SDMA_OP_COPY	       1
#define SDMA_OP_CONST_FILL     11
#define SDMA_SUBOP_COPY_LINEAR 0

#define SDMA_HDR_OP_SHIFT     0
#define SDMA_HDR_OP_MASK      0xffu
#define SDMA_HDR_SUB_OP_SHIFT 8
#define SDMA_HDR_SUB_OP_MASK  0xffu

/* Packet sizes in dwords. */
#define SDMA_NOP_DW	    1
#define SDMA_COPY_LINEAR_DW 7
#define SDMA_CONST_FILL_DW  5

/* A buffer of dwords being filled: an IB, or a test array. */
struct sdma_cs {
	uint32_t *buf;
	uint32_t cdw;	 /* dwords written so far */
	uint32_t max_dw; /* capacity of buf in dwords */
};

/* Dwords needed to copy size bytes with COPY_LINEAR packets, padding excluded. */
uint64_t sdma_copy_linear_dw(const struct sdma_gen *gen, uint64_t size);

/*
 * COPY_LINEAR of up to gen->copy_max_bytes from src_va to dst_va. Returns the
 * bytes the packet covers (> 0), or 0 when size is 0 or cs has no room for
 * the packet (nothing is written then).
 */
uint64_t sdma_emit_copy_linear(struct sdma_cs *cs, const struct sdma_gen *gen, uint64_t dst_va,
			       uint64_t src_va, uint64_t size);

/*
 * CONST_FILL writing the 32-bit value over up to gen->fill_max_bytes at
 * dst_va, in dword units: dst_va and size must be multiples of 4. Returns
 * the bytes covered, or 0 when size is 0, the arguments are not dword
 * aligned, or cs has no room.
 */
uint64_t sdma_emit_const_fill(struct sdma_cs *cs, const struct sdma_gen *gen, uint64_t dst_va,
			      uint64_t size, uint32_t value);

/* One single-dword NOP. Returns 0 or -ENOSPC. */
int sdma_emit_nop(struct sdma_cs *cs);

/*
 * Pads cs with NOPs to a multiple of gen->ib_pad_dw dwords, as an IB must be.
 * Returns 0 or -ENOSPC (nothing written then).
 */
int sdma_pad_ib(struct sdma_cs *cs, const struct sdma_gen *gen);

#endif
