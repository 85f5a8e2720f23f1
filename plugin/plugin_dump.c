// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common_clock.h"
#include "plugin_dump.h"
#include "plugin_render_bos.h"
#include "image.h"
#include "plugin_dmabuf.h"
#include "plugin_hsakmt_shm.h"
#include "plugin_kfd.h"
#include "plugin_log.h"
#include "plugin_pid_ns.h"
#include "plugin_nofile.h"
#include "plugin_progress.h"
#include "plugin_topology.h"
#include "plugin_transfer.h"

/* Everything one KFD dump holds; freed by dump_free(). */
struct kfd_dump {
	struct kfd_criu_info info;
	struct kfd_criu_device_bucket *devs;
	struct kfd_criu_bo_bucket *bos;
	void *priv;
	struct topo_system *topo;

	Vramstream__ProcessImage img;
	Vramstream__DeviceEntry *dev_entries;
	Vramstream__DeviceEntry **dev_ptrs;
	Vramstream__TopologyProperty *props;
	Vramstream__TopologyProperty **prop_ptrs;
	Vramstream__GpuLink *links;
	Vramstream__GpuLink **link_ptrs;
	Vramstream__BoEntry *bo_entries;
	Vramstream__BoEntry **bo_ptrs;
	Vramstream__ContentRef *refs;
	char (*ref_names)[64];
	Vramstream__HsakmtShm hsakmt_shm;

	struct transfer_job *jobs;
	unsigned int *job_dev; /* device index of each job */
	struct transfer_bo *tbos;
	unsigned int n_jobs;
};

static void dump_free(struct kfd_dump *d)
{
	if (d->bos) {
		for (uint32_t i = 0; i < d->info.num_bos; i++)
			if (d->bos[i].dmabuf_fd != (uint32_t)-1 && d->bos[i].dmabuf_fd != 0 &&
			    kfd_bo_has_contents(d->bos[i].alloc_flags))
				close((int)d->bos[i].dmabuf_fd);
	}
	free(d->devs);
	free(d->bos);
	free(d->priv);
	free(d->topo);
	free(d->dev_entries);
	free(d->dev_ptrs);
	free(d->props);
	free(d->prop_ptrs);
	free(d->links);
	free(d->link_ptrs);
	free(d->bo_entries);
	free(d->bo_ptrs);
	free(d->refs);
	free(d->ref_names);
	free(d->jobs);
	free(d->job_dev);
	free(d->tbos);
	hsakmt_shm_release(&d->hsakmt_shm);
}

static const struct topo_gpu *topo_by_gpu_id(const struct topo_system *sys, uint32_t gpu_id)
{
	for (unsigned int i = 0; i < sys->n_gpus; i++)
		if (sys->gpus[i].gpu_id == gpu_id)
			return &sys->gpus[i];
	return NULL;
}

static int device_index(const struct kfd_dump *d, uint32_t user_gpu_id)
{
	for (uint32_t i = 0; i < d->info.num_devices; i++)
		if (d->devs[i].user_gpu_id == user_gpu_id)
			return (int)i;
	return -1;
}

