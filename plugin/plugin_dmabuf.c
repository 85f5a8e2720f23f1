// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xf86drm.h>

#include "image.h"
#include "plugin_dmabuf.h"
#include "plugin_log.h"
#include "plugin_topology.h"

/* dma-buf.c: dmabuffs_dname, "/%s:%s" with the dentry name "dmabuf". */
#define DMABUF_LINK_PREFIX "/dmabuf:"

bool plugin_dmabuf_is(int fd)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return !strncmp(target, DMABUF_LINK_PREFIX, strlen(DMABUF_LINK_PREFIX));
}

/* ---- dump ------------------------------------------------------------------------------- */

struct dmabuf_bo {
	int kfd_id; /* the KFD file's criu id, or the render-node file's when gem */
	bool gem;
	unsigned int pid;
	uint32_t index, gpu_id, handle;
	unsigned int minor;
	uint64_t size;
};

/*
 * What one dump knows; DUMP_EXT_FILE hooks run one at a time in criu's
 * process. Owned by this file, emptied by plugin_dmabuf_dump_finish().
 */
static struct {
	struct {
		unsigned int minor;
		int fd;
	} nodes[TOPO_MAX_GPUS];
	unsigned int n_nodes;
	struct dmabuf_bo *bos;
	size_t n_bos, cap_bos;
} dd;

/* A render-node file of criu's own for GPU @minor, opened once per dump. */
static int node_fd(unsigned int minor)
{
	char path[64];
	int fd;

	for (unsigned int i = 0; i < dd.n_nodes; i++)
		if (dd.nodes[i].minor == minor)
			return dd.nodes[i].fd;
	if (dd.n_nodes == TOPO_MAX_GPUS)
		return -E2BIG;
	snprintf(path, sizeof(path), "/dev/dri/renderD%u", minor);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dd.nodes[dd.n_nodes].minor = minor;
	dd.nodes[dd.n_nodes++].fd = fd;
	return fd;
}

