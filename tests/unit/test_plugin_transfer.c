// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: the transfer pipeline round-trips BO contents byte for byte
 * through stream files (random, zero and mixed BOs, odd sizes, more chunks
 * than pinned buffers, several rings, two GPUs at once); a failing DMA copy
 * fails the dump with the BO named and leaves no stream file; a stream that
 * does not cover a BO fails the restore.
 *
 * The DMA stage here is a host memcpy engine over memfd "BOs" (the plugin
 * uses SDMA, tested under the emulator); everything else is the real code.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memdma.h"
#include "image.h"
#include "plugin_transfer.h"
#include "test_common.h"

/* Stream files per GPU when the settings leave it to the plugin: one per CPU
 * of the GPU's share, per 2 CPUs when compressing, 1 to 16 (plugin_config.h). */
static unsigned int default_parts(bool compress, unsigned int n_gpus)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN), n = (cpus > 0 ? cpus : 1) / n_gpus;

	if (compress)
		n /= 2;
	return n < 1 ? 1 : n > 16 ? 16 : (unsigned int)n;
}

/* Overrides of the settings below for one test (0: as they are). */
static unsigned int io_depth, pinned_max;

/* Round trip through @parts stream files per GPU (0: the default number),
 * compressed or not. */
static void test_round_trip_level(const char *dir, unsigned int n_gpus, unsigned int parts,
				  bool compress)
{
	static const uint64_t sizes[] = { 3 << 20, 1, 0, 5 * 65536 + 123, 2 << 20, 4096 };
	const unsigned int n = sizeof(sizes) / sizeof(sizes[0]);
	struct plugin_config cfg;
	struct transfer_bo src[2][8], dst[2][8];
	struct transfer_job jobs[2];
	int r;

	plugin_config_defaults(&cfg);
	cfg.compress = compress;
	cfg.chunk_size = 256 << 10;
	cfg.buffer_size = 256 << 10;
	cfg.pinned_max = pinned_max ? pinned_max : 1 << 20; /* 4 buffers: far fewer than chunks */
	cfg.io_depth = io_depth;
	cfg.workers = 2;
	cfg.direct_io = false;

	memset(jobs, 0, sizeof(jobs));
	for (unsigned int g = 0; g < n_gpus; g++) {
		for (unsigned int i = 0; i < n; i++) {
			src[g][i] = (struct transfer_bo){ sizes[i], make_bo(sizes[i], i % 3, i + g),
							  100 * g + i };
			dst[g][i] = (struct transfer_bo){ sizes[i], make_bo(sizes[i], 1, 0),
							  100 * g + i };
		}
		jobs[g].gpu_id = 0x100 + g;
		jobs[g].bos = src[g];
		jobs[g].n_bos = n;
		jobs[g].n_parts = parts;
		snprintf(jobs[g].stream_path, sizeof(jobs[g].stream_path), "%s/gpu%u.vrs", dir, g);
	}
	r = transfer_dump(&cfg, &memdma, jobs, n_gpus);
	CHECK_EQ_INT(r, 0);
	if (!parts)
		parts = default_parts(compress, n_gpus);
	for (unsigned int g = 0; g < n_gpus; g++) {
		uint64_t total = 0;

		for (unsigned int i = 0; i < n; i++)
			total += sizes[i];
		if (jobs[g].status)
			fprintf(stderr, "dump: %s\n", jobs[g].err);
		CHECK(jobs[g].stats.bytes == total);
		CHECK(jobs[g].stats.chunks_zero > 0); /* the zero BO and zero pages */
		CHECK(access(jobs[g].stream_path, F_OK) == 0);
		CHECK_EQ_INT(jobs[g].n_parts, parts);
		for (unsigned int p = 1; p < parts; p++) {
			char path[PATH_MAX];

			CHECK_EQ_INT(image_part_name(jobs[g].stream_path, p, path, sizeof(path)),
				     0);
			CHECK(access(path, F_OK) == 0);
		}
		jobs[g].bos = dst[g];
	}
	r = transfer_restore(&cfg, &memdma, jobs, n_gpus);
	CHECK_EQ_INT(r, 0);
	for (unsigned int g = 0; g < n_gpus; g++) {
		if (jobs[g].status)
			fprintf(stderr, "restore: %s\n", jobs[g].err);
		for (unsigned int i = 0; i < n; i++) {
			CHECK(same_contents(src[g][i].dmabuf_fd, dst[g][i].dmabuf_fd, sizes[i]));
			close(src[g][i].dmabuf_fd);
			close(dst[g][i].dmabuf_fd);
		}
		for (unsigned int p = 0; p < parts; p++) {
			char path[PATH_MAX];

			image_part_name(jobs[g].stream_path, p, path, sizeof(path));
			unlink(path);
		}
	}
}

