/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SDMA packet layout as the emulated engine decodes it: SDMA 4.x (gfx9: Vega, MI100 = SDMA
 * 4.2, MI200/MI300 = SDMA 4.4), 5.x (gfx10) and 6.0 (gfx11) share it but for the count widths
 * and GCR_REQ (emu_sdma_exec.c: emu_sdma_gens). Field positions follow the kernel's
 * drivers/gpu/drm/amd/amdgpu/vega10_sdma_pkt_open.h; the dword order of each packet follows
 * the kernel's emitters in sdma_v4_0.c (sdma_v4_0_emit_copy_buffer, sdma_v4_0_ring_emit_fence,
 * sdma_v4_0_emit_fill_buffer, sdma_v4_0_vm_write_pte, sdma_v4_0_wait_reg_mem,
 * sdma_v4_0_ring_pad_ib). Only the packets and fields the emulator executes are named.
 */
#ifndef VRAMSTREAM_EMU_SDMA_PKT_H
#define VRAMSTREAM_EMU_SDMA_PKT_H

/* Header dword (all packets): op in bits 0-7, sub_op in bits 8-15. */
#define EMU_SDMA_HDR_OP(h)     ((h)&0xffu)
#define EMU_SDMA_HDR_SUB_OP(h) (((h) >> 8) & 0xffu)

#define EMU_SDMA_OP_NOP		0
#define EMU_SDMA_OP_COPY	1
#define EMU_SDMA_OP_WRITE	2
#define EMU_SDMA_OP_FENCE	5
#define EMU_SDMA_OP_TRAP	6
#define EMU_SDMA_OP_POLL_REGMEM 8
#define EMU_SDMA_OP_ATOMIC	10
#define EMU_SDMA_OP_CONST_FILL	11
#define EMU_SDMA_OP_GCR_REQ	17 /* SDMA >= 5.0 only (navi10_sdma_pkt_open.h) */

#define EMU_SDMA_SUBOP_COPY_LINEAR  0
#define EMU_SDMA_SUBOP_WRITE_LINEAR 0

/* NOP: count (bits 16-29) extra dwords follow the header and are skipped (sdma_v4_0_ring_pad_ib
 * emits one NOP with count = pad - 1 followed by pad - 1 dwords). */
#define EMU_SDMA_NOP_COUNT(h) (((h) >> 16) & 0x3fffu)

/* COPY_LINEAR, 7 dwords: header, count, parameter, src lo, src hi, dst lo, dst hi.
 * Header: encrypt bit 16, tmz bit 18, broadcast bit 27 (a broadcast copy has a second
 * destination and another length; not emulated). Count: bytes - 1 in bits 0-21 on SDMA 4.0-4.2
 * and 5.0 (at most 4 MiB a packet, sdma_v4_0_buffer_funcs.copy_max_bytes = 0x400000), bits 0-29
 * on SDMA 4.4, 5.2 and 6.0 (emu_sdma_exec.c: emu_sdma_gens); the masks here are the 22-bit ones.
 * Parameter: dst endian swap bits 16-17, src endian swap bits 24-25. */
#define EMU_SDMA_COPY_LINEAR_DW	      7
#define EMU_SDMA_COPY_HDR_ENCRYPT     (1u << 16)
#define EMU_SDMA_COPY_HDR_TMZ	      (1u << 18)
#define EMU_SDMA_COPY_HDR_BROADCAST   (1u << 27)
#define EMU_SDMA_COPY_COUNT_MASK      0x003fffffu
#define EMU_SDMA_COPY_MAX_BYTES	      (EMU_SDMA_COPY_COUNT_MASK + 1u)
#define EMU_SDMA_COPY_PARAM_DST_SW(p) (((p) >> 16) & 0x3u)
#define EMU_SDMA_COPY_PARAM_SRC_SW(p) (((p) >> 24) & 0x3u)

/* WRITE_LINEAR (WRITE_UNTILED), 4 + n dwords: header, dst lo, dst hi, count, n data dwords.
 * Count: n - 1 in bits 0-19 on SDMA >= 4 (sdma_v4_0_vm_write_pte writes ndw - 1); sw bits 24-25.
 * The destination is dword aligned (its low 2 bits are not part of the address). */
