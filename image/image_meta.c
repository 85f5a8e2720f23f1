// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The image folder's metadata files (proto/vramstream.proto): encode,
 * decode with the format version check restore relies on, and whole-file
 * reads and crash-safe writes.
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common_crc32c.h"
#include "common_io.h"
#include "image.h"

/*
 * Format 2 frames each metadata file so that any damage is found before a
 * field is believed (image/README.md, "Metadata files"); little-endian:
 *
 *   0       4  magic: IMAGE_MAGIC_KFD, IMAGE_MAGIC_RENDER or IMAGE_MAGIC_DMABUF
 *   4       4  format version (IMAGE_FORMAT_VERSION)
 *   8       8  L, the length of the message
 *   16      L  the message (protobuf, proto/vramstream.proto)
 *   16+L    4  CRC32C (RFC 3720) of bytes 0 .. 16+L-1
 */
#define FRAME_HEAD 16
#define FRAME_TAIL 4

static const char IMAGE_MAGIC_KFD[4] = { 'V', 'S', 'K', 'M' };
static const char IMAGE_MAGIC_RENDER[4] = { 'V', 'S', 'R', 'N' };
static const char IMAGE_MAGIC_DMABUF[4] = { 'V', 'S', 'D', 'B' };

/*
 * Format 1 files are the bare message, whose first field is format_version
 * (tag 1, varint: byte 0x08) equal to 1. No damage to a format 2 file turns
 * its magic into these two bytes with one flip.
 */
static bool frame_is_format1(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] == 0x08 && buf[1] == 0x01;
}

/* The stored checksum check; fuzz builds take any (compress_meta_sum_ok's convention). */
static bool frame_sum_ok(uint32_t stored, uint32_t computed)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	(void)stored;
	(void)computed;
	return true;
#else
	return stored == computed;
#endif
}