static int add_bo(const struct dmabuf_bo *bo)
{
	if (dd.n_bos == dd.cap_bos) {
		size_t cap = dd.cap_bos ? dd.cap_bos * 2 : 16;
		struct dmabuf_bo *n = realloc(dd.bos, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		dd.bos = n;
		dd.cap_bos = cap;
	}
	dd.bos[dd.n_bos++] = *bo;
	return 0;
}

static int minor_of(Vramstream__DeviceEntry *const *devs, size_t n_devs, uint32_t gpu_id,
		    unsigned int *minor)
{
	for (size_t i = 0; i < n_devs; i++) {
		if (devs[i]->gpu_id != gpu_id)
			continue;
		if (!devs[i]->has_render_minor)
			return -ENODEV;
		*minor = devs[i]->render_minor;
		return 0;
	}
	return -ENODEV;
}

int plugin_dmabuf_note_kfd(int kfd_id, unsigned int pid, const struct kfd_criu_bo_bucket *bos,
			   uint32_t n_bos, Vramstream__DeviceEntry *const *devs, size_t n_devs)
{
	for (uint32_t i = 0; i < n_bos; i++) {
		struct dmabuf_bo bo = {
			.kfd_id = kfd_id,
			.pid = pid,
			.index = i,
			.gpu_id = bos[i].gpu_id,
			.size = bos[i].size,
		};
		int fd, r;

		/* No dma-buf: KFD_INVALID_FD, or 0 as plugin_dump.c's buckets start. */
		if (!kfd_bo_has_contents(bos[i].alloc_flags) ||
		    bos[i].dmabuf_fd == KFD_INVALID_FD || bos[i].dmabuf_fd == 0)
			continue;
		r = minor_of(devs, n_devs, bos[i].gpu_id, &bo.minor);
		fd = r ? r : node_fd(bo.minor);
		if (fd < 0) {
			pr_err("dump of pid %u: cannot open the render node of GPU 0x%x to tell "
			       "its BOs' dma-bufs apart: %s",
			       pid, bos[i].gpu_id, strerror(-fd));
			return fd;
		}
		if (drmPrimeFDToHandle(fd, (int)bos[i].dmabuf_fd, &bo.handle)) {
			r = -errno;
			pr_err("dump of pid %u: cannot import BO %u of GPU 0x%x into renderD%u: %s",
			       pid, i, bos[i].gpu_id, bo.minor, strerror(-r));
			return r;
		}
		r = add_bo(&bo);
		if (r)
			return r;
	}
	return 0;
}

int plugin_dmabuf_note_render(int render_id, const Vramstream__RenderFile *rf, const int *dmabufs)
{
	for (size_t i = 0; i < rf->n_bos; i++) {
		struct dmabuf_bo bo = {
			.kfd_id = render_id,
			.gem = true,
			.index = (uint32_t)i,
			.gpu_id = rf->gpu_id,
			.minor = rf->render_minor,
			.size = rf->bos[i]->size,
		};
		int fd, r;

		if (dmabufs[i] < 0)
			continue;
		fd = node_fd(bo.minor);
		if (fd < 0) {
			pr_err("dump of render node renderD%u (file %d): cannot open it to tell its "
			       "BOs' dma-bufs apart: %s",
			       bo.minor, render_id, strerror(-fd));
			return fd;
		}
		if (drmPrimeFDToHandle(fd, dmabufs[i], &bo.handle)) {
			r = -errno;
			pr_err("dump of render node renderD%u (file %d): cannot import GEM BO %u: %s",
			       bo.minor, render_id, rf->bos[i]->handle, strerror(-r));
			return r;
		}
		r = add_bo(&bo);
		if (r)
			return r;
	}
	return 0;
}

/* The BO dma-buf @fd is, among those noted, or NULL. */
static const struct dmabuf_bo *find_bo(int fd)
{
	for (unsigned int n = 0; n < dd.n_nodes; n++) {
		uint32_t handle;

		/* A dma-buf of another GPU or driver imports as a new handle, which no BO has. */
		if (drmPrimeFDToHandle(dd.nodes[n].fd, fd, &handle))
			continue;
		for (size_t i = 0; i < dd.n_bos; i++)
			if (dd.bos[i].minor == dd.nodes[n].minor && dd.bos[i].handle == handle)
				return &dd.bos[i];
	}
	return NULL;
}

int plugin_dmabuf_describe(int fd, char *what, size_t what_len)
{
	const struct dmabuf_bo *bo = find_bo(fd);

	if (!bo)
		return -ENOENT;
	if (bo->gem)
		snprintf(what, what_len,
			 "GEM BO %u (GPU 0x%x, %" PRIu64 " bytes) of render-node file %d",
			 bo->index, bo->gpu_id, bo->size, bo->kfd_id);
	else
		snprintf(what, what_len,
			 "BO %u (GPU 0x%x, %" PRIu64 " bytes) of KFD file %d of pid %u", bo->index,
			 bo->gpu_id, bo->size, bo->kfd_id, bo->pid);
	return 0;
}

int plugin_dmabuf_dump(int dirfd, int fd, int id)
{
	Vramstream__DmabufFile df = VRAMSTREAM__DMABUF_FILE__INIT;
	const struct dmabuf_bo *bo = find_bo(fd);
	char name[64];
	uint8_t *buf;
	size_t len;
	int r;

	if (!bo) {
		pr_err("dump of dma-buf file %d: it is no VRAM, GTT or GEM BO of the %zu that the "
		       "KFD and render-node files dumped so far hold; dma-bufs of other drivers "
		       "are not supported, and a BO's dma-buf must come after the process's "
		       "/dev/kfd or render node in its fd table",
		       id, dd.n_bos);
		return -EOPNOTSUPP;
	}
	if (bo->gem) {
		df.has_render_file_id = 1;
		df.render_file_id = (uint32_t)bo->kfd_id;
	} else {
		df.kfd_file_id = (uint32_t)bo->kfd_id;
	}
	df.bo_index = bo->index;
	df.has_gpu_id = 1;
	df.gpu_id = bo->gpu_id;
	df.has_size = 1;
	df.size = bo->size;
	r = image_dmabuf_encode(&df, &buf, &len);
	if (r)
		return r;
	image_dmabuf_name(id, name, sizeof(name));
	r = image_file_write(dirfd, name, buf, len);
	free(buf);
	if (r) {
		pr_err("dump of dma-buf file %d: cannot write %s: %s", id, name, strerror(-r));
		return r;
	}
	if (bo->gem)
		pr_info("dma-buf file %d is GEM BO %u (GPU 0x%x, %" PRIu64
			" bytes) of render-node file %d",
			id, bo->index, bo->gpu_id, bo->size, bo->kfd_id);
	else
		pr_info("dma-buf file %d is BO %u (GPU 0x%x, %" PRIu64
			" bytes) of KFD file %d of pid %u",
			id, bo->index, bo->gpu_id, bo->size, bo->kfd_id, bo->pid);
	return 0;
}

void plugin_dmabuf_dump_finish(void)
{
	for (unsigned int i = 0; i < dd.n_nodes; i++)
		close(dd.nodes[i].fd);
	free(dd.bos);
	memset(&dd, 0, sizeof(dd));
}

/* ---- restore ---------------------------------------------------------------------------- */

/* The dma-bufs kept in one restored task, by criu file id. Owned by this file. */
static struct {
	pid_t pid;
	struct {
		int id, fd;
	} * kept;
	size_t n, cap;
} dr;

static void restore_state_for(pid_t pid)
{
	if (dr.pid == pid)
		return;
	free(dr.kept); /* a copy inherited from the task criu forked us from */
	memset(&dr, 0, sizeof(dr));
	dr.pid = pid;
}

static int read_dmabuf_file(int dirfd, const char *name, Vramstream__DmabufFile **df)
{
	char why[256];
	uint8_t *buf;
	size_t len;
	int r;

	r = image_file_read(dirfd, name, &buf, &len);
	if (r) {
		if (r != -ENOENT)
			pr_err("restore of pid %d: cannot read %s: %s", (int)getpid(), name,
			       strerror(-r));
		return r;
	}
	r = image_dmabuf_decode(buf, len, df, why, sizeof(why));
	free(buf);
	if (r)
		pr_err("restore of pid %d: %s: %s", (int)getpid(), name, why);
	return r;
}

/* Keeps a copy of dma-buf @dmabuf as criu file @id. */
static int keep_fd(int id, int dmabuf, int (*dup_fd)(int fd))
{
	int fd;

	if (dr.n == dr.cap) {
		size_t cap = dr.cap ? dr.cap * 2 : 8;
		void *n = realloc(dr.kept, cap * sizeof(*dr.kept));

		if (!n)
			return -ENOMEM;
		dr.kept = n;
		dr.cap = cap;
	}
	fd = dup_fd(dmabuf);
	if (fd < 0)
		return fd;
	dr.kept[dr.n].id = id;
	dr.kept[dr.n++].fd = fd;
	return 0;
}

static int keep_one(const Vramstream__DmabufFile *df, int id, const struct kfd_criu_bo_bucket *bos,
		    size_t n_bos, int (*dup_fd)(int fd))
{
	if (df->bo_index >= n_bos || bos[df->bo_index].dmabuf_fd == KFD_INVALID_FD ||
	    (df->has_size && df->size != bos[df->bo_index].size)) {
		pr_err("restore of pid %d: dma-buf file %d names BO %u of KFD file %u, which is "
		       "no restored VRAM or GTT BO of that size (damaged image)",
		       (int)getpid(), id, df->bo_index, df->kfd_file_id);
		return -EINVAL;
	}
	return keep_fd(id, (int)bos[df->bo_index].dmabuf_fd, dup_fd);
}

static int keep_one_gem(const Vramstream__DmabufFile *df, int id, const Vramstream__RenderFile *rf,
			const int *dmabufs, int (*dup_fd)(int fd))
{
	if (df->bo_index >= rf->n_bos || dmabufs[df->bo_index] < 0 ||
	    (df->has_size && df->size != rf->bos[df->bo_index]->size)) {
		pr_err("restore of pid %d: dma-buf file %d names GEM BO %u of render-node file "
		       "%u, which is no restored BO of that size with contents (damaged image)",
		       (int)getpid(), id, df->bo_index, df->render_file_id);
		return -EINVAL;
	}
	return keep_fd(id, dmabufs[df->bo_index], dup_fd);
}

/* What to keep of the dma-buf files in the folder: those naming one restored file. */
struct keep_for {
	bool gem;
	int file_id;
	const struct kfd_criu_bo_bucket *bos;
	size_t n_bos;
	const Vramstream__RenderFile *rf;
	const int *dmabufs;
	int (*dup_fd)(int fd);
};

static int keep_matching(int dirfd, const struct keep_for *k)
{
	struct dirent *de;
	int dup_dir, r = 0;
	DIR *d;

	restore_state_for(getpid());
	dup_dir = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_dir < 0)
		return -errno;
	d = fdopendir(dup_dir);
	if (!d) {
		r = -errno;
		close(dup_dir);
		return r;
	}
	while (!r && (de = readdir(d))) {
		Vramstream__DmabufFile *df = NULL;
		int id;

		if (image_name_kind(de->d_name, NULL, &id) != IMAGE_FILE_DMABUF)
			continue;
		r = read_dmabuf_file(dirfd, de->d_name, &df);
		if (r) {
			image_dmabuf_free(df);
			break;
		}
		if (k->gem && df->has_render_file_id && df->render_file_id == (uint32_t)k->file_id)
			r = keep_one_gem(df, id, k->rf, k->dmabufs, k->dup_fd);
		else if (!k->gem && !df->has_render_file_id &&
			 df->kfd_file_id == (uint32_t)k->file_id)
			r = keep_one(df, id, k->bos, k->n_bos, k->dup_fd);
		image_dmabuf_free(df);
	}
	closedir(d);
	return r;
}

