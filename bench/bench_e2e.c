// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vramstream-bench e2e: GPU memory -> image -> GPU memory through the
 * plugin's transfer pipeline (plugin/plugin_transfer.c, the code the plugin
 * runs inside criu), against the straightforward design measured in the same
 * command: one copy queue, copy a chunk into one staging buffer, wait for
 * it, write() it raw, next chunk, as the upstream CRIU amdgpu plugin moves
 * BO contents (plugins/amdgpu/amdgpu_plugin.c: sdma_copy_bo, one thread per
 * GPU, ring 0, a staging buffer as large as the largest BO).
 *
 * Devices: "emu" allocates VRAM BOs through KFD on the GPUs this process
 * sees (the emulator's, under vramstream-emu, or real AMD GPUs) and moves
 * them with SDMA (plugin_dma_sdma); "cuda" uses device memory of an NVIDIA
 * GPU and its copy engines (bench_dma_cuda.c), for the real-GPU run.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/kfd_ioctl.h>
#include <linux/magic.h>

#include "bench.h"
#include "common_clock.h"
#include "compress.h"
#include "bench_dma_cuda.h"
#include "image.h"
#include "plugin_transfer.h"

/* KFD 1.12 added EXPORT_DMABUF (kfd_ioctl.h version log); Debian 12 ships 1.11. */
#ifndef AMDKFD_IOC_EXPORT_DMABUF
struct kfd_ioctl_export_dmabuf_args {
	__u64 handle;
	__u32 flags;
	__u32 dmabuf_fd;
};
#define AMDKFD_IOC_EXPORT_DMABUF AMDKFD_IOWR(0x24, struct kfd_ioctl_export_dmabuf_args)
#endif

#define TOPOLOGY "/sys/class/kfd/kfd/topology/nodes"
#define MAX_GPUS 16
#define MAX_BOS	 4096

struct e2e_opts {
	const char *dma; /* "emu" or "cuda" */
	uint64_t size;	 /* per GPU */
	uint64_t bo_size;
	unsigned int gpus;
	enum bench_kind kind;
	const char *dir;
	bool json, verify, keep;
	bool baseline;	  /* run the copy-wait-write baseline too (--no-baseline: not) */
	bool ceiling;	  /* measure the folder's own write()/read() (--no-ceiling: not) */
	bool no_poll;	  /* cuda: the engine without poll(), restore blocks on the oldest copy */
	bool incremental; /* --incremental: the periodic-checkpoint scenarios instead */
	/* for bos_create(): every GPU the same data; every n-th chunk changed */
	bool same_gpus;
	unsigned int change_every;
	unsigned int baseline_max_mb;
	struct plugin_config cfg;
};

struct bo {
	int fd;		 /* dmabuf (emu) or device allocation index (cuda) */
	uint64_t handle; /* KFD handle (emu) */
	void *va;	 /* reserved CPU range for the GPU VA (emu) */
	uint64_t size;
	uint64_t seed;
	/* --incremental: every change_every-th region of change_len bytes holds
	 * other data (a second dump after part of VRAM changed); 0: none */
	unsigned int change_every;
	uint64_t change_len;
};

struct gpu {
	uint32_t gpu_id, render_minor;
	int drm_fd;
	struct bo bos[MAX_BOS];
	unsigned int n_bos;
};

static struct {
	int kfd;
	struct gpu gpu[MAX_GPUS];
	unsigned int n_gpus;
	bool cuda;
} dev = { .kfd = -1 };

/* ---- devices ---------------------------------------------------------- */

static int read_prop(const char *path, const char *key, uint64_t *v)
{
	char line[256], name[128];
	unsigned long long val;
	FILE *f = fopen(path, "r");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %llu", name, &val) == 2 && !strcmp(name, key)) {
			*v = val;
			r = 0;
			break;
		}
	fclose(f);
	return r;
}

static int emu_open(unsigned int want)
{
	char path[512];
	uint64_t id, minor = 0;

	dev.kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	if (dev.kfd < 0) {
		fprintf(stderr,
			"e2e: cannot open /dev/kfd: %s (run under vramstream-emu or on a "
			"machine with AMD GPUs)\n",
			strerror(errno));
		return -errno;
	}
	for (unsigned int node = 0; node < 64 && dev.n_gpus < want; node++) {
		struct kfd_ioctl_acquire_vm_args acq = { 0 };
		struct gpu *g = &dev.gpu[dev.n_gpus];
		FILE *f;

		snprintf(path, sizeof(path), TOPOLOGY "/%u/gpu_id", node);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%" SCNu64, &id) != 1)
			id = 0;
		fclose(f);
		snprintf(path, sizeof(path), TOPOLOGY "/%u/properties", node);
		if (!id || read_prop(path, "drm_render_minor", &minor))
			continue;
		g->gpu_id = (uint32_t)id;
		g->render_minor = (uint32_t)minor;
		snprintf(path, sizeof(path), "/dev/dri/renderD%u", g->render_minor);
		g->drm_fd = open(path, O_RDWR | O_CLOEXEC);
		acq.gpu_id = g->gpu_id;
		acq.drm_fd = (uint32_t)g->drm_fd;
		if (g->drm_fd < 0 || ioctl(dev.kfd, AMDKFD_IOC_ACQUIRE_VM, &acq)) {
			fprintf(stderr, "e2e: GPU 0x%x (%s): %s\n", g->gpu_id, path,
				strerror(errno));
			return -errno;
		}
		dev.n_gpus++;
	}
	if (!dev.n_gpus) {
		fprintf(stderr, "e2e: no GPU in the KFD topology\n");
		return -ENODEV;
	}
	return 0;
}

static int emu_alloc(struct gpu *g, struct bo *b)
{
	struct kfd_ioctl_alloc_memory_of_gpu_args alloc = { 0 };
	struct kfd_ioctl_export_dmabuf_args exp = { 0 };

	b->va = mmap(NULL, b->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b->va == MAP_FAILED)
		return -errno;
	alloc.va_addr = (uintptr_t)b->va;
	alloc.size = b->size;
	alloc.gpu_id = g->gpu_id;
	alloc.flags = KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_WRITABLE |
		      KFD_IOC_ALLOC_MEM_FLAGS_PUBLIC;
	if (ioctl(dev.kfd, AMDKFD_IOC_ALLOC_MEMORY_OF_GPU, &alloc)) {
		fprintf(stderr, "e2e: KFD ALLOC_MEMORY_OF_GPU %" PRIu64 " bytes on 0x%x: %s\n",
			b->size, g->gpu_id, strerror(errno));
		return -errno;
	}
	b->handle = alloc.handle;
	exp.handle = alloc.handle;
	exp.flags = O_CLOEXEC;
	if (ioctl(dev.kfd, AMDKFD_IOC_EXPORT_DMABUF, &exp)) {
		fprintf(stderr, "e2e: KFD EXPORT_DMABUF: %s\n", strerror(errno));
		return -errno;
	}
	b->fd = (int)exp.dmabuf_fd;
	return 0;
}

static void emu_free(struct bo *b)
{
	struct kfd_ioctl_free_memory_of_gpu_args fr = { .handle = b->handle };

	close(b->fd);
	ioctl(dev.kfd, AMDKFD_IOC_FREE_MEMORY_OF_GPU, &fr);
	munmap(b->va, b->size);
}

/* Host view of a BO's bytes: the dmabuf mapped (emu), a download (cuda). */
/* What @b holds: its seed's data, with the changed regions of --incremental. */
static void bo_data(const struct bo *b, enum bench_kind kind, uint8_t *p)
{
	bench_data_fill(kind, p, b->size, b->seed);
	for (uint64_t i = 0, off = 0; b->change_every && off < b->size; i++, off += b->change_len)
		if (i % b->change_every == 0)
			bench_data_fill(kind, p + off,
					b->size - off < b->change_len ? b->size - off
								      : b->change_len,
					b->seed * 7919 + i + 1);
}

