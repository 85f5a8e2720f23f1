// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the plugin's image metadata parsers: the per-process
 * KFD image (plugin_image_decode, with its version check), the render-node
 * record, and the fields it reads from criu's own images (plugin_criu_img.c:
 * a task's fd table and its id). EXPECT: any bytes give either a refusal
 * with a reason or a message whose fields can all be walked, never a crash
 * (ASan/UBSan in the fuzz build; the corpus replays under meson test, suite
 * fuzz).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "plugin_criu_img.h"
#include "plugin_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Vramstream__ProcessImage *img = NULL;
	Vramstream__RenderFile *rf;
	char why[256];
	volatile uint64_t sink = 0;

	if (!plugin_image_decode(data, size, &img, why, sizeof(why))) {
		/* What restore walks: devices with properties, BOs with refs. */
		for (size_t i = 0; i < img->n_devices; i++) {
			sink += img->devices[i]->gpu_id;
			for (size_t p = 0; p < img->devices[i]->n_properties; p++)
				sink += strlen(img->devices[i]->properties[p]->name) +
					img->devices[i]->properties[p]->value;
		}
		for (size_t i = 0; i < img->n_bos; i++) {
			sink += img->bos[i]->size + img->bos[i]->addr;
			if (img->bos[i]->contents)
				sink += strlen(img->bos[i]->contents->stream_file) +
					img->bos[i]->contents->parts;
		}
		sink += img->priv_data.len;
		plugin_image_free(img);
	} else if (!why[0]) {
		fprintf(stderr, "refusal without a reason\n");
		__builtin_trap();
	}
	rf = vramstream__render_file__unpack(NULL, size, data);
	if (rf) {
		sink += rf->gpu_id + rf->render_minor;
		vramstream__render_file__free_unpacked(rf, NULL);
	}
	{
		uint32_t files_id;
		int max_fd;

		if (!criu_img_files_id(data, size, &files_id))
			sink += files_id;
		if (!criu_img_fdinfo_max_fd(data, size, &max_fd))
			sink += (uint64_t)max_fd;
	}
	(void)sink;
	return 0;
}
