/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * EXPECT: stream files of format version 1 (CRC32C per chunk, 48-byte index
 * entries: the committed fuzz seeds v1-*, written by that version's writer)
 * are still read: every chunk of each comes back verified, in /tmp and on
 * tmpfs, where the reader's workers read and checksum pieces themselves.
 * Usage: test_compress_v1 CORPUS_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "test_common.h"

static uint8_t buf[1 << 20];

static void read_all(const char *path)
{
	struct compress_reader *r;
	struct compress_err err = { "" };
	uint64_t n;

	if (compress_reader_open(path, NULL, &r, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		CHECK(0);
		return;
	}
	CHECK_EQ_INT(compress_reader_version(r), 1);
	n = compress_reader_chunk_count(r);
	for (uint64_t i = 0; i < n; i++)
		if (compress_reader_read_sync(r, i, buf, sizeof(buf), &err)) {
			fprintf(stderr, "%s\n", err.msg);
			CHECK(0);
		}
	compress_reader_free(r);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "v1-bf16-group2", "v1-bf16-group4", "v1-mixed-tags",
					     "v1-random-raw",  "v1-text-zstd",	 "v1-zero" };
	char path[4096], cmd[8300];

	if (argc < 2)
		return 2;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
		read_all(path);
		/* the same file on tmpfs: the workers' own reads */
		snprintf(cmd, sizeof(cmd), "cp '%s' /dev/shm/test_compress_v1.%d", path, (int)i);
		if (system(cmd) == 0) {
			snprintf(path, sizeof(path), "/dev/shm/test_compress_v1.%d", (int)i);
			read_all(path);
			remove(path);
		}
	}
	return test_finish("compress_v1");
}
