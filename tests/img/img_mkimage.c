// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test helper: writes a vramstream image folder the way the plugin lays it
 * out (metadata vramstream-kfd-4242-1.img, one stream file per GPU), with
 * data that looks like a model's VRAM: zero regions, bf16-like weights and
 * incompressible noise, repeating every 4 MiB. With --check it reads an
 * image back and compares every byte with what it would write.
 *
 *   img_mkimage DIR [--gpus G] [--bos B] [--mib M] [--level L] [--filter F] [--chunk S] [--seed N]
 *               [--fine]
 *   img_mkimage --check DIR [same options]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kfd_ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress.h"
#include "image.h"

#define PID 4242
#define ID  1

struct gen {
	unsigned int gpus, bos;
	uint64_t bo_bytes;
	int level;
	enum compress_filter filter;
	uint32_t chunk;
	uint64_t seed;
	bool fine; /* --fine: the mix repeats every 256 KiB, so any sample holds it */
};

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The byte pair at object offset 2k (offsets are even here). */
static uint16_t gen_pair(const struct gen *g, uint64_t tag, uint64_t off)
{
	/* 512 KiB regions, 4 MiB period; with --fine 64 KiB regions, 256 KiB period */
	static const unsigned int fine_region[4] = { 0, 2, 2, 5 }; /* zero, bf16, bf16, noise */
	unsigned int region =
		g->fine ? fine_region[(off >> 16) & 3] : (unsigned int)((off >> 19) & 7);
	uint64_t h = splitmix(g->seed ^ (tag << 48) ^ (off >> 1));
	float f;
	uint32_t bits;

	if (region < 2)
		return 0; /* the first MiB of each period is zero */
	if (region == 5)
		return (uint16_t)h; /* noise */
	/* bf16 of a roughly normal weight, sigma about 0.02 */
	f = ((float)(h & 0xffff) + (float)((h >> 16) & 0xffff) + (float)((h >> 32) & 0xffff) +
	     (float)((h >> 48) & 0xffff) - 131070.0f) /
	    65535.0f * 0.035f;
	memcpy(&bits, &f, 4);
	return (uint16_t)(bits >> 16);
}

static void gen_fill(const struct gen *g, uint64_t tag, uint64_t off, uint8_t *buf, uint64_t len)
{
	for (uint64_t i = 0; i < len; i += 2) {
		uint16_t v = gen_pair(g, tag, off + i);

		buf[i] = (uint8_t)v;
		if (i + 1 < len)
			buf[i + 1] = (uint8_t)(v >> 8);
	}
}

/* BO layout per GPU: BOS VRAM BOs of bo_bytes (the last 12 KiB shorter), a 1 MiB GTT BO, a
 * 64 KiB userptr BO (criu's pages, no contents here). Tags are BO indexes. */
static unsigned int bos_per_gpu(const struct gen *g)
{
	return g->bos + 2;
}

static uint64_t bo_size(const struct gen *g, unsigned int k)
{
	if (k < g->bos)
		return k + 1 == g->bos ? g->bo_bytes - 12288 : g->bo_bytes;
	return k == g->bos ? 1u << 20 : 64u << 10;
}

static uint32_t bo_flags(const struct gen *g, unsigned int k)
{
	if (k < g->bos)
		return KFD_IOC_ALLOC_MEM_FLAGS_VRAM;
	return k == g->bos ? KFD_IOC_ALLOC_MEM_FLAGS_GTT : KFD_IOC_ALLOC_MEM_FLAGS_USERPTR;
}

static void free_done(void *cookie, int status)
{
	(void)status;
	free(cookie);
}