static int bo_fill(struct bo *b, enum bench_kind kind)
{
	uint8_t *p;
	int r = 0;

	if (dev.cuda) {
		p = malloc(b->size);
		if (!p)
			return -ENOMEM;
		bo_data(b, kind, p);
		r = bench_cuda_upload(b->fd, p, b->size);
		free(p);
		return r;
	}
	p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	bo_data(b, kind, p);
	munmap(p, b->size);
	return 0;
}

static int bo_check(const struct bo *b, enum bench_kind kind)
{
	uint8_t *want = malloc(b->size), *got = NULL;
	int r = 0;

	if (!want)
		return -ENOMEM;
	bo_data(b, kind, want);
	if (dev.cuda) {
		got = malloc(b->size);
		r = got ? bench_cuda_download(b->fd, got, b->size) : -ENOMEM;
		if (!r && memcmp(want, got, b->size))
			r = -EBADMSG;
		free(got);
	} else {
		got = mmap(NULL, b->size, PROT_READ, MAP_SHARED, b->fd, 0);
		if (got == MAP_FAILED)
			r = -errno;
		else {
			if (memcmp(want, got, b->size))
				r = -EBADMSG;
			munmap(got, b->size);
		}
	}
	free(want);
	return r;
}

/* Fills or checks every BO, on all CPUs: generating the data is slow. */
struct bo_work {
	enum bench_kind kind;
	bool check;
	unsigned int next; /* atomic: next BO, counted over all GPUs */
	int status;
};

static struct bo *bo_by_index(unsigned int n)
{
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++) {
		if (n < dev.gpu[gi].n_bos)
			return &dev.gpu[gi].bos[n];
		n -= dev.gpu[gi].n_bos;
	}
	return NULL;
}

static void *bo_worker(void *arg)
{
	struct bo_work *w = arg;
	struct bo *b;

	while ((b = bo_by_index(__atomic_fetch_add(&w->next, 1, __ATOMIC_RELAXED)))) {
		int r = w->check ? bo_check(b, w->kind) : bo_fill(b, w->kind);

		if (r)
			__atomic_store_n(&w->status, r, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int bos_each(enum bench_kind kind, bool check)
{
	struct bo_work w = { .kind = kind, .check = check };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int n = cpus > 1 ? (unsigned int)(cpus > 64 ? 64 : cpus) : 1;
	pthread_t th[64];

	for (unsigned int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, bo_worker, &w))
			n = i;
	for (unsigned int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	return w.status;
}

/* (Re)creates every GPU's BOs; @fill writes the data kind into them. */
static int bos_create(const struct e2e_opts *o, bool fill)
{
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++) {
		struct gpu *g = &dev.gpu[gi];

		g->n_bos = 0;
		for (uint64_t done = 0; done < o->size && g->n_bos < MAX_BOS; g->n_bos++) {
			struct bo *b = &g->bos[g->n_bos];
			int r;

			b->size = o->size - done < o->bo_size ? o->size - done : o->bo_size;
			b->seed = (o->same_gpus ? 0 : 1000 * gi) + g->n_bos + 1;
			b->change_every = o->change_every;
			b->change_len = o->cfg.chunk_size;
			r = dev.cuda ? bench_cuda_alloc(b->size, &b->fd) : emu_alloc(g, b);
			if (r)
				return r;
			done += b->size;
		}
	}
	return fill ? bos_each(o->kind, false) : 0;
}

static void bos_release(void)
{
	if (dev.cuda) {
		bench_cuda_free_all();
		return;
	}
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++)
		for (unsigned int i = 0; i < dev.gpu[gi].n_bos; i++)
			emu_free(&dev.gpu[gi].bos[i]);
}

static int bos_verify(const struct e2e_opts *o, const char *what)
{
	int r = bos_each(o->kind, true);

	if (r)
		fprintf(stderr, "e2e: %s: BO contents differ after restore (%s)\n", what,
			strerror(-r));
	return r;
}

/* ---- the pipeline ----------------------------------------------------- */

struct result {
	double dump_s, restore_s, dump_cpu_s, restore_cpu_s;
	uint64_t bytes, stored, peak_rss;
	double dma_busy[2], codec_busy[2], io_busy[2];
	double feed_wait[2];	     /* the pipeline's GPU thread waiting on the CPU side */
	double setup[2];	     /* the pipeline's start: engine, pinned buffers, files */
	unsigned int parts;	     /* stream files per GPU */
	struct transfer_stats st[2]; /* the pipeline's, summed over GPUs: dump, restore */
};

/* Adds one GPU's account to the sum over GPUs. */
static void stats_sum(struct transfer_stats *to, const struct transfer_stats *s)
{
	to->seconds += s->seconds;
	to->gpu_issue_s += s->gpu_issue_s;
	to->gpu_dma_wait_s += s->gpu_dma_wait_s;
	to->gpu_poll_s += s->gpu_poll_s;
	to->gpu_submit_s += s->gpu_submit_s;
	to->gpu_wait_s += s->gpu_wait_s;
	to->gpu_cpu_s += s->gpu_cpu_s;
	to->setup_s += s->setup_s;
	to->zero_s += s->zero_s;
	to->filter_s += s->filter_s;
	to->codec_busy_s += s->codec_busy_s;
	to->checksum_s += s->checksum_s;
	to->copy_s += s->copy_s;
	to->io_busy_s += s->io_busy_s;
	to->io_bytes += s->io_bytes;
	to->workers_cpu_s += s->workers_cpu_s;
	to->completion_cpu_s += s->completion_cpu_s;
	to->workers += s->workers;
}

static struct plugin_dma_ops cuda_ops_no_poll;

static const struct plugin_dma_ops *dma_ops(void)
{
	if (dev.cuda && cuda_ops_no_poll.poll == NULL && cuda_ops_no_poll.copy)
		return &cuda_ops_no_poll;
	return dev.cuda ? &bench_dma_cuda_ops : &plugin_dma_sdma_ops;
}

static void jobs_for(const struct e2e_opts *o, struct transfer_job *jobs,
		     struct transfer_bo (*tb)[MAX_BOS])
{
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++) {
		struct gpu *g = &dev.gpu[gi];

		memset(&jobs[gi], 0, sizeof(jobs[gi]));
		for (unsigned int i = 0; i < g->n_bos; i++)
			tb[gi][i] = (struct transfer_bo){ g->bos[i].size, g->bos[i].fd, i };
		jobs[gi].gpu_id = g->gpu_id;
		jobs[gi].render_minor = g->render_minor;
		jobs[gi].bos = tb[gi];
		jobs[gi].n_bos = g->n_bos;
		snprintf(jobs[gi].stream_path, sizeof(jobs[gi].stream_path), "%s/gpu%u.vrs", o->dir,
			 gi);
	}
}

