/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Byte-group filter: for elements of E bytes, writes byte 0 of every element,
 * then byte 1 of every element, and so on; a tail shorter than one element is
 * copied as is. The exponent/sign bytes of bf16/fp16/fp32 tensors vary little,
 * so grouping them gives zstd long runs (bf16-like data: ratio 1.28 -> 1.46 at
 * level 1, DESIGN.md). Also the small helpers the pipeline shares.
 */
#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "compress_internal.h"

unsigned int compress_filter_elem(enum compress_filter f)
{
	switch (f) {
	case COMPRESS_FILTER_BYTEGROUP2:
		return 2;
	case COMPRESS_FILTER_BYTEGROUP4:
		return 4;
	default:
		return 1;
	}
}

static void group2(const uint8_t *src, uint8_t *dst, size_t n)
{
	uint8_t *lo = dst, *hi = dst + n;
	size_t i = 0;

#ifdef __SSE2__
	const __m128i mask = _mm_set1_epi16(0xff);

	for (; i + 16 <= n; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(src + 2 * i));
		__m128i b = _mm_loadu_si128((const __m128i *)(src + 2 * i + 16));

		_mm_storeu_si128((__m128i *)(lo + i),
				 _mm_packus_epi16(_mm_and_si128(a, mask), _mm_and_si128(b, mask)));
		_mm_storeu_si128((__m128i *)(hi + i),
				 _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8)));
	}
#endif
	for (; i < n; i++) {
		lo[i] = src[2 * i];
		hi[i] = src[2 * i + 1];
	}
}

static void ungroup2(const uint8_t *src, uint8_t *dst, size_t n)
{
	const uint8_t *lo = src, *hi = src + n;
	size_t i = 0;

#ifdef __SSE2__
	for (; i + 16 <= n; i += 16) {
		__m128i l = _mm_loadu_si128((const __m128i *)(lo + i));
		__m128i h = _mm_loadu_si128((const __m128i *)(hi + i));

		_mm_storeu_si128((__m128i *)(dst + 2 * i), _mm_unpacklo_epi8(l, h));
		_mm_storeu_si128((__m128i *)(dst + 2 * i + 16), _mm_unpackhi_epi8(l, h));
	}
#endif
	for (; i < n; i++) {
		dst[2 * i] = lo[i];
		dst[2 * i + 1] = hi[i];
	}
}

static void group4(const uint8_t *src, uint8_t *dst, size_t n)
{
	uint8_t *b0 = dst, *b1 = dst + n, *b2 = dst + 2 * n, *b3 = dst + 3 * n;

	for (size_t i = 0; i < n; i++) {
		b0[i] = src[4 * i];
		b1[i] = src[4 * i + 1];
		b2[i] = src[4 * i + 2];
		b3[i] = src[4 * i + 3];
	}
}

static void ungroup4(const uint8_t *src, uint8_t *dst, size_t n)
{
	const uint8_t *b0 = src, *b1 = src + n, *b2 = src + 2 * n, *b3 = src + 3 * n;

	for (size_t i = 0; i < n; i++) {
		dst[4 * i] = b0[i];
		dst[4 * i + 1] = b1[i];
		dst[4 * i + 2] = b2[i];
		dst[4 * i + 3] = b3[i];
	}
}

void compress_filter_apply(enum compress_filter f, const void *src, void *dst, size_t len)
{
	unsigned int e = compress_filter_elem(f);
	size_t n = len / e, body = n * e;

	if (e == 2)
		group2(src, dst, n);
	else if (e == 4)
		group4(src, dst, n);
	else
		body = 0;
	memcpy((uint8_t *)dst + body, (const uint8_t *)src + body, len - body);
}

void compress_filter_undo(enum compress_filter f, const void *src, void *dst, size_t len)
{
	unsigned int e = compress_filter_elem(f);
	size_t n = len / e, body = n * e;

	if (e == 2)
		ungroup2(src, dst, n);
	else if (e == 4)
		ungroup4(src, dst, n);
	else
		body = 0;
	memcpy((uint8_t *)dst + body, (const uint8_t *)src + body, len - body);
}

bool compress_is_zero(const void *buf, size_t len)
{
	static const uint8_t zeros[64];
	const uint8_t *p = buf;

	if (len <= sizeof(zeros))
		return memcmp(p, zeros, len) == 0;
	/* First 64 bytes zero and every byte equal to the one 64 before it: all zero. */
	return memcmp(p, zeros, sizeof(zeros)) == 0 &&
	       memcmp(p, p + sizeof(zeros), len - sizeof(zeros)) == 0;
}

uint64_t compress_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t compress_thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

unsigned int compress_online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned int)n : 1;
}

bool compress_on_memory_fs(int fd)
{
	struct statfs fs;

	return !fstatfs(fd, &fs) && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
}

const char *compress_codec_name(enum compress_codec codec)
{
	static const char *const names[] = { "zero", "raw", "zstd", "planes", "ref" };

	_Static_assert(sizeof(names) / sizeof(names[0]) == COMPRESS_CODEC_COUNT,
		       "a name per codec");

	return (unsigned int)codec < COMPRESS_CODEC_COUNT ? names[codec] : "unknown";
}

const char *compress_filter_name(enum compress_filter filter)
{
	static const char *const names[] = { "none", "bytegroup2", "bytegroup4" };

	return (unsigned int)filter < COMPRESS_FILTER_COUNT ? names[filter] : "unknown";
}

int compress_filter_parse(const char *s, enum compress_filter *filter)
{
	if (!strcmp(s, "none") || !strcmp(s, "0") || !strcmp(s, "1"))
		*filter = COMPRESS_FILTER_NONE;
	else if (!strcmp(s, "bytegroup2") || !strcmp(s, "2"))
		*filter = COMPRESS_FILTER_BYTEGROUP2;
	else if (!strcmp(s, "bytegroup4") || !strcmp(s, "4"))
		*filter = COMPRESS_FILTER_BYTEGROUP4;
	else
		return -EINVAL;
	return 0;
}

int compress_writer_filter_parse(const char *s, struct compress_writer_opts *o)
{
	if (!strcmp(s, "auto")) {
		o->filter_auto = true;
		o->filter = COMPRESS_FILTER_NONE;
		return 0;
	}
	o->filter_auto = false;
	return compress_filter_parse(s, &o->filter);
}

const char *compress_writer_filter_name(const struct compress_writer_opts *o)
{
	return o->filter_auto ? "auto" : compress_filter_name(o->filter);
}

int compress_level_parse(const char *s, int *level)
{
	char *end;
	long v;

	if (!strcmp(s, "off")) {
		*level = COMPRESS_LEVEL_OFF;
		return 0;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < ZSTD_minCLevel() || v > ZSTD_maxCLevel())
		return -EINVAL;
	*level = (int)v;
	return 0;
}