/* Fills the metadata message from the buckets and this machine's topology. */
static int dump_describe(struct kfd_dump *d, int id)
{
	const uint32_t nd = d->info.num_devices, nb = d->info.num_bos;
	unsigned int n_props = 0, n_links = 0;
	char err[512];
	int r;

	d->topo = calloc(1, sizeof(*d->topo));
	if (!d->topo)
		return -ENOMEM;
	r = topology_read("", d->topo, err, sizeof(err));
	if (r) {
		pr_err("dump of KFD file %d (pid %u): %s", id, d->info.pid, err);
		return r;
	}

	d->dev_entries = calloc(nd ? nd : 1, sizeof(*d->dev_entries));
	d->dev_ptrs = calloc(nd ? nd : 1, sizeof(*d->dev_ptrs));
	d->props = calloc((size_t)(nd ? nd : 1) * TOPO_MAX_PROPS, sizeof(*d->props));
	d->prop_ptrs = calloc((size_t)(nd ? nd : 1) * TOPO_MAX_PROPS, sizeof(*d->prop_ptrs));
	d->links = calloc((size_t)(nd ? nd : 1) * TOPO_MAX_LINKS, sizeof(*d->links));
	d->link_ptrs = calloc((size_t)(nd ? nd : 1) * TOPO_MAX_LINKS, sizeof(*d->link_ptrs));
	d->bo_entries = calloc(nb ? nb : 1, sizeof(*d->bo_entries));
	d->bo_ptrs = calloc(nb ? nb : 1, sizeof(*d->bo_ptrs));
	d->refs = calloc(nb ? nb : 1, sizeof(*d->refs));
	d->ref_names = calloc(nd ? nd : 1, sizeof(*d->ref_names));
	if (!d->dev_entries || !d->dev_ptrs || !d->props || !d->prop_ptrs || !d->links ||
	    !d->link_ptrs || !d->bo_entries || !d->bo_ptrs || !d->refs || !d->ref_names)
		return -ENOMEM;

	for (uint32_t i = 0; i < nd; i++) {
		Vramstream__DeviceEntry *e = &d->dev_entries[i];
		const struct topo_gpu *g = topo_by_gpu_id(d->topo, d->devs[i].actual_gpu_id);
		uint64_t v;

		vramstream__device_entry__init(e);
		if (!g) {
			pr_err("dump of KFD file %d (pid %u): GPU 0x%x is not in this machine's KFD "
			       "topology",
			       id, d->info.pid, d->devs[i].actual_gpu_id);
			return -ENODEV;
		}
		e->gpu_id = d->devs[i].user_gpu_id;
		e->node_id = g->node_id;
		if (!topology_prop(g, "drm_render_minor", &v)) {
			e->has_render_minor = 1;
			e->render_minor = (uint32_t)v;
		}
		if (!topology_prop(g, "fw_version", &v)) {
			e->has_fw_version = 1;
			e->fw_version = (uint32_t)v;
		}
		if (!topology_prop(g, "sdma_fw_version", &v)) {
			e->has_sdma_fw_version = 1;
			e->sdma_fw_version = (uint32_t)v;
		}
		e->has_vram_size = 1;
		e->vram_size = g->vram_size;
		e->has_cpu_node = 1;
		e->cpu_node = g->cpu_node;
		e->has_vram_public = 1;
		e->vram_public = g->vram_public;
		e->has_p2p_links = 1;
		e->p2p_links = g->have_p2p;
		e->gpu_links = &d->link_ptrs[n_links];
		for (unsigned int l = 0; l < g->n_links; l++) {
			Vramstream__GpuLink *gl = &d->links[n_links];

			vramstream__gpu_link__init(gl);
			gl->node_to = g->links[l].node_to;
			gl->type = g->links[l].type;
			gl->weight = g->links[l].weight;
			gl->has_p2p = g->links[l].p2p;
			gl->p2p = g->links[l].p2p;
			d->link_ptrs[n_links++] = gl;
		}
		e->n_gpu_links = g->n_links;
		e->properties = &d->prop_ptrs[n_props];
		for (unsigned int p = 0; p < g->n_props; p++) {
			Vramstream__TopologyProperty *tp = &d->props[n_props];

			vramstream__topology_property__init(tp);
			tp->name = (char *)g->props[p].name;
			tp->value = g->props[p].value;
			d->prop_ptrs[n_props++] = tp;
		}
		e->n_properties = g->n_props;
		d->dev_ptrs[i] = e;
		image_stream_name(d->info.pid, id, i, d->ref_names[i], sizeof(d->ref_names[i]));
	}

	for (uint32_t i = 0; i < nb; i++) {
		Vramstream__BoEntry *e = &d->bo_entries[i];
		const struct kfd_criu_bo_bucket *b = &d->bos[i];

		vramstream__bo_entry__init(e);
		e->addr = b->addr;
		e->size = b->size;
		e->offset = b->offset;
		e->gpu_id = b->gpu_id;
		e->alloc_flags = b->alloc_flags;
		if (kfd_bo_has_contents(b->alloc_flags)) {
			int di = device_index(d, b->gpu_id);

			if (di < 0) {
				pr_err("dump of KFD file %d (pid %u): BO %u names GPU 0x%x, which "
				       "CHECKPOINT did not list",
				       id, d->info.pid, i, b->gpu_id);
				return -EINVAL;
			}
			vramstream__content_ref__init(&d->refs[i]);
			d->refs[i].stream_file = d->ref_names[di];
			d->refs[i].tag = i;
			e->contents = &d->refs[i];
		}
		d->bo_ptrs[i] = e;
	}

	d->img.pid = d->info.pid;
	d->img.n_devices = nd;
	d->img.devices = d->dev_ptrs;
	d->img.n_bos = nb;
	d->img.bos = d->bo_ptrs;
	d->img.has_num_objects = 1;
	d->img.num_objects = d->info.num_objects;
	d->img.has_priv_data = 1;
	d->img.priv_data.len = d->info.priv_data_size;
	d->img.priv_data.data = d->priv;
	return 0;
}