static int run_pipeline(const struct e2e_opts *o, struct result *res)
{
	static struct transfer_bo tb[MAX_GPUS][MAX_BOS];
	struct transfer_job jobs[MAX_GPUS];
	struct bench_clock c;
	struct bench_usage u;
	int r;

	jobs_for(o, jobs, tb);
	bench_usage_start(&c);
	r = transfer_dump(&o->cfg, dma_ops(), jobs, dev.n_gpus);
	bench_usage_stop(&c, &u);
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++) {
		if (jobs[gi].status)
			fprintf(stderr, "e2e: pipeline dump, GPU %u: %s\n", gi, jobs[gi].err);
		res->bytes += jobs[gi].stats.bytes;
		res->stored += jobs[gi].stats.stored;
		res->dma_busy[0] += jobs[gi].stats.dma_busy_s;
		res->codec_busy[0] += jobs[gi].stats.codec_busy_s;
		res->io_busy[0] += jobs[gi].stats.io_busy_s;
		res->feed_wait[0] += jobs[gi].stats.feed_wait_s;
		res->setup[0] += jobs[gi].stats.setup_s;
		stats_sum(&res->st[0], &jobs[gi].stats);
	}
	if (r)
		return r;
	res->dump_s = u.wall_s;
	res->dump_cpu_s = u.cpu_s;
	res->peak_rss = u.peak_rss;

	/* Restore into fresh BOs, so nothing of the old contents can help. */
	unsigned int parts[MAX_GPUS];

	for (unsigned int gi = 0; gi < dev.n_gpus; gi++) {
		parts[gi] = jobs[gi].n_parts; /* as the plugin's metadata keeps it */
		for (unsigned int part = 0; part < parts[gi]; part++) {
			char path[PATH_MAX];

			if (!image_part_name(jobs[gi].stream_path, part, path, sizeof(path)))
				bench_drop_cached(path);
		}
	}
	res->parts = parts[0];
	bos_release();
	r = bos_create(o, false);
	if (r)
		return r;
	jobs_for(o, jobs, tb);
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++)
		jobs[gi].n_parts = parts[gi];
	bench_usage_start(&c);
	r = transfer_restore(&o->cfg, dma_ops(), jobs, dev.n_gpus);
	bench_usage_stop(&c, &u);
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++) {
		if (jobs[gi].status)
			fprintf(stderr, "e2e: pipeline restore, GPU %u: %s\n", gi, jobs[gi].err);
		res->dma_busy[1] += jobs[gi].stats.dma_busy_s;
		res->codec_busy[1] += jobs[gi].stats.codec_busy_s;
		res->io_busy[1] += jobs[gi].stats.io_busy_s;
		res->feed_wait[1] += jobs[gi].stats.feed_wait_s;
		res->setup[1] += jobs[gi].stats.setup_s;
		stats_sum(&res->st[1], &jobs[gi].stats);
	}
	if (r)
		return r;
	res->restore_s = u.wall_s;
	res->restore_cpu_s = u.cpu_s;
	if (u.peak_rss > res->peak_rss)
		res->peak_rss = u.peak_rss;
	if (o->verify)
		r = bos_verify(o, "pipeline");
	for (unsigned int gi = 0; gi < dev.n_gpus && !o->keep; gi++)
		for (unsigned int part = 0; part < jobs[gi].n_parts; part++) {
			char path[PATH_MAX];

			if (!image_part_name(jobs[gi].stream_path, part, path, sizeof(path)))
				unlink(path);
		}
	return r;
}

/* ---- the baseline ----------------------------------------------------- */

struct base_arg {
	const struct e2e_opts *o;
	struct gpu *g;
	unsigned int index;
	bool restore;
	int status;
	double dma_busy, io_busy;
};

static void *baseline_gpu(void *arg)
{
	struct base_arg *a = arg;
	struct plugin_dma_params dp = { 0 };
	struct plugin_dma *dma = NULL;
	uint64_t staging = 0, cap = (uint64_t)a->o->baseline_max_mb << 20;
	char path[PATH_MAX], err[256] = "";
	struct compress_rate *rate = NULL; /* the same storage model as the pipeline's */
	int fd = -1, r;

	r = compress_rate_new(a->o->cfg.io_rate, &rate);
	if (r)
		goto out;
	for (unsigned int i = 0; i < a->g->n_bos; i++)
		if (a->g->bos[i].size > staging)
			staging = a->g->bos[i].size;
	if (staging > cap)
		staging = cap; /* upstream's KFD_MAX_BUFFER_SIZE */
	dp.render_minor = a->g->render_minor;
	dp.lanes = 1;
	dp.buffers = 1;
	dp.buffer_size = staging;
	r = dma_ops()->open(&dp, &dma, err, sizeof(err));
	if (r) {
		fprintf(stderr, "e2e: baseline: %s\n", err);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/baseline-gpu%u.raw", a->o->dir, a->index);
	fd = a->restore ? open(path, O_RDONLY | O_CLOEXEC)
			: open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	for (unsigned int i = 0; !r && i < a->g->n_bos; i++) {
		struct bo *b = &a->g->bos[i];
		unsigned int h;

		r = dma_ops()->import(dma, b->fd, b->size, &h);
		for (uint64_t off = 0; !r && off < b->size; off += staging) {
			uint64_t len = b->size - off < staging ? b->size - off : staging, t;
			uint8_t *buf = dma_ops()->buffer(dma, 0);
			double t0;

			if (a->restore) {
				t0 = common_now_s();
				compress_rate_take(rate, len);
				r = bench_read_all(fd, buf, len);
				a->io_busy += common_now_s() - t0;
			}
			t0 = common_now_s();
			if (!r)
				r = dma_ops()->copy(dma, 0, h, off, 0, len, a->restore, &t);
			if (!r)
				r = dma_ops()->wait(dma, 0, t);
			a->dma_busy += common_now_s() - t0;
			if (!r && !a->restore) {
				t0 = common_now_s();
				compress_rate_take(rate, len);
				r = bench_write_all(fd, buf, len);
				a->io_busy += common_now_s() - t0;
			}
		}
	}
out:
	if (fd >= 0)
		close(fd);
	if (dma)
		dma_ops()->close(dma);
	compress_rate_free(rate);
	a->status = r;
	return NULL;
}

static int baseline_pass(const struct e2e_opts *o, bool restore, struct result *res)
{
	struct base_arg args[MAX_GPUS];
	pthread_t th[MAX_GPUS];
	struct bench_clock c;
	struct bench_usage u;
	int r = 0;

	bench_usage_start(&c);
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++) {
		args[gi] = (struct base_arg){
			.o = o, .g = &dev.gpu[gi], .index = gi, .restore = restore
		};
		pthread_create(&th[gi], NULL, baseline_gpu, &args[gi]);
	}
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++) {
		pthread_join(th[gi], NULL);
		if (args[gi].status && !r)
			r = args[gi].status;
		res->dma_busy[restore] += args[gi].dma_busy;
		res->io_busy[restore] += args[gi].io_busy;
	}
	bench_usage_stop(&c, &u);
	if (restore) {
		res->restore_s = u.wall_s;
		res->restore_cpu_s = u.cpu_s;
	} else {
		res->dump_s = u.wall_s;
		res->dump_cpu_s = u.cpu_s;
	}
	if (u.peak_rss > res->peak_rss)
		res->peak_rss = u.peak_rss;
	return r;
}

static int run_baseline(const struct e2e_opts *o, struct result *res)
{
	int r = baseline_pass(o, false, res);

	for (unsigned int gi = 0; gi < dev.n_gpus; gi++)
		for (unsigned int i = 0; i < dev.gpu[gi].n_bos; i++)
			res->bytes += dev.gpu[gi].bos[i].size;
	res->stored = res->bytes;
	if (r)
		return r;
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/baseline-gpu%u.raw", o->dir, gi);
		bench_drop_cached(path);
	}
	bos_release();
	r = bos_create(o, false);
	if (!r)
		r = baseline_pass(o, true, res);
	if (!r && o->verify)
		r = bos_verify(o, "baseline");
	for (unsigned int gi = 0; gi < dev.n_gpus && !o->keep; gi++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/baseline-gpu%u.raw", o->dir, gi);
		unlink(path);
	}
	return r;
}

/* ---- report ----------------------------------------------------------- */

