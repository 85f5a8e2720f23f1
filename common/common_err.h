/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One way to carry an error message up: the function that fails writes
 * "what: why" into the caller's buffer and returns the negative errno, in
 * one step (zstd's RETURN_ERROR_IF, lib/common/error_private.h). The caller
 * that logs (plugin/, or a tool's main) prints the buffer once. Libc only
 * (common/README.md).
 */
#ifndef VRAMSTREAM_COMMON_ERR_H
#define VRAMSTREAM_COMMON_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Writes the message into @err (@len bytes, cut to fit); NULL or 0 ignored. */
static inline void common_errf(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void common_errf(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* Records the message and returns @code (a negative errno) from the caller. */
#define COMMON_RETURN_ERR(code, err, len, ...)                                                     \
	do {                                                                                       \
		common_errf(err, len, __VA_ARGS__);                                                \
		return (code);                                                                     \
	} while (0)

#endif
