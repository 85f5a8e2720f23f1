// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `info DIR`: what vramstream saved in a CRIU image folder, per process and
 * GPU: device properties, BOs and bytes by kind, stored bytes, codec mix,
 * ratio, format version and the settings the streams were written with.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "img.h"
#include "img_runtime.h"
#include "plugin_kfd.h"

/* The kinds kfd_bo_kind() names, in a fixed order for tables. */
static const char *const info_kinds[] = { "VRAM", "GTT", "USERPTR", "DOORBELL", "MMIO", "?" };
#define INFO_KINDS (sizeof(info_kinds) / sizeof(info_kinds[0]))

struct info_kind_sum {
	uint64_t bos, bytes, stored, saved_bytes; /* saved_bytes: BOs whose contents we hold */
};

static unsigned int kind_index(uint32_t flags)
{
	const char *k = kfd_bo_kind(flags);

	for (unsigned int i = 0; i < INFO_KINDS; i++)
		if (!strcmp(k, info_kinds[i]))
			return i;
	return INFO_KINDS - 1;
}

static uint64_t prop(const Vramstream__DeviceEntry *e, const char *name, bool *found)
{
	for (size_t i = 0; i < e->n_properties; i++)
		if (!strcmp(e->properties[i]->name, name)) {
			*found = true;
			return e->properties[i]->value;
		}
	*found = false;
	return 0;
}

/* Stored bytes of the chunks that hold BO B of process P, over all parts (0 when none). */
static uint64_t bo_stored(const struct img_dir *d, unsigned int p, unsigned int b)
{
	const Vramstream__BoEntry *e = d->procs[p].img->bos[b];
	int si;

	if (!e->contents || (si = img_dir_stream(d, e->contents->stream_file)) < 0)
		return 0;
	return img_group_stored(d, si, e->contents->tag);
}

static double ratio(uint64_t raw, uint64_t stored)
{
	return stored ? (double)raw / (double)stored : (raw ? INFINITY : 1.0);
}

static const char *fmt_ratio(char *buf, size_t len, double r)
{
	if (isinf(r))
		snprintf(buf, len, "all zero");
	else
		snprintf(buf, len, "%.2f", r);
	return buf;
}

static void kind_sums(const struct img_dir *d, unsigned int p, uint32_t gpu_id,
		      struct info_kind_sum *k)
{
	const Vramstream__ProcessImage *img = d->procs[p].img;

	memset(k, 0, sizeof(*k) * INFO_KINDS);
	for (size_t b = 0; b < img->n_bos; b++) {
		const Vramstream__BoEntry *e = img->bos[b];
		struct info_kind_sum *s;

		if (e->gpu_id != gpu_id)
			continue;
		s = &k[kind_index(e->alloc_flags)];
		s->bos++;
		s->bytes += e->size;
		if (e->contents) {
			s->saved_bytes += e->size;
			s->stored += bo_stored(d, p, (unsigned int)b);
		}
	}
}

static void info_json_chunks(struct img_json *j, const struct img_stream *s)
{
	img_json_arr_begin(j, "chunks");
	for (uint64_t c = 0; c < s->chunk_count; c++) {
		struct compress_chunk_info ci;
		const struct img_bo_ref *ref;
		char hash[40];

		compress_reader_chunk(s->reader, c, &ci);
		ref = img_stream_bo(s, ci.tag);
		img_json_obj_begin(j, NULL);
		img_json_u64(j, "index", c);
		img_json_u64(j, "tag", ci.tag);
		if (ref)
			img_json_u64(j, "bo", ref->bo);
		else
			img_json_null(j, "bo");
		img_json_u64(j, "offset", ci.offset);
		img_json_u64(j, "raw_len", ci.raw_len);
		img_json_u64(j, "stored_len", ci.stored_len);
		img_json_u64(j, "file_offset", ci.file_offset);
		img_json_str(j, "codec", compress_codec_name(ci.codec));
		img_json_str(j, "filter", compress_filter_name(ci.filter));
		snprintf(hash, sizeof(hash), "%016llx%016llx", (unsigned long long)ci.hash.hi,
			 (unsigned long long)ci.hash.lo);
		img_json_str(j, "hash", hash);
		if (ci.codec == COMPRESS_CODEC_REF) {
			img_json_u64(j, "source", ci.source);
			img_json_u64(j, "source_tag", ci.src_tag);
			img_json_u64(j, "source_offset", ci.src_offset);
		}
		img_json_obj_end(j);
	}
	img_json_arr_end(j);
}