static void print_row(const char *name, const struct result *r)
{
	double gb = r->bytes / 1e9;

	printf("%-9s %8.2f %8.2f %7.2f   %6.2f %6.2f %6.2f   %6.2f %6.2f %6.2f %8.0f\n", name,
	       gb / r->dump_s, gb / r->restore_s, r->stored ? (double)r->bytes / r->stored : 0,
	       r->dma_busy[0] > 0 ? gb / r->dma_busy[0] : 0,
	       r->codec_busy[0] > 0 ? gb / r->codec_busy[0] : 0,
	       r->io_busy[0] > 0 ? r->stored / 1e9 / r->io_busy[0] : 0,
	       r->dma_busy[1] > 0 ? gb / r->dma_busy[1] : 0,
	       r->codec_busy[1] > 0 ? gb / r->codec_busy[1] : 0,
	       r->io_busy[1] > 0 ? r->stored / 1e9 / r->io_busy[1] : 0, r->peak_rss / 1048576.0);
}

static void json_entry(const char *name, const struct result *r, bool last)
{
	double gb = r->bytes / 1e9;

	printf("\"%s\":{\"dump_gbps\":%.4f,\"restore_gbps\":%.4f,\"image_ratio\":%.4f,"
	       "\"bytes\":%" PRIu64 ",\"stored\":%" PRIu64 ",\"dump_s\":%.4f,\"restore_s\":%.4f,"
	       "\"dump_cpu_s_per_gb\":%.4f,\"restore_cpu_s_per_gb\":%.4f,"
	       "\"dma_busy_s\":[%.4f,%.4f],\"codec_busy_s\":[%.4f,%.4f],\"io_busy_s\":[%.4f,%.4f],"
	       "\"feed_wait_s\":[%.4f,%.4f],\"setup_s\":[%.4f,%.4f],\"peak_rss\":%" PRIu64 "}%s",
	       name, gb / r->dump_s, gb / r->restore_s,
	       r->stored ? (double)r->bytes / r->stored : 0, r->bytes, r->stored, r->dump_s,
	       r->restore_s, r->dump_cpu_s / gb, r->restore_cpu_s / gb, r->dma_busy[0],
	       r->dma_busy[1], r->codec_busy[0], r->codec_busy[1], r->io_busy[0], r->io_busy[1],
	       r->feed_wait[0], r->feed_wait[1], r->setup[0], r->setup[1], r->peak_rss,
	       last ? "" : ",");
}

/*
 * The folder's own limit, after the pipeline's files are gone: plain write()
 * and read() of the bytes the pipeline stored, in as many files and in
 * chunk-sized records (bench_ceiling.c). A dump that stores raw chunks can
 * go no faster than this; the line says how close the pipeline came.
 */
static void storage_ceiling(const struct e2e_opts *o, const struct result *pipe,
			    struct bench_ceiling *c)
{
	unsigned int files = pipe->parts * dev.n_gpus;
	double stored_w = pipe->stored / 1e9 / pipe->dump_s;
	double stored_r = pipe->stored / 1e9 / pipe->restore_s;
	int r;

	if (o->cfg.io_rate) {
		printf("storage ceiling not measured: --io-rate models the storage\n");
		return;
	}
	r = bench_storage_ceiling(o->dir, files, pipe->stored, o->cfg.chunk_size,
				  o->cfg.pinned_max * dev.n_gpus, o->cfg.direct_io, c);
	if (r) {
		fprintf(stderr, "e2e: storage ceiling in %s: %s (left out)\n", o->dir,
			strerror(-r));
		return;
	}
	printf("storage ceiling in %s, measured now: write() alone %.2f GB/s, read() %.2f GB/s "
	       "(%u files, %.0f MiB records%s, %.2f GB); the pipeline stored %.2f GB/s during its "
	       "dump (%.0f%% of write()) and read %.2f GB/s during its restore (%.0f%% of read())\n",
	       o->dir, c->write_gbps, c->read_gbps, files, o->cfg.chunk_size / 1048576.0,
	       c->direct ? ", O_DIRECT" : "", c->bytes / 1e9, stored_w,
	       100 * stored_w / c->write_gbps, stored_r, 100 * stored_r / c->read_gbps);
}

static unsigned int online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned int)n : 1;
}

/* " NAME S s (GB/s per busy thread)" for a stage that went over @gb. */
static void stage(const char *name, double s, double gb)
{
	if (s > 0)
		printf(", %s %.2f s (%.1f GB/s)", name, s, gb / s);
}

/*
 * Where one direction's time went, per kind of thread: the GPU's thread by
 * step (wall), compress/'s workers by stage (busy, summed) and their CPU,
 * the completion threads, and what is left of the process's CPU: the
 * kernel's io_uring workers (a read or write of tmpfs is their memcpy) and
 * the DMA driver's threads.
 */
static void print_account(const struct result *r, int d)
{
	const struct transfer_stats *st = &r->st[d];
	double wall = d ? r->restore_s : r->dump_s, cpu = d ? r->restore_cpu_s : r->dump_cpu_s;
	double gb = r->bytes / 1e9, n = dev.n_gpus ? dev.n_gpus : 1;
	double steps = st->setup_s + st->gpu_issue_s + st->gpu_dma_wait_s + st->gpu_poll_s +
		       st->gpu_submit_s + st->gpu_wait_s;
	double rest = cpu - st->gpu_cpu_s - st->workers_cpu_s - st->completion_cpu_s;
	unsigned int cpus = online_cpus();

	printf("%s: %.2f GB in %.3f s, CPU %.2f s (%.3f s per GB, %.0f%% of %u cores)\n",
	       d ? "restore" : "dump", gb, wall, cpu, cpu / gb, 100 * cpu / (wall * cpus), cpus);
	printf("  GPU thread (per GPU): wall %.3f s = start %.3f + queueing DMA %.3f + blocked "
	       "on the oldest copy %.3f + polling and napping %.3f + %s %.3f + waiting for %s "
	       "%.3f + the rest %.3f; CPU %.3f s\n",
	       st->seconds / n, st->setup_s / n, st->gpu_issue_s / n, st->gpu_dma_wait_s / n,
	       st->gpu_poll_s / n, d ? "queueing reads" : "pushing to writers",
	       st->gpu_submit_s / n, d ? "reads to land" : "a free buffer", st->gpu_wait_s / n,
	       (st->seconds - steps) / n, st->gpu_cpu_s / n);
	printf("  workers (%u): CPU %.2f s, %.0f%% of their wall time; busy", st->workers,
	       st->workers_cpu_s,
	       st->workers ? 100 * st->workers_cpu_s / (wall * st->workers) : 0.0);
	stage("zero test", st->zero_s, gb);
	stage("filter", st->filter_s, gb);
	stage(d ? "decompress" : "compress", st->codec_busy_s, gb);
	stage("checksum", st->checksum_s, gb);
	stage("copies", st->copy_s, gb);
	printf("\n  I/O: %.2f GB, %.2f s of requests summed (%.2f GB/s per request in flight; "
	       "on tmpfs the workers read and write themselves: part of their CPU)\n",
	       st->io_bytes / 1e9, st->io_busy_s,
	       st->io_busy_s > 0 ? st->io_bytes / 1e9 / st->io_busy_s : 0.0);
	printf("  completion threads: CPU %.2f s; the rest of the process (io_uring's kernel "
	       "workers, the DMA driver's threads): CPU %.2f s (%.3f s per GB)\n",
	       st->completion_cpu_s, rest, rest / gb);
}

/* The limits measured in this run, and each direction as a share of the slowest. */
struct limits {
	double link[2];	  /* device->host, host->device */
	double folder[2]; /* write(), read(), in raw GB/s (stored bytes x image ratio) */
	double codec[2];  /* zstd on every core: compress, decompress (0: not compressing) */
	double share[2];  /* dump, restore: of the slowest */
	const char *slowest[2];
	/* Memory filesystem and compression: the folder's copies and zstd run on
	 * the same cores, so together they move at most 1 / (1/codec + 1/folder). */
	double shared[2];
};

