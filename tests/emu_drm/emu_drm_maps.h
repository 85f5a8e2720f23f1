/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What criu would see of the emulator in a process: the lines of
 * /proc/self/maps naming a render node or a file of the emulator (its
 * aperture folder, dma-buf views). The kernel maps none of them on its own
 * (no CPU mapping of NO_CPU_ACCESS or imported BOs, none for a job), so the
 * emu_drm tests compare them around imports and jobs.
 */
#ifndef VRAMSTREAM_TEST_EMU_DRM_MAPS_H
#define VRAMSTREAM_TEST_EMU_DRM_MAPS_H

#include <stdio.h>
#include <string.h>

#include "test_common.h"

/* Those lines, in @out. */
static inline void emu_maps_read(char *out, size_t cap)
{
	char line[512];
	size_t len = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	CHECK(f != NULL);
	out[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		if (!strstr(line, "renderD") && !strstr(line, "vramstream-emu") &&
		    !strstr(line, "dmabuf-gpu"))
			continue;
		CHECK(len + n < cap);
		if (len + n >= cap)
			break;
		memcpy(out + len, line, n + 1);
		len += n;
	}
	if (f)
		fclose(f);
}

/* EXPECT: none came or went between @before and @now; both shown when one did. */
static inline void emu_maps_same(const char *before, const char *now, const char *what)
{
	if (strcmp(now, before) != 0)
		fprintf(stderr, "mappings before %s:\n%s\nafter it:\n%s", what, before, now);
	CHECK(strcmp(now, before) == 0);
}

#endif
