/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The emulator's compute packet format (its own, not AQL or PM4; see
 * emu/README.md). A queue (AMDKFD_IOC_CREATE_QUEUE) has a ring of
 * struct emu_packet at ring_base_address, ring_size bytes (a power of two),
 * in the process's own memory. write_pointer_address and
 * read_pointer_address point at uint64_t packet counters in process memory:
 * the process writes packets at index (wptr % slots) and then advances
 * *wptr; the executor runs packets in order, each to completion, writes the
 * signal, then advances *rptr.
 *
 * dst and src are GPU virtual addresses of BOs mapped on the queue's GPU
 * (VRAM, GTT, or USERPTR at its GPU VA); an access must stay inside one BO.
 * signal_addr is a CPU address in the process (0: none); the executor writes
 * signal_value there, or EMU_SIGNAL_FAULT if the packet faulted, after
 * which the queue stops.
 */
#ifndef VRAMSTREAM_EMU_PACKET_H
#define VRAMSTREAM_EMU_PACKET_H

#include <stdint.h>

enum emu_packet_op {
	EMU_PKT_NOP = 0,
	/* dst[k] = emu_fill_word(arg, k) for 64-bit words k < size / 8 */
	EMU_PKT_FILL = 1,
	/* dst[0..size) = src[0..size) (no overlap) */
	EMU_PKT_COPY = 2,
	/* dst[k] = rotl64(dst[k], 7) ^ (src[k] + arg) for 64-bit words */
	EMU_PKT_MIX = 3,
	/* *(uint64_t *)dst = emu_checksum(src[0..size)) */
	EMU_PKT_CHECKSUM = 4,
};

struct emu_packet {
	uint32_t opcode;
	uint32_t flags; /* 0 */
	uint64_t dst;
	uint64_t src;
	uint64_t size; /* bytes; a multiple of 8 */
	uint64_t arg;
	uint64_t signal_addr;
	uint64_t signal_value;
	uint64_t reserved;
};

_Static_assert(sizeof(struct emu_packet) == 64, "packet is 64 bytes");

#define EMU_SIGNAL_FAULT UINT64_MAX

/* splitmix64 (Steele, Lea, Flood 2014), the fill pattern */
static inline uint64_t emu_fill_word(uint64_t seed, uint64_t k)
{
	uint64_t z = seed + (k + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t emu_rotl64(uint64_t x, unsigned int r)
{
	return (x << r) | (x >> (64 - r));
}

/* The checksum of EMU_PKT_CHECKSUM, folded word by word (FNV-1a style on 64-bit words). */
static inline uint64_t emu_checksum_step(uint64_t h, uint64_t w)
{
	return (h ^ w) * 0x100000001b3ULL;
}

#define EMU_CHECKSUM_INIT 0xcbf29ce484222325ULL

#endif
