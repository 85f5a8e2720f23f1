/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Deterministic test data of the kinds a VRAM image holds. */
#ifndef VRAMSTREAM_TEST_COMPRESS_DATA_H
#define VRAMSTREAM_TEST_COMPRESS_DATA_H

#include <math.h>
#include <stdint.h>
#include <string.h>

enum td_kind { TD_ZERO, TD_RANDOM, TD_TEXT, TD_BF16, TD_MIXED, TD_KINDS };

static inline uint64_t td_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline void td_fill_one(int kind, uint8_t *p, size_t len, uint64_t *s)
{
	static const char words[] = "vram stream chunk index zstd io_uring restore dump ";
	size_t i;

	switch (kind) {
	case TD_ZERO:
		memset(p, 0, len);
		break;
	case TD_RANDOM:
		for (i = 0; i + 8 <= len; i += 8) {
			uint64_t v = td_next(s);

			memcpy(p + i, &v, 8);
		}
		for (; i < len; i++)
			p[i] = (uint8_t)td_next(s);
		break;
	case TD_TEXT:
		for (i = 0; i < len; i++)
			p[i] = (uint8_t)words[(i + (td_next(s) % 64 == 0)) % (sizeof(words) - 1)];
		break;
	case TD_BF16:
		/* roughly normal (sum of 4 uniforms), scale 0.02, truncated to bf16 */
		for (i = 0; i + 2 <= len; i += 2) {
			uint64_t r = td_next(s);
			float f = ((float)(r & 0xffff) + (float)((r >> 16) & 0xffff) +
				   (float)((r >> 32) & 0xffff) + (float)(r >> 48) - 131070.0f) /
				  65535.0f * 0.02f;
			uint32_t u;

			memcpy(&u, &f, 4);
			p[i] = (uint8_t)(u >> 16);
			p[i + 1] = (uint8_t)(u >> 24);
		}
		if (i < len)
			p[i] = 0;
		break;
	}
}

static inline void td_fill(int kind, uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t s = seed;

	if (kind != TD_MIXED) {
		td_fill_one(kind, p, len, &s);
		return;
	}
	/* VRAM-like: runs of 4 KiB..256 KiB of zeros, weights, random, text */
	for (size_t pos = 0; pos < len;) {
		size_t n = 4096 * (1 + td_next(&s) % 64);
		static const int mix[] = { TD_ZERO, TD_ZERO, TD_BF16, TD_BF16, TD_RANDOM, TD_TEXT };

		if (n > len - pos)
			n = len - pos;
		td_fill_one(mix[td_next(&s) % 6], p + pos, n, &s);
		pos += n;
	}
}

#endif