static void info_human_chunks(const struct img_stream *s)
{
	struct img_table t;

	printf("\n%s chunks:\n", s->name);
	img_table_init(&t, "rrrrrrrll", "CHUNK", "BO", "TAG", "OFFSET", "RAW", "STORED",
		       "FILE OFFSET", "CODEC", "FILTER");
	for (uint64_t c = 0; c < s->chunk_count; c++) {
		struct compress_chunk_info ci;
		const struct img_bo_ref *ref;

		compress_reader_chunk(s->reader, c, &ci);
		ref = img_stream_bo(s, ci.tag);
		img_table_cell(&t, "%" PRIu64, c);
		if (ref)
			img_table_cell(&t, "%u", ref->bo);
		else
			img_table_cell(&t, "-");
		img_table_cell(&t, "%" PRIu64, ci.tag);
		img_table_cell(&t, "%" PRIu64, ci.offset);
		img_table_cell(&t, "%u", ci.raw_len);
		img_table_cell(&t, "%u", ci.stored_len);
		img_table_cell(&t, "%" PRIu64, ci.file_offset);
		img_table_cell(&t, "%s", compress_codec_name(ci.codec));
		img_table_cell(&t, "%s", compress_filter_name(ci.filter));
	}
	img_table_print(&t, stdout, 2);
	img_table_free(&t);
}