#define EMU_SDMA_WRITE_HDR_DW	  4
#define EMU_SDMA_WRITE_COUNT_MASK 0x000fffffu
#define EMU_SDMA_WRITE_SW(c)	  (((c) >> 24) & 0x3u)

/* FENCE, 4 dwords: header, addr lo, addr hi, 32-bit data. The address is dword aligned
 * (sdma_v4_0_ring_emit_fence: BUG_ON(addr & 0x3)). Header bits 16+ carry cache policy (mtype,
 * gcc, sys, snoop) only. */
#define EMU_SDMA_FENCE_DW 4

/* TRAP, 2 dwords: header, int_context (bits 0-27). */
#define EMU_SDMA_TRAP_DW 2

/* POLL_REGMEM, 6 dwords: header, addr lo, addr hi, reference, mask, dw5.
 * Header: hdp_flush bit 26, func bits 28-30 (0 always, 1 <, 2 <=, 3 ==, 4 !=, 5 >=, 6 >),
 * mem_poll bit 31. dw5: interval bits 0-15, retry_count bits 16-27. */
#define EMU_SDMA_POLL_DW	    6
#define EMU_SDMA_POLL_HDR_HDP_FLUSH (1u << 26)
#define EMU_SDMA_POLL_HDR_FUNC(h)   (((h) >> 28) & 0x7u)
#define EMU_SDMA_POLL_HDR_MEM_POLL  (1u << 31)

/* CONST_FILL, 5 dwords: header, dst lo, dst hi, data, count. Header: sw bits 16-17,
 * fillsize bits 30-31 (2 = dword; Mesa's si_sdma_clear_buffer uses 2). Count: bytes - 1 in
 * bits 0-21 on SDMA >= 4 (sdma_v4_0_emit_fill_buffer, fill_max_bytes = 0x400000). */
#define EMU_SDMA_FILL_DW	      5
#define EMU_SDMA_FILL_HDR_SW(h)	      (((h) >> 16) & 0x3u)
#define EMU_SDMA_FILL_HDR_FILLSIZE(h) (((h) >> 30) & 0x3u)
#define EMU_SDMA_FILL_FILLSIZE_DWORD  2u
#define EMU_SDMA_FILL_COUNT_MASK      0x003fffffu

/* ATOMIC, 8 dwords: header, addr lo, addr hi, src data lo, src data hi, cmp data lo,
 * cmp data hi, loop interval (bits 0-12). Header: loop bit 16 (retry a compare-swap until it
 * succeeds), tmz bit 18, operation bits 25-31 (vega10_sdma_pkt_open.h: SDMA_PKT_ATOMIC).
 * ROCr's BlitSdma decrements completion signals with operation 47, a 64-bit add
 * (ROCR-Runtime src/core/inc/sdma_registers.h: SDMA_ATOMIC_ADD64), of -1. */
#define EMU_SDMA_ATOMIC_DW		 8
#define EMU_SDMA_ATOMIC_HDR_LOOP	 (1u << 16)
#define EMU_SDMA_ATOMIC_HDR_TMZ		 (1u << 18)
#define EMU_SDMA_ATOMIC_HDR_OPERATION(h) (((h) >> 25) & 0x7fu)
#define EMU_SDMA_ATOMIC_ADD64		 47u

/* GCR_REQ, 5 dwords (SDMA >= 5.0): header, base VA lo (bits 7-31), base VA hi (bits 0-15) and
 * GCR_CNTL bits 0-15 (bits 16-31), GCR_CNTL bits 16-18 (bits 0-2) and limit VA lo (bits 7-31),
 * limit VA hi (bits 0-15) and vmid (bits 24-27): a cache write-back/invalidate request over a
 * range (navi10_sdma_pkt_open.h, sdma_v6_0_0_pkt_open.h SDMA_PKT_GCR_REQ; the kernel's
 * sdma_v5_0_ring_emit_mem_sync emits it, ROCr's BlitSdma<useGCR> on gfx10+). The opcode does
 * not exist on SDMA 4.x (vega10_sdma_pkt_open.h defines no opcode 17). */
#define EMU_SDMA_GCR_REQ_DW 5

/* COPY_LINEAR and CONST_FILL count widths per generation (emu_sdma_exec.c). */
#define EMU_SDMA_COUNT_MASK(bits) ((uint32_t)((1ull << (bits)) - 1))

#endif