/*
 * libhsakmt's shared memory as the task sees it, through its root
 * (plugin_hsakmt_shm.h). PROCESS_INFO names the task by its own pid, which
 * in a container is not criu's: the task is found by the KFD file @fd too.
 */
static int dump_hsakmt_shm(struct kfd_dump *d, int fd, int id)
{
	char root[64], why[512];
	pid_t pid;
	int r;

	r = plugin_pid_ns_holder((pid_t)d->info.pid, fd, &pid);
	if (r) {
		pr_err("dump of KFD file %d (pid %u): cannot find the task that holds it: %s", id,
		       d->info.pid, strerror(-r));
		return r;
	}
	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	r = hsakmt_shm_save(root, &d->hsakmt_shm, why, sizeof(why));
	if (r < 0) {
		pr_err("dump of KFD file %d (pid %u): libhsakmt's shared memory: %s", id,
		       d->info.pid, why);
		return r;
	}
	if (r)
		d->img.hsakmt_shm = &d->hsakmt_shm;
	return 0;
}

/* One transfer job per GPU that holds BOs with contents. */
static int dump_plan(struct kfd_dump *d, int dirfd, int id)
{
	char dir[PATH_MAX], link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, dir, sizeof(dir) - 1);
	if (n < 0)
		return -errno;
	dir[n] = '\0';

	d->jobs = calloc(d->info.num_devices ? d->info.num_devices : 1, sizeof(*d->jobs));
	d->job_dev = calloc(d->info.num_devices ? d->info.num_devices : 1, sizeof(*d->job_dev));
	d->tbos = calloc(d->info.num_bos ? d->info.num_bos : 1, sizeof(*d->tbos));
	if (!d->jobs || !d->job_dev || !d->tbos)
		return -ENOMEM;

	unsigned int used = 0;

	for (uint32_t di = 0; di < d->info.num_devices; di++) {
		struct transfer_job *job = &d->jobs[d->n_jobs];

		job->bos = &d->tbos[used];
		for (uint32_t i = 0; i < d->info.num_bos; i++) {
			if (!d->bo_entries[i].contents ||
			    d->bos[i].gpu_id != d->devs[di].user_gpu_id)
				continue;
			d->tbos[used].size = d->bos[i].size;
			d->tbos[used].dmabuf_fd = (int)d->bos[i].dmabuf_fd;
			d->tbos[used].tag = i;
			used++;
			job->close_fds = true;
			job->n_bos++;
		}
		if (!job->n_bos)
			continue;
		job->gpu_id = d->devs[di].actual_gpu_id;
		job->render_minor = d->dev_entries[di].render_minor;
		if (snprintf(job->stream_path, sizeof(job->stream_path), "%s/%s", dir,
			     d->ref_names[di]) >= (int)sizeof(job->stream_path))
			return -ENAMETOOLONG;
		d->job_dev[d->n_jobs] = di;
		d->n_jobs++;
	}
	return 0;
}

/* The fds the transfer closed once imported are not the dump's to close. */
static void dump_forget_closed(struct kfd_dump *d)
{
	for (unsigned int j = 0; j < d->n_jobs; j++)
		for (unsigned int k = 0; k < d->jobs[j].n_bos; k++)
			if (d->jobs[j].bos[k].dmabuf_fd < 0)
				d->bos[d->jobs[j].bos[k].tag].dmabuf_fd = (uint32_t)-1;
}