static void info_json(const struct img_dir *d, bool chunks)
{
	struct img_json j;
	char lv[16];

	img_json_init(&j, stdout);
	img_json_obj_begin(&j, NULL);
	img_json_str(&j, "image_dir", d->path);
	img_json_arr_begin(&j, "processes");
	for (unsigned int p = 0; p < d->n_procs; p++) {
		const struct img_process *pr = &d->procs[p];
		const Vramstream__ProcessImage *img = pr->img;

		img_json_obj_begin(&j, NULL);
		img_json_str(&j, "file", pr->name);
		img_json_u64(&j, "pid", pr->pid);
		img_json_i64(&j, "id", pr->id);
		if (!img) {
			img_json_str(&j, "error", pr->why);
			img_json_obj_end(&j);
			continue;
		}
		img_json_u64(&j, "format_version", img->format_version);
		if (img->parent) {
			char chain[2048];

			img_chain_describe(d, pr, chain, sizeof(chain));
			img_json_str(&j, "parent", img->parent);
			img_json_str(&j, "chain", chain);
		} else {
			img_json_null(&j, "parent");
		}
		img_json_u64(&j, "num_objects", img->num_objects);
		img_json_u64(&j, "priv_data_bytes", img->has_priv_data ? img->priv_data.len : 0);
		if (img->settings) {
			img_json_obj_begin(&j, "settings");
			if (img->settings->has_zstd_level)
				img_json_i64(&j, "zstd_level", img->settings->zstd_level);
			if (img->settings->has_filter)
				img_json_u64(&j, "filter", img->settings->filter);
			if (img->settings->has_chunk_size)
				img_json_u64(&j, "chunk_size", img->settings->chunk_size);
			if (img->settings->has_workers)
				img_json_u64(&j, "workers", img->settings->workers);
			img_json_obj_end(&j);
		} else {
			img_json_null(&j, "settings");
		}
		img_json_arr_begin(&j, "gpus");
		for (size_t g = 0; g < img->n_devices; g++) {
			const Vramstream__DeviceEntry *e = img->devices[g];
			struct info_kind_sum k[INFO_KINDS];

			img_json_obj_begin(&j, NULL);
			img_json_u64(&j, "gpu_id", e->gpu_id);
			img_json_u64(&j, "node_id", e->node_id);
			if (e->has_render_minor)
				img_json_u64(&j, "render_minor", e->render_minor);
			if (e->has_vram_size)
				img_json_u64(&j, "vram_size", e->vram_size);
			if (e->has_fw_version)
				img_json_u64(&j, "fw_version", e->fw_version);
			if (e->has_sdma_fw_version)
				img_json_u64(&j, "sdma_fw_version", e->sdma_fw_version);
			if (e->has_cpu_node)
				img_json_i64(&j, "cpu_node", e->cpu_node);
			img_json_obj_begin(&j, "properties");
			for (size_t i = 0; i < e->n_properties; i++)
				img_json_u64(&j, e->properties[i]->name, e->properties[i]->value);
			img_json_obj_end(&j);
			kind_sums(d, p, e->gpu_id, k);
			img_json_obj_begin(&j, "bos_by_kind");
			for (unsigned int i = 0; i < INFO_KINDS; i++) {
				if (!k[i].bos)
					continue;
				img_json_obj_begin(&j, info_kinds[i]);
				img_json_u64(&j, "count", k[i].bos);
				img_json_u64(&j, "bytes", k[i].bytes);
				img_json_u64(&j, "saved_bytes", k[i].saved_bytes);
				img_json_u64(&j, "stored_bytes", k[i].stored);
				img_json_obj_end(&j);
			}
			img_json_obj_end(&j);
			img_json_obj_end(&j);
		}
		img_json_arr_end(&j);
		img_json_arr_begin(&j, "bos");
		for (size_t b = 0; b < img->n_bos; b++) {
			const Vramstream__BoEntry *e = img->bos[b];

			img_json_obj_begin(&j, NULL);
			img_json_u64(&j, "index", b);
			img_json_u64(&j, "gpu_id", e->gpu_id);
			img_json_str(&j, "kind", kfd_bo_kind(e->alloc_flags));
			img_json_u64(&j, "addr", e->addr);
			img_json_u64(&j, "size", e->size);
			img_json_u64(&j, "alloc_flags", e->alloc_flags);
			if (e->contents) {
				img_json_str(&j, "stream_file", e->contents->stream_file);
				img_json_u64(&j, "tag", e->contents->tag);
				img_json_u64(&j, "stored_bytes", bo_stored(d, p, (unsigned int)b));
			}
			img_json_obj_end(&j);
		}
		img_json_arr_end(&j);
		img_json_obj_end(&j);
	}
	img_json_arr_end(&j);
	img_json_arr_begin(&j, "streams");
	for (unsigned int i = 0; i < d->n_streams; i++) {
		const struct img_stream *s = &d->streams[i];

		img_json_obj_begin(&j, NULL);
		img_json_str(&j, "file", s->name);
		if (s->error) {
			img_json_str(&j, "error", s->why);
			img_json_obj_end(&j);
			continue;
		}
		img_json_u64(&j, "chunk_count", s->chunk_count);
		img_json_u64(&j, "chunks_zero", s->chunks[COMPRESS_CODEC_ZERO]);
		img_json_u64(&j, "chunks_raw", s->chunks[COMPRESS_CODEC_RAW]);
		img_json_u64(&j, "chunks_zstd", s->chunks[COMPRESS_CODEC_ZSTD]);
		img_json_u64(&j, "chunks_planes", s->chunks[COMPRESS_CODEC_PLANES]);
		img_json_u64(&j, "chunks_ref", s->chunks[COMPRESS_CODEC_REF]);
		img_json_u64(&j, "ref_here_bytes", s->ref_here_bytes);
		img_json_u64(&j, "ref_parent_bytes", s->ref_parent_bytes);
		if (s->ref_error)
			img_json_str(&j, "references_error", s->ref_why);
		img_json_u64(&j, "part", s->part);
		img_json_u64(&j, "parts", s->parts);
		img_json_u64(&j, "chunks_filtered", s->chunks_filtered);
		img_json_u64(&j, "raw_bytes", s->raw_bytes);
		img_json_u64(&j, "stored_bytes", s->stored_bytes);
		img_json_u64(&j, "file_bytes", s->file_bytes);
		img_json_double(&j, "ratio", ratio(s->raw_bytes, s->stored_bytes));
		img_json_str(&j, "level", img_fmt_level(lv, sizeof(lv), s->level));
		img_json_str(&j, "filter", compress_filter_name(s->filter));
		img_json_u64(&j, "chunk_size", s->chunk_size);
		img_json_u64(&j, "bos", s->n_bos);
		if (chunks)
			info_json_chunks(&j, s);
		img_json_obj_end(&j);
	}
	img_json_arr_end(&j);
	img_json_arr_begin(&j, "render_files");
	for (unsigned int i = 0; i < d->n_renders; i++) {
		const struct img_render *r = &d->renders[i];

		img_json_obj_begin(&j, NULL);
		img_json_str(&j, "file", r->name);
		if (r->rf) {
			uint64_t bos, bytes, stored, in_meta;

			img_render_sums(d, i, &bos, &bytes, &stored, &in_meta);
			img_json_u64(&j, "gpu_id", r->rf->gpu_id);
			img_json_u64(&j, "render_minor", r->rf->render_minor);
			img_json_u64(&j, "gem_bos", bos);
			img_json_u64(&j, "gem_bytes", bytes);
			img_json_u64(&j, "stored", stored);
			img_json_u64(&j, "bos_in_metadata", in_meta);
		} else {
			img_json_str(&j, "error", r->why);
		}
		img_json_obj_end(&j);
	}
	img_json_arr_end(&j);
	img_json_arr_begin(&j, "leftover_files");
	for (unsigned int i = 0; i < d->n_leftovers; i++)
		img_json_str(&j, NULL, d->leftovers[i]);
	img_json_arr_end(&j);
	img_json_obj_end(&j);
}