static int make(const struct gen *g, const char *dir)
{
	unsigned int nb = g->gpus * bos_per_gpu(g);
	Vramstream__ProcessImage img = VRAMSTREAM__PROCESS_IMAGE__INIT;
	Vramstream__DeviceEntry dev[8], *devp[8];
	Vramstream__TopologyProperty props[8][3], *propp[8][3];
	Vramstream__BoEntry *bo = calloc(nb, sizeof(*bo)), **bop = calloc(nb, sizeof(*bop));
	Vramstream__ContentRef *ref = calloc(nb, sizeof(*ref));
	char names[8][64], name[64], path[4096];
	static const char *const pn[3] = { "simd_count", "simd_per_cu", "gfx_target_version" };
	static const uint64_t pv[3] = { 208, 2, 90400 };
	uint8_t *meta;
	size_t meta_len;
	int fd, r;

	if (!bo || !bop || !ref || g->gpus > 8)
		return -ENOMEM;
	mkdir(dir, 0700);
	for (unsigned int d = 0; d < g->gpus; d++) {
		struct compress_writer_opts o;
		struct compress_writer *w;
		struct compress_stats st;
		struct compress_err err;

		vramstream__device_entry__init(&dev[d]);
		dev[d].gpu_id = 0x1000 + d;
		dev[d].node_id = d + 1;
		dev[d].has_render_minor = 1;
		dev[d].render_minor = 128 + d;
		dev[d].has_vram_size = 1;
		dev[d].vram_size = 1ull << 30;
		for (int p = 0; p < 3; p++) {
			vramstream__topology_property__init(&props[d][p]);
			props[d][p].name = (char *)pn[p];
			props[d][p].value = pv[p];
			propp[d][p] = &props[d][p];
		}
		dev[d].n_properties = 3;
		dev[d].properties = propp[d];
		devp[d] = &dev[d];
		image_stream_name(PID, ID, d, names[d], sizeof(names[d]));

		compress_writer_opts_default(&o);
		o.level = g->level;
		o.filter = g->filter;
		o.chunk_size = g->chunk;
		o.direct_io = false;
		snprintf(path, sizeof(path), "%s/%s", dir, names[d]);
		r = compress_writer_new(path, &o, &w, &err);
		for (unsigned int k = 0; k < bos_per_gpu(g) && !r; k++) {
			unsigned int i = d * bos_per_gpu(g) + k;
			uint64_t size = bo_size(g, k);
			uint8_t *buf;

			vramstream__bo_entry__init(&bo[i]);
			bo[i].addr = 0x7f0000000000ull + (uint64_t)i * (1ull << 32);
			bo[i].size = size;
			bo[i].gpu_id = dev[d].gpu_id;
			bo[i].alloc_flags = bo_flags(g, k);
			bop[i] = &bo[i];
			if (bo[i].alloc_flags == KFD_IOC_ALLOC_MEM_FLAGS_USERPTR)
				continue;
			vramstream__content_ref__init(&ref[i]);
			ref[i].stream_file = names[d];
			ref[i].tag = i;
			bo[i].contents = &ref[i];
			buf = malloc(size);
			if (!buf) {
				r = -ENOMEM;
				break;
			}
			gen_fill(g, i, 0, buf, size);
			r = compress_writer_push(w, buf, size, i, 0, free_done, buf);
		}
		if (!r)
			r = compress_writer_finish(w, &st, &err);
		compress_writer_free(w);
		if (r) {
			fprintf(stderr, "img_mkimage: %s: %s\n", path, err.msg);
			return r;
		}
	}
	img.pid = PID;
	img.n_devices = g->gpus;
	img.devices = devp;
	img.n_bos = nb;
	img.bos = bop;
	img.has_num_objects = 1;
	img.num_objects = 3;
	img.has_priv_data = 1;
	img.priv_data.len = 5;
	img.priv_data.data = (uint8_t *)"hello";
	r = image_meta_encode(&img, &meta, &meta_len);
	if (r)
		return r;
	image_kfd_name(PID, ID, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, meta, meta_len) != (ssize_t)meta_len || close(fd))
		r = -EIO;
	free(meta);
	free(bo);
	free(bop);
	free(ref);
	return r;
}