/*
 * The parent image and the content table of this dump (VRAMSTREAM_PARENT,
 * criu's "parent" link, VRAMSTREAM_FULL, VRAMSTREAM_DEDUP): every job's
 * writers share the table.
 */
static int dump_parent(const struct plugin_config *cfg, struct kfd_dump *d, struct image_parent *p,
		       int dirfd)
{
	char why[600];
	int r;

	if (d->n_jobs > IMAGE_SOURCE_GPUS_MAX) {
		pr_warn("dump of pid %u: %u GPUs, more than %u: no references, every chunk "
			"stored",
			d->info.pid, d->n_jobs, IMAGE_SOURCE_GPUS_MAX);
		return 0;
	}
	r = image_parent_open(dirfd, cfg->parent, cfg->full, cfg->dedup, p, why, sizeof(why));
	if (r) {
		pr_err("dump of pid %u: %s; name an existing image folder in VRAMSTREAM_PARENT, "
		       "or set VRAMSTREAM_FULL=1 for a full dump",
		       d->info.pid, why);
		return r;
	}
	if (p->path[0])
		pr_info("dump of pid %u: incremental against parent %s (%u image(s), %" PRIu64
			" chunks it stores or refers to)",
			d->info.pid, p->path, p->images, p->chunks);
	if (p->note[0])
		pr_warn("dump of pid %u: %s", d->info.pid, p->note);
	for (unsigned int j = 0; j < d->n_jobs; j++) {
		d->jobs[j].dedup = p->table;
		d->jobs[j].source_index = j;
	}
	return 0;
}

/* The stream files the image's references may name, into its metadata. */
static int dump_record_sources(struct kfd_dump *d, struct image_parent *p)
{
	const char *names[IMAGE_SOURCE_GPUS_MAX];
	unsigned int parts[IMAGE_SOURCE_GPUS_MAX];
	int r;

	if (!p->table)
		return 0;
	for (unsigned int j = 0; j < d->n_jobs; j++) {
		names[j] = d->ref_names[d->job_dev[j]];
		parts[j] = d->jobs[j].n_parts;
	}
	r = image_parent_record(p, &d->img, names, parts, d->n_jobs);
	if (r)
		pr_err("dump of pid %u: cannot list the image's stream files: %s", d->info.pid,
		       strerror(-r));
	return r;
}

/* Keeps the process paused until plugin_dump_finish(). */
static int session_keep(struct plugin_dump_session *s, int fd, uint32_t pid,
			struct plugin_guard *guard)
{
	int own;

