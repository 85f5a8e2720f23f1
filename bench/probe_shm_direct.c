// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Probe: can a GPU's copy engine write a dump straight into the
 * pages of files on tmpfs, faster than copying through pinned buffers and
 * write()? Standalone (CUDA driver API loaded at run time), run on the lent
 * NVIDIA machine:
 *
 *   probe-shm-direct MODE SIZE_MIB THREADS WINDOW_MIB DIR
 *
 * MODE raw:    device -> pinned buffer, nothing else (the copy ceiling)
 *      write:  device -> pinned buffer, CRC32C, pwrite() into a file
 *      direct: per window: fallocate, mmap the file's window, register it
 *              with the driver, device -> the file's pages, CRC32C,
 *              unregister, munmap
 * Each thread moves SIZE/THREADS bytes into its own file; prints GB/s and
 * the time each phase took, summed over threads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <nmmintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
static void *ctx;
static CUresult (*cuInit_)(unsigned int);
static CUresult (*cuDeviceGet_)(int *, int);
static CUresult (*cuPrimaryRetain_)(void **, int);
static CUresult (*cuCtxSetCurrent_)(void *);
static CUresult (*cuMemAlloc_)(CUdeviceptr *, size_t);
static CUresult (*cuMemsetD8_)(CUdeviceptr, unsigned char, size_t);
static CUresult (*cuMemHostRegister_)(void *, size_t, unsigned int);
static CUresult (*cuMemHostUnregister_)(void *);
static CUresult (*cuStreamCreate_)(void **, unsigned int);
static CUresult (*cuStreamSynchronize_)(void *);
static CUresult (*cuMemcpyDtoHAsync_)(void *, CUdeviceptr, size_t, void *);

enum { PH_ALLOC, PH_MAP, PH_REG, PH_DMA, PH_CRC, PH_WRITE, PH_UNREG, PH_N };
static const char *ph_name[PH_N] = { "fallocate", "mmap",   "register",	 "dma",
				     "crc",	  "pwrite", "unregister" };

struct thr {
	pthread_t t;
	int id;
	CUdeviceptr src;
	uint64_t bytes;
	double ph[PH_N];
	uint32_t crc;
	int err;
};

static const char *mode, *dir;
static uint64_t window;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
	const uint64_t *q = p;
	uint64_t c = ~crc;

	for (size_t i = 0; i < n / 8; i++)
		c = _mm_crc32_u64(c, q[i]);
	return ~(uint32_t)c;
}

#define T(which, expr)                                                                             \
	do {                                                                                       \
		double t0_ = now();                                                                \
		expr;                                                                              \
		th->ph[which] += now() - t0_;                                                      \
	} while (0)

