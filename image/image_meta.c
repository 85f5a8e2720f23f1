// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The image folder's metadata files (proto/vramstream.proto): encode,
 * decode with the format version check restore relies on, and whole-file
 * reads and crash-safe writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"

int image_meta_encode(Vramstream__ProcessImage *img, uint8_t **out, size_t *out_len)
{
	size_t len;
	uint8_t *buf;

	img->format_version = IMAGE_FORMAT_VERSION;
	len = vramstream__process_image__get_packed_size(img);
	/* malloc(0) may return NULL; an image is never empty anyway. */
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	vramstream__process_image__pack(img, buf);
	*out = buf;
	*out_len = len;
	return 0;
}

int image_meta_decode(const uint8_t *buf, size_t len, Vramstream__ProcessImage **img, char *why,
		      size_t why_len)
{
	Vramstream__ProcessImage *m;

	m = vramstream__process_image__unpack(NULL, len, buf);
	if (!m) {
		if (why)
			snprintf(why, why_len,
				 "%zu bytes that do not parse as vramstream image metadata "
				 "(damaged or not a vramstream image)",
				 len);
		return -EINVAL;
	}
	if (m->format_version != IMAGE_FORMAT_VERSION) {
		if (why)
			snprintf(why, why_len,
				 "image format version %u, this plugin reads version %u: "
				 "restore with the vramstream release that wrote the image",
				 m->format_version, IMAGE_FORMAT_VERSION);
		vramstream__process_image__free_unpacked(m, NULL);
		return -EPROTONOSUPPORT;
	}
	*img = m;
	return 0;
}

void image_meta_free(Vramstream__ProcessImage *img)
{
	if (img)
		vramstream__process_image__free_unpacked(img, NULL);
}

int image_render_encode(Vramstream__RenderFile *rf, uint8_t **out, size_t *out_len)
{
	size_t len;
	uint8_t *buf;

	rf->format_version = IMAGE_FORMAT_VERSION;
	len = vramstream__render_file__get_packed_size(rf);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	vramstream__render_file__pack(rf, buf);
	*out = buf;
	*out_len = len;
	return 0;
}

int image_render_decode(const uint8_t *buf, size_t len, Vramstream__RenderFile **rf, char *why,
			size_t why_len)
{
	Vramstream__RenderFile *m = vramstream__render_file__unpack(NULL, len, buf);

	if (!m) {
		if (why)
			snprintf(why, why_len,
				 "%zu bytes that do not parse as a vramstream render-node record",
				 len);
		return -EINVAL;
	}
	if (m->format_version != IMAGE_FORMAT_VERSION) {
		if (why)
			snprintf(why, why_len, "format version %u, this release reads %u",
				 m->format_version, IMAGE_FORMAT_VERSION);
		vramstream__render_file__free_unpacked(m, NULL);
		return -EPROTONOSUPPORT;
	}
	*rf = m;
	return 0;
}

void image_render_free(Vramstream__RenderFile *rf)
{
	if (rf)
		vramstream__render_file__free_unpacked(rf, NULL);
}

/* Reads all of @fd's @size bytes into a new buffer. */
static int read_whole(int fd, size_t size, uint8_t **out)
{
	uint8_t *buf = malloc(size ? size : 1);
	size_t done = 0;

	if (!buf)
		return -ENOMEM;
	while (done < size) {
		ssize_t n = read(fd, buf + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int r = n < 0 ? -errno : -EIO;

			free(buf);
			return r;
		}
		done += (size_t)n;
	}
	*out = buf;
	return 0;
}

int image_file_read(int dirfd, const char *name, uint8_t **out, size_t *out_len)
{
	struct stat st;
	int fd, r;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		r = -errno;
	else if (st.st_size > IMAGE_FILE_MAX)
		r = -EFBIG;
	else
		r = read_whole(fd, (size_t)st.st_size, out);
	close(fd);
	if (!r)
		*out_len = (size_t)st.st_size;
	return r;
}

/* Writes all @len bytes of @p to @fd. */
static int write_whole(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int image_file_write(int dirfd, const char *name, const void *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd, r;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_whole(fd, buf, len);
	if (!r && fsync(fd))
		r = -errno;
	if (close(fd) && !r)
		r = -errno;
	if (!r && renameat(dirfd, tmp, dirfd, name))
		r = -errno;
	if (r)
		unlinkat(dirfd, tmp, 0);
	return r;
}