/* Whether @dir (or, once removed, the folder it was made in) is tmpfs or ramfs. */
static bool dir_in_memory(const char *dir)
{
	char up[PATH_MAX];
	struct statfs fs;
	char *slash;

	if (statfs(dir, &fs)) {
		snprintf(up, sizeof(up), "%s", dir);
		slash = strrchr(up, '/');
		if (!slash || slash == up)
			return false;
		*slash = 0;
		if (statfs(up, &fs))
			return false;
	}
	return fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC;
}

static void limits_compute(const struct e2e_opts *o, const struct result *r,
			   const struct bench_ceiling *c, double d2h, double h2d, struct limits *l)
{
	double ratio = r->stored ? (double)r->bytes / r->stored : 1, gb = r->bytes / 1e9;

	memset(l, 0, sizeof(*l));
	l->link[0] = d2h;
	l->link[1] = h2d;
	l->folder[0] = c->write_gbps * ratio;
	l->folder[1] = c->read_gbps * ratio;
	if (o->cfg.io_rate) /* the storage model instead of the folder: per GPU, both ways */
		l->folder[0] = l->folder[1] = o->cfg.io_rate / 1e9 * dev.n_gpus * ratio;
	for (int d = 0; d < 2; d++) {
		const struct transfer_stats *st = &r->st[d];
		double codec = st->codec_busy_s + st->filter_s;
		double rate = gb / (d ? r->restore_s : r->dump_s), slow = 0;

		if (o->cfg.compress && codec > 0)
			l->codec[d] = gb / codec * online_cpus();
		const double cand[3] = { l->link[d], l->folder[d], l->codec[d] };
		const char *name[3] = { "link", "folder", "zstd" };

		for (int k = 0; k < 3; k++)
			if (cand[k] > 0 && (slow == 0 || cand[k] < slow)) {
				slow = cand[k];
				l->slowest[d] = name[k];
			}
		l->share[d] = slow > 0 ? rate / slow : 0;
		if (l->codec[d] > 0 && l->folder[d] > 0 && !o->cfg.io_rate && dir_in_memory(o->dir))
			l->shared[d] = 1 / (1 / l->codec[d] + 1 / l->folder[d]);
	}
}

static void print_limits(const struct e2e_opts *o, const struct result *r, const struct limits *l)
{
	double gb = r->bytes / 1e9;

	printf("limits measured in this run (raw GB/s): link device->host %.2f, host->device "
	       "%.2f; folder write() %.2f, read() %.2f (its stored-byte rate x image ratio); zstd "
	       "on all %u cores: compress %.2f, decompress %.2f (0: not measured or not "
	       "compressing)\n",
	       l->link[0], l->link[1], l->folder[0], l->folder[1], online_cpus(), l->codec[0],
	       l->codec[1]);
	for (int d = 0; d < 2; d++) {
		double rate = gb / (d ? r->restore_s : r->dump_s);

		printf("pipeline %s %.2f GB/s:", d ? "restore" : "dump", rate);
		if (l->link[d] > 0)
			printf(" %.0f%% of the link,", 100 * rate / l->link[d]);
		if (l->folder[d] > 0)
			printf(" %.0f%% of the folder's %s,", 100 * rate / l->folder[d],
			       o->cfg.io_rate ? "--io-rate"
			       : d	      ? "read()"
					      : "write()");
		if (l->codec[d] > 0)
			printf(" %.0f%% of zstd's capacity,", 100 * rate / l->codec[d]);
		if (l->slowest[d])
			printf(" so %.0f%% of the slowest (%s)\n", 100 * l->share[d],
			       l->slowest[d]);
		else
			printf(" no limit measured\n");
		if (l->shared[d] > 0)
			printf("  zstd and the folder's copies share the %u cores (a memory "
			       "filesystem): together at most %.2f GB/s, the %s at %.0f%% of it\n",
			       online_cpus(), l->shared[d], d ? "restore" : "dump",
			       100 * rate / l->shared[d]);
	}
}

static void json_account(const char *name, const struct transfer_stats *st, double cpu, bool last)
{
	printf("\"%s\":{\"cpu_s\":%.4f,\"gpu_wall_s\":%.4f,\"setup_s\":%.4f,"
	       "\"gpu_issue_s\":%.4f,\"gpu_dma_wait_s\":%.4f,\"gpu_poll_s\":%.4f,"
	       "\"gpu_submit_s\":%.4f,\"gpu_wait_s\":%.4f,\"gpu_cpu_s\":%.4f,\"workers\":%u,"
	       "\"workers_cpu_s\":%.4f,\"completion_cpu_s\":%.4f,\"zero_s\":%.4f,"
	       "\"filter_s\":%.4f,\"codec_s\":%.4f,\"checksum_s\":%.4f,\"copy_s\":%.4f,"
	       "\"io_s\":%.4f,\"io_bytes\":%" PRIu64 ",\"rest_cpu_s\":%.4f}%s",
	       name, cpu, st->seconds, st->setup_s, st->gpu_issue_s, st->gpu_dma_wait_s,
	       st->gpu_poll_s, st->gpu_submit_s, st->gpu_wait_s, st->gpu_cpu_s, st->workers,
	       st->workers_cpu_s, st->completion_cpu_s, st->zero_s, st->filter_s, st->codec_busy_s,
	       st->checksum_s, st->copy_s, st->io_busy_s, st->io_bytes,
	       cpu - st->gpu_cpu_s - st->workers_cpu_s - st->completion_cpu_s, last ? "" : ",");
}

/* plugin_config_get_fn for one setting: ctx is { name, value }. */
/* ---- periodic checkpoints (--incremental) ----------------------------- */

struct inc_run {
	double dump_s, restore_s;
	uint64_t bytes, stored, ref_bytes;
	unsigned int parts[MAX_GPUS];
};

/* Number of part @p of GPU @gi's stream in the parent image (as the plugin numbers them). */
static uint16_t inc_parent_id(unsigned int gi, unsigned int p)
{
	return (uint16_t)(IMAGE_SOURCE_PARENT + IMAGE_SOURCE_OWN(gi, p));
}

static void inc_path(const struct e2e_opts *o, const char *sub, unsigned int gi, unsigned int p,
		     char *out, size_t len)
{
	char base[PATH_MAX];

	snprintf(base, sizeof(base), "%s/%s/gpu%u.vrs", o->dir, sub, gi);
	if (image_part_name(base, p, out, len))
		out[0] = '\0';
}

/* Every GPU's BOs into folder @sub, their chunks looked up in @table. */
static int inc_dump(const struct e2e_opts *o, const char *sub, struct compress_dedup *table,
		    struct inc_run *res)
{
	static struct transfer_bo tb[MAX_GPUS][MAX_BOS];
	struct transfer_job jobs[MAX_GPUS];
	struct e2e_opts so = *o;
	char dir[PATH_MAX];
	double t0;
	int r;

	snprintf(dir, sizeof(dir), "%s/%s", o->dir, sub);
	mkdir(dir, 0700);
	so.dir = dir;
	jobs_for(&so, jobs, tb);
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++) {
		jobs[gi].dedup = table;
		jobs[gi].source_index = gi;
	}
	t0 = common_now_s();
	r = transfer_dump(&o->cfg, dma_ops(), jobs, dev.n_gpus);
	res->dump_s = common_now_s() - t0;
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++) {
		if (jobs[gi].status)
			fprintf(stderr, "e2e: dump into %s, GPU %u: %s\n", sub, gi, jobs[gi].err);
		res->bytes += jobs[gi].stats.bytes;
		res->stored += jobs[gi].stats.stored;
		res->ref_bytes += jobs[gi].stats.ref_bytes;
		res->parts[gi] = jobs[gi].n_parts;
	}
	return r;
}

