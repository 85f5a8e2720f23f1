/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A DMA stage for the transfer pipeline backed by an NVIDIA GPU's copy
 * engines (CUDA driver API, libcuda.so.1 loaded at run time so nothing CUDA
 * is needed to build). Used by `vramstream-bench` on the lent H100 machine
 * to run the plugin's pipeline from real device memory; copy engines are the
 * same kind of DMA engine as SDMA.
 */
#ifndef VRAMSTREAM_BENCH_DMA_CUDA_H
#define VRAMSTREAM_BENCH_DMA_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "plugin_dma.h"

/* Loads libcuda.so.1 and initialises device @ordinal. 0 or -errno, @err says why. */
int bench_cuda_init(int ordinal, char *err, size_t err_len);

/* Device memory standing in for BOs: the "dmabuf fd" the pipeline passes to
 * import() is the index returned here. */
int bench_cuda_alloc(uint64_t size, int *index);
int bench_cuda_upload(int index, const void *src, uint64_t size);
int bench_cuda_download(int index, void *dst, uint64_t size);
void bench_cuda_free_all(void);

/*
 * Raw pinned device-to-host (and host-to-device) bandwidth over @streams
 * streams, @bytes per direction, for the benchmark's ratio. GB/s.
 */
int bench_cuda_raw_bandwidth(int index, uint64_t bytes, unsigned int streams, double *d2h_gbps,
			     double *h2d_gbps);

extern const struct plugin_dma_ops bench_dma_cuda_ops;

#endif