static void info_gpus(const Vramstream__ProcessImage *img, bool all_props)
{
	struct img_table t;
	char b[32];

	img_table_init(&t, "rrlrrrrrrr", "GPU", "NODE", "RENDER", "DEVICE", "GFX", "CUS", "VRAM",
		       "FW", "SDMA FW", "CPU NODE");
	for (size_t g = 0; g < img->n_devices; g++) {
		const Vramstream__DeviceEntry *e = img->devices[g];
		bool f1, f2;
		uint64_t v, w;

		img_table_cell(&t, "0x%x", e->gpu_id);
		img_table_cell(&t, "%u", e->node_id);
		if (e->has_render_minor)
			img_table_cell(&t, "renderD%u", e->render_minor);
		else
			img_table_cell(&t, "-");
		v = prop(e, "device_id", &f1);
		img_table_cell(&t, f1 ? "0x%" PRIx64 : "-", v);
		v = prop(e, "gfx_target_version", &f1);
		img_table_cell(&t, f1 ? "%" PRIu64 : "-", v);
		v = prop(e, "simd_count", &f1);
		w = prop(e, "simd_per_cu", &f2);
		img_table_cell(&t, f1 && f2 && w ? "%" PRIu64 : "-", f2 && w ? v / w : 0);
		img_table_cell(&t, "%s",
			       e->has_vram_size ? img_fmt_bytes(b, sizeof(b), e->vram_size) : "-");
		img_table_cell(&t, e->has_fw_version ? "%u" : "-", e->fw_version);
		img_table_cell(&t, e->has_sdma_fw_version ? "%u" : "-", e->sdma_fw_version);
		img_table_cell(&t, e->has_cpu_node ? "%d" : "-", e->cpu_node);
	}
	img_table_print(&t, stdout, 4);
	img_table_free(&t);
	if (!all_props)
		return;
	for (size_t g = 0; g < img->n_devices; g++) {
		const Vramstream__DeviceEntry *e = img->devices[g];

		printf("    GPU 0x%x properties:\n", e->gpu_id);
		for (size_t i = 0; i < e->n_properties; i++)
			printf("      %-28s %" PRIu64 "\n", e->properties[i]->name,
			       e->properties[i]->value);
	}
}

