/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Writes small, valid stream files into a folder: the fuzzer's seeds (the
 * committed tests/compress/fuzz_corpus/ was made by it: v1-* by the format 1
 * writer, the others by today's). One stream per codec and filter mix, with
 * 64 KiB chunks so the files stay a few KiB, and one whose second object
 * repeats the first (ref chunks, against a content table).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "compress.h"
#include "test_compress_data.h"

static void done(void *cookie, int status)
{
}

static int seed(const char *dir, const char *name, int level, enum compress_filter f,
		const int *kinds, const uint32_t *lens, int n, bool refs)
{
	struct compress_dedup *table = NULL;
	static uint8_t data[256 << 10];
	struct compress_writer_opts o;
	struct compress_writer *w;
	struct compress_err err;
	char path[4096];
	size_t pos = 0;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	compress_writer_opts_default(&o);
	o.level = level;
	o.filter = f;
	o.workers = 1;
	o.queue_depth = 1;
	o.chunk_size = 64 << 10;
	o.prealloc_off = true;
	if (refs && compress_dedup_new(&table))
		return -1;
	o.dedup = table;
	ret = compress_writer_new(path, &o, &w, &err);
	for (int i = 0; ret == 0 && i < n; i++) {
		/* with refs, every object the same bytes */
		td_fill(kinds[i], data + pos, lens[i], refs ? 1 : (uint64_t)i + 1);
		ret = compress_writer_push(w, data + pos, lens[i], (uint64_t)i + 7,
					   (uint64_t)i << 16, done, NULL);
		pos += lens[i];
	}
	if (ret == 0)
		ret = compress_writer_finish(w, NULL, &err);
	if (ret < 0)
		fprintf(stderr, "%s: %s\n", path, err.msg);
	compress_writer_free(w);
	compress_dedup_free(table);
	return ret;
}

int main(int argc, char **argv)
{
	static const int k1[] = { TD_TEXT }, k2[] = { TD_ZERO }, k3[] = { TD_RANDOM },
			 k4[] = { TD_BF16 }, k5[] = { TD_ZERO, TD_RANDOM, TD_TEXT, TD_BF16 };
	static const uint32_t l1[] = { 20000 }, l2[] = { 65536 }, l3[] = { 333 }, l4[] = { 30001 },
			      l5[] = { 70000, 5000, 100000, 8000 };
	const char *dir = argc > 1 ? argv[1] : ".";

	static const int k6[] = { TD_RANDOM, TD_RANDOM, TD_TEXT };
	static const uint32_t l6[] = { 65536, 65536, 65536 };

	if (seed(dir, "text-zstd", 1, COMPRESS_FILTER_NONE, k1, l1, 1, false) ||
	    seed(dir, "zero", 1, COMPRESS_FILTER_NONE, k2, l2, 1, false) ||
	    seed(dir, "random-raw", 1, COMPRESS_FILTER_NONE, k3, l3, 1, false) ||
	    seed(dir, "bf16-group2", 3, COMPRESS_FILTER_BYTEGROUP2, k4, l4, 1, false) ||
	    seed(dir, "bf16-group4", -1, COMPRESS_FILTER_BYTEGROUP4, k4, l4, 1, false) ||
	    seed(dir, "mixed-tags", 1, COMPRESS_FILTER_BYTEGROUP2, k5, l5, 4, false) ||
	    seed(dir, "empty", 1, COMPRESS_FILTER_NONE, k1, l1, 0, false) ||
	    seed(dir, "refs", 1, COMPRESS_FILTER_NONE, k6, l6, 3, true))
		return 1;
	return 0;
}
