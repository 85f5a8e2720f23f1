// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The image folder's names: what each file is called, how stream parts are
 * named, and the checks on names and part counts read from an image.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "image.h"

#define KFD_PREFIX    "vramstream-kfd-"
#define RENDER_PREFIX "vramstream-render-"
#define DMABUF_PREFIX "vramstream-dmabuf-"
#define META_SUFFIX   ".img"
#define STREAM_SUFFIX ".vrs"

static int fit(int r, size_t len)
{
	return r < 0 || (size_t)r >= len ? -ENAMETOOLONG : 0;
}

int image_kfd_name(unsigned int pid, int id, char *out, size_t len)
{
	return fit(snprintf(out, len, KFD_PREFIX "%u-%d" META_SUFFIX, pid, id), len);
}

int image_stream_name(unsigned int pid, int id, unsigned int gpu, char *out, size_t len)
{
	return fit(snprintf(out, len, KFD_PREFIX "%u-%d-gpu%u" STREAM_SUFFIX, pid, id, gpu), len);
}

int image_render_name(int id, char *out, size_t len)
{
	return fit(snprintf(out, len, RENDER_PREFIX "%d" META_SUFFIX, id), len);
}

int image_render_stream_name(int id, char *out, size_t len)
{
	return fit(snprintf(out, len, RENDER_PREFIX "%d" STREAM_SUFFIX, id), len);
}

int image_dmabuf_name(int id, char *out, size_t len)
{
	return fit(snprintf(out, len, DMABUF_PREFIX "%d" META_SUFFIX, id), len);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && !strcmp(s + n - k, suffix);
}

int image_part_name(const char *base, unsigned int part, char *out, size_t len)
{
	size_t n = strlen(base), k = strlen(STREAM_SUFFIX);

	if (part == 0)
		return fit(snprintf(out, len, "%s", base), len);
	if (ends_with(base, STREAM_SUFFIX))
		return fit(snprintf(out, len, "%.*s.%u" STREAM_SUFFIX, (int)(n - k), base, part),
			   len);
	return fit(snprintf(out, len, "%s.%u", base, part), len);
}

/* A decimal number at *@s (a '-' first only when @neg), moved past; -EINVAL if none. */
static int parse_num(const char **s, bool neg, long long max, long long *v)
{
	const char *p = *s;
	bool minus = neg && *p == '-';
	long long x = 0;

	if (minus)
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		x = x * 10 + (*p - '0');
		if (x > max)
			return -EINVAL;
	}
	*v = minus ? -x : x;
	*s = p;
	return 0;
}

/* "<pid>-<id>.img" */
static bool parse_kfd(const char *s, unsigned int *pid, int *id)
{
	long long p, i;

	if (parse_num(&s, false, UINT_MAX, &p) || *s++ != '-' || parse_num(&s, true, INT_MAX, &i) ||
	    strcmp(s, META_SUFFIX))
		return false;
	if (pid)
		*pid = (unsigned int)p;
	if (id)
		*id = (int)i;
	return true;
}

/* "<id>.img" */
static bool parse_render(const char *s, int *id)
{
	long long i;

	if (parse_num(&s, true, INT_MAX, &i) || strcmp(s, META_SUFFIX))
		return false;
	if (id)
		*id = (int)i;
	return true;
}

/*
 * Temporary files: image_file_write()'s ".NAME.tmp", compress_writer_new()'s
 * "PATH.partial-XXXXXX", and the image tool's ".NAME.recompress"
 * (tools/img_recompress.c).
 */
static bool is_leftover(const char *name)
{
	return strstr(name, ".partial-") || (name[0] == '.' && ends_with(name, ".tmp")) ||
	       ends_with(name, ".recompress");
}

enum image_file_kind image_name_kind(const char *name, unsigned int *pid, int *id)
{
	if (!strstr(name, "vramstream-"))
		return IMAGE_FILE_OTHER;
	if (is_leftover(name))
		return IMAGE_FILE_LEFTOVER;
	if (!strncmp(name, KFD_PREFIX, strlen(KFD_PREFIX)) &&
	    parse_kfd(name + strlen(KFD_PREFIX), pid, id))
		return IMAGE_FILE_KFD;
	if (!strncmp(name, RENDER_PREFIX, strlen(RENDER_PREFIX)) &&
	    parse_render(name + strlen(RENDER_PREFIX), id))
		return IMAGE_FILE_RENDER;
	if (!strncmp(name, DMABUF_PREFIX, strlen(DMABUF_PREFIX)) &&
	    parse_render(name + strlen(DMABUF_PREFIX), id))
		return IMAGE_FILE_DMABUF;
	if (ends_with(name, STREAM_SUFFIX))
		return IMAGE_FILE_STREAM;
	return IMAGE_FILE_OTHER;
}

int image_find_kfd(int dirfd, unsigned int pid)
{
	int dup_fd, id = -ENOENT;
	struct dirent *de;
	DIR *d;

	dup_fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (!d) {
		int e = errno;

		close(dup_fd);
		return -e;
	}
	while ((de = readdir(d))) {
		unsigned int p;
		int i;

		if (image_name_kind(de->d_name, &p, &i) == IMAGE_FILE_KFD && (!pid || p == pid)) {
			id = i;
			break;
		}
	}
	closedir(d);
	return id;
}

int image_stream_name_check(const char *name)
{
	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
	    strlen(name) > NAME_MAX)
		return -EINVAL;
	return 0;
}

int image_parts_check(unsigned int parts)
{
	return parts >= 1 && parts <= IMAGE_PARTS_MAX ? 0 : -EINVAL;
}