/* A table holding the chunks the streams of folder @sub store, as a parent's. */
static int inc_parent_table(const struct e2e_opts *o, const char *sub, const struct inc_run *p,
			    struct compress_dedup **out)
{
	int r = compress_dedup_new(out);

	for (unsigned int gi = 0; !r && gi < dev.n_gpus; gi++)
		for (unsigned int k = 0; !r && k < p->parts[gi]; k++) {
			struct compress_reader *rd;
			struct compress_err err;
			char path[PATH_MAX];

			inc_path(o, sub, gi, k, path, sizeof(path));
			r = image_stream_index_open(AT_FDCWD, path, &rd, &err);
			if (r) {
				fprintf(stderr, "e2e: %s\n", err.msg);
				break;
			}
			r = compress_dedup_add_reader(*out, rd, inc_parent_id(gi, k), NULL, 0);
			compress_reader_free(rd);
		}
	return r;
}

/*
 * Restores folder @sub (whose parent, if any, is @parent with its part
 * counts) into fresh BOs and checks every byte; the list of files its
 * references name is made as the plugin records it.
 */
static int inc_restore(const struct e2e_opts *o, const char *sub, const struct inc_run *me,
		       const char *parent, const struct inc_run *pp, struct inc_run *res)
{
	static struct transfer_bo tb[MAX_GPUS][MAX_BOS];
	static Vramstream__StreamSource src[2 * MAX_GPUS * IMAGE_PARTS_MAX];
	static Vramstream__StreamSource *srcp[2 * MAX_GPUS * IMAGE_PARTS_MAX];
	static char names[2 * MAX_GPUS * IMAGE_PARTS_MAX][PATH_MAX];
	Vramstream__ProcessImage img = VRAMSTREAM__PROCESS_IMAGE__INIT;
	struct transfer_job jobs[MAX_GPUS];
	struct e2e_opts so = *o;
	char dir[PATH_MAX], path[PATH_MAX];
	size_t n = 0;
	double t0;
	int dirfd, r;

	snprintf(dir, sizeof(dir), "%s/%s", o->dir, sub);
	so.dir = dir;
	for (int side = 0; side < (parent ? 2 : 1); side++)
		for (unsigned int gi = 0; gi < dev.n_gpus; gi++)
			for (unsigned int k = 0; k < (side ? pp : me)->parts[gi]; k++) {
				char base[32];

				char part[64];

				snprintf(base, sizeof(base), "gpu%u.vrs", gi);
				image_part_name(base, k, part, sizeof(part));
				snprintf(names[n], sizeof(names[n]), "%s%s%s%s", side ? "../" : "",
					 side ? parent : "", side ? "/" : "", part);
				vramstream__stream_source__init(&src[n]);
				src[n].id = side ? inc_parent_id(gi, k) : IMAGE_SOURCE_OWN(gi, k);
				src[n].path = names[n];
				src[n].has_depth = 1;
				src[n].depth = (uint32_t)side;
				srcp[n] = &src[n];
				n++;
			}
	img.n_sources = n;
	img.sources = srcp;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	bos_release();
	r = bos_create(o, false);
	if (r) {
		close(dirfd);
		return r;
	}
	jobs_for(&so, jobs, tb);
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++) {
		jobs[gi].n_parts = me->parts[gi];
		jobs[gi].refs_img = &img;
		jobs[gi].refs_dirfd = dirfd;
		for (unsigned int k = 0; k < me->parts[gi]; k++) {
			inc_path(o, sub, gi, k, path, sizeof(path));
			bench_drop_cached(path);
		}
		for (unsigned int k = 0; parent && k < pp->parts[gi]; k++) {
			inc_path(o, parent, gi, k, path, sizeof(path));
			bench_drop_cached(path);
		}
	}
	t0 = common_now_s();
	r = transfer_restore(&o->cfg, dma_ops(), jobs, dev.n_gpus);
	res->restore_s = common_now_s() - t0;
	close(dirfd);
	for (unsigned int gi = 0; gi < dev.n_gpus; gi++)
		if (jobs[gi].status)
			fprintf(stderr, "e2e: restore from %s, GPU %u: %s\n", sub, gi,
				jobs[gi].err);
	if (!r && o->verify)
		r = bos_verify(o, sub);
	return r;
}

static void inc_row(const char *name, const struct inc_run *r, const struct inc_run *full,
		    double d2h)
{
	double gbps = r->bytes / 1e9 / r->dump_s;

	printf("%-34s %10.1f %7.2f%% %11.3f %7.3f %9.2f", name, r->stored / 1e6,
	       100.0 * r->stored / full->stored, r->ref_bytes / 1e9, r->dump_s, gbps);
	if (d2h > 0)
		printf(" %7.0f%%", 100 * gbps / d2h);
	printf("\n");
}

static void inc_json(const char *name, const struct inc_run *r, bool last)
{
	printf("\"%s\":{\"bytes\":%" PRIu64 ",\"stored\":%" PRIu64 ",\"ref_bytes\":%" PRIu64
	       ",\"dump_s\":%.4f,\"restore_s\":%.4f}%s",
	       name, r->bytes, r->stored, r->ref_bytes, r->dump_s, r->restore_s, last ? "" : ",");
}

/*
 * Periodic checkpoints (README.md): a full dump; a second dump of the same
 * memory against it; one after 10% of every BO's chunks changed; restores
 * of the full and the incremental image; and, with several GPUs holding the
 * same bytes, one dump that stores them once. Stored bytes, dump time and
 * its share of the device->host link measured in the same run (CUDA).
 */