static void info_bos(const struct img_dir *d, unsigned int p)
{
	const Vramstream__ProcessImage *img = d->procs[p].img;
	struct info_kind_sum k[INFO_KINDS], tot = { 0 };
	struct img_table t;
	char b1[32], b2[32], r[32];

	img_table_init(&t, "rlrrrr", "GPU", "KIND", "BOS", "BYTES", "STORED", "RATIO");
	for (size_t g = 0; g < img->n_devices; g++) {
		kind_sums(d, p, img->devices[g]->gpu_id, k);
		for (unsigned int i = 0; i < INFO_KINDS; i++) {
			if (!k[i].bos)
				continue;
			img_table_cell(&t, "0x%x", img->devices[g]->gpu_id);
			img_table_cell(&t, "%s", info_kinds[i]);
			img_table_cell(&t, "%" PRIu64, k[i].bos);
			img_table_cell(&t, "%s", img_fmt_bytes(b1, sizeof(b1), k[i].bytes));
			if (k[i].saved_bytes) {
				img_table_cell(&t, "%s",
					       img_fmt_bytes(b2, sizeof(b2), k[i].stored));
				img_table_cell(&t, "%s",
					       fmt_ratio(r, sizeof(r),
							 ratio(k[i].saved_bytes, k[i].stored)));
			} else {
				img_table_cell(&t, "%s", i == 2 ? "(criu pages)" : "(no contents)");
				img_table_cell(&t, "-");
			}
			tot.bos += k[i].bos;
			tot.bytes += k[i].bytes;
			tot.saved_bytes += k[i].saved_bytes;
			tot.stored += k[i].stored;
		}
	}
	img_table_cell(&t, "all");
	img_table_cell(&t, "%s", "");
	img_table_cell(&t, "%" PRIu64, tot.bos);
	img_table_cell(&t, "%s", img_fmt_bytes(b1, sizeof(b1), tot.bytes));
	img_table_cell(&t, "%s", img_fmt_bytes(b2, sizeof(b2), tot.stored));
	img_table_cell(&t, "%s", fmt_ratio(r, sizeof(r), ratio(tot.saved_bytes, tot.stored)));
	img_table_print(&t, stdout, 4);
	img_table_free(&t);
}

/*
 * Where the process's bytes are: stored in this image, stored once for
 * several places in it (dedup), or referred to in parent images.
 */
static void info_chain(const struct img_dir *d, unsigned int p)
{
	const struct img_process *pr = &d->procs[p];
	uint64_t raw = 0, stored = 0, here = 0, parents = 0;
	char chain[2048], b1[32], b2[32], b3[32], b4[32];

	for (unsigned int i = 0; i < d->n_streams; i++) {
		const struct img_stream *s = &d->streams[i];

		if (s->error || !s->n_bos || s->bos[0].gem || s->bos[0].proc != p)
			continue;
		raw += s->raw_bytes;
		stored += s->stored_bytes;
		here += s->ref_here_bytes;
		parents += s->ref_parent_bytes;
	}
	img_chain_describe(d, pr, chain, sizeof(chain));
	if (chain[0])
		printf("  incremental: parent chain %s\n", chain);
	if (here || parents)
		printf("  of %s of BO contents: %s stored here, %s referred to in parent images, "
		       "%s stored once for several places in this image (dedup)\n",
		       img_fmt_bytes(b1, sizeof(b1), raw), img_fmt_bytes(b2, sizeof(b2), stored),
		       img_fmt_bytes(b3, sizeof(b3), parents), img_fmt_bytes(b4, sizeof(b4), here));
}

