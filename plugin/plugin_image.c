// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin_image.h"

int plugin_image_encode(Vramstream__ProcessImage *img, uint8_t **out, size_t *out_len)
{
	size_t len;
	uint8_t *buf;

	img->format_version = VRAMSTREAM_FORMAT_VERSION;
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

int plugin_image_decode(const uint8_t *buf, size_t len, Vramstream__ProcessImage **img, char *why,
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
	if (m->format_version != VRAMSTREAM_FORMAT_VERSION) {
		if (why)
			snprintf(why, why_len,
				 "image format version %u, this plugin reads version %u: "
				 "restore with the vramstream release that wrote the image",
				 m->format_version, VRAMSTREAM_FORMAT_VERSION);
		vramstream__process_image__free_unpacked(m, NULL);
		return -EPROTONOSUPPORT;
	}
	*img = m;
	return 0;
}

void plugin_image_free(Vramstream__ProcessImage *img)
{
	if (img)
		vramstream__process_image__free_unpacked(img, NULL);
}

int plugin_image_read_file(int dirfd, const char *name, uint8_t **out, size_t *out_len)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd, r = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		r = -errno;
		close(fd);
		return r;
	}
	if (st.st_size > PLUGIN_IMAGE_FILE_MAX) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	close(fd);
	if (r) {
		free(buf);
		return r;
	}
	*out = buf;
	*out_len = done;
	return 0;
}