static void test_round_trip(const char *dir, unsigned int n_gpus, unsigned int parts)
{
	test_round_trip_level(dir, n_gpus, parts, true);
}

static void test_dma_fault(const char *dir)
{
	struct plugin_config cfg;
	struct transfer_bo bo = { 2 << 20, make_bo(2 << 20, 0, 7), 42 };
	struct transfer_job job = { .gpu_id = 0x200, .bos = &bo, .n_bos = 1, .n_parts = 1 };

	plugin_config_defaults(&cfg);
	cfg.chunk_size = cfg.buffer_size = 256 << 10;
	cfg.pinned_max = 1 << 20;
	cfg.direct_io = false;
	snprintf(job.stream_path, sizeof(job.stream_path), "%s/fault.vrs", dir);
	copies = 0;
	fail_copy_at = 3;
	CHECK(transfer_dump(&cfg, &memdma, &job, 1) == -EIO);
	fail_copy_at = 0;
	CHECK(strstr(job.err, "BO 42") != NULL);
	CHECK(strstr(job.err, "injected fault") != NULL);
	CHECK(access(job.stream_path, F_OK) != 0); /* nothing that looks complete */
	close(bo.dmabuf_fd);
}

static void test_short_stream(const char *dir)
{
	struct plugin_config cfg;
	struct transfer_bo small = { 1 << 20, make_bo(1 << 20, 0, 9), 7 };
	struct transfer_bo big = { 2 << 20, make_bo(2 << 20, 1, 0), 7 };
	struct transfer_job job = { .gpu_id = 0x300, .bos = &small, .n_bos = 1, .n_parts = 1 };

	plugin_config_defaults(&cfg);
	cfg.chunk_size = cfg.buffer_size = 256 << 10;
	cfg.direct_io = false;
	snprintf(job.stream_path, sizeof(job.stream_path), "%s/short.vrs", dir);
	CHECK_EQ_INT(transfer_dump(&cfg, &memdma, &job, 1), 0);
	/* Restoring into a larger BO: the stream does not cover it. */
	job.bos = &big;
	CHECK_EQ_INT(transfer_restore(&cfg, &memdma, &job, 1), -EINVAL);
	CHECK(strstr(job.err, "no chunk for BO 7 at offset 1048576") != NULL);
	unlink(job.stream_path);
	close(small.dmabuf_fd);
	close(big.dmabuf_fd);
}

/* EXPECT: a stream file that cannot be opened fails the job with -ENOENT and
 * its name, whichever part it is: a dump into a missing folder, a restore
 * with one part of three gone. */
static void test_part_open_fails(const char *dir)
{
	struct plugin_config cfg;
	struct transfer_bo bo = { 3 << 20, make_bo(3 << 20, 0, 5), 8 };
	struct transfer_job job = { .gpu_id = 0x500, .bos = &bo, .n_bos = 1, .n_parts = 3 };
	char part1[PATH_MAX];

	plugin_config_defaults(&cfg);
	cfg.chunk_size = cfg.buffer_size = 256 << 10;
	cfg.direct_io = false;
	snprintf(job.stream_path, sizeof(job.stream_path), "%s/missing/gpu.vrs", dir);
	CHECK_EQ_INT(transfer_dump(&cfg, &memdma, &job, 1), -ENOENT);
	CHECK(strstr(job.err, "/missing/gpu.") != NULL);

	memset(job.err, 0, sizeof(job.err));
	job.status = 0;
	snprintf(job.stream_path, sizeof(job.stream_path), "%s/three.vrs", dir);
	CHECK_EQ_INT(transfer_dump(&cfg, &memdma, &job, 1), 0);
	CHECK_EQ_INT(image_part_name(job.stream_path, 1, part1, sizeof(part1)), 0);
	CHECK_EQ_INT(unlink(part1), 0);
	CHECK_EQ_INT(transfer_restore(&cfg, &memdma, &job, 1), -ENOENT);
	printf("restore without part 1: %s\n", job.err);
	CHECK(strstr(job.err, part1) != NULL);
	for (unsigned int p = 0; p < 3; p++) {
		char path[PATH_MAX];

		image_part_name(job.stream_path, p, path, sizeof(path));
		unlink(path);
	}
	close(bo.dmabuf_fd);
}