int plugin_dmabuf_keep(int dirfd, int kfd_id, const struct kfd_criu_bo_bucket *bos, size_t n_bos,
		       int (*dup_fd)(int fd))
{
	const struct keep_for k = {
		.file_id = kfd_id, .bos = bos, .n_bos = n_bos, .dup_fd = dup_fd
	};

	return keep_matching(dirfd, &k);
}

int plugin_dmabuf_keep_render(int dirfd, int render_id, const Vramstream__RenderFile *rf,
			      const int *dmabufs, int (*dup_fd)(int fd))
{
	const struct keep_for k = {
		.gem = true, .file_id = render_id, .rf = rf, .dmabufs = dmabufs, .dup_fd = dup_fd
	};

	return keep_matching(dirfd, &k);
}

int plugin_dmabuf_restore(int dirfd, int id)
{
	Vramstream__DmabufFile *df = NULL;
	char name[64];
	int r;

	restore_state_for(getpid());
	image_dmabuf_name(id, name, sizeof(name));
	r = read_dmabuf_file(dirfd, name, &df);
	if (r == -ENOENT)
		return -ENOTSUP;
	if (r)
		return r;
	for (size_t i = 0; i < dr.n; i++) {
		int fd = dr.kept[i].fd;

		if (dr.kept[i].id != id)
			continue;
		/* criu moves it to the file's number and closes this one (files.c). */
		dr.kept[i] = dr.kept[--dr.n];
		if (df->has_render_file_id)
			pr_info("restore of pid %d: dma-buf file %d is GEM BO %u of render-node "
				"file %u again",
				(int)getpid(), id, df->bo_index, df->render_file_id);
		else
			pr_info("restore of pid %d: dma-buf file %d is BO %u of KFD file %u again",
				(int)getpid(), id, df->bo_index, df->kfd_file_id);
		image_dmabuf_free(df);
		return fd;
	}
	pr_err("restore of pid %d: dma-buf file %d is BO %u of %s file %u, which was not "
	       "restored in this process before it (a dma-buf shared with another process "
	       "restores only in the process that holds the BO's file)",
	       (int)getpid(), id, df->bo_index, df->has_render_file_id ? "render-node" : "KFD",
	       df->has_render_file_id ? df->render_file_id : df->kfd_file_id);
	image_dmabuf_free(df);
	return -ENOENT;
}
