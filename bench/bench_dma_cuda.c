// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CUDA driver API, loaded with dlopen: the few entry points the copy path
 * needs, with the prototypes of cuda.h (CUDA 12/13 driver API, the _v2
 * symbols since CUDA 3.2). Error codes are CUresult (0 = CUDA_SUCCESS).
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bench_dma_cuda.h"
#include "sdma_engine.h"

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUstream;
typedef void *CUevent;
typedef unsigned long long CUdeviceptr;

#define CU_STREAM_NON_BLOCKING	    0x1
#define CU_EVENT_DISABLE_TIMING	    0x2
#define CU_MEMHOSTREGISTER_PORTABLE 0x1
#define CUDA_ERROR_NOT_READY	    600

static struct cuda_api {
	void *lib;
	CUresult (*Init)(unsigned int);
	CUresult (*DeviceGet)(CUdevice *, int);
	CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
	CUresult (*CtxSetCurrent)(CUcontext);
	CUresult (*MemAlloc)(CUdeviceptr *, size_t);
	CUresult (*MemFree)(CUdeviceptr);
	CUresult (*MemHostRegister)(void *, size_t, unsigned int);
	CUresult (*MemHostUnregister)(void *);
	CUresult (*StreamCreate)(CUstream *, unsigned int);
	CUresult (*StreamDestroy)(CUstream);
	CUresult (*StreamSynchronize)(CUstream);
	CUresult (*MemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
	CUresult (*MemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
	CUresult (*MemcpyDtoH)(void *, CUdeviceptr, size_t);
	CUresult (*MemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
	CUresult (*MemcpyHtoD)(CUdeviceptr, const void *, size_t);
	CUresult (*EventCreate)(CUevent *, unsigned int);
	CUresult (*EventDestroy)(CUevent);
	CUresult (*EventRecord)(CUevent, CUstream);
	CUresult (*EventSynchronize)(CUevent);
	CUresult (*EventQuery)(CUevent);
	CUresult (*GetErrorString)(CUresult, const char **);
	CUresult (*DeviceGetPCIBusId)(char *, int, CUdevice);
	CUcontext ctx;
	int numa_node; /* the GPU's, from its PCI device; -1 unknown */
	/* device allocations standing in for BOs */
	CUdeviceptr *bos;
	uint64_t *bo_sizes;
	int n_bos;
} cu;

static const char *cu_err(CUresult r)
{
	const char *s = NULL;

	if (cu.GetErrorString && !cu.GetErrorString(r, &s) && s)
		return s;
	return "unknown CUDA error";
}

/* The GPU's NUMA node from its PCI device in sysfs, as the SDMA engine finds
 * a render node's (sdma_numa_node_of_fd); -1 when unknown. */
static int pci_numa_node(CUdevice dev)
{
	char bus[32], path[96];

	if (!cu.DeviceGetPCIBusId || cu.DeviceGetPCIBusId(bus, sizeof(bus), dev))
		return -1;
	for (char *c = bus; *c; c++)
		*c = (char)tolower((unsigned char)*c); /* sysfs names are lower case */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/numa_node", bus);
	return sdma_numa_node_read(path);
}

int bench_cuda_init(int ordinal, char *err, size_t err_len)
{
	CUdevice dev;
	CUresult r;

	if (cu.lib)
		return 0;
	cu.lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!cu.lib) {
		snprintf(err, err_len, "cannot load libcuda.so.1: %s", dlerror());
		return -ENOENT;
	}
#define SYM(field, name)                                                                           \
	do {                                                                                       \
		*(void **)&cu.field = dlsym(cu.lib, name);                                         \
		if (!cu.field) {                                                                   \
			snprintf(err, err_len, "libcuda.so.1 lacks %s", name);                     \
			return -ENOSYS;                                                            \
		}                                                                                  \
	} while (0)
	SYM(Init, "cuInit");
	SYM(DeviceGet, "cuDeviceGet");
	SYM(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
	SYM(CtxSetCurrent, "cuCtxSetCurrent");
	SYM(MemAlloc, "cuMemAlloc_v2");
	SYM(MemFree, "cuMemFree_v2");
	SYM(MemHostRegister, "cuMemHostRegister_v2");
	SYM(MemHostUnregister, "cuMemHostUnregister");
	SYM(StreamCreate, "cuStreamCreate");
	SYM(StreamDestroy, "cuStreamDestroy_v2");
	SYM(StreamSynchronize, "cuStreamSynchronize");
	SYM(MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
	SYM(MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
	SYM(MemcpyDtoH, "cuMemcpyDtoH_v2");
	SYM(MemcpyHtoD, "cuMemcpyHtoD_v2");
	SYM(EventCreate, "cuEventCreate");
	SYM(EventDestroy, "cuEventDestroy_v2");
	SYM(EventRecord, "cuEventRecord");
	SYM(EventSynchronize, "cuEventSynchronize");
	SYM(EventQuery, "cuEventQuery");
	SYM(GetErrorString, "cuGetErrorString");
#undef SYM
	/* Optional: without it zero chunks go through host buffers. */
	*(void **)&cu.MemsetD8Async = dlsym(cu.lib, "cuMemsetD8Async");
	/* Optional: without it the pinned pool goes wherever the kernel puts it. */
	*(void **)&cu.DeviceGetPCIBusId = dlsym(cu.lib, "cuDeviceGetPCIBusId");
	r = cu.Init(0);
	if (!r)
		r = cu.DeviceGet(&dev, ordinal);
	if (!r)
		r = cu.DevicePrimaryCtxRetain(&cu.ctx, dev);
	if (!r)
		r = cu.CtxSetCurrent(cu.ctx);
	if (r) {
		snprintf(err, err_len, "CUDA device %d: %s", ordinal, cu_err(r));
		return -ENODEV;
	}
	cu.numa_node = pci_numa_node(dev);
	return 0;
}

int bench_cuda_alloc(uint64_t size, int *index)
{
	CUdeviceptr p;
	void *a, *b;

	cu.CtxSetCurrent(cu.ctx);
	if (cu.MemAlloc(&p, size ? size : 1))
		return -ENOMEM;
	a = realloc(cu.bos, sizeof(*cu.bos) * (cu.n_bos + 1));
	if (a)
		cu.bos = a;
	b = realloc(cu.bo_sizes, sizeof(*cu.bo_sizes) * (cu.n_bos + 1));
	if (b)
		cu.bo_sizes = b;
	if (!a || !b) {
		cu.MemFree(p);
		return -ENOMEM;
	}
	cu.bos[cu.n_bos] = p;
	cu.bo_sizes[cu.n_bos] = size;
	*index = cu.n_bos++;
	return 0;
}

int bench_cuda_upload(int index, const void *src, uint64_t size)
{
	cu.CtxSetCurrent(cu.ctx);
	return cu.MemcpyHtoD(cu.bos[index], src, size) ? -EIO : 0;
}

int bench_cuda_download(int index, void *dst, uint64_t size)
{
	cu.CtxSetCurrent(cu.ctx);
	return cu.MemcpyDtoH(dst, cu.bos[index], size) ? -EIO : 0;
}

void bench_cuda_free_all(void)
{
	for (int i = 0; i < cu.n_bos; i++)
		cu.MemFree(cu.bos[i]);
	free(cu.bos);
	free(cu.bo_sizes);
	cu.bos = NULL;
	cu.bo_sizes = NULL;
	cu.n_bos = 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int bench_cuda_raw_bandwidth(int index, uint64_t bytes, unsigned int streams, double *d2h_gbps,
			     double *h2d_gbps)
{
	uint64_t per = bytes / streams, size = cu.bo_sizes[index];
	CUstream *s = calloc(streams, sizeof(*s));
	void *host = NULL;
	int r = 0;

	if (per > size / streams)
		per = size / streams;
	per &= ~4095ull;
	if (!s || !per || posix_memalign(&host, 4096, per * streams)) {
		free(s);
		return -ENOMEM;
	}
	cu.CtxSetCurrent(cu.ctx);
	if (cu.MemHostRegister(host, per * streams, CU_MEMHOSTREGISTER_PORTABLE)) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < streams; i++)
		cu.StreamCreate(&s[i], CU_STREAM_NON_BLOCKING);
	for (int dir = 0; dir < 2; dir++) {
		double t0;

		/* one warm-up pass, then the timed one */
		for (int pass = 0; pass < 2; pass++) {
			t0 = now_s();
			for (unsigned int i = 0; i < streams; i++) {
				char *h = (char *)host + i * per;
				CUdeviceptr d = cu.bos[index] + i * per;

				if (dir == 0)
					cu.MemcpyDtoHAsync(h, d, per, s[i]);
				else
					cu.MemcpyHtoDAsync(d, h, per, s[i]);
			}
			for (unsigned int i = 0; i < streams; i++)
				cu.StreamSynchronize(s[i]);
		}
		*(dir == 0 ? d2h_gbps : h2d_gbps) = per * streams / 1e9 / (now_s() - t0);
	}
	for (unsigned int i = 0; i < streams; i++)
		cu.StreamDestroy(s[i]);
	cu.MemHostUnregister(host);
out:
	free(host);
	free(s);
	return r;
}

/* The pipeline's DMA stage over CUDA streams. */
struct plugin_dma {
	unsigned int n_streams, n_buffers, events_per_stream;
	uint64_t buffer_size;
	CUstream *streams;
	CUevent *events;  /* [stream][events_per_stream] */
	uint64_t *issued; /* per stream */
	void *pool;
	char err[256];
};

static int cuda_open(const struct plugin_dma_params *p, struct plugin_dma **out, char *err,
		     size_t err_len)
{
	struct plugin_dma *d = calloc(1, sizeof(*d));
	CUresult r;

	if (!d)
		return -ENOMEM;
	cu.CtxSetCurrent(cu.ctx); /* per thread */
	d->n_streams = p->lanes ? p->lanes : 4;
	d->n_buffers = p->buffers;
	d->buffer_size = p->buffer_size;
	d->events_per_stream = p->buffers + 1;
	d->streams = calloc(d->n_streams, sizeof(*d->streams));
	d->events = calloc((size_t)d->n_streams * d->events_per_stream, sizeof(*d->events));
	d->issued = calloc(d->n_streams, sizeof(*d->issued));
	if (d->streams && d->events && d->issued)
		d->pool = sdma_host_pages_alloc(p->buffer_size * p->buffers, cu.numa_node);
	if (!d->pool) {
		snprintf(err, err_len, "out of memory for %u pinned buffers", p->buffers);
		goto fail;
	}
	/* Pinned once for the whole run, as the plugin's userptr pool is. */
	r = cu.MemHostRegister(d->pool, p->buffer_size * p->buffers, CU_MEMHOSTREGISTER_PORTABLE);
	if (r) {
		snprintf(err, err_len, "cuMemHostRegister of %llu bytes: %s",
			 (unsigned long long)(p->buffer_size * p->buffers), cu_err(r));
		munmap(d->pool, p->buffer_size * p->buffers);
		d->pool = NULL;
		goto fail;
	}
	for (unsigned int i = 0; i < d->n_streams; i++) {
		if (cu.StreamCreate(&d->streams[i], CU_STREAM_NON_BLOCKING))
			goto fail;
		for (unsigned int e = 0; e < d->events_per_stream; e++)
			if (cu.EventCreate(&d->events[i * d->events_per_stream + e],
					   CU_EVENT_DISABLE_TIMING))
				goto fail;
	}
	*out = d;
	return 0;
fail:
	free(d->streams);
	free(d->events);
	free(d->issued);
	free(d);
	return -ENOMEM;
}

static void cuda_close(struct plugin_dma *d)
{
	for (unsigned int i = 0; i < d->n_streams; i++) {
		if (d->streams[i]) {
			cu.StreamSynchronize(d->streams[i]);
			cu.StreamDestroy(d->streams[i]);
		}
		for (unsigned int e = 0; e < d->events_per_stream; e++)
			if (d->events[i * d->events_per_stream + e])
				cu.EventDestroy(d->events[i * d->events_per_stream + e]);
	}
	if (d->pool) {
		cu.MemHostUnregister(d->pool);
		munmap(d->pool, d->buffer_size * d->n_buffers);
	}
	free(d->streams);
	free(d->events);
	free(d->issued);
	free(d);
}

static unsigned int cuda_lanes(struct plugin_dma *d)
{
	return d->n_streams;
}

static void *cuda_buffer(struct plugin_dma *d, unsigned int i)
{
	return (char *)d->pool + (size_t)i * d->buffer_size;
}

static int cuda_import(struct plugin_dma *d, int index, uint64_t size, unsigned int *bo)
{
	if (index < 0 || index >= cu.n_bos || size > cu.bo_sizes[index]) {
		snprintf(d->err, sizeof(d->err), "no device allocation %d of %llu bytes", index,
			 (unsigned long long)size);
		return -EINVAL;
	}
	*bo = (unsigned int)index;
	return 0;
}

static int cuda_copy(struct plugin_dma *d, unsigned int ring, unsigned int bo, uint64_t off,
		     unsigned int buf, uint64_t len, bool to_device, uint64_t *ticket)
{
	CUstream s = d->streams[ring];
	CUevent ev;
	CUresult r;

	if (off + len > cu.bo_sizes[bo] || len > d->buffer_size)
		return -EINVAL;
	r = to_device ? cu.MemcpyHtoDAsync(cu.bos[bo] + off, cuda_buffer(d, buf), len, s)
		      : cu.MemcpyDtoHAsync(cuda_buffer(d, buf), cu.bos[bo] + off, len, s);
	if (!r) {
		ev = d->events[ring * d->events_per_stream +
			       d->issued[ring] % d->events_per_stream];
		r = cu.EventRecord(ev, s);
	}
	if (r) {
		snprintf(d->err, sizeof(d->err), "copy on stream %u: %s", ring, cu_err(r));
		return -EIO;
	}
	*ticket = d->issued[ring]++;
	return 0;
}

static int cuda_fill(struct plugin_dma *d, unsigned int ring, unsigned int bo, uint64_t off,
		     uint64_t len, uint32_t value, uint64_t *ticket)
{
	CUstream s = d->streams[ring];
	CUevent ev;
	CUresult r;

	/* cuMemsetD8Async writes one byte value: zero chunks are what restore asks for. */
	if (!cu.MemsetD8Async || value != 0)
		return -ENOTSUP;
	if (off + len > cu.bo_sizes[bo])
		return -EINVAL;
	r = cu.MemsetD8Async(cu.bos[bo] + off, 0, len, s);
	if (!r) {
		ev = d->events[ring * d->events_per_stream +
			       d->issued[ring] % d->events_per_stream];
		r = cu.EventRecord(ev, s);
	}
	if (r) {
		snprintf(d->err, sizeof(d->err), "memset on stream %u: %s", ring, cu_err(r));
		return -EIO;
	}
	*ticket = d->issued[ring]++;
	return 0;
}

static int cuda_wait(struct plugin_dma *d, unsigned int ring, uint64_t ticket)
{
	CUresult r = cu.EventSynchronize(
		d->events[ring * d->events_per_stream + ticket % d->events_per_stream]);

	if (r) {
		snprintf(d->err, sizeof(d->err), "stream %u: %s", ring, cu_err(r));
		return -EIO;
	}
	return 0;
}

/* As the SDMA engine's poll (a fence's sequence number read back): lets
 * restore retire whichever stream finished first, as the plugin does. */
static int cuda_poll(struct plugin_dma *d, unsigned int ring, uint64_t ticket)
{
	CUresult r = cu.EventQuery(
		d->events[ring * d->events_per_stream + ticket % d->events_per_stream]);

	if (r == CUDA_ERROR_NOT_READY)
		return 0;
	if (r) {
		snprintf(d->err, sizeof(d->err), "stream %u: %s", ring, cu_err(r));
		return -EIO;
	}
	return 1;
}

static const char *cuda_last_error(struct plugin_dma *d)
{
	return d->err;
}

const struct plugin_dma_ops bench_dma_cuda_ops = {
	.name = "CUDA copy engines",
	.open = cuda_open,
	.close = cuda_close,
	.lanes = cuda_lanes,
	.buffer = cuda_buffer,
	.import = cuda_import,
	.copy = cuda_copy,
	.fill = cuda_fill,
	.wait = cuda_wait,
	.poll = cuda_poll,
	.last_error = cuda_last_error,
};
