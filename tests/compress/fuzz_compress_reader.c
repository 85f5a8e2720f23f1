/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the stream reader: the input is a whole stream file.
 * It goes through open (header, footer, index decoding and checks) and, when
 * that succeeds, every chunk is read (io_uring, zstd, filter, checksum). The
 * reader must never crash, hang or hand back a chunk it has not verified.
 * Built with clang -fsanitize=fuzzer (meson -Dfuzzing=true), or linked with
 * fuzz_compress_replay.c to replay a corpus under meson test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct compress_reader_opts o;
	struct compress_reader *r;
	struct compress_err err;
	uint64_t n;
	uint8_t *out;
	int fd;

	fd = memfd_create("fuzz-stream", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	compress_reader_opts_default(&o);
	o.workers = 1;
	o.queue_depth = 1;
	o.direct_io = false;
	if (compress_reader_open_fd(fd, "fuzz", &o, &r, &err) == 0) {
		n = compress_reader_chunk_count(r);
		out = malloc(compress_reader_chunk_size(r));
		for (uint64_t i = 0; out && i < n && i < 64; i++) {
			struct compress_chunk_info ci;
			int64_t found;

			compress_reader_chunk(r, i, &ci);
			found = compress_reader_find(r, ci.tag, ci.offset);
			if (found < 0)
				abort(); /* every entry must be found by its own tag and offset */
			memset(out, 0x5a, ci.raw_len);
			compress_reader_read_sync(r, i, out, compress_reader_chunk_size(r), &err);
		}
		free(out);
		compress_reader_free(r);
	}
	close(fd);
	return 0;
}