static int run_incremental(struct e2e_opts *o)
{
	struct inc_run full = { 0 }, same = { 0 }, inc10 = { 0 }, rep = { 0 };
	struct compress_dedup *t = NULL;
	double d2h = 0, h2d = 0;
	char dir[PATH_MAX];
	int r;

	o->change_every = 0;
	o->same_gpus = false;
	r = bos_create(o, true);
	if (!r && !(r = compress_dedup_new(&t)))
		r = inc_dump(o, "full", t, &full);
	compress_dedup_free(t);
	t = NULL;
	if (!r && !(r = inc_parent_table(o, "full", &full, &t)))
		r = inc_dump(o, "unchanged", t, &same);
	compress_dedup_free(t);
	t = NULL;
	if (!r) {
		o->change_every = 10; /* every 10th chunk of every BO */
		for (unsigned int gi = 0; gi < dev.n_gpus; gi++)
			for (unsigned int i = 0; i < dev.gpu[gi].n_bos; i++) {
				dev.gpu[gi].bos[i].change_every = 10;
				dev.gpu[gi].bos[i].change_len = o->cfg.chunk_size;
			}
		r = bos_each(o->kind, false);
	}
	if (!r && !(r = inc_parent_table(o, "full", &full, &t)))
		r = inc_dump(o, "changed10", t, &inc10);
	compress_dedup_free(t);
	t = NULL;
	/*
	 * Each image restored twice, alternated, the faster of each counting
	 * and the bytes checked on the second: the first restore in a process
	 * ran 10-50% slower than the next in every trial here, whichever image.
	 */
	for (int round = 0; !r && round < 2; round++) {
		struct e2e_opts ro = *o;
		struct inc_run f = full, c = inc10;

		ro.verify = o->verify && round == 1;
		ro.change_every = 0;
		r = inc_restore(&ro, "full", &full, NULL, NULL, &f);
		ro.change_every = 10;
		if (!r)
			r = inc_restore(&ro, "changed10", &inc10, "full", &full, &c);
		if (!round || f.restore_s < full.restore_s)
			full.restore_s = f.restore_s;
		if (!round || c.restore_s < inc10.restore_s)
			inc10.restore_s = c.restore_s;
	}
	o->change_every = 0;
	if (!r && dev.n_gpus > 1) {
		o->same_gpus = true;
		bos_release();
		r = bos_create(o, true);
		if (!r && !(r = compress_dedup_new(&t)))
			r = inc_dump(o, "replicated", t, &rep);
		compress_dedup_free(t);
		if (!r)
			r = inc_restore(o, "replicated", &rep, NULL, NULL, &rep);
		o->same_gpus = false;
	}
	bos_release();
	if (r)
		return r;
	if (dev.cuda) {
		int bi;

		if (!bench_cuda_alloc(o->size, &bi))
			bench_cuda_raw_bandwidth(bi, o->size, 4, &d2h, &h2d);
		bench_cuda_free_all();
	}
	printf("periodic checkpoints: %u GPU(s) x %.2f GB of %s data, %s, chunk %" PRIu64
	       " KiB%s\n",
	       dev.n_gpus, o->size / 1e9, bench_kind_name(o->kind), o->dma,
	       (uint64_t)o->cfg.chunk_size >> 10,
	       o->verify ? "; every byte verified after each restore" : "");
	if (d2h > 0)
		printf("link measured in this run: device->host %.2f GB/s, host->device %.2f GB/s\n",
		       d2h, h2d);
	printf("%-34s %10s %8s %11s %7s %9s%s\n", "dump", "stored MB", "of full", "referred GB",
	       "dump s", "GB/s", d2h > 0 ? "  of link" : "");
	inc_row("full", &full, &full, d2h);
	inc_row("unchanged, against the full one", &same, &full, d2h);
	inc_row("10% of chunks changed, against it", &inc10, &full, d2h);
	if (dev.n_gpus > 1) {
		inc_row("all GPUs the same bytes", &rep, &full, d2h);
		printf("%u GPUs holding the same bytes stored %.2fx what one GPU's full dump "
		       "stores\n",
		       dev.n_gpus, (double)rep.stored / ((double)full.stored / dev.n_gpus));
	}
	printf("restore (the faster of 2 each, alternated): full image %.2f GB/s, 10%%-changed "
	       "incremental image %.2f GB/s (%.0f%% of the full one's speed)%s\n",
	       full.bytes / 1e9 / full.restore_s, inc10.bytes / 1e9 / inc10.restore_s,
	       100 * full.restore_s / inc10.restore_s,
	       h2d > 0 ? "" : "; no link measured (emulated GPUs)");
	if (o->json) {
		printf("{\"incremental\":{");
		inc_json("full", &full, false);
		inc_json("unchanged", &same, false);
		inc_json("changed10", &inc10, false);
		inc_json("replicated", &rep, false);
		printf("\"gpus\":%u,\"size_per_gpu\":%" PRIu64 ",\"kind\":\"%s\",\"dma\":\"%s\","
		       "\"raw_d2h_gbps\":%.3f,\"raw_h2d_gbps\":%.3f}}\n",
		       dev.n_gpus, o->size, bench_kind_name(o->kind), o->dma, d2h, h2d);
	}
	if (!o->keep) {
		static const char *const subs[] = { "full", "unchanged", "changed10",
						    "replicated" };

		for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
			snprintf(dir, sizeof(dir), "rm -rf '%s/%s'", o->dir, subs[i]);
			if (system(dir))
				fprintf(stderr, "e2e: could not remove %s/%s\n", o->dir, subs[i]);
		}
	}
	return 0;
}

static const char *one_setting(const char *name, void *ctx)
{
	const char *const *kv = ctx;

	return !strcmp(name, kv[0]) ? kv[1] : NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vramstream-bench e2e [options]\n"
		"  --dma emu|cuda     copy engines: KFD GPUs with SDMA (default), or CUDA\n"
		"  --gpus K           GPUs to use (default: all KFD GPUs; 1 for cuda)\n"
		"  --size SIZE        GPU memory per GPU (default 512M)\n"
		"  --bo-size SIZE     per BO (default 128M)\n"
		"  --kind KIND        zeros|random|bf16|mixed (default mixed)\n"
		"  --dir DIR          image folder (default /dev/shm/vramstream-bench-e2e)\n"
		"  --level L|off --filter auto|none|2|4 --workers N --lanes N --streams N --io-depth N\n"
		"  --buffer-size SIZE\n"
		"  --chunk-size SIZE --pinned-max SIZE (the plugin's settings, README.md)\n"
		"  --baseline-max SIZE  staging buffer cap of the baseline (default 1G)\n"
		"  --io-rate SIZE     storage model: bytes/s per GPU for both variants'\n"
		"                     stream I/O (VRAMSTREAM_IO_RATE; default 0 = none)\n"
		"  --no-baseline      pipeline only (probing runs; no ratios printed)\n"
		"  --no-ceiling       skip plain write()/read() of the pipeline's bytes in --dir\n"
		"  --no-poll          cuda: an engine without poll(), so restore blocks on the\n"
		"                     oldest copy (the stand-in before issue 21)\n"
		"  --incremental      periodic checkpoints instead: a full dump, a second one of\n"
		"                     unchanged memory and one after 10%% of the chunks changed,\n"
		"                     both against the first, their restores, and all GPUs\n"
		"                     holding the same bytes; stored bytes and dump speed\n"
		"  --no-verify --keep --json\n");
}