/* A render-node file and its GEM BOs: what they hold, what their stream stores. */
static void info_render(const struct img_dir *d, unsigned int i)
{
	const struct img_render *rd = &d->renders[i];
	uint64_t bos, bytes, stored, in_meta;
	char b1[32], b2[32], r[32];
	struct img_table t;

	if (!rd->rf) {
		printf("  unreadable: %s\n", rd->why);
		return;
	}
	printf("  %s: GPU 0x%x, renderD%u\n", rd->name, rd->rf->gpu_id, rd->rf->render_minor);
	img_render_sums(d, i, &bos, &bytes, &stored, &in_meta);
	if (!bos)
		return;
	img_table_init(&t, "rlrrrr", "GPU", "KIND", "BOS", "BYTES", "STORED", "RATIO");
	img_table_cell(&t, "0x%x", rd->rf->gpu_id);
	img_table_cell(&t, "GEM");
	img_table_cell(&t, "%" PRIu64, bos);
	img_table_cell(&t, "%s", img_fmt_bytes(b1, sizeof(b1), bytes));
	img_table_cell(&t, "%s", img_fmt_bytes(b2, sizeof(b2), stored));
	img_table_cell(&t, "%s", fmt_ratio(r, sizeof(r), ratio(bytes, stored)));
	img_table_print(&t, stdout, 4);
	img_table_free(&t);
	if (in_meta)
		printf("    %" PRIu64 " of them held in the metadata (not exportable, or an older "
		       "image)\n",
		       in_meta);
}

static void info_human(const struct img_dir *d, bool all_props, bool chunks)
{
	struct img_table t;
	char b1[32], b2[32], b3[32], b4[32], r[32], lv[16];

	printf("image folder %s\n", d->path);
	if (!d->n_procs)
		printf("no vramstream metadata (vramstream-kfd-*.img) in this folder\n");
	for (unsigned int p = 0; p < d->n_procs; p++) {
		const struct img_process *pr = &d->procs[p];
		const Vramstream__ProcessImage *img = pr->img;

		printf("\nprocess %u (%s)\n", pr->pid, pr->name);
		if (!img) {
			printf("  unreadable: %s\n", pr->why);
			continue;
		}
		printf("  format version %u, %zu GPU(s), %zu BO(s), %u other KFD object(s), "
		       "%s private data\n",
		       img->format_version, img->n_devices, img->n_bos, img->num_objects,
		       img_fmt_bytes(b1, sizeof(b1), img->has_priv_data ? img->priv_data.len : 0));
		if (img->settings)
			printf("  dump settings: level %s, filter %s, chunk %s, %u worker(s)\n",
			       img->settings->has_zstd_level
				       ? img_fmt_level(lv, sizeof(lv), img->settings->zstd_level)
				       : "?",
			       img->settings->has_filter
				       ? compress_filter_name(img->settings->filter)
				       : "?",
			       img_fmt_bytes(b2, sizeof(b2), img->settings->chunk_size),
			       img->settings->workers);
		else
			printf("  dump settings: not recorded in the metadata (see the streams' "
			       "headers below)\n");
		info_chain(d, p);
		printf("  GPUs:\n");
		info_gpus(img, all_props);
		printf("  BOs:\n");
		info_bos(d, p);
	}

	printf("\nstreams:\n");
	img_table_init(&t, "lrrrrrrrrrrrlr", "FILE", "CHUNKS", "ZERO", "RAW", "ZSTD", "PLANES",
		       "REF", "RAW BYTES", "STORED", "FILE BYTES", "RATIO", "LEVEL", "FILTER",
		       "CHUNK");
	for (unsigned int i = 0; i < d->n_streams; i++) {
		const struct img_stream *s = &d->streams[i];

		if (s->error)
			continue;
		img_table_cell(&t, "%s", s->name);
		img_table_cell(&t, "%" PRIu64, s->chunk_count);
		img_table_cell(&t, "%" PRIu64, s->chunks[COMPRESS_CODEC_ZERO]);
		img_table_cell(&t, "%" PRIu64, s->chunks[COMPRESS_CODEC_RAW]);
		img_table_cell(&t, "%" PRIu64, s->chunks[COMPRESS_CODEC_ZSTD]);
		img_table_cell(&t, "%" PRIu64, s->chunks[COMPRESS_CODEC_PLANES]);
		img_table_cell(&t, "%" PRIu64, s->chunks[COMPRESS_CODEC_REF]);
		img_table_cell(&t, "%s", img_fmt_bytes(b1, sizeof(b1), s->raw_bytes));
		img_table_cell(&t, "%s", img_fmt_bytes(b2, sizeof(b2), s->stored_bytes));
		img_table_cell(&t, "%s", img_fmt_bytes(b3, sizeof(b3), s->file_bytes));
		img_table_cell(&t, "%s",
			       fmt_ratio(r, sizeof(r), ratio(s->raw_bytes, s->stored_bytes)));
		img_table_cell(&t, "%s", img_fmt_level(lv, sizeof(lv), s->level));
		img_table_cell(&t, "%s", compress_filter_name(s->filter));
		img_table_cell(&t, "%s", img_fmt_bytes(b4, sizeof(b4), s->chunk_size));
	}
	img_table_print(&t, stdout, 2);
	img_table_free(&t);
	for (unsigned int i = 0; i < d->n_streams; i++)
		if (d->streams[i].error)
			printf("  unreadable: %s\n", d->streams[i].why);
		else if (d->streams[i].ref_error)
			printf("  cannot be restored: %s\n", d->streams[i].ref_why);

	for (unsigned int i = 0; chunks && i < d->n_streams; i++)
		if (!d->streams[i].error)
			info_human_chunks(&d->streams[i]);
	if (d->n_renders) {
		printf("\nrender-node files:\n");
		for (unsigned int i = 0; i < d->n_renders; i++)
			info_render(d, i);
	}
	if (d->n_leftovers) {
		printf("\ntemporary files of an interrupted write (not part of the image):\n");
		for (unsigned int i = 0; i < d->n_leftovers; i++)
			printf("  %s\n", d->leftovers[i]);
	}
}

