/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CRC32C (Castagnoli, RFC 3720 section 12.1: reflected polynomial 0x82F63B78,
 * initial value and final xor 0xFFFFFFFF), four bits per step from a
 * 16-entry table. For small records (the image folder's metadata files,
 * image/README.md); compress/compress_checksum.c computes the same function
 * fast for stream data. Libc only (common/README.md).
 */
#ifndef VRAMSTREAM_COMMON_CRC32C_H
#define VRAMSTREAM_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of @len bytes of @buf continuing from @crc (0 to start). */
static inline uint32_t common_crc32c(uint32_t crc, const void *buf, size_t len)
{
	/* x^k mod P for the 16 values of a nibble, bit-reflected. */
	static const uint32_t nibble[16] = {
		0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3,
		0x61c69362, 0x7198540d, 0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
		0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
	};
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ nibble[crc & 15];
		crc = (crc >> 4) ^ nibble[crc & 15];
	}
	return ~crc;
}

#endif
