// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "plugin_criu_img.h"

/* images/core.proto task_kobj_ids_entry.files_id; images/fdinfo.proto fdinfo_entry.fd */
#define IDS_FIELD_FILES_ID 2
#define FDINFO_FIELD_FD	   4
/* images/pstree.proto pstree_entry.pid */
#define PSTREE_FIELD_PID 1
/* images/mm.proto mm_entry.vmas; images/vma.proto vma_entry.status */
#define MM_FIELD_VMAS	 14
#define VMA_FIELD_STATUS 7
/* criu/include/image.h: VmaEntry.status bits */
#define CRIU_VMA_AREA_REGULAR (1u << 0)
#define CRIU_VMA_FILE_PRIVATE (1u << 6)
#define CRIU_VMA_FILE_SHARED  (1u << 7)
#define CRIU_VMA_ANON_SHARED  (1u << 8)
#define CRIU_VMA_EXT_PLUGIN   (1u << 27)

/* Protobuf wire types (protobuf's encoding documentation). */
enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_LEN = 2, PB_FIXED32 = 5 };

static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned int shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (*p >= end)
			return -EINVAL;
		b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * The next field of the message in [*p, end): its number, wire type, and
 * its value (varints) or bytes (length-delimited). 1, 0 at the end, or
 * -EINVAL when the bytes are not a message.
 */
static int pb_next(const uint8_t **p, const uint8_t *end, uint32_t *field, unsigned int *wire,
		   uint64_t *val, const uint8_t **bytes)
{
	uint64_t key;

	if (*p == end)
		return 0;
	if (pb_varint(p, end, &key) || !(key >> 3) || (key >> 3) > UINT32_MAX)
		return -EINVAL;
	*field = (uint32_t)(key >> 3);
	*wire = key & 7;
	switch (*wire) {
	case PB_VARINT:
		return pb_varint(p, end, val) ? -EINVAL : 1;
	case PB_FIXED64:
		if (end - *p < 8)
			return -EINVAL;
		*p += 8;
		return 1;
	case PB_LEN:
		if (pb_varint(p, end, val) || *val > (uint64_t)(end - *p))
			return -EINVAL;
		*bytes = *p;
		*p += *val;
		return 1;
	case PB_FIXED32:
		if (end - *p < 4)
			return -EINVAL;
		*p += 4;
		return 1;
	}
	return -EINVAL;
}

/*
 * Varint field @field of the message in [p, end); the last one wins, as in
 * protobuf. -ENOENT when absent, -EINVAL when the bytes are not a message.
 */