static void info_usage(FILE *f)
{
	fprintf(f, "usage: vramstream-img info [--json] [--props] [--chunks] DIR\n"
		   "  what vramstream saved in the CRIU image folder DIR\n"
		   "  --props   list every topology property of every GPU\n"
		   "  --chunks  list every chunk of every stream (BO, offsets, codec)\n");
}

int img_cmd_info(const struct img_common *c, int argc, char **argv)
{
	static const struct option opts[] = { { "props", no_argument, NULL, 'p' },
					      { "chunks", no_argument, NULL, 'c' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	bool all_props = false, chunks = false;
	struct img_runtime rt;
	struct img_dir *d;
	char err[600];
	int o, bad = 0;

	while ((o = getopt_long(argc, argv, "pch", opts, NULL)) != -1) {
		if (o == 'p') {
			all_props = true;
		} else if (o == 'c') {
			chunks = true;
		} else if (o == 'h') {
			info_usage(stdout);
			return IMG_EXIT_OK;
		} else {
			info_usage(stderr);
			return IMG_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		info_usage(stderr);
		return IMG_EXIT_USAGE;
	}
	if (img_runtime_open(argv[optind], &rt, err, sizeof(err)) ||
	    img_dir_open(rt.dir, 1, &d, err, sizeof(err))) {
		fprintf(stderr, "vramstream-img info: %s\n", err);
		img_runtime_close(&rt);
		return IMG_EXIT_PROBLEM;
	}
	if (c->json)
		info_json(d, chunks);
	else
		info_human(d, all_props, chunks);
	for (unsigned int i = 0; i < d->n_procs; i++)
		bad |= d->procs[i].error != 0;
	for (unsigned int i = 0; i < d->n_streams; i++)
		bad |= d->streams[i].error != 0;
	if (!d->n_procs) {
		fprintf(stderr, "vramstream-img info: %s holds no vramstream image\n", d->path);
		bad = 1;
	}
	img_dir_free(d);
	img_runtime_close(&rt);
	return bad ? IMG_EXIT_PROBLEM : IMG_EXIT_OK;
}