	if (s->n_paused == s->cap_paused) {
		unsigned int cap = s->cap_paused ? s->cap_paused * 2 : 8;
		struct plugin_paused *n = realloc(s->paused, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->paused = n;
		s->cap_paused = cap;
	}
	/* criu may close its copy of the file before the dump ends. */
	own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return -errno;
	s->paused[s->n_paused++] = (struct plugin_paused){ own, pid, *guard };
	guard->done_fd = -1; /* the session's now */
	return 0;
}

int plugin_dump_finish(struct plugin_dump_session *s)
{
	int first = 0;

	for (unsigned int i = 0; i < s->n_paused; i++) {
		int r = kfd_criu_unpause(s->paused[i].fd);

		if (r) {
			pr_err("dump of pid %u: UNPAUSE failed: %s; the process's GPU queues stay "
			       "paused",
			       s->paused[i].pid, strerror(-r));
			if (!first)
				first = r;
		} else {
			pr_info("pid %u: GPU queues unpaused", s->paused[i].pid);
		}
		plugin_guard_stop(&s->paused[i].guard);
		close(s->paused[i].fd);
	}
	free(s->paused);
	memset(s, 0, sizeof(*s));
	return first;
}

/*
 * The KFD's ioctl version, once per dump. KFD serves ioctls on a file only to
 * the process that opened it, CRIU_OP excepted (kfd_chardev.c, kfd_ioctl),
 * so criu's copy of the task's file will not do: the check opens its own, as
 * upstream criu's amdgpu plugin does (kernel_supports_criu).
 */
static int dump_check_version(struct plugin_dump_session *s, int id)
{
	char why[512];
	int fd, r;

	if (s->kfd_version_ok)
		return 0;
	fd = open("/dev/kfd", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		pr_err("dump of KFD file %d: cannot open /dev/kfd to check its version: %s", id,
		       strerror(-r));
		return r;
	}
	r = kfd_check_version(fd, why, sizeof(why));
	close(fd);
	if (r) {
		pr_err("dump of KFD file %d: %s", id, why);
		return r;
	}
	s->kfd_version_ok = true;
	return 0;
}

int plugin_dump_kfd(const struct plugin_config *cfg, struct plugin_dump_session *session, int dirfd,
		    int fd, int id)
{
	struct plugin_guard guard = { .done_fd = -1 };
	struct plugin_nofile nofile = { .raised = false };
	struct kfd_dump d = { 0 };
	char why[768];
	struct image_parent parent = { 0 };
	struct plugin_progress progress;
	char name[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	double t0 = common_now_s();
	int r, u;

	r = dump_check_version(session, id);
	if (r)
		return r;
	/*
	 * A dump whose criu died after PROCESS_INFO, with no guard left to
	 * unpause, leaves the queues paused; PROCESS_INFO would pause them once
	 * more (the evictions nest: kfd_process_evict_queues per qpd->evicted),
	 * and our single UNPAUSE would leave them paused for good. As the task's
	 * tracer we may unpause first: -EINVAL when nothing was paused.
	 */
	u = kfd_criu_unpause(fd);
	if (!u)
		pr_warn("KFD file %d: its GPU queues were still paused by an earlier dump that did "
			"not finish; unpaused them first",
			id);
	r = kfd_criu_process_info(fd, &d.info);
	if (r) {
		pr_err("dump of KFD file %d: PROCESS_INFO failed: %s", id, strerror(-r));
		return r;
	}
	/* The process's queues are paused from here: UNPAUSE on every path. */
	pr_info("KFD file %d: pid %u, %u GPU(s), %u BO(s), %u object(s), %" PRIu64
		" bytes of private data",
		id, d.info.pid, d.info.num_devices, d.info.num_bos, d.info.num_objects,
		d.info.priv_data_size);
	/* Should criu die before we unpause, this process does it (plugin_guard.h). */
	plugin_guard_start(&guard, fd, d.info.pid, id, dirfd);

	vramstream__process_image__init(&d.img);
	d.devs = calloc(d.info.num_devices ? d.info.num_devices : 1, sizeof(*d.devs));
	d.bos = calloc(d.info.num_bos ? d.info.num_bos : 1, sizeof(*d.bos));
	d.priv = malloc(d.info.priv_data_size ? d.info.priv_data_size : 1);
	if (!d.devs || !d.bos || !d.priv) {
		r = -ENOMEM;
		pr_err("dump of pid %u: out of memory for %u BO buckets", d.info.pid,
		       d.info.num_bos);
		goto out;
	}
	for (uint32_t i = 0; i < d.info.num_bos; i++)
		d.bos[i].dmabuf_fd = (uint32_t)-1;
	/* PROCESS_INFO counts BOs, not kinds: room for one fd per BO. */
	r = plugin_nofile_raise(&nofile, d.info.num_bos, why, sizeof(why));
	if (r) {
		pr_err("dump of pid %u: %u BO(s): %s", d.info.pid, d.info.num_bos, why);
		goto out;
	}
	if (nofile.raised)
		pr_info("dump of pid %u: soft RLIMIT_NOFILE raised from %llu to %llu for KFD's "
			"dma-buf fds",
			d.info.pid, (unsigned long long)nofile.saved.rlim_cur,
			(unsigned long long)nofile.saved.rlim_max);
	r = kfd_criu_checkpoint(fd, &d.info, d.devs, d.bos, d.priv);
	if (r) {
		pr_err("dump of pid %u: CHECKPOINT failed: %s%s", d.info.pid, strerror(-r),
		       r == -EMFILE ? " (its one dma-buf fd per VRAM/GTT BO did not fit below "
				      "RLIMIT_NOFILE)"
				    : "");
		goto out;
	}
	r = dump_describe(&d, id);
	if (!r)
		r = dump_hsakmt_shm(&d, fd, id);
	if (!r)
		r = plugin_dmabuf_note_kfd(id, d.info.pid, d.bos, d.info.num_bos, d.dev_ptrs,
					   d.info.num_devices);
	if (r)
		goto out;
	r = dump_plan(&d, dirfd, id);
	if (r) {
		pr_err("dump of pid %u: cannot name stream files in the image folder: %s",
		       d.info.pid, strerror(-r));
		goto out;
	}

	r = dump_parent(cfg, &d, &parent, dirfd);
	if (r)
		goto out;
	plugin_progress_init(&progress, "dump", (int)d.info.pid);
	r = transfer_dump_progress(cfg, &plugin_dma_sdma_ops, d.jobs, d.n_jobs, &progress.tp);
	dump_forget_closed(&d);
	for (unsigned int j = 0; j < d.n_jobs; j++) {
		const struct transfer_job *job = &d.jobs[j];
		const struct transfer_stats *st = &job->stats;

		if (job->status) {
			pr_err("dump of pid %u, GPU 0x%x: %s", d.info.pid, job->gpu_id, job->err);
			continue;
		}
		pr_info("dump of pid %u, GPU 0x%x: %u BO(s) in %u stream file(s), %.3f GB moved, %.3f GB stored "
			"(ratio %.2f), %.3f GB referred to, %.3f s, %.2f GB/s; chunks zero/raw/zstd/ref %" PRIu64
			"/%" PRIu64 "/%" PRIu64 "/%" PRIu64
			"; busy s: dma %.2f, compress %.2f, io %.2f; GPU thread waited on "
			"writers %.2f s",
			d.info.pid, job->gpu_id, job->n_bos, job->n_parts, st->bytes / 1e9,
			st->stored / 1e9, st->stored ? (double)st->bytes / st->stored : 0.0,
			st->ref_bytes / 1e9, st->seconds,
			st->seconds > 0 ? st->bytes / 1e9 / st->seconds : 0.0, st->chunks_zero,
			st->chunks_raw, st->chunks_zstd, st->chunks_ref, st->dma_busy_s,
			st->codec_busy_s, st->io_busy_s, st->feed_wait_s);
	}
	if (r)
		goto out;
	/* Record how many files each GPU's stream was striped over. */
	for (unsigned int j = 0; j < d.n_jobs; j++)
		for (uint32_t i = 0; i < d.info.num_bos; i++)
			if (d.bo_entries[i].contents &&
			    d.bos[i].gpu_id == d.devs[d.job_dev[j]].user_gpu_id) {
				d.refs[i].has_parts = 1;
				d.refs[i].parts = d.jobs[j].n_parts;
			}

	d.img.settings = NULL;
	r = dump_record_sources(&d, &parent);
	if (r)
		goto out;
	r = image_meta_encode(&d.img, &buf, &len);
	if (r)
		goto out;
	image_kfd_name(d.info.pid, id, name, sizeof(name));
	r = image_file_write(dirfd, name, buf, len);
	if (r)
		pr_err("dump of pid %u: cannot write %s: %s", d.info.pid, name, strerror(-r));
	/* Paused until criu has dumped the process's memory as well. */
	if (!r)
		r = session_keep(session, fd, d.info.pid, &guard);
out:
	free(buf);
	if (r) {
		u = kfd_criu_unpause(fd);
		if (u)
			pr_err("dump of pid %u: UNPAUSE failed: %s; the process's GPU queues stay "
			       "paused",
			       d.info.pid, strerror(-u));
	}
	plugin_guard_stop(&guard);
	if (r) {
		/* Leave nothing that restore could mistake for an image. */
		for (unsigned int j = 0; d.jobs && j < d.n_jobs; j++) {
			for (unsigned int part = 0; part < 16; part++) {
				char path[PATH_MAX];

				if (!image_part_name(d.jobs[j].stream_path, part, path,
						     sizeof(path)))
					unlink(path);
			}
		}
	} else {
		pr_info("dump of pid %u done in %.3f s", d.info.pid, common_now_s() - t0);
	}
	image_parent_close(&parent);
	dump_free(&d);
	plugin_nofile_restore(&nofile);
	return r;
}

/* Removes a render stream's files after a failed dump. */
static void render_stream_unlink(const char *path)
{
	for (unsigned int part = 0; part < IMAGE_PARTS_MAX; part++) {
		char p[PATH_MAX];

		if (!image_part_name(path, part, p, sizeof(p)))
			unlink(p);
	}
}

/*
 * The GEM BOs' contents, through the transfer pipeline as KFD BOs' go: SDMA copies of each BO's
 * dma-buf (@dmabufs, taken) into pinned buffers, compressed into the file's own stream
 * (vramstream-render-<id>.vrs); each BO's stream names its chunks.
 */
static int dump_render_contents(const struct plugin_config *cfg, const char *path, int id,
				Vramstream__RenderFile *rf, int *dmabufs,
				struct image_parent *dedup)
{
	struct transfer_job job = { .gpu_id = rf->gpu_id, .render_minor = rf->render_minor };
	struct plugin_nofile nofile = { .raised = false };
	const char *name = strrchr(path, '/') + 1;
	struct plugin_progress progress;
	struct transfer_bo *tbos;
	char why[768];
	int r;

	tbos = calloc(rf->n_bos ? rf->n_bos : 1, sizeof(*tbos));
	if (!tbos)
		return -ENOMEM;
	for (size_t i = 0; i < rf->n_bos; i++)
		if (dmabufs[i] >= 0)
			tbos[job.n_bos++] = (struct transfer_bo){ .size = rf->bos[i]->size,
								  .dmabuf_fd = dmabufs[i],
								  .tag = i };
	if (!job.n_bos) {
		free(tbos);
		return 0;
	}
	job.bos = tbos;
	job.close_fds = true;
	job.dedup = dedup->table;
	snprintf(job.stream_path, sizeof(job.stream_path), "%s", path);
	r = plugin_nofile_raise(&nofile, job.n_bos, why, sizeof(why));
	if (r) {
		pr_err("dump of render node renderD%u (file %d): %u GEM BO(s): %s",
		       rf->render_minor, id, job.n_bos, why);
		goto out;
	}
	plugin_progress_init(&progress, "dump", id);
	r = transfer_dump_progress(cfg, &plugin_dma_sdma_ops, &job, 1, &progress.tp);
	plugin_nofile_restore(&nofile);
	if (r) {
		pr_err("dump of render node renderD%u (file %d): %s", rf->render_minor, id,
		       job.err);
		render_stream_unlink(job.stream_path);
		goto out;
	}
	pr_info("dump of render node renderD%u (file %d): %u GEM BO(s) in %u stream file(s), "
		"%.3f GB moved, %.3f GB stored (ratio %.2f), %.3f s; chunks zero/raw/zstd/ref "
		"%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64,
		rf->render_minor, id, job.n_bos, job.n_parts, job.stats.bytes / 1e9,
		job.stats.stored / 1e9,
		job.stats.stored ? (double)job.stats.bytes / job.stats.stored : 0.0,
		job.stats.seconds, job.stats.chunks_zero, job.stats.chunks_raw,
		job.stats.chunks_zstd, job.stats.chunks_ref);
	if (dedup->table) {
		Vramstream__ProcessImage refs = VRAMSTREAM__PROCESS_IMAGE__INIT;
		const char *names[1] = { name };
		unsigned int parts[1] = { job.n_parts };

		/* The stream's own parts, which its references name (they point into @dedup). */
		r = image_parent_record(dedup, &refs, names, parts, 1);
		rf->n_sources = refs.n_sources;
		rf->sources = refs.sources;
	}
	for (unsigned int k = 0; !r && k < job.n_bos; k++) {
		Vramstream__RenderBo *bo = rf->bos[tbos[k].tag];

		bo->stream = malloc(sizeof(*bo->stream));
		if (!bo->stream) {
			r = -ENOMEM;
			break;
		}
		vramstream__content_ref__init(bo->stream);
		bo->stream->stream_file = strdup(name);
		bo->stream->tag = tbos[k].tag;
		bo->stream->has_parts = 1;
		bo->stream->parts = job.n_parts;
		if (!bo->stream->stream_file)
			r = -ENOMEM;
	}
	if (r)
		render_stream_unlink(job.stream_path);
out:
	/* What the transfer did not take is still ours. */
	for (unsigned int k = 0; k < job.n_bos; k++) {
		if (tbos[k].dmabuf_fd >= 0)
			close(tbos[k].dmabuf_fd);
		dmabufs[tbos[k].tag] = -1;
	}
	free(tbos);
	return r;
}

/* The image folder's path (criu's fd @dirfd) with @name in it. */
static int dir_path(int dirfd, const char *name, char *out, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, out, len - 1);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	return snprintf(out + n, len - (size_t)n, "/%s", name) >= (int)(len - (size_t)n)
		       ? -ENAMETOOLONG
		       : 0;
}

static int dump_render_file(const struct plugin_config *cfg, int dirfd, int fd, int id,
			    unsigned int minor, uint32_t gpu_id)
{
	Vramstream__RenderFile rf = VRAMSTREAM__RENDER_FILE__INIT;
	char err[512], name[64], stream[PATH_MAX];
	struct image_parent dedup = { 0 };
	int *dmabufs = NULL;
	uint8_t *buf = NULL;
	size_t len, n_bos;
	int r;

	image_render_stream_name(id, name, sizeof(name));
	r = dir_path(dirfd, name, stream, sizeof(stream));
	if (r) {
		pr_err("dump of render node renderD%u (file %d): cannot name its stream file in "
		       "the image folder: %s",
		       minor, id, strerror(-r));
		return r;
	}
	rf.gpu_id = gpu_id;
	rf.render_minor = minor;
	r = plugin_render_bos_dump(fd, &rf, &dmabufs, err, sizeof(err));
	if (r == -EOPNOTSUPP && cfg->render_bos_optional && !rf.n_bos) {
		pr_warn("dump of render node renderD%u (file %d): %s; saved without BOs "
			"(VRAMSTREAM_RENDER_BOS_OPTIONAL=1): any BO the task made through it "
			"is not in the image",
			minor, id, err);
		r = 0;
	} else if (r) {
		pr_err("dump of render node renderD%u (file %d): %s", minor, id, err);
	} else {
		r = plugin_dmabuf_note_render(id, &rf, dmabufs);
		/* Chunks of equal bytes stored once within the file's stream (no parent: the
		 * file's BOs are not in the KFD images' content tables). */
		if (!r)
			r = image_parent_open(dirfd, NULL, true, cfg->dedup, &dedup, err,
					      sizeof(err));
		if (!r)
			r = dump_render_contents(cfg, stream, id, &rf, dmabufs, &dedup);
	}
	n_bos = rf.n_bos;
	if (!r)
		r = image_render_encode(&rf, &buf, &len);
	/* The list of sources is the table's. */
	rf.n_sources = 0;
	rf.sources = NULL;
	image_parent_close(&dedup);
	for (size_t i = 0; dmabufs && i < n_bos; i++)
		if (dmabufs[i] >= 0)
			close(dmabufs[i]);
	free(dmabufs);
	if (r) {
		plugin_render_bos_free(&rf);
		return r;
	}
	image_render_name(id, name, sizeof(name));
	r = image_file_write(dirfd, name, buf, len);
	free(buf);
	if (r) {
		pr_err("dump of render node renderD%u: cannot write %s: %s", minor, name,
		       strerror(-r));
		render_stream_unlink(stream);
	} else {
		pr_info("render node renderD%u (file %d) belongs to GPU 0x%x, %zu GEM BO(s)", minor,
			id, rf.gpu_id, n_bos);
	}
	plugin_render_bos_free(&rf);
	return r;
}

int plugin_dump_render(const struct plugin_config *cfg, int dirfd, int fd, int id,
		       unsigned int minor)
{
	static struct topo_system topo;
	char err[512];
	int r;

	r = topology_read("", &topo, err, sizeof(err));
	if (r) {
		pr_err("dump of render node renderD%u (file %d): %s", minor, id, err);
		return r;
	}
	for (unsigned int i = 0; i < topo.n_gpus; i++) {
		uint64_t m;

		if (topology_prop(&topo.gpus[i], "drm_render_minor", &m) || m != minor)
			continue;
		return dump_render_file(cfg, dirfd, fd, id, minor, topo.gpus[i].gpu_id);
	}
	pr_err("dump of render node renderD%u (file %d): no KFD GPU has this render minor", minor,
	       id);
	return -ENODEV;
}
