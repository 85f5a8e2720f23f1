// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the plugin's image metadata parsers: the per-process
 * KFD image (image_meta_decode, with its version check), the render-node
 * record, and the fields it reads from criu's own images (plugin_criu_img.c:
 * a task's fd table and its id). EXPECT: any bytes give either a refusal
 * with a reason or a message whose fields can all be walked, never a crash
 * (ASan/UBSan in the fuzz build; the corpus replays under meson test, suite
 * fuzz).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "image.h"
#include "plugin_criu_img.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Vramstream__ProcessImage *img = NULL;
	Vramstream__RenderFile *rf;
	char why[256];
	volatile uint64_t sink = 0;

	if (!image_meta_decode(data, size, &img, why, sizeof(why))) {
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
		image_meta_free(img);
	} else if (!why[0]) {
		fprintf(stderr, "refusal without a reason\n");
		__builtin_trap();
	}
	if (!image_render_decode(data, size, &rf, why, sizeof(why))) {
		sink += rf->gpu_id + rf->render_minor;
		image_render_free(rf);
	}
	{
		uint32_t files_id;
		unsigned int n_vmas;
		int max_fd;

		if (!criu_img_files_id(data, size, &files_id))
			sink += files_id;
		if (!criu_img_fdinfo_max_fd(data, size, &max_fd))
			sink += (uint64_t)max_fd;
		if (!criu_img_mm_plugin_vmas(data, size, &n_vmas))
			sink += n_vmas;
	}
	(void)sink;
	return 0;
}