int bench_e2e_main(int argc, char **argv)
{
	struct e2e_opts o = { .dma = "emu",
			      .size = 512ull << 20,
			      .bo_size = 128ull << 20,
			      .kind = BENCH_MIXED,
			      .dir = "/dev/shm/vramstream-bench-e2e",
			      .verify = true,
			      .baseline = true,
			      .ceiling = true,
			      .baseline_max_mb = 1024 };
	struct result pipe = { 0 }, base = { 0 };
	struct bench_ceiling ceil = { 0 };
	struct limits lim;
	double raw_d2h = 0, raw_h2d = 0;
	char err[512];
	int r;

	plugin_config_defaults(&o.cfg);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t sz;
		bool used = true;

		if (!strcmp(a, "--json"))
			o.json = true, used = false;
		else if (!strcmp(a, "--no-verify"))
			o.verify = false, used = false;
		else if (!strcmp(a, "--no-baseline"))
			o.baseline = false, used = false;
		else if (!strcmp(a, "--no-ceiling"))
			o.ceiling = false, used = false;
		else if (!strcmp(a, "--no-poll"))
			o.no_poll = true, used = false;
		else if (!strcmp(a, "--keep"))
			o.keep = true, used = false;
		else if (!strcmp(a, "--incremental"))
			o.incremental = true, used = false;
		else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!v) {
			usage(stderr);
			return 2;
		} else if (!strcmp(a, "--dma"))
			o.dma = v;
		else if (!strcmp(a, "--gpus"))
			o.gpus = (unsigned int)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--dir"))
			o.dir = v;
		else if (!strcmp(a, "--kind")) {
			if (bench_kind_parse(v, &o.kind)) {
				fprintf(stderr, "e2e: unknown kind %s\n", v);
				return 2;
			}
		} else if (!strcmp(a, "--level")) {
			if (!strcmp(v, "off"))
				o.cfg.compress = false;
			else
				o.cfg.zstd_level = atoi(v);
		} else if (!strcmp(a, "--filter")) {
			/* The plugin's own parser: the same names as VRAMSTREAM_FILTER. */
			const char *setting[2] = { "VRAMSTREAM_FILTER", v };
			const struct plugin_config_source src = { .get = one_setting,
								  .ctx = setting };
			struct plugin_config f;

			if (plugin_config_load(&f, &src, err, sizeof(err))) {
				fprintf(stderr, "e2e: --filter: %s\n", err);
				return 2;
			}
			o.cfg.filter = f.filter;
		} else if (!strcmp(a, "--workers"))
			o.cfg.workers = (unsigned int)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--lanes"))
			o.cfg.sdma_lanes = (unsigned int)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--streams"))
			o.cfg.streams = (unsigned int)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--io-depth"))
			o.cfg.io_depth = (unsigned int)strtoul(v, NULL, 0);
		else if (common_size_parse(v, &sz)) {
			fprintf(stderr, "e2e: bad size %s for %s\n", v, a);
			return 2;
		} else if (!strcmp(a, "--size"))
			o.size = sz;
		else if (!strcmp(a, "--bo-size"))
			o.bo_size = sz;
		else if (!strcmp(a, "--buffer-size"))
			o.cfg.buffer_size = sz;
		else if (!strcmp(a, "--chunk-size"))
			o.cfg.chunk_size = sz;
		else if (!strcmp(a, "--pinned-max"))
			o.cfg.pinned_max = sz;
		else if (!strcmp(a, "--baseline-max"))
			o.baseline_max_mb = (unsigned int)(sz >> 20);
		else if (!strcmp(a, "--io-rate"))
			o.cfg.io_rate = sz;
		else {
			fprintf(stderr, "e2e: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
		i += used;
	}
	if (o.cfg.chunk_size > o.cfg.buffer_size)
		o.cfg.buffer_size = o.cfg.chunk_size;
	mkdir(o.dir, 0700);

	if (!strcmp(o.dma, "cuda")) {
		dev.cuda = true;
		r = bench_cuda_init(0, err, sizeof(err));
		if (r) {
			fprintf(stderr, "e2e: %s\n", err);
			return 1;
		}
		dev.n_gpus = 1;
		if (o.no_poll) {
			cuda_ops_no_poll = bench_dma_cuda_ops;
			cuda_ops_no_poll.poll = NULL;
		}
	} else {
		r = emu_open(o.gpus ? o.gpus : MAX_GPUS);
		if (r)
			return 1;
	}

	if (!o.json || isatty(STDOUT_FILENO))
		fprintf(stderr,
			"e2e: %u GPU(s) x %.2f GB of %s data (%s), BOs of %.0f MB, images in "
			"%s\n",
			dev.n_gpus, o.size / 1e9, bench_kind_name(o.kind), o.dma, o.bo_size / 1e6,
			o.dir);
	if (o.cfg.io_rate && (!o.json || isatty(STDOUT_FILENO)))
		fprintf(stderr, "e2e: storage modelled at %.3f GB/s per GPU (--io-rate)\n",
			o.cfg.io_rate / 1e9);
	if (o.incremental) {
		r = run_incremental(&o);
		if (r)
			fprintf(stderr, "e2e: failed: %s\n", strerror(-r));
		return r ? 1 : 0;
	}
	r = 0;
	if (o.baseline) {
		r = bos_create(&o, true);
		if (!r)
			r = run_baseline(&o, &base);
		bos_release();
	}
	if (!r)
		r = bos_create(&o, true);
	if (!r)
		r = run_pipeline(&o, &pipe);
	bos_release();
	if (r) {
		fprintf(stderr, "e2e: failed: %s\n", strerror(-r));
		return 1;
	}

	if (o.ceiling)
		storage_ceiling(&o, &pipe, &ceil);
	if (dev.cuda) {
		double d2h = 0, h2d = 0;
		int bi;

		/* The machine's raw pinned copy bandwidth, measured now, for the ratio. */
		if (!bench_cuda_alloc(o.size, &bi) &&
		    !bench_cuda_raw_bandwidth(bi, o.size, 4, &d2h, &h2d)) {
			printf("raw pinned copies on this GPU: device->host %.2f GB/s, host->device "
			       "%.2f GB/s; pipeline dump at %.0f%% of device->host, restore at %.0f%% "
			       "of host->device\n",
			       d2h, h2d, 100 * pipe.bytes / 1e9 / pipe.dump_s / d2h,
			       100 * pipe.bytes / 1e9 / pipe.restore_s / h2d);
			raw_d2h = d2h;
			raw_h2d = h2d;
		}
		bench_cuda_free_all();
	}
	printf("%-9s %8s %8s %7s   %-20s   %-20s %8s\n", "", "dump", "restore", "image",
	       "dump stages GB/s", "restore stages GB/s", "peak");
	printf("%-9s %8s %8s %7s   %6s %6s %6s   %6s %6s %6s %8s\n", "variant", "GB/s", "GB/s",
	       "ratio", "dma", "codec", "io", "dma", "codec", "io", "RSS MB");
	print_row("pipeline", &pipe);
	if (o.baseline)
		print_row("baseline", &base);
	printf("pipeline: %u stream file(s) per GPU; of %.2f s of dump, %.2f s starting and %.2f "
	       "waiting on writers; of %.2f s of restore, %.2f s starting and %.2f waiting on reads "
	       "(GPU thread, mean per GPU); CPU s per GB: dump %.2f, restore %.2f\n",
	       pipe.parts, pipe.dump_s, pipe.setup[0] / dev.n_gpus, pipe.feed_wait[0] / dev.n_gpus,
	       pipe.restore_s, pipe.setup[1] / dev.n_gpus, pipe.feed_wait[1] / dev.n_gpus,
	       pipe.dump_cpu_s / (pipe.bytes / 1e9), pipe.restore_cpu_s / (pipe.bytes / 1e9));
	print_account(&pipe, 0);
	print_account(&pipe, 1);
	limits_compute(&o, &pipe, &ceil, raw_d2h, raw_h2d, &lim);
	print_limits(&o, &pipe, &lim);
	if (o.baseline)
		printf("pipeline/baseline: dump %.2fx, restore %.2fx%s\n",
		       base.dump_s / pipe.dump_s, base.restore_s / pipe.restore_s,
		       o.verify ? "; every byte verified after restore" : "");
	else if (o.verify)
		printf("baseline not run (--no-baseline); every byte verified after restore\n");
	if (o.json) {
		printf("{");
		json_entry("pipeline", &pipe, false);
		if (o.baseline)
			json_entry("baseline", &base, false);
		printf("\"account\":{");
		json_account("dump", &pipe.st[0], pipe.dump_cpu_s, false);
		json_account("restore", &pipe.st[1], pipe.restore_cpu_s, true);
		printf("},\"limits\":{\"link_gbps\":[%.3f,%.3f],\"folder_gbps\":[%.3f,%.3f],"
		       "\"codec_gbps\":[%.3f,%.3f],\"dump_share\":%.4f,\"restore_share\":%.4f,"
		       "\"dump_slowest\":\"%s\",\"restore_slowest\":\"%s\","
		       "\"shared_gbps\":[%.3f,%.3f]},",
		       lim.link[0], lim.link[1], lim.folder[0], lim.folder[1], lim.codec[0],
		       lim.codec[1], lim.share[0], lim.share[1],
		       lim.slowest[0] ? lim.slowest[0] : "", lim.slowest[1] ? lim.slowest[1] : "",
		       lim.shared[0], lim.shared[1]);
		printf("\"config\":{\"dma\":\"%s\",\"gpus\":%u,\"size_per_gpu\":%" PRIu64
		       ",\"kind\":\"%s\",\"dir\":\"%s\",\"level\":\"%d%s\",\"raw_d2h_gbps\":%.3f,"
		       "\"raw_h2d_gbps\":%.3f,\"io_rate_gbps\":%.3f,\"storage_write_gbps\":%.3f,"
		       "\"storage_read_gbps\":%.3f}}\n",
		       o.dma, dev.n_gpus, o.size, bench_kind_name(o.kind), o.dir, o.cfg.zstd_level,
		       o.cfg.compress ? "" : " (off)", raw_d2h, raw_h2d, o.cfg.io_rate / 1e9,
		       ceil.write_gbps, ceil.read_gbps);
	}
	return 0;
}
