/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A container runtime's checkpoint as it comes, down to the CRIU image folder
 * inside it (img_runtime.c): a CRIU or runc image folder (`runc checkpoint
 * --image-path`), a folder holding checkpoint/ (an unpacked Podman or CRI-O
 * export, the kubelet checkpoint API's archive), or such an archive itself
 * (`podman container checkpoint --export`: tar, gzip or zstd).
 */
#ifndef VRAMSTREAM_IMG_RUNTIME_H
#define VRAMSTREAM_IMG_RUNTIME_H

#include <limits.h>
#include <stddef.h>

struct img_runtime {
	char dir[PATH_MAX]; /* the CRIU image folder to read */
	char tmp[PATH_MAX]; /* where an archive was unpacked ("" if none), removed by _close */
};

/* Find the image folder of @path; 0 or -errno with @err saying why. */
int img_runtime_open(const char *path, struct img_runtime *rt, char *err, size_t err_len);

/* Remove what img_runtime_open unpacked; safe on a zeroed or failed @rt. */
void img_runtime_close(struct img_runtime *rt);

#endif