static int pb_find_varint(const uint8_t *p, const uint8_t *end, uint32_t field, uint64_t *v)
{
	const uint8_t *bytes = NULL;
	unsigned int wire;
	uint32_t f;
	uint64_t val = 0;
	int r, found = -ENOENT;

	while ((r = pb_next(&p, end, &f, &wire, &val, &bytes)) == 1)
		if (f == field && wire == PB_VARINT) {
			*v = val;
			found = 0;
		}
	return r ? r : found;
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Past the magic words of an image of kind @magic; -EINVAL if it is not one. */
static int img_skip_magic(const uint8_t **p, const uint8_t *end, uint32_t magic)
{
	if (end - *p >= 8 && get_u32(*p) == CRIU_IMG_COMMON_MAGIC && get_u32(*p + 4) == magic) {
		*p += 8;
		return 0;
	}
	if (end - *p >= 4 && get_u32(*p) == magic) { /* CRTOOLS_IMAGES_V1 */
		*p += 4;
		return 0;
	}
	return -EINVAL;
}

/* The next entry's bytes in [*p, end): 1, 0 at the end, or -EINVAL. */
static int img_next(const uint8_t **p, const uint8_t *end, const uint8_t **msg, size_t *msg_len)
{
	uint32_t n;

	if (*p == end)
		return 0;
	if (end - *p < 4)
		return -EINVAL;
	n = get_u32(*p);
	*p += 4;
	if (n > (size_t)(end - *p))
		return -EINVAL;
	*msg = *p;
	*msg_len = n;
	*p += n;
	return 1;
}

int criu_img_files_id(const uint8_t *buf, size_t len, uint32_t *files_id)
{
	const uint8_t *p = buf, *end = buf + len, *msg;
	size_t msg_len;
	uint64_t v;

	if (img_skip_magic(&p, end, CRIU_IMG_IDS_MAGIC) || img_next(&p, end, &msg, &msg_len) != 1)
		return -EINVAL;
	if (pb_find_varint(msg, msg + msg_len, IDS_FIELD_FILES_ID, &v) || v > UINT32_MAX)
		return -EINVAL;
	*files_id = (uint32_t)v;
	return 0;
}

int criu_img_fdinfo_max_fd(const uint8_t *buf, size_t len, int *max_fd)
{
	const uint8_t *p = buf, *end = buf + len, *msg;
	size_t msg_len;
	int r, max = -1;

	if (img_skip_magic(&p, end, CRIU_IMG_FDINFO_MAGIC))
		return -EINVAL;
	while ((r = img_next(&p, end, &msg, &msg_len)) == 1) {
		uint64_t fd;

		if (pb_find_varint(msg, msg + msg_len, FDINFO_FIELD_FD, &fd) || fd > INT_MAX)
			return -EINVAL;
		if ((int)fd > max)
			max = (int)fd;
	}
	if (r)
		return r;
	*max_fd = max;
	return 0;
}

int criu_img_task_max_fd(int dirfd, pid_t pid, int *max_fd, char *why, size_t why_len)
{
	char name[64];
	uint8_t *buf;
	size_t len;
	uint32_t files_id;
	int r;

	snprintf(name, sizeof(name), "ids-%d.img", (int)pid); /* criu/image-desc.c: IDS */
	r = image_file_read(dirfd, name, &buf, &len);
	if (!r) {
		r = criu_img_files_id(buf, len, &files_id);
		free(buf);
	}
	if (r)
		goto fail;
	snprintf(name, sizeof(name), "fdinfo-%u.img", files_id); /* criu/image-desc.c: FDINFO */
	r = image_file_read(dirfd, name, &buf, &len);
	if (!r) {
		r = criu_img_fdinfo_max_fd(buf, len, max_fd);
		free(buf);
	}
	if (!r)
		return 0;
fail:
	if (why)
		snprintf(why, why_len, "criu image %s: %s", name,
			 r == -EINVAL ? "not an image of that kind (damaged?)" : strerror(-r));
	return r;
}

/* Whether criu's restore calls UPDATE_VMA_MAP for a VMA of @status (see the header). */
static bool vma_goes_to_plugin(uint64_t status)
{
	const uint64_t want = CRIU_VMA_AREA_REGULAR | CRIU_VMA_EXT_PLUGIN;

	return (status & want) == want && !(status & CRIU_VMA_ANON_SHARED) &&
	       (status & (CRIU_VMA_FILE_PRIVATE | CRIU_VMA_FILE_SHARED));
}

int criu_img_mm_plugin_vmas(const uint8_t *buf, size_t len, unsigned int *n_vmas)
{
	const uint8_t *p = buf, *end = buf + len, *msg, *vma = NULL;
	unsigned int n = 0, wire;
	size_t msg_len;
	uint32_t field;
	uint64_t val = 0;
	int r;

	if (img_skip_magic(&p, end, CRIU_IMG_MM_MAGIC) || img_next(&p, end, &msg, &msg_len) != 1)
		return -EINVAL;
	p = msg;
	end = msg + msg_len;
	while ((r = pb_next(&p, end, &field, &wire, &val, &vma)) == 1) {
		uint64_t status;

		if (field != MM_FIELD_VMAS)
			continue;
		if (wire != PB_LEN || pb_find_varint(vma, vma + val, VMA_FIELD_STATUS, &status))
			return -EINVAL;
		n += vma_goes_to_plugin(status);
	}
	if (r)
		return r;
	*n_vmas = n;
	return 0;
}

int criu_img_task_plugin_vmas(int dirfd, pid_t pid, unsigned int *n_vmas, char *why, size_t why_len)
{
	char name[64];
	uint8_t *buf;
	size_t len;
	int r;

	snprintf(name, sizeof(name), "mm-%d.img", (int)pid); /* criu/image-desc.c: MM */
	r = image_file_read(dirfd, name, &buf, &len);
	if (!r) {
		r = criu_img_mm_plugin_vmas(buf, len, n_vmas);
		free(buf);
	}
	if (r && why)
		snprintf(why, why_len, "criu image %s: %s", name,
			 r == -EINVAL ? "not an image of that kind (damaged?)" : strerror(-r));
	return r;
}

int criu_img_pstree_root(const uint8_t *buf, size_t len, uint32_t *root_pid)
{
	const uint8_t *p = buf, *end = buf + len, *msg;
	size_t msg_len;
	uint64_t v;

	if (img_skip_magic(&p, end, CRIU_IMG_PSTREE_MAGIC) ||
	    img_next(&p, end, &msg, &msg_len) != 1)
		return -EINVAL;
	if (pb_find_varint(msg, msg + msg_len, PSTREE_FIELD_PID, &v) || !v || v > INT_MAX)
		return -EINVAL;
	*root_pid = (uint32_t)v;
	return 0;
}

int criu_img_root_pid(int dirfd, uint32_t *root_pid)
{
	uint8_t *buf;
	size_t len;
	int r = image_file_read(dirfd, "pstree.img", &buf, &len); /* criu/image-desc.c: PSTREE */

	if (r)
		return r;
	r = criu_img_pstree_root(buf, len, root_pid);
	free(buf);
	return r;
}
