/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whole-buffer reads and writes: the loop every file user needs once, since
 * read(2)/write(2) may move fewer bytes than asked (signals, pipes, a file
 * that ends) and report EINTR. Libc only (common/README.md).
 */
#ifndef VRAMSTREAM_COMMON_IO_H
#define VRAMSTREAM_COMMON_IO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

/* Pass as @off to use (and advance) the file position: read(2)/write(2). */
#define COMMON_IO_POS (-1)

/*
 * Reads all @len bytes into @buf, at byte @off (pread(2)) or at the file
 * position. 0, -errno, or -ENODATA when the file ends first (the caller says
 * what a short file means: a damaged stream, a file that shrank).
 */
static inline int common_read_all(int fd, void *buf, size_t len, int64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = off < 0 ? read(fd, p, len) : pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

/* Writes all @len bytes of @buf, at byte @off (pwrite(2)) or at the file
 * position. 0, -errno, or -EIO when the kernel accepts nothing. */
static inline int common_write_all(int fd, const void *buf, size_t len, int64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

#endif
