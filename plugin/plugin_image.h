/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-process image metadata (proto/vramstream.proto): encode, decode and the
 * format version check that restore relies on.
 */
#ifndef VRAMSTREAM_PLUGIN_IMAGE_H
#define VRAMSTREAM_PLUGIN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "vramstream.pb-c.h"

/* Bumped on any change an older reader would misread (proto/README.md). */
#define VRAMSTREAM_FORMAT_VERSION 1

/*
 * Serialise @img (its format_version is set here) into a newly allocated
 * buffer. Returns 0 or -ENOMEM.
 */
int plugin_image_encode(Vramstream__ProcessImage *img, uint8_t **out, size_t *out_len);

/*
 * Parse and check an image. Returns 0 and a message to free with
 * plugin_image_free(), -EINVAL when the bytes are not a ProcessImage, or
 * -EPROTONOSUPPORT when its format version is not ours; @why (may be NULL)
 * receives a sentence saying what was wrong.
 */
int plugin_image_decode(const uint8_t *buf, size_t len, Vramstream__ProcessImage **img, char *why,
			size_t why_len);

void plugin_image_free(Vramstream__ProcessImage *img);

/* Metadata files are KiB to MiB; anything larger is not ours. */
#define PLUGIN_IMAGE_FILE_MAX (256u << 20)

/*
 * Reads the whole file @name in folder @dirfd into a new buffer (free()
 * it). Returns 0, -EFBIG past PLUGIN_IMAGE_FILE_MAX, or -errno.
 */
int plugin_image_read_file(int dirfd, const char *name, uint8_t **out, size_t *out_len);

#endif
