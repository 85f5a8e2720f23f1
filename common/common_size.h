/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one size dialect of every setting and command-line option: a decimal
 * (or 0x hexadecimal) count of bytes, optionally followed by K, M, G or T
 * (powers of 1024, either case) and then B or iB ("8M", "8MB", "8MiB").
 * No sign, no spaces, no fractions. Libc only (common/README.md).
 */
#ifndef VRAMSTREAM_COMMON_SIZE_H
#define VRAMSTREAM_COMMON_SIZE_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

/* Returns 0, -EINVAL for anything that is not a size, -ERANGE past 2^64 - 1. */
static inline int common_size_parse(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	unsigned long long v;
	unsigned int shift = 0;
	char *end;
	int base = 10;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	/* No octal: "010" is ten, as a person reads it. */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || end == s)
		return -EINVAL;
	if (*end) {
		for (unsigned int i = 0; units[i]; i++)
			if ((*end | 0x20) == units[i])
				shift = 10 * (i + 1);
		if (!shift)
			return -EINVAL;
		end++;
		if (*end && strcasecmp(end, "b") && strcasecmp(end, "ib"))
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

#endif
