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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "plugin_transfer.h"
#include "test_common.h"

#define MAX_BOS 16

struct plugin_dma {
	unsigned int rings, buffers;
	uint64_t buffer_size;
	void **buf;
	struct {
		uint8_t *map;
		uint64_t size;
	} bo[MAX_BOS];
	unsigned int n_bo;
	uint64_t tickets;
	char err[128];
};

/* Fault injection: the Nth copy (1-based) fails; 0 = none. */
static unsigned long fail_copy_at;
static unsigned long copies;

static int memdma_open(const struct plugin_dma_params *p, struct plugin_dma **out, char *err,
		       size_t err_len)
{
	struct plugin_dma *d = calloc(1, sizeof(*d));

	(void)err;
	(void)err_len;
	if (!d)
		return -ENOMEM;
	d->rings = p->rings ? p->rings : 3;
	d->buffers = p->buffers;
	d->buffer_size = p->buffer_size;
	d->buf = calloc(p->buffers, sizeof(void *));
	for (unsigned int i = 0; i < p->buffers; i++)
		d->buf[i] = aligned_alloc(4096, p->buffer_size);
	*out = d;
	return 0;
}

static void memdma_close(struct plugin_dma *d)
{
	for (unsigned int i = 0; i < d->buffers; i++)
		free(d->buf[i]);
	for (unsigned int i = 0; i < d->n_bo; i++)
		if (d->bo[i].size)
			munmap(d->bo[i].map, d->bo[i].size);
	free(d->buf);
	free(d);
}

static unsigned int memdma_rings(struct plugin_dma *d)
{
	return d->rings;
}

static void *memdma_buffer(struct plugin_dma *d, unsigned int i)
{
	return d->buf[i];
}

static int memdma_import(struct plugin_dma *d, int fd, uint64_t size, unsigned int *bo)
{
	void *m = size ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : NULL;

	if (m == MAP_FAILED)
		return -errno;
	d->bo[d->n_bo].map = m;
	d->bo[d->n_bo].size = size;
	*bo = d->n_bo++;
	return 0;
}

static int memdma_copy(struct plugin_dma *d, unsigned int ring, unsigned int bo, uint64_t off,
		       unsigned int buf, uint64_t len, bool to_device, uint64_t *ticket)
{
	if (ring >= d->rings || bo >= d->n_bo || off + len > d->bo[bo].size ||
	    len > d->buffer_size)
		return -EINVAL;
	if (fail_copy_at && ++copies == fail_copy_at) {
		snprintf(d->err, sizeof(d->err), "injected fault");
		return -EIO;
	}
	if (to_device)
		memcpy(d->bo[bo].map + off, d->buf[buf], len);
	else
		memcpy(d->buf[buf], d->bo[bo].map + off, len);
	*ticket = ++d->tickets;
	return 0;
}

static unsigned long fills;

static int memdma_fill(struct plugin_dma *d, unsigned int ring, unsigned int bo, uint64_t off,
		       uint64_t len, uint32_t value, uint64_t *ticket)
{
	if (ring >= d->rings || bo >= d->n_bo || off + len > d->bo[bo].size || len % 4 ||
	    off % 4)
		return -EINVAL;
	for (uint64_t i = 0; i < len; i += 4)
		memcpy(d->bo[bo].map + off + i, &value, 4);
	fills++;
	*ticket = ++d->tickets;
	return 0;
}

static int memdma_fill_unsupported(struct plugin_dma *d, unsigned int ring, unsigned int bo,
				   uint64_t off, uint64_t len, uint32_t value, uint64_t *ticket)
{
	return -ENOTSUP;
}

static int memdma_wait(struct plugin_dma *d, unsigned int ring, uint64_t ticket)
{
	(void)d;
	(void)ring;
	(void)ticket;
	return 0;
}

static const char *memdma_error(struct plugin_dma *d)
{
	return d->err;
}

static struct plugin_dma_ops memdma = {
	.name = "memcpy",
	.open = memdma_open,
	.close = memdma_close,
	.rings = memdma_rings,
	.buffer = memdma_buffer,
	.import = memdma_import,
	.copy = memdma_copy,
	.fill = memdma_fill,
	.wait = memdma_wait,
	.last_error = memdma_error,
};

static int make_bo(uint64_t size, unsigned int kind, unsigned int seed)
{
	int fd = memfd_create("bo", MFD_CLOEXEC);
	uint8_t *m;

	if (fd < 0 || ftruncate(fd, (off_t)size))
		return -1;
	if (!size)
		return fd;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	srand(seed);
	for (uint64_t i = 0; i < size; i++) {
		switch (kind) {
		case 0: /* random */
			m[i] = (uint8_t)rand();
			break;
		case 1: /* zero */
			m[i] = 0;
			break;
		default: /* zero pages between random ones */
			m[i] = (i / 65536) % 3 ? 0 : (uint8_t)rand();
		}
	}
	munmap(m, size);
	return fd;
}

static int same_contents(int a, int b, uint64_t size)
{
	uint8_t *ma, *mb;
	int eq;

	if (!size)
		return 1;
	ma = mmap(NULL, size, PROT_READ, MAP_SHARED, a, 0);
	mb = mmap(NULL, size, PROT_READ, MAP_SHARED, b, 0);
	eq = !memcmp(ma, mb, size);
	munmap(ma, size);
	munmap(mb, size);
	return eq;
}

static void test_round_trip(const char *dir, unsigned int n_gpus, unsigned int parts)
{
	static const uint64_t sizes[] = { 3 << 20, 1, 0, 5 * 65536 + 123, 2 << 20, 4096 };
	const unsigned int n = sizeof(sizes) / sizeof(sizes[0]);
	struct plugin_config cfg;
	struct transfer_bo src[2][8], dst[2][8];
	struct transfer_job jobs[2];
	int r;

	plugin_config_defaults(&cfg);
	cfg.chunk_size = 256 << 10;
	cfg.buffer_size = 256 << 10;
	cfg.pinned_max = 1 << 20; /* 4 buffers: far fewer than chunks */
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

			CHECK_EQ_INT(transfer_part_path(jobs[g].stream_path, p, path, sizeof(path)), 0);
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

			transfer_part_path(jobs[g].stream_path, p, path, sizeof(path));
			unlink(path);
		}
	}
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

int main(void)
{
	char dir[] = "/tmp/vramstream-transfer-XXXXXX";

	if (!mkdtemp(dir))
		return 2;
	test_round_trip(dir, 1, 1);
	test_round_trip(dir, 2, 1);
	test_round_trip(dir, 1, 3); /* striped: chunks round-robin over three files */
	test_round_trip(dir, 2, 2);
	/* Zero chunks were restored by the engine's fill, and without one (an
	 * engine that refuses, or has none) through host buffers. */
	CHECK(fills > 0);
	memdma.fill = memdma_fill_unsupported;
	test_round_trip(dir, 1, 2);
	memdma.fill = NULL;
	test_round_trip(dir, 2, 1);
	memdma.fill = memdma_fill;
	test_dma_fault(dir);
	test_short_stream(dir);
	rmdir(dir);
	return test_finish("test_plugin_transfer");
}
