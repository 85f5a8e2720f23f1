// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "emu_aperture.h"

#define EMU_DELETED " (deleted)"

/*
 * Named after the emulator folder's identity, so a daemon that starts again
 * in the same folder finds (and empties) what an earlier one left there.
 */
int emu_aperture_dir(const char *emu_dir, const char *parent, char *out, size_t cap)
{
	struct stat st;

	if (stat(emu_dir, &st) != 0)
		return -errno;
	if ((size_t)snprintf(out, cap, "%s/vramstream-emu-%jx-%jx", parent, (uintmax_t)st.st_dev,
			     (uintmax_t)st.st_ino) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

bool emu_aperture_parse_node(const char *name, unsigned int *minor)
{
	int n = 0;

	return sscanf(name, "renderD%u%n", minor, &n) == 1 && n > 0 && name[n] == '\0';
}

int emu_aperture_view_name(char *out, size_t cap, unsigned int gpu, uint64_t off, uint64_t size)
{
	if ((size_t)snprintf(out, cap, "dmabuf-gpu%u-%" PRIx64 "-%" PRIx64, gpu, off, size) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

bool emu_aperture_parse_view(const char *name, unsigned int *gpu, uint64_t *off, uint64_t *size)
{
	int n = 0;

	if (sscanf(name, "dmabuf-gpu%u-%" SCNx64 "-%" SCNx64 "%n", gpu, off, size, &n) != 3 ||
	    n <= 0)
		return false;
	return name[n] == '\0' || strcmp(name + n, EMU_DELETED) == 0;
}
