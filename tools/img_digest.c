// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Chunking-independent content digest (img_util.h): sum of w_i * K^i mod 2^64
 * over little-endian 8-byte words. Four interleaved Horner lanes keep the
 * multiplier busy; pieces at any byte offset contribute their share.
 */
#include <endian.h>
#include <string.h>

#include "img_util.h"

/* Odd, so every power of it is odd and a changed word always changes the sum. */
#define DIGEST_K 0x9e3779b97f4a7c15ull

static uint64_t digest_pow(uint64_t e)
{
	uint64_t r = 1, b = DIGEST_K;

	while (e) {
		if (e & 1)
			r *= b;
		b *= b;
		e >>= 1;
	}
	return r;
}

/* Byte B at object offset P is worth B << 8*(P mod 8) in word P / 8. */
static uint64_t digest_byte(uint64_t p, uint8_t b)
{
	return ((uint64_t)b << (8 * (p % 8))) * digest_pow(p / 8);
}

static uint64_t digest_load(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return le64toh(w);
}

uint64_t img_digest_piece(uint64_t offset, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t sum = 0, n, n4, k4, l0 = 0, l1 = 0, l2 = 0, l3 = 0, local;

	while (len && offset % 8) {
		sum += digest_byte(offset++, *p++);
		len--;
	}
	n = len / 8;
	n4 = n / 4 * 4;
	k4 = digest_pow(4);
	/* Lane r holds sum over m of w[4m + r] * K^(4m), by Horner from the end. */
	for (uint64_t j = n4; j > 0; j -= 4) {
		const uint8_t *q = p + (j - 4) * 8;

		l0 = l0 * k4 + digest_load(q);
		l1 = l1 * k4 + digest_load(q + 8);
		l2 = l2 * k4 + digest_load(q + 16);
		l3 = l3 * k4 + digest_load(q + 24);
	}
	local = l0 + l1 * DIGEST_K + l2 * digest_pow(2) + l3 * digest_pow(3);
	for (uint64_t j = n4; j < n; j++)
		local += digest_load(p + j * 8) * digest_pow(j);
	sum += local * digest_pow(offset / 8);
	offset += n * 8;
	p += n * 8;
	len -= n * 8;
	while (len--)
		sum += digest_byte(offset++, *p++);
	return sum;
}
