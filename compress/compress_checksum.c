/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * XXH64, written from its specification (Cyan4973/xxHash, doc/xxhash_spec.md,
 * "XXH64 Algorithm Description"). Chosen over CRC32C because it runs at memory
 * speed on any x86-64 or arm64 without special instructions, detects all
 * single-bit flips, and is the checksum zstd frames themselves use; libzstd's
 * bundled copy is not part of its public API, so this module carries its own
 * (80 lines, checked against the reference vectors in tests/compress).
 */
#include <string.h>

#include "compress_internal.h"

#define XXH_P1 0x9E3779B185EBCA87ULL
#define XXH_P2 0xC2B2AE3D27D4EB4FULL
#define XXH_P3 0x165667B19E3779F9ULL
#define XXH_P4 0x85EBCA77C2B2AE63ULL
#define XXH_P5 0x27D4EB2F165667C5ULL

static inline uint64_t xxh_rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* Little-endian loads through memcpy: any alignment, no aliasing questions. */
static inline uint64_t xxh_read64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline uint32_t xxh_read32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t xxh_round(uint64_t acc, uint64_t lane)
{
	acc += lane * XXH_P2;
	acc = xxh_rotl(acc, 31);
	return acc * XXH_P1;
}

static inline uint64_t xxh_merge(uint64_t acc, uint64_t val)
{
	acc ^= xxh_round(0, val);
	return acc * XXH_P1 + XXH_P4;
}

uint64_t compress_checksum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	const uint8_t *end = p + len;
	const uint64_t seed = 0;
	uint64_t acc;

	if (len >= 32) {
		const uint8_t *limit = end - 32;
		uint64_t v1 = seed + XXH_P1 + XXH_P2;
		uint64_t v2 = seed + XXH_P2;
		uint64_t v3 = seed;
		uint64_t v4 = seed - XXH_P1;

		do {
			v1 = xxh_round(v1, xxh_read64(p));
			v2 = xxh_round(v2, xxh_read64(p + 8));
			v3 = xxh_round(v3, xxh_read64(p + 16));
			v4 = xxh_round(v4, xxh_read64(p + 24));
			p += 32;
		} while (p <= limit);
		acc = xxh_rotl(v1, 1) + xxh_rotl(v2, 7) + xxh_rotl(v3, 12) + xxh_rotl(v4, 18);
		acc = xxh_merge(acc, v1);
		acc = xxh_merge(acc, v2);
		acc = xxh_merge(acc, v3);
		acc = xxh_merge(acc, v4);
	} else {
		acc = seed + XXH_P5;
	}
	acc += (uint64_t)len;

	while (end - p >= 8) {
		acc ^= xxh_round(0, xxh_read64(p));
		acc = xxh_rotl(acc, 27) * XXH_P1 + XXH_P4;
		p += 8;
	}
	if (end - p >= 4) {
		acc ^= (uint64_t)xxh_read32(p) * XXH_P1;
		acc = xxh_rotl(acc, 23) * XXH_P2 + XXH_P3;
		p += 4;
	}
	while (p < end) {
		acc ^= (uint64_t)*p * XXH_P5;
		acc = xxh_rotl(acc, 11) * XXH_P1;
		p++;
	}

	acc ^= acc >> 33;
	acc *= XXH_P2;
	acc ^= acc >> 29;
	acc *= XXH_P3;
	acc ^= acc >> 32;
	return acc;
}