/* EXPECT: a caller watching progress is called back on its own thread while
 * the jobs run, sees the count grow and never pass the total, and the count
 * ends at the total, dump and restore alike. */
static void test_progress(const char *dir)
{
	struct plugin_config cfg;
	struct transfer_bo bo = { 2 << 20, make_bo(2 << 20, 0, 11), 3 };
	struct transfer_job job = { .gpu_id = 0x400, .bos = &bo, .n_bos = 1, .n_parts = 1 };
	struct seen seen = { 0 };
	struct transfer_progress tp = { on_progress, &seen, 0.005 };

	plugin_config_defaults(&cfg);
	cfg.chunk_size = cfg.buffer_size = 64 << 10; /* 32 copies of >= 2 ms */
	cfg.direct_io = false;
	snprintf(job.stream_path, sizeof(job.stream_path), "%s/progress.vrs", dir);
	copy_delay_us = 2000;
	CHECK_EQ_INT(transfer_dump_progress(&cfg, &memdma, &job, 1, &tp), 0);
	CHECK(seen.calls > 0);
	CHECK(!seen.backwards);
	CHECK_EQ_INT(transfer_job_progress(&job), 2 << 20);
	seen = (struct seen){ 0 };
	CHECK_EQ_INT(transfer_restore_progress(&cfg, &memdma, &job, 1, &tp), 0);
	CHECK(seen.calls > 0);
	CHECK(!seen.backwards);
	CHECK_EQ_INT(transfer_job_progress(&job), 2 << 20);
	copy_delay_us = 0;
	unlink(job.stream_path);
	close(bo.dmabuf_fd);
}

int main(void)
{
	char dir[] = "/tmp/vramstream-transfer-XXXXXX";

	if (!mkdtemp(dir))
		return 2;
	test_round_trip(dir, 1, 1);
	test_round_trip(dir, 2, 1);
	test_round_trip(dir, 1, 3); /* striped: chunks spread over three files */
	test_round_trip(dir, 2, 2);
	/* EXPECT: left to the plugin, one file per CPU without compression and
	 * per 2 CPUs with it (at least one), every byte back either way */
	test_round_trip_level(dir, 1, 0, false);
	test_round_trip_level(dir, 1, 0, true);
	test_round_trip_level(dir, 2, 0, false);
	/* Zero chunks were restored by the engine's fill, and without one (an
	 * engine that refuses, or has none) through host buffers. */
	CHECK(fills > 0);
	memdma.fill = memdma_fill_unsupported;
	test_round_trip(dir, 1, 2);
	memdma.fill = NULL;
	test_round_trip(dir, 2, 1);
	memdma.fill = memdma_fill;
	/* EXPECT: with one engine slower to report, restore retires the others'
	 * copies first (out of issue order) and naps; every byte back */
	ring0_poll_every = 4;
	test_round_trip(dir, 1, 1);
	test_round_trip(dir, 2, 2);
	CHECK(polls_pending > 0);
	ring0_poll_every = 0;
	/* EXPECT: with more free buffers than the readers take (one staging
	 * buffer per file: every compressed read needs one), restore moves on to
	 * the other file and then waits for a read to land; every byte back */
	io_depth = 1;
	pinned_max = 4 << 20;
	test_round_trip(dir, 1, 2);
	test_round_trip(dir, 2, 3);
	io_depth = pinned_max = 0;
	test_dma_fault(dir);
	test_short_stream(dir);
	test_part_open_fails(dir);
	test_progress(dir);
	rmdir(dir);
	return test_finish("test_plugin_transfer");
}