static void *run(void *arg)
{
	struct thr *th = arg;
	void *stream, *buf = NULL;
	char path[512];
	int fd = -1;
	CUresult r = 0;

	cuCtxSetCurrent_(ctx);
	cuStreamCreate_(&stream, 1);
	if (strcmp(mode, "direct")) {
		if (posix_memalign(&buf, 4096, window) || cuMemHostRegister_(buf, window, 1)) {
			th->err = 1;
			return NULL;
		}
		memset(buf, 1, window);
	}
	if (strcmp(mode, "raw")) {
		snprintf(path, sizeof(path), "%s/probe.%d", dir, th->id);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0) {
			th->err = 2;
			return NULL;
		}
	}
	for (uint64_t off = 0; off < th->bytes; off += window) {
		uint64_t n = th->bytes - off < window ? th->bytes - off : window;
		void *p = buf;

		if (!strcmp(mode, "direct")) {
			T(PH_ALLOC, r = fallocate(fd, 0, off, n));
			if (r) {
				th->err = 3;
				break;
			}
			T(PH_MAP, p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off));
			if (p == MAP_FAILED) {
				th->err = 4;
				break;
			}
			T(PH_REG, r = cuMemHostRegister_(p, n, 1));
			if (r) {
				fprintf(stderr, "register: CUresult %d\n", r);
				th->err = 5;
				break;
			}
		}
		T(PH_DMA, r = cuMemcpyDtoHAsync_(p, th->src + off, n, stream);
		  if (!r) r = cuStreamSynchronize_(stream));
		if (r) {
			th->err = 6;
			break;
		}
		if (strcmp(mode, "raw"))
			T(PH_CRC, th->crc = crc32c(th->crc, p, n));
		if (!strcmp(mode, "write"))
			T(PH_WRITE, r = pwrite(fd, p, n, off) != (ssize_t)n);
		if (!strcmp(mode, "direct")) {
			T(PH_UNREG, cuMemHostUnregister_(p); munmap(p, n));
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t size;
	unsigned int threads;
	struct thr *th;
	CUdeviceptr dev;
	double t0, t1, sum[PH_N] = { 0 };
	void *lib;
	int d;

	if (argc != 6) {
		fprintf(stderr, "usage: %s raw|write|direct SIZE_MIB THREADS WINDOW_MIB DIR\n",
			argv[0]);
		return 2;
	}
	mode = argv[1];
	size = strtoull(argv[2], NULL, 0) << 20;
	threads = atoi(argv[3]);
	window = strtoull(argv[4], NULL, 0) << 20;
	dir = argv[5];
	lib = dlopen("libcuda.so.1", RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	*(void **)&cuInit_ = dlsym(lib, "cuInit");
	*(void **)&cuDeviceGet_ = dlsym(lib, "cuDeviceGet");
	*(void **)&cuPrimaryRetain_ = dlsym(lib, "cuDevicePrimaryCtxRetain");
	*(void **)&cuCtxSetCurrent_ = dlsym(lib, "cuCtxSetCurrent");
	*(void **)&cuMemAlloc_ = dlsym(lib, "cuMemAlloc_v2");
	*(void **)&cuMemsetD8_ = dlsym(lib, "cuMemsetD8_v2");
	*(void **)&cuMemHostRegister_ = dlsym(lib, "cuMemHostRegister_v2");
	*(void **)&cuMemHostUnregister_ = dlsym(lib, "cuMemHostUnregister");
	*(void **)&cuStreamCreate_ = dlsym(lib, "cuStreamCreate");
	*(void **)&cuStreamSynchronize_ = dlsym(lib, "cuStreamSynchronize");
	*(void **)&cuMemcpyDtoHAsync_ = dlsym(lib, "cuMemcpyDtoHAsync_v2");
	if (cuInit_(0) || cuDeviceGet_(&d, 0) || cuPrimaryRetain_(&ctx, d) ||
	    cuCtxSetCurrent_(ctx) || cuMemAlloc_(&dev, size) || cuMemsetD8_(dev, 0x5a, size)) {
		fprintf(stderr, "CUDA setup failed\n");
		return 1;
	}
	th = calloc(threads, sizeof(*th));
	t0 = now();
	for (unsigned int i = 0; i < threads; i++) {
		th[i].id = i;
		th[i].bytes = size / threads;
		th[i].src = dev + i * (size / threads);
		pthread_create(&th[i].t, NULL, run, &th[i]);
	}
	for (unsigned int i = 0; i < threads; i++) {
		pthread_join(th[i].t, NULL);
		if (th[i].err)
			fprintf(stderr, "thread %u failed at step %d\n", i, th[i].err);
		for (int p = 0; p < PH_N; p++)
			sum[p] += th[i].ph[p];
	}
	t1 = now();
	printf("%-6s %6llu MiB %2u threads %4llu MiB windows: %6.2f GB/s |", mode,
	       (unsigned long long)(size >> 20), threads, (unsigned long long)(window >> 20),
	       size / 1e9 / (t1 - t0));
	for (int p = 0; p < PH_N; p++)
		if (sum[p] > 0)
			printf(" %s %.2fs", ph_name[p], sum[p] / threads);
	printf("\n");
	return 0;
}