static void put_le(uint8_t *p, uint64_t v, unsigned int bytes)
{
	for (unsigned int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int frame_encode(const char magic[4], const ProtobufCMessage *msg, uint8_t **out,
			size_t *out_len)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(FRAME_HEAD + len + FRAME_TAIL);

	if (!buf)
		return -ENOMEM;
	memcpy(buf, magic, 4);
	put_le(buf + 4, IMAGE_FORMAT_VERSION, 4);
	put_le(buf + 8, len, 8);
	protobuf_c_message_pack(msg, buf + FRAME_HEAD);
	put_le(buf + FRAME_HEAD + len, common_crc32c(0, buf, FRAME_HEAD + len), 4);
	*out = buf;
	*out_len = FRAME_HEAD + len + FRAME_TAIL;
	return 0;
}

/*
 * Checks the frame of @buf (@len bytes) as a @what file with @magic and
 * gives the message inside: integrity first (magic, length, checksum), the
 * version second, so a damaged file is called damaged, not foreign.
 * Returns 0, -EBADMSG (damaged), -EPROTONOSUPPORT (another format version)
 * or -EINVAL (not such a file at all), with @why saying which.
 */
static int frame_decode(const char magic[4], const char *what, const uint8_t *buf, size_t len,
			const uint8_t **msg, size_t *msg_len, char *why, size_t why_len)
{
	uint64_t body;
	uint32_t version;

	if (frame_is_format1(buf, len)) {
		snprintf(why, why_len,
			 "%s in image format version 1, which has no checksum; this release "
			 "reads version %u only: restore with the vramstream release that wrote "
			 "the image",
			 what, IMAGE_FORMAT_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (len < FRAME_HEAD + FRAME_TAIL) {
		snprintf(why, why_len, "damaged %s: %zu bytes, too short for its header", what,
			 len);
		return -EBADMSG;
	}
	if (memcmp(buf, magic, 4)) {
		snprintf(why, why_len,
			 "damaged or not a vramstream %s: it does not start with \"%.4s\"", what,
			 magic);
		return -EINVAL;
	}
	body = get_le(buf + 8, 8);
	if (body != len - FRAME_HEAD - FRAME_TAIL) {
		snprintf(why, why_len,
			 "damaged %s: its header says %" PRIu64 " bytes of metadata, the file "
			 "holds %zu (truncated or extended)",
			 what, body, len - FRAME_HEAD - FRAME_TAIL);
		return -EBADMSG;
	}
	if (!frame_sum_ok((uint32_t)get_le(buf + len - FRAME_TAIL, 4),
			  common_crc32c(0, buf, len - FRAME_TAIL))) {
		snprintf(why, why_len, "damaged %s: checksum mismatch over its %zu bytes", what,
			 len);
		return -EBADMSG;
	}
	version = (uint32_t)get_le(buf + 4, 4);
	if (version != IMAGE_FORMAT_VERSION) {
		snprintf(why, why_len,
			 "%s in image format version %u, this release reads version %u: "
			 "restore with the vramstream release that wrote the image",
			 what, version, IMAGE_FORMAT_VERSION);
		return -EPROTONOSUPPORT;
	}
	*msg = buf + FRAME_HEAD;
	*msg_len = (size_t)body;
	return 0;
}

/*
 * Unpacks a message whose frame checked out; what the checksum covered but
 * does not parse was written wrong, so it is called damaged too.
 */
static int frame_unpack(const ProtobufCMessageDescriptor *desc, const char *what,
			const uint8_t *msg, size_t msg_len, ProtobufCMessage **out, char *why,
			size_t why_len)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, msg_len, msg);

	if (!m) {
		snprintf(why, why_len, "damaged %s: its %zu bytes of metadata do not parse", what,
			 msg_len);
		return -EBADMSG;
	}
	*out = m;
	return 0;
}

/* The message's own format_version must repeat the frame's. */
static int inner_version_check(ProtobufCMessage *m, uint32_t version, const char *what, char *why,
			       size_t why_len)
{
	if (version == IMAGE_FORMAT_VERSION)
		return 0;
	snprintf(why, why_len, "damaged %s: its header says format version %u, its metadata %u",
		 what, IMAGE_FORMAT_VERSION, version);
	protobuf_c_message_free_unpacked(m, NULL);
	return -EBADMSG;
}

int image_meta_encode(Vramstream__ProcessImage *img, uint8_t **out, size_t *out_len)
{
	img->format_version = IMAGE_FORMAT_VERSION;
	return frame_encode(IMAGE_MAGIC_KFD, &img->base, out, out_len);
}

static int meta_decode(const char magic[4], const char *what,
		       const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
		       ProtobufCMessage **out, char *why, size_t why_len)
{
	const uint8_t *msg;
	size_t msg_len;
	int r;

	r = frame_decode(magic, what, buf, len, &msg, &msg_len, why, why_len);
	if (!r)
		r = frame_unpack(desc, what, msg, msg_len, out, why, why_len);
	return r;
}

/*
 * A framed metadata file of kind @magic as message @desc, whose own
 * format_version field (at @version_off) must agree with the frame's.
 */
static int versioned_decode(const char magic[4], const char *what,
			    const ProtobufCMessageDescriptor *desc, size_t version_off,
			    const uint8_t *buf, size_t len, ProtobufCMessage **out, char *why,
			    size_t why_len)
{
	char scratch[8];
	ProtobufCMessage *m;
	uint32_t version;
	int r;

	if (!why) {
		why = scratch;
		why_len = sizeof(scratch);
	}
	r = meta_decode(magic, what, desc, buf, len, &m, why, why_len);
	if (r)
		return r;
	memcpy(&version, (const char *)m + version_off, sizeof(version));
	r = inner_version_check(m, version, what, why, why_len);
	if (!r)
		*out = m;
	return r;
}

/* The list of files references name: numbers in range and once each, paths usable. */
static int sources_check(Vramstream__StreamSource *const *sources, size_t n, char *why,
			 size_t why_len)
{
	for (size_t i = 0; i < n; i++) {
		const Vramstream__StreamSource *s = sources[i];

		if (s->id > IMAGE_SOURCE_MAX || !s->path[0] || strlen(s->path) >= PATH_MAX ||
		    (s->depth == 0 && image_stream_name_check(s->path))) {
			snprintf(why, why_len, "bad stream file record %u (\"%.64s\")", s->id,
				 s->path);
			return -EBADMSG;
		}
		for (size_t k = 0; k < i; k++)
			if (sources[k]->id == s->id) {
				snprintf(why, why_len, "stream file number %u listed twice", s->id);
				return -EBADMSG;
			}
	}
	return 0;
}

int image_meta_decode(const uint8_t *buf, size_t len, Vramstream__ProcessImage **img, char *why,
		      size_t why_len)
{
	char scratch[8];
	int r;

	if (!why) {
		why = scratch;
		why_len = sizeof(scratch);
	}
	r = versioned_decode(IMAGE_MAGIC_KFD, "KFD metadata file",
			     &vramstream__process_image__descriptor,
			     offsetof(Vramstream__ProcessImage, format_version), buf, len,
			     (ProtobufCMessage **)img, why, why_len);
	if (r == 0 && (r = sources_check((*img)->sources, (*img)->n_sources, why, why_len))) {
		image_meta_free(*img);
		*img = NULL;
	}
	return r;
}

void image_meta_free(Vramstream__ProcessImage *img)
{
	if (img)
		vramstream__process_image__free_unpacked(img, NULL);
}

int image_render_encode(Vramstream__RenderFile *rf, uint8_t **out, size_t *out_len)
{
	rf->format_version = IMAGE_FORMAT_VERSION;
	return frame_encode(IMAGE_MAGIC_RENDER, &rf->base, out, out_len);
}

int image_render_decode(const uint8_t *buf, size_t len, Vramstream__RenderFile **rf, char *why,
			size_t why_len)
{
	char scratch[8];
	int r;

	if (!why) {
		why = scratch;
		why_len = sizeof(scratch);
	}
	r = versioned_decode(IMAGE_MAGIC_RENDER, "render-node file",
			     &vramstream__render_file__descriptor,
			     offsetof(Vramstream__RenderFile, format_version), buf, len,
			     (ProtobufCMessage **)rf, why, why_len);
	if (r)
		return r;
	r = sources_check((*rf)->sources, (*rf)->n_sources, why, why_len);
	/* A render file's stream refers only to itself: no parent images. */
	for (size_t i = 0; !r && i < (*rf)->n_sources; i++)
		if ((*rf)->sources[i]->depth) {
			snprintf(why, why_len, "stream file record %u names a parent image's file",
				 (*rf)->sources[i]->id);
			r = -EBADMSG;
		}
	if (r) {
		image_render_free(*rf);
		*rf = NULL;
	}
	return r;
}

void image_render_free(Vramstream__RenderFile *rf)
{
	if (rf)
		vramstream__render_file__free_unpacked(rf, NULL);
}

int image_dmabuf_encode(Vramstream__DmabufFile *df, uint8_t **out, size_t *out_len)
{
	df->format_version = IMAGE_FORMAT_VERSION;
	return frame_encode(IMAGE_MAGIC_DMABUF, &df->base, out, out_len);
}

int image_dmabuf_decode(const uint8_t *buf, size_t len, Vramstream__DmabufFile **df, char *why,
			size_t why_len)
{
	return versioned_decode(IMAGE_MAGIC_DMABUF, "dma-buf file",
				&vramstream__dmabuf_file__descriptor,
				offsetof(Vramstream__DmabufFile, format_version), buf, len,
				(ProtobufCMessage **)df, why, why_len);
}

void image_dmabuf_free(Vramstream__DmabufFile *df)
{
	if (df)
		vramstream__dmabuf_file__free_unpacked(df, NULL);
}

int image_render_check_all(int dirfd, char *why, size_t why_len)
{
	int dup_fd, r = 0;
	struct dirent *de;
	DIR *d;

	dup_fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (!d) {
		r = -errno;
		close(dup_fd);
		return r;
	}
	while (!r && (de = readdir(d))) {
		Vramstream__RenderFile *rf = NULL;
		char reason[256] = "";
		uint8_t *buf;
		size_t len;

		if (image_name_kind(de->d_name, NULL, NULL) != IMAGE_FILE_RENDER)
			continue;
		r = image_file_read(dirfd, de->d_name, &buf, &len);
		if (r) {
			snprintf(reason, sizeof(reason), "cannot read it: %s", strerror(-r));
		} else {
			r = image_render_decode(buf, len, &rf, reason, sizeof(reason));
			free(buf);
		}
		image_render_free(rf);
		if (r)
			snprintf(why, why_len, "%s: %s", de->d_name, reason);
	}
	closedir(d);
	return r;
}

/* Reads all of @fd's @size bytes into a new buffer. */
static int read_whole(int fd, size_t size, uint8_t **out)
{
	uint8_t *buf = malloc(size ? size : 1);
	int r;

	if (!buf)
		return -ENOMEM;
	r = common_read_all(fd, buf, size, COMMON_IO_POS);
	if (r) {
		free(buf);
		return r == -ENODATA ? -EIO : r; /* shrank while read */
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

int image_file_write(int dirfd, const char *name, const void *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd, r;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = common_write_all(fd, buf, len, COMMON_IO_POS);
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