static int check(const struct gen *g, const char *dir)
{
	uint64_t bytes = 0;

	for (unsigned int d = 0; d < g->gpus; d++) {
		struct compress_reader *r;
		struct compress_err err;
		char name[64], path[4096];
		uint8_t *buf, *want;
		uint64_t *covered = calloc(bos_per_gpu(g) * g->gpus, sizeof(*covered));

		image_stream_name(PID, ID, d, name, sizeof(name));
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (compress_reader_open(path, NULL, &r, &err)) {
			fprintf(stderr, "check: %s\n", err.msg);
			return 1;
		}
		buf = malloc(compress_reader_chunk_size(r));
		want = malloc(compress_reader_chunk_size(r));
		for (uint64_t c = 0; c < compress_reader_chunk_count(r); c++) {
			struct compress_chunk_info ci;

			compress_reader_chunk(r, c, &ci);
			if (compress_reader_read_sync(r, c, buf, compress_reader_chunk_size(r),
						      &err)) {
				fprintf(stderr, "check: %s\n", err.msg);
				return 1;
			}
			gen_fill(g, ci.tag, ci.offset, want, ci.raw_len);
			if (memcmp(buf, want, ci.raw_len)) {
				fprintf(stderr,
					"check: %s chunk %" PRIu64 " (tag %" PRIu64
					", offset %" PRIu64
					"): bytes differ from the generated data\n",
					path, c, ci.tag, ci.offset);
				return 1;
			}
			covered[ci.tag] += ci.raw_len;
			bytes += ci.raw_len;
		}
		for (unsigned int k = 0; k < bos_per_gpu(g); k++) {
			unsigned int i = d * bos_per_gpu(g) + k;
			uint64_t want_len = bo_flags(g, k) == KFD_IOC_ALLOC_MEM_FLAGS_USERPTR
						    ? 0
						    : bo_size(g, k);

			if (covered[i] != want_len) {
				fprintf(stderr,
					"check: %s holds %" PRIu64 " bytes of BO %u, want %" PRIu64
					"\n",
					path, covered[i], i, want_len);
				return 1;
			}
		}
		free(covered);
		free(buf);
		free(want);
		compress_reader_free(r);
	}
	printf("check ok: %" PRIu64 " bytes equal the generated data\n", bytes);
	return 0;
}

int main(int argc, char **argv)
{
	struct gen g = { 2, 2, 8u << 20, 1, COMPRESS_FILTER_NONE, 1u << 20, 1 };
	const char *dir = NULL;
	bool do_check = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";

		if (!strcmp(a, "--check")) {
			do_check = true;
			continue;
		}
		if (!strcmp(a, "--fine")) {
			g.fine = true;
			continue;
		}
		if (a[0] != '-') {
			dir = a;
			continue;
		}
		i++;
		if (!strcmp(a, "--gpus"))
			g.gpus = (unsigned int)atoi(v);
		else if (!strcmp(a, "--bos"))
			g.bos = (unsigned int)atoi(v);
		else if (!strcmp(a, "--mib"))
			g.bo_bytes = (uint64_t)atoi(v) << 20;
		else if (!strcmp(a, "--level") && !compress_level_parse(v, &g.level))
			;
		else if (!strcmp(a, "--filter") && !compress_filter_parse(v, &g.filter))
			;
		else if (!strcmp(a, "--chunk"))
			g.chunk = (uint32_t)atoi(v) << 10;
		else if (!strcmp(a, "--seed"))
			g.seed = strtoull(v, NULL, 0);
		else
			dir = NULL, i = argc;
	}
	if (!dir || !g.gpus || g.gpus > 8 || !g.bos || g.bo_bytes < (64u << 10)) {
		fprintf(stderr, "usage: img_mkimage [--check] DIR [--gpus G] [--bos B] [--mib M] "
				"[--level L] [--filter F] [--chunk KIB] [--seed N] [--fine]\n");
		return 2;
	}
	if (do_check)
		return check(&g, dir);
	return make(&g, dir) ? 1 : 0;
}
