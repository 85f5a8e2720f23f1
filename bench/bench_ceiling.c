// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the image folder itself takes: plain write() and read() of the same
 * bytes, in the same number of files and the same record size as a pipeline
 * run, one thread per file, O_DIRECT where the pipeline would use it. No
 * GPU, no compression, no io_uring: the storage's own limit, measured in the
 * same command as the pipeline so a dump that stores raw chunks can be held
 * against it (bench/BENCHMARKING.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define CEILING_MAX_FILES 256

struct ceiling_file {
	char path[PATH_MAX];
	uint64_t bytes;
	size_t block;
	uint8_t *mem; /* records come from / go to here in turn, so from DRAM as the pipeline's */
	size_t mem_len;
	bool direct;
	bool read;
	int status;
};

/* Writes or reads one file in BLOCK records, taking them from its memory in turn. */
static void *ceiling_file_run(void *arg)
{
	struct ceiling_file *f = arg;
	int fd, r = 0;

	fd = f->read ? open(f->path, O_RDONLY | O_CLOEXEC | (f->direct ? O_DIRECT : 0))
		     : open(f->path,
			    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (f->direct ? O_DIRECT : 0),
			    0600);
	if (fd < 0)
		r = -errno;
	for (uint64_t done = 0; !r && done < f->bytes; done += f->block) {
		uint8_t *buf = f->mem + done % f->mem_len;

		r = f->read ? bench_read_all(fd, buf, f->block)
			    : bench_write_all(fd, buf, f->block);
	}
	if (fd >= 0)
		close(fd);
	f->status = r;
	return NULL;
}

/* One pass over all files at once; its wall time, or a negative errno. */
static int ceiling_pass(struct ceiling_file *files, unsigned int n, bool read, double *secs)
{
	pthread_t th[CEILING_MAX_FILES];
	unsigned int started = 0;
	double t0 = common_now_s();
	int r = 0;

	for (; started < n; started++) {
		files[started].read = read;
		r = -pthread_create(&th[started], NULL, ceiling_file_run, &files[started]);
		if (r)
			break;
	}
	for (unsigned int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		if (files[i].status && !r)
			r = files[i].status;
	}
	*secs = common_now_s() - t0;
	return r;
}

int bench_storage_ceiling(const char *dir, unsigned int n_files, uint64_t bytes, size_t block,
			  uint64_t mem, bool direct, struct bench_ceiling *out)
{
	struct ceiling_file *files;
	uint64_t per_file, mem_len;
	uint8_t *pool;
	double secs;
	int r, fd;

	memset(out, 0, sizeof(*out));
	if (n_files == 0 || n_files > CEILING_MAX_FILES || block == 0 || block % 4096)
		return -EINVAL;
	per_file = (bytes / n_files + block - 1) / block * block;
	if (per_file == 0)
		per_file = block;
	/* Each file's share of MEM, whole records, at least one, at most what it moves. */
	mem_len = mem / n_files / block * block;
	if (mem_len < block)
		mem_len = block;
	if (mem_len > per_file)
		mem_len = per_file;
	/* Page-aligned, as O_DIRECT wants; filled (so faulted in) before any clock runs. */
	pool = mmap(NULL, mem_len * n_files, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (pool == MAP_FAILED)
		return -errno;
	bench_data_fill(BENCH_RANDOM, pool, mem_len * n_files, 1);
	files = calloc(n_files, sizeof(*files));
	if (!files) {
		munmap(pool, mem_len * n_files);
		return -ENOMEM;
	}

	/* O_DIRECT where the folder takes it, as the stream writer decides. */
	snprintf(files[0].path, sizeof(files[0].path), "%s/ceiling-0", dir);
	if (direct) {
		fd = open(files[0].path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0600);
		if (fd < 0 && errno == EINVAL)
			direct = false;
		else if (fd >= 0)
			close(fd);
	}
	for (unsigned int i = 0; i < n_files; i++) {
		snprintf(files[i].path, sizeof(files[i].path), "%s/ceiling-%u", dir, i);
		files[i].bytes = per_file;
		files[i].block = block;
		files[i].mem = pool + i * mem_len;
		files[i].mem_len = mem_len;
		files[i].direct = direct;
	}
	out->direct = direct;
	out->bytes = per_file * n_files;

	r = ceiling_pass(files, n_files, false, &secs);
	if (!r) {
		out->write_gbps = out->bytes / 1e9 / secs;
		/* Read back from the storage, not from the page cache. */
		for (unsigned int i = 0; i < n_files; i++)
			bench_drop_cached(files[i].path);
		r = ceiling_pass(files, n_files, true, &secs);
	}
	if (!r)
		out->read_gbps = out->bytes / 1e9 / secs;
	for (unsigned int i = 0; i < n_files; i++)
		unlink(files[i].path);
	free(files);
	munmap(pool, mem_len * n_files);
	return r;
}
