// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common_clock.h"
#include "image.h"
#include "plugin_criu_img.h"
#include "plugin_dmabuf.h"
#include "plugin_hsakmt_shm.h"
#include "plugin_kfd.h"
#include "plugin_nofile.h"
#include "plugin_log.h"
#include "plugin_pid_ns.h"
#include "plugin_progress.h"
#include "plugin_render_bos.h"
#include "plugin_restore.h"
#include "plugin_topology.h"
#include "plugin_transfer.h"
#include "plugin_vma.h"

/*
 * Files the plugin keeps open inside a restored task (the render nodes it
 * restored BOs on, its own dup of the KFD file) must survive the rest of
 * criu's restore: UPDATE_VMA_MAP maps BOs through them after criu has put
 * the task's own fds in place, and the DRM file must be the one holding the
 * BO's handle. criu restores the task's fds at their numbers (refusing a
 * number already in use: criu/util.c, reopen_fd_as_safe), puts files it
 * invents (a file in flight in a socket's queue, a peer of a socket pair:
 * sk-unix.c, get_fle_for_task) at the lowest numbers above the task's
 * highest fd (files.c, find_unused_fd), and keeps its service fds at the
 * top: service fd type T of fd table user I is base - T - SERVICE_FD_MAX * I
 * (servicefd.c, __get_service_fd), with at least 16 numbers free below
 * them (choose_service_fd_base: "Safety pad"). Our files therefore go just
 * below the service fds, downwards from the one below the lowest service
 * fd of user 0, which we know from criu's image folder fd (IMG_FD_OFF).
 * A task that shares its fd table with other processes (CLONE_FILES
 * without CLONE_THREAD) has more service fds below; criu 4.1 gives them
 * 18 numbers each, so that case is refused rather than guessed.
 *
 * They are closed after the task's last UPDATE_VMA_MAP (vma_done), so that
 * the task runs with the fds it was dumped with and no more: no plugin hook
 * runs in the task after that one (criu/cr-restore.c restore_one_alive_task:
 * prepare_fds, which calls RESTORE_EXT_FILE, then open_vmas, which calls
 * UPDATE_VMA_MAP, then the restorer; RESUME_DEVICES_LATE runs in criu's
 * process). Nothing of criu's needs them then: each UPDATE_VMA_MAP hands
 * criu a dup of its own (plugin_vma.c), which the restorer closes after its
 * mmap (files-reg.c open_filemap and filemap_ctx_fini mark the VMA
 * VMA_CLOSE; pie/restorer.c restore_mapping closes it; every device VMA has
 * a file id of its own, file-ids.c fd_id_generate_special: "Don't cache the
 * id for mapped devices", so no VMA shares another's fd). And KFD holds its
 * own reference to each render node's file (kfd_chardev.c
 * criu_restore_devices: fget(drm_fd), "On success, the PDD keeps the
 * drm_file reference"; kfd_process.c kfd_process_device_init_vm stores it
 * in pdd->drm_file), beside the task's own fds of the same files
 * (plugin_restore_render returns a dup of ours).
 */
#define CRIU_SERVICE_FD_MAX 18 /* criu/include/servicefd.h: SERVICE_FD_MAX */
#define CRIU_IMG_FD_OFF	    2  /* IMG_FD_OFF */

/*
 * State of the restore within one restored task (RESTORE_EXT_FILE and
 * UPDATE_VMA_MAP run in the task, in criu's restore code, one call at a
 * time). Owned by this file.
 */
static struct restore_state {
	pid_t pid; /* task the state belongs to */
	bool matched;
	struct topo_system src, dst;
	unsigned int map[TOPO_MAX_GPUS];
	int render_fd[TOPO_MAX_GPUS]; /* by dst index, -1 when closed */
	int kfd_fd;		      /* our dup of the restored KFD file, -1 when none */
	int fd_floor, fd_top;	      /* our files go in [fd_floor, fd_top]; 0 until known */
	bool hsakmt_shm_done;	      /* libhsakmt's shared memory is in place */
	bool vmas_counted;	      /* vmas_left is known */
	unsigned int vmas_left;	      /* UPDATE_VMA_MAP calls criu still makes in the task */
	struct plugin_vma_bo *vma_bos;
	size_t n_vma_bos;
	struct plugin_vma_bo *gem_vma_bos; /* render-node GEM BOs restored so far */
	size_t n_gem_vma_bos;
} rs;

static void state_reset_for(pid_t pid)
{
	if (rs.pid == pid)
		return;
	free(rs.vma_bos);
	free(rs.gem_vma_bos);
	memset(&rs, 0, sizeof(rs));
	rs.pid = pid;
	rs.kfd_fd = -1;
	for (int i = 0; i < TOPO_MAX_GPUS; i++)
		rs.render_fd[i] = -1;
}

/* Where this task's files of ours may go, from criu's images of it. */
static int ensure_fd_room(int dirfd)
{
	char why[512];
	int max_fd, r;

	if (rs.fd_top)
		return 0;
	r = criu_img_task_max_fd(dirfd, rs.pid, &max_fd, why, sizeof(why));
	if (r) {
		pr_err("restore of pid %d: cannot tell which fd numbers the task will hold: %s",
		       (int)rs.pid, why);
		return r;
	}
	rs.fd_floor = max_fd + 1;
	/* base = dirfd + IMG_FD_OFF; user 0's service fds go down to base - 17 */
	rs.fd_top = dirfd + CRIU_IMG_FD_OFF - CRIU_SERVICE_FD_MAX;
	if (rs.fd_top < rs.fd_floor) {
		pr_err("restore of pid %d: criu's image folder is fd %d, too close above the "
		       "task's highest fd %d to be criu's service fd of this task (does the task "
		       "share its fd table with another process?)",
		       (int)rs.pid, dirfd, max_fd);
		return -EMFILE;
	}
	return 0;
}

/*
 * A dup of @fd at the highest free number below criu's service fds (see
 * above), which stays free of criu's own files.
 */
static int dup_high(int fd, int flags)
{
	for (int at = rs.fd_top; at >= rs.fd_floor; at--) {
		int hi;

		if (fcntl(at, F_GETFD) != -1 || errno != EBADF)
			continue;
		hi = fcntl(fd, flags & O_CLOEXEC ? F_DUPFD_CLOEXEC : F_DUPFD, at);
		if (hi < 0) {
			int e = errno;

			pr_err("restore of pid %d: cannot place a file at fd %d: %s", (int)rs.pid,
			       at, strerror(e));
			return -e;
		}
		if (hi == at)
			return hi;
		close(hi);
	}
	pr_err("restore of pid %d: no fd number left for the plugin's files between the task's "
	       "highest fd %d and criu's service fds from %d on (the plugin keeps one per GPU "
	       "and one for /dev/kfd)",
	       (int)rs.pid, rs.fd_floor - 1, rs.fd_top + 1);
	return -EMFILE;
}

/* dup_high() for files handed to criu later (plugin_dmabuf_keep). */
static int dup_high_for_criu(int fd)
{
	return dup_high(fd, O_CLOEXEC);
}

int plugin_restore_find_kfd_image(int dirfd, pid_t pid)
{
	return image_find_kfd(dirfd, pid > 0 ? (unsigned int)pid : 0);
}

/*
 * The task's KFD metadata, and the integrity of every render-node file
 * beside it: the image is checked whole before the machine is compared with
 * it or any ioctl is made (issue 23), so damage is named as damage.
 */
static int load_kfd_image(int dirfd, pid_t pid, int id, Vramstream__ProcessImage **img)
{
	char name[PATH_MAX], why[512];
	uint8_t *buf;
	size_t len;
	int r;

	image_kfd_name((unsigned int)pid, id, name, sizeof(name));
	r = image_file_read(dirfd, name, &buf, &len);
	if (r == -ENOENT) {
		char stream[PATH_MAX];

		/* Ours if its first stream is here: then the metadata is lost. */
		image_stream_name((unsigned int)pid, id, 0, stream, sizeof(stream));
		if (faccessat(dirfd, stream, F_OK, 0))
			return -ENOENT;
		pr_err("restore of pid %d: %s is missing (its stream %s is here)", (int)pid, name,
		       stream);
		return -EBADMSG;
	}
	if (r) {
		pr_err("restore of pid %d: cannot read %s: %s", (int)pid, name, strerror(-r));
		return r;
	}
	r = image_meta_decode(buf, len, img, why, sizeof(why));
	free(buf);
	if (r) {
		pr_err("restore of pid %d: %s: %s", (int)pid, name, why);
		return r;
	}
	r = image_render_check_all(dirfd, why, sizeof(why));
	if (r) {
		pr_err("restore of pid %d: %s", (int)pid, why);
		image_meta_free(*img);
		*img = NULL;
	}
	return r;
}

/*
 * libhsakmt's shared memory, created where the task's mount namespace lacks
 * it, at the task's first file of ours: libhsakmt opens /dev/kfd before it
 * opens the shared file (hsaKmtOpenKFD, then init_counter_props), and criu
 * opens a task's files in the order of their numbers (files.c:
 * open_fdinfos) and maps its files after that (open_vmas), so the KFD file
 * comes first.
 */
static int ensure_hsakmt_shm(const Vramstream__ProcessImage *img)
{
	char why[512];
	int r;

	if (rs.hsakmt_shm_done || !img->hsakmt_shm)
		return 0;
	r = hsakmt_shm_restore("", img->hsakmt_shm, why, sizeof(why));
	if (r < 0) {
		pr_err("restore of pid %d: libhsakmt's shared memory: %s", (int)rs.pid, why);
		return r;
	}
	if (r & HSAKMT_SHM_MADE_FILE)
		pr_info("restore of pid %d: %s was missing; created it as the dump saw it "
			"(%" PRIu64 " bytes, mode 0%o)",
			(int)rs.pid, HSAKMT_SHM_PATH, img->hsakmt_shm->size, img->hsakmt_shm->mode);
	if (r & HSAKMT_SHM_MADE_SEM)
		pr_info("restore of pid %d: %s was missing; created it (value 1)", (int)rs.pid,
			HSAKMT_SEM_PATH);
	rs.hsakmt_shm_done = true;
	return 0;
}

/* The GPUs of the image, as a topology to match. */
static void image_topology(const Vramstream__ProcessImage *img, struct topo_system *sys)
{
	memset(sys, 0, sizeof(*sys));
	for (size_t i = 0; i < img->n_devices && i < TOPO_MAX_GPUS; i++) {
		const Vramstream__DeviceEntry *e = img->devices[i];
		struct topo_gpu *g = &sys->gpus[sys->n_gpus++];

		g->gpu_id = e->gpu_id;
		g->node_id = e->node_id;
		g->vram_size = e->has_vram_size ? e->vram_size : 0;
		g->cpu_node = e->has_cpu_node ? e->cpu_node : -1;
		g->have_links = e->has_vram_public;
		g->vram_public = e->has_vram_public && e->vram_public;
		g->have_p2p = e->has_p2p_links && e->p2p_links;
		for (size_t l = 0; l < e->n_gpu_links && g->n_links < TOPO_MAX_LINKS; l++)
			g->links[g->n_links++] = (struct topo_link){
				.node_to = e->gpu_links[l]->node_to,
				.type = e->gpu_links[l]->type,
				.weight = e->gpu_links[l]->weight,
				.p2p = e->gpu_links[l]->has_p2p && e->gpu_links[l]->p2p,
			};
		for (size_t p = 0; p < e->n_properties && g->n_props < TOPO_MAX_PROPS; p++) {
			snprintf(g->props[g->n_props].name, sizeof(g->props[g->n_props].name), "%s",
				 e->properties[p]->name);
			g->props[g->n_props].value = e->properties[p]->value;
			g->n_props++;
		}
	}
}

/* Matches the image's GPUs to this machine's, once per task. */
static int ensure_matched(const struct plugin_config *cfg, const Vramstream__ProcessImage *img)
{
	char why[4096];
	int r;

	if (rs.matched)
		return 0;
	if (img->n_devices > TOPO_MAX_GPUS) {
		pr_err("restore of pid %d: the image names %zu GPUs, more than %d", (int)rs.pid,
		       img->n_devices, TOPO_MAX_GPUS);
		return -E2BIG;
	}
	image_topology(img, &rs.src);
	r = topology_read("", &rs.dst, why, sizeof(why));
	if (r) {
		pr_err("restore of pid %d: %s", (int)rs.pid, why);
		return r;
	}
	r = topology_match(&rs.src, &rs.dst, &cfg->checks, rs.map, why, sizeof(why));
	if (r) {
		pr_err("restore of pid %d: this machine's GPUs do not fit the image: %s",
		       (int)rs.pid, why);
		return r;
	}
	for (unsigned int i = 0; i < rs.src.n_gpus; i++)
		pr_info("restore of pid %d: GPU 0x%x (node %u) -> 0x%x (node %u)", (int)rs.pid,
			rs.src.gpus[i].gpu_id, rs.src.gpus[i].node_id,
			rs.dst.gpus[rs.map[i]].gpu_id, rs.dst.gpus[rs.map[i]].node_id);
	rs.matched = true;
	return 0;
}

static int dst_minor(unsigned int dst_index, uint32_t *minor)
{
	uint64_t v;

	if (topology_prop(&rs.dst.gpus[dst_index], "drm_render_minor", &v))
		return -ENODEV;
	*minor = (uint32_t)v;
	return 0;
}

/* The render node of dst GPU @di, opened once per task at a high number. */
static int render_fd_for(unsigned int di)
{
	char path[64];
	uint32_t minor;
	int fd, hi;

	if (!rs.fd_top)
		return -EINVAL; /* ensure_fd_room() first */
	if (rs.render_fd[di] >= 0)
		return rs.render_fd[di];
	if (dst_minor(di, &minor))
		return -ENODEV;
	snprintf(path, sizeof(path), "/dev/dri/renderD%u", minor);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		int e = errno;

		pr_err("restore of pid %d: cannot open %s: %s", (int)rs.pid, path, strerror(e));
		return -e;
	}
	hi = dup_high(fd, 0);
	close(fd);
	if (hi < 0)
		return hi;
	rs.render_fd[di] = hi;
	return hi;
}

static int src_index(uint32_t gpu_id)
{
	for (unsigned int i = 0; i < rs.src.n_gpus; i++)
		if (rs.src.gpus[i].gpu_id == gpu_id)
			return (int)i;
	return -1;
}

/* Logs each job's outcome, from whichever process ran it. */
static void log_jobs(pid_t pid, const struct transfer_job *jobs, unsigned int n_jobs)
{
	for (unsigned int j = 0; j < n_jobs; j++) {
		const struct transfer_job *job = &jobs[j];
		const struct transfer_stats *st = &job->stats;

		if (job->status) {
			pr_err("restore of pid %d, GPU 0x%x: %s", (int)pid, job->gpu_id, job->err);
			continue;
		}
		pr_info("restore of pid %d, GPU 0x%x: %u BO(s), %.3f GB moved from %.3f GB "
			"stored, %.3f s, %.2f GB/s; busy s: dma %.2f, decompress %.2f, io %.2f; "
			"GPU thread waited on reads %.2f s",
			(int)pid, job->gpu_id, job->n_bos, st->bytes / 1e9, st->stored / 1e9,
			st->seconds, st->seconds > 0 ? st->bytes / 1e9 / st->seconds : 0.0,
			st->dma_busy_s, st->codec_busy_s, st->io_busy_s, st->feed_wait_s);
	}
}

/*
 * What UPDATE_VMA_MAP needs once criu re-creates the task's mappings: every
 * restored BO with its old and new mmap offsets and GPUs, and a file of the
 * restored KFD of our own (criu moves the one we return to the task's fd
 * number, and the path "/dev/kfd" may not open inside a container).
 */
static int remember_vmas(const Vramstream__ProcessImage *img, const struct kfd_criu_bo_bucket *bos,
			 int kfd)
{
	free(rs.vma_bos);
	rs.n_vma_bos = 0;
	rs.vma_bos = calloc(img->n_bos ? img->n_bos : 1, sizeof(*rs.vma_bos));
	if (!rs.vma_bos)
		return -ENOMEM;
	for (size_t i = 0; i < img->n_bos; i++) {
		int si = src_index(img->bos[i]->gpu_id);
		const Vramstream__DeviceEntry *dev = img->devices[si];

		rs.vma_bos[rs.n_vma_bos++] = (struct plugin_vma_bo){
			.addr = bos[i].addr,
			.size = bos[i].size,
			.old_offset = bos[i].offset,
			.new_offset = bos[i].restored_offset,
			.alloc_flags = bos[i].alloc_flags,
			.src_minor = dev->has_render_minor ? (int)dev->render_minor : -1,
			.dst_gpu_id = rs.dst.gpus[rs.map[si]].gpu_id,
			.dst = rs.map[si],
		};
	}
	if (rs.kfd_fd < 0) {
		int fd = dup_high(kfd, O_CLOEXEC);

		if (fd < 0)
			return fd;
		rs.kfd_fd = fd;
	}
	return 0;
}

/*
 * A name of the image folder (criu's fd @dirfd) that opens from this task:
 * the name criu's process knows, or, where the task's mount namespace has no
 * such path (a container's: runc keeps the images outside it), the fd's own
 * /proc link, which leads to the folder from any mount namespace.
 */
static int image_dir_path(int dirfd, char *dir, size_t len)
{
	struct stat by_fd, by_name;
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	if (fstat(dirfd, &by_fd))
		return -errno;
	n = readlink(link, dir, len - 1);
	if (n < 0)
		return -errno;
	dir[n] = '\0';
	if (stat(dir, &by_name) || by_name.st_dev != by_fd.st_dev || by_name.st_ino != by_fd.st_ino)
		snprintf(dir, len, "%s", link);
	return 0;
}

/* What one RESTORE_EXT_FILE of a KFD file builds; freed by kfd_restore_end(). */
struct kfd_restore {
	pid_t pid;
	int id;	   /* criu's id of the KFD file */
	int dirfd; /* the image folder */
	Vramstream__ProcessImage *img;
	int kfd; /* the restored KFD file, -1 until opened */
	/* KFD RESTORE's arguments; bos[i].dmabuf_fd comes back from it */
	struct kfd_criu_device_bucket *devs;
	struct kfd_criu_bo_bucket *bos;
	/* the transfer: one job per GPU with contents, tbos their BOs */
	struct transfer_job *jobs;
	struct transfer_bo *tbos;
	unsigned int n_jobs, n_tbos;
	bool handed; /* the jobs went to the restore server */
};

static int kfd_open_checked(struct kfd_restore *kr)
{
	char why[512];
	int r;

	kr->kfd = open("/dev/kfd", O_RDWR);
	if (kr->kfd < 0) {
		r = -errno;
		pr_err("restore of pid %d: cannot open /dev/kfd: %s (is the amdgpu driver loaded?)",
		       (int)kr->pid, strerror(-r));
		return r;
	}
	r = kfd_check_version(kr->kfd, why, sizeof(why));
	if (r)
		pr_err("restore of pid %d: %s", (int)kr->pid, why);
	return r;
}

static int kfd_restore_alloc(struct kfd_restore *kr)
{
	size_t nd = kr->img->n_devices ? kr->img->n_devices : 1;
	size_t nb = kr->img->n_bos ? kr->img->n_bos : 1;

	kr->devs = calloc(nd, sizeof(*kr->devs));
	kr->bos = calloc(nb, sizeof(*kr->bos));
	kr->jobs = calloc(nd, sizeof(*kr->jobs));
	kr->tbos = calloc(nb, sizeof(*kr->tbos));
	return kr->devs && kr->bos && kr->jobs && kr->tbos ? 0 : -ENOMEM;
}

/* Each image GPU with the render node of the GPU it maps to. */
static int fill_device_buckets(struct kfd_restore *kr)
{
	for (size_t i = 0; i < kr->img->n_devices; i++) {
		unsigned int di = rs.map[i];
		int fd = render_fd_for(di);

		if (fd < 0)
			return fd;
		kr->devs[i].user_gpu_id = kr->img->devices[i]->gpu_id;
		kr->devs[i].actual_gpu_id = rs.dst.gpus[di].gpu_id;
		kr->devs[i].drm_fd = (uint32_t)fd;
	}
	return 0;
}

static int fill_bo_buckets(struct kfd_restore *kr)
{
	for (size_t i = 0; i < kr->img->n_bos; i++) {
		const Vramstream__BoEntry *e = kr->img->bos[i];

		if (src_index(e->gpu_id) < 0) {
			pr_err("restore of pid %d: BO %zu names GPU 0x%x, which the image does "
			       "not list (damaged image)",
			       (int)kr->pid, i, e->gpu_id);
			return -EINVAL;
		}
		kr->bos[i].addr = e->addr;
		kr->bos[i].size = e->size;
		kr->bos[i].offset = e->offset;
		kr->bos[i].gpu_id = e->gpu_id; /* user gpu_id: KFD translates through devs */
		kr->bos[i].alloc_flags = e->alloc_flags;
		kr->bos[i].dmabuf_fd = (uint32_t)-1;
	}
	return 0;
}

/*
 * Our own file of the restored KFD (remember_vmas), placed before RESTORE:
 * its dma-buf fds, one per BO, take the lowest free numbers and may fill
 * every one below criu's service fds until they are closed.
 */
static int keep_kfd_file(const struct kfd_restore *kr)
{
	int fd;

	if (rs.kfd_fd >= 0)
		return 0;
	fd = dup_high(kr->kfd, O_CLOEXEC);
	if (fd < 0)
		return fd;
	rs.kfd_fd = fd;
	return 0;
}

/* RESTORE hands out one dma-buf fd per VRAM/GTT BO at once (plugin_nofile.h). */
static int nofile_for_restore(const struct kfd_restore *kr, struct plugin_nofile *nofile)
{
	char why[768];
	int r = plugin_nofile_raise(nofile, kr->img->n_bos, why, sizeof(why));

	if (r)
		pr_err("restore of pid %d: %zu BO(s): %s", (int)kr->pid, kr->img->n_bos, why);
	return r;
}

static int kfd_restore_call(struct kfd_restore *kr)
{
	const Vramstream__ProcessImage *img = kr->img;
	int r = kfd_criu_restore(kr->kfd, kr->devs, (uint32_t)img->n_devices, kr->bos,
				 (uint32_t)img->n_bos, img->priv_data.data, img->priv_data.len,
				 img->num_objects);

	if (r)
		pr_err("restore of pid %d: KFD RESTORE failed: %s", (int)kr->pid, strerror(-r));
	return r;
}

/* BO @e's stream, checked against the image's rules and the GPU's earlier
 * BOs (@stream with @parts; NULL for the first). */
static int check_bo_stream(pid_t pid, const Vramstream__BoEntry *e, const char *stream,
			   unsigned int parts)
{
	const Vramstream__ContentRef *c = e->contents;

	if (stream && strcmp(stream, c->stream_file)) {
		pr_err("restore of pid %d: BOs of GPU 0x%x name two stream files (damaged image)",
		       (int)pid, e->gpu_id);
		return -EINVAL;
	}
	if (stream && parts != c->parts) {
		pr_err("restore of pid %d: BOs of GPU 0x%x disagree on the stream's parts "
		       "(damaged image)",
		       (int)pid, e->gpu_id);
		return -EINVAL;
	}
	if (image_parts_check(c->parts)) {
		pr_err("restore of pid %d: stream %s claims %u parts (damaged image)", (int)pid,
		       c->stream_file, c->parts);
		return -EINVAL;
	}
	if (image_stream_name_check(c->stream_file)) {
		pr_err("restore of pid %d: stream file name %s leaves the image folder (damaged "
		       "image)",
		       (int)pid, c->stream_file);
		return -EINVAL;
	}
	return 0;
}

/* The transfer job of image GPU @dev (none when no BO of it has contents). */
static int build_job(struct kfd_restore *kr, size_t dev, const char *dir)
{
	const Vramstream__ProcessImage *img = kr->img;
	struct transfer_job *job = &kr->jobs[kr->n_jobs];
	const char *stream = NULL;

	job->bos = &kr->tbos[kr->n_tbos];
	for (size_t i = 0; i < img->n_bos; i++) {
		const Vramstream__BoEntry *e = img->bos[i];
		int r;

		if (!e->contents || e->gpu_id != img->devices[dev]->gpu_id)
			continue;
		r = check_bo_stream(kr->pid, e, stream, job->n_parts);
		if (r)
			return r;
		stream = e->contents->stream_file;
		job->n_parts = e->contents->parts;
		kr->tbos[kr->n_tbos++] = (struct transfer_bo){
			.size = e->size,
			.dmabuf_fd = (int)kr->bos[i].dmabuf_fd,
			.tag = e->contents->tag,
		};
		job->n_bos++;
	}
	if (!job->n_bos)
		return 0;
	job->gpu_id = rs.dst.gpus[rs.map[dev]].gpu_id;
	dst_minor(rs.map[dev], &job->render_minor);
	if (snprintf(job->stream_path, sizeof(job->stream_path), "%s/%s", dir, stream) >=
	    (int)sizeof(job->stream_path))
		return -ENAMETOOLONG;
	if (img->n_sources) {
		job->refs_img = img;
		job->refs_dirfd = kr->dirfd;
		image_kfd_name((unsigned int)kr->pid, kr->id, job->refs_meta,
			       sizeof(job->refs_meta));
	}
	kr->n_jobs++;
	return 0;
}

static int build_jobs(struct kfd_restore *kr, int dirfd)
{
	char dir[PATH_MAX];
	int r;

	r = image_dir_path(dirfd, dir, sizeof(dir));
	if (r)
		return r;
	for (size_t dev = 0; !r && dev < kr->img->n_devices; dev++)
		r = build_job(kr, dev, dir);
	return r;
}

/*
 * The BO contents go to criu's process when a restore server runs there
 * (they are copied while criu restores the rest), else are restored here.
 */
static int hand_off(struct kfd_restore *kr, const struct plugin_config *cfg,
		    const struct restore_server *srv)
{
	struct plugin_progress progress;
	char why[512];
	int r;

	if (srv && kr->n_jobs) {
		if (!restore_server_submit(srv, kr->jobs, kr->n_jobs, why, sizeof(why))) {
			kr->handed = true;
			pr_info("restore of pid %d: BO contents of %u GPU(s) handed to criu's "
				"process; they are copied while criu restores the rest",
				(int)kr->pid, kr->n_jobs);
			return 0;
		}
		pr_warn("restore of pid %d: %s; restoring BO contents in the task", (int)kr->pid,
			why);
	}
	plugin_progress_init(&progress, "restore", (int)kr->pid);
	r = transfer_restore_progress(cfg, &plugin_dma_sdma_ops, kr->jobs, kr->n_jobs,
				      &progress.tp);
	log_jobs(kr->pid, kr->jobs, kr->n_jobs);
	return r;
}

/* Frees @kr; returns the restored KFD file, or @r when it failed. */
static int kfd_restore_end(struct kfd_restore *kr, int r, double t0)
{
	for (size_t i = 0; kr->bos && i < kr->img->n_bos; i++)
		if (kr->bos[i].dmabuf_fd != (uint32_t)-1 &&
		    kfd_bo_has_contents(kr->bos[i].alloc_flags))
			close((int)kr->bos[i].dmabuf_fd);
	free(kr->devs);
	free(kr->bos);
	free(kr->jobs);
	free(kr->tbos);
	if (r) {
		if (kr->kfd >= 0)
			close(kr->kfd);
		kr->kfd = r;
	} else {
		pr_info("restore of pid %d: KFD state and %zu BO(s) %s in %.3f s; queues "
			"start at RESUME",
			(int)kr->pid, kr->img->n_bos, kr->handed ? "created" : "restored",
			common_now_s() - t0);
	}
	image_meta_free(kr->img);
	return kr->kfd;
}

/*
 * Every file the image's references name (its own streams, its parents'),
 * there, unchanged, and resolving every reference: a missing or replaced
 * parent fails the restore here, before the machine is touched.
 */
static int check_sources(const struct kfd_restore *kr)
{
	char why[1024];
	int r;

	if (!kr->img->n_sources)
		return 0;
	r = image_sources_check(kr->dirfd, kr->img, why, sizeof(why));
	if (r)
		pr_err("restore of pid %d: %s", (int)kr->pid, why);
	else if (kr->img->parent)
		pr_info("restore of pid %d: incremental image; every chunk its parent %s holds "
			"for it is there",
			(int)kr->pid, kr->img->parent);
	return r;
}

int plugin_restore_kfd(const struct plugin_config *cfg, const struct restore_server *srv, int dirfd,
		       int id)
{
	struct kfd_restore kr = { .pid = getpid(), .id = id, .dirfd = dirfd, .kfd = -1 };
	struct plugin_nofile nofile = { .raised = false };
	double t0 = common_now_s();
	int r;

	state_reset_for(kr.pid);
	r = load_kfd_image(dirfd, kr.pid, id, &kr.img);
	if (r == -ENOENT)
		return -ENOTSUP; /* not a file we dumped */
	if (r)
		return r;
	r = check_sources(&kr);
	if (!r)
		r = ensure_hsakmt_shm(kr.img);
	if (!r)
		r = ensure_matched(cfg, kr.img);
	if (!r)
		r = ensure_fd_room(dirfd);
	if (!r)
		r = kfd_open_checked(&kr);
	if (!r)
		r = kfd_restore_alloc(&kr);
	if (!r)
		r = fill_device_buckets(&kr);
	if (!r)
		r = fill_bo_buckets(&kr);
	if (!r)
		r = keep_kfd_file(&kr);
	if (!r)
		r = nofile_for_restore(&kr, &nofile);
	if (!r)
		r = kfd_restore_call(&kr);
	if (!r)
		r = plugin_dmabuf_keep(dirfd, id, kr.bos, kr.img->n_bos, dup_high_for_criu);
	if (!r)
		r = remember_vmas(kr.img, kr.bos, kr.kfd);
	if (!r)
		r = build_jobs(&kr, dirfd);
	if (!r)
		r = hand_off(&kr, cfg, srv);
	r = kfd_restore_end(&kr, r, t0);
	plugin_nofile_restore(&nofile);
	return r;
}

/* The job writing the GEM BOs' stream back through their dma-bufs (@dmabufs, by BO index). */
static int render_job(const Vramstream__RenderFile *rf, int dirfd, const int *dmabufs,
		      struct transfer_job *job, struct transfer_bo *tbos)
{
	const Vramstream__ContentRef *first = NULL;
	char dir[PATH_MAX];
	int r;

	for (size_t i = 0; i < rf->n_bos; i++) {
		const Vramstream__ContentRef *c = rf->bos[i]->stream;

		if (!c)
			continue;
		if ((first &&
		     (strcmp(first->stream_file, c->stream_file) || first->parts != c->parts)) ||
		    image_stream_name_check(c->stream_file) || image_parts_check(c->parts) ||
		    c->tag != i) {
			pr_err("restore of pid %d: renderD%u: BO %u names stream %s (%u parts, tag "
			       "%" PRIu64 "), which does not fit the file's other BOs (damaged "
			       "image)",
			       (int)rs.pid, rf->render_minor, rf->bos[i]->handle, c->stream_file,
			       c->parts, c->tag);
			return -EINVAL;
		}
		first = c;
		tbos[job->n_bos++] = (struct transfer_bo){ .size = rf->bos[i]->size,
							   .dmabuf_fd = dmabufs[i],
							   .tag = c->tag };
	}
	if (!first)
		return 0;
	job->bos = tbos;
	job->close_fds = true;
	job->n_parts = first->parts;
	r = image_dir_path(dirfd, dir, sizeof(dir));
	if (!r && snprintf(job->stream_path, sizeof(job->stream_path), "%s/%s", dir,
			   first->stream_file) >= (int)sizeof(job->stream_path))
		r = -ENAMETOOLONG;
	return r;
}

/*
 * The GEM BOs' contents from the file's stream, in the task, before criu goes on: through the
 * transfer pipeline (SDMA from pinned buffers into each BO's dma-buf), as KFD BOs' are.
 */
static int restore_render_contents(const struct plugin_config *cfg,
				   const Vramstream__RenderFile *rf, int dirfd, unsigned int dst,
				   int *dmabufs)
{
	struct transfer_job job = { .gpu_id = rs.dst.gpus[dst].gpu_id };
	Vramstream__ProcessImage refs = VRAMSTREAM__PROCESS_IMAGE__INIT;
	struct plugin_progress progress;
	struct transfer_bo *tbos;
	int r;

	tbos = calloc(rf->n_bos ? rf->n_bos : 1, sizeof(*tbos));
	if (!tbos)
		return -ENOMEM;
	r = render_job(rf, dirfd, dmabufs, &job, tbos);
	if (r || !job.n_bos)
		goto out;
	dst_minor(dst, &job.render_minor);
	/* The stream's references name its own parts (chunks of equal bytes stored once). */
	if (rf->n_sources) {
		refs.n_sources = rf->n_sources;
		refs.sources = rf->sources;
		job.refs_img = &refs;
		job.refs_dirfd = dirfd;
	}
	plugin_progress_init(&progress, "restore", (int)rs.pid);
	r = transfer_restore_progress(cfg, &plugin_dma_sdma_ops, &job, 1, &progress.tp);
	if (r)
		pr_err("restore of pid %d: renderD%u: GEM BO contents: %s", (int)rs.pid,
		       rf->render_minor, job.err);
	else
		pr_info("restore of pid %d: renderD%u: %u GEM BO(s), %.3f GB moved from %.3f GB "
			"stored, %.3f s",
			(int)rs.pid, rf->render_minor, job.n_bos, job.stats.bytes / 1e9,
			job.stats.stored / 1e9, job.stats.seconds);
out:
	/* The transfer closed what it imported; the rest is ours. */
	for (size_t i = 0; i < rf->n_bos; i++)
		dmabufs[i] = -1;
	for (unsigned int k = 0; k < job.n_bos; k++)
		if (tbos[k].dmabuf_fd >= 0)
			close(tbos[k].dmabuf_fd);
	free(tbos);
	return r;
}

/* The file's GEM BOs, and where the task's CPU mappings of them go (UPDATE_VMA_MAP). */
static int restore_render_bos(const struct plugin_config *cfg, int fd, int dirfd, int id,
			      const Vramstream__RenderFile *rf, unsigned int dst)
{
	struct plugin_nofile nofile = { .raised = false };
	struct plugin_render_bo_moved *mv;
	struct plugin_vma_bo *grown;
	int *dmabufs;
	char why[768];
	size_t n = 0;
	int r;

	if (!rf->n_bos)
		return 0;
	mv = calloc(rf->n_bos, sizeof(*mv));
	dmabufs = calloc(rf->n_bos, sizeof(*dmabufs));
	grown = realloc(rs.gem_vma_bos, (rs.n_gem_vma_bos + rf->n_bos) * sizeof(*grown));
	if (grown)
		rs.gem_vma_bos = grown;
	if (!mv || !dmabufs || !grown) {
		free(mv);
		free(dmabufs);
		return -ENOMEM;
	}
	/* One dma-buf per BO with contents in the stream, until the engine took it. */
	r = plugin_nofile_raise(&nofile, (uint32_t)rf->n_bos, why, sizeof(why));
	if (!r)
		r = plugin_render_bos_restore(fd, rf, mv, &n, dmabufs, why, sizeof(why));
	if (r) {
		pr_err("restore of pid %d: render node renderD%u (GPU 0x%x): %s", (int)rs.pid,
		       rf->render_minor, rf->gpu_id, why);
		for (size_t i = 0; i < rf->n_bos; i++)
			if (dmabufs[i] >= 0)
				close(dmabufs[i]);
	} else {
		/* Copies of the dma-bufs the task held, before the transfer takes them. */
		r = plugin_dmabuf_keep_render(dirfd, id, rf, dmabufs, dup_high_for_criu);
		if (r)
			for (size_t i = 0; i < rf->n_bos; i++)
				if (dmabufs[i] >= 0)
					close(dmabufs[i]);
		if (!r)
			r = restore_render_contents(cfg, rf, dirfd, dst, dmabufs);
	}
	plugin_nofile_restore(&nofile);
	free(dmabufs);
	if (r) {
		free(mv);
		return r;
	}
	for (size_t i = 0; i < n; i++)
		rs.gem_vma_bos[rs.n_gem_vma_bos++] = (struct plugin_vma_bo){
			.size = mv[i].size,
			.old_offset = mv[i].old_offset,
			.new_offset = mv[i].new_offset,
			.gem = true,
			.src_minor = (int)rf->render_minor,
			.dst_gpu_id = rs.dst.gpus[dst].gpu_id,
			.dst = dst,
		};
	pr_info("restore of pid %d: renderD%u: %zu GEM BO(s) back at their handles", (int)rs.pid,
		rf->render_minor, rf->n_bos);
	free(mv);
	return 0;
}

int plugin_restore_render(const struct plugin_config *cfg, int dirfd, int id)
{
	Vramstream__ProcessImage *img = NULL;
	Vramstream__RenderFile *rf;
	char name[64], why[256];
	uint8_t *buf;
	size_t len;
	pid_t pid = getpid();
	int r, kid, si, fd;

	state_reset_for(pid);
	image_render_name(id, name, sizeof(name));
	r = image_file_read(dirfd, name, &buf, &len);
	/*
	 * A missing render file is not ours unless the task has a KFD image:
	 * then the file was lost (criu asks plugins about every external file,
	 * and the render nodes of a GPU process are ours).
	 */
	if (r == -ENOENT && plugin_restore_find_kfd_image(dirfd, pid) < 0)
		return -ENOTSUP;
	if (r) {
		pr_err("restore of pid %d: cannot read %s: %s", (int)pid, name, strerror(-r));
		return r;
	}
	r = image_render_decode(buf, len, &rf, why, sizeof(why));
	free(buf);
	if (r) {
		pr_err("restore of pid %d: %s: %s", (int)pid, name, why);
		return -EINVAL;
	}
	/* The GPU mapping comes from the task's KFD image. */
	kid = plugin_restore_find_kfd_image(dirfd, pid);
	if (kid < 0) {
		pr_err("restore of pid %d: render node file %d has no KFD image beside it",
		       (int)pid, id);
		r = -ENOENT;
		goto out;
	}
	r = load_kfd_image(dirfd, pid, kid, &img);
	if (!r)
		r = ensure_hsakmt_shm(img);
	if (!r)
		r = ensure_matched(cfg, img);
	if (!r)
		r = ensure_fd_room(dirfd);
	if (r)
		goto out;
	si = src_index(rf->gpu_id);
	if (si < 0) {
		pr_err("restore of pid %d: %s names GPU 0x%x, which the KFD image does not list",
		       (int)pid, name, rf->gpu_id);
		r = -EINVAL;
		goto out;
	}
	fd = render_fd_for(rs.map[si]);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	r = restore_render_bos(cfg, fd, dirfd, id, rf, rs.map[si]);
	if (r)
		goto out;
	/* The same open file the KFD acquired its VM from, as on the source. */
	r = fcntl(fd, F_DUPFD, 0);
	if (r < 0)
		r = -errno;
out:
	image_meta_free(img);
	image_render_free(rf);
	return r;
}

/* Closes the files of ours the task holds (see the top of this file); returns how many. */
static unsigned int close_kept_files(void)
{
	unsigned int n = 0;

	if (rs.kfd_fd >= 0) {
		close(rs.kfd_fd);
		rs.kfd_fd = -1;
		n++;
	}
	for (int i = 0; i < TOPO_MAX_GPUS; i++)
		if (rs.render_fd[i] >= 0) {
			close(rs.render_fd[i]);
			rs.render_fd[i] = -1;
			n++;
		}
	return n;
}

static bool holds_kept_files(void)
{
	if (rs.kfd_fd >= 0)
		return true;
	for (int i = 0; i < TOPO_MAX_GPUS; i++)
		if (rs.render_fd[i] >= 0)
			return true;
	return false;
}

/*
 * One UPDATE_VMA_MAP of the task is over, whatever its answer; after its
 * last (counted from criu's image of the task, plugin_criu_img.h), our
 * files go. Should a plugin loaded before ours answer for some VMA, we
 * never see that call and keep the files, as before: the task runs either
 * way, never with a file closed that a later mapping needs.
 */
static void vma_done(int dirfd)
{
	pid_t pid = getpid();
	char why[512];
	unsigned int n;

	if (rs.pid != pid || !holds_kept_files())
		return;
	if (!rs.vmas_counted) {
		if (criu_img_task_plugin_vmas(dirfd, pid, &rs.vmas_left, why, sizeof(why))) {
			pr_warn("restore of pid %d: cannot count its device VMAs (%s); the plugin's "
				"files stay open in it",
				(int)pid, why);
			rs.vmas_left = 0;
		}
		rs.vmas_counted = true;
	}
	/* None left before this one: the count is not criu's; keep the files. */
	if (!rs.vmas_left || --rs.vmas_left)
		return;
	n = close_kept_files();
	pr_info("restore of pid %d: last device VMA given to criu; closed the plugin's %u file(s) "
		"in the task",
		(int)pid, n);
}

int plugin_restore_vma(int dirfd, const char *path, uint64_t addr, uint64_t old_pgoff,
		       uint64_t *new_pgoff, int *plugin_fd)
{
	const struct plugin_vma_map map = {
		.bos = rs.vma_bos,
		.n_bos = rs.n_vma_bos,
		.gem_bos = rs.gem_vma_bos,
		.n_gem_bos = rs.n_gem_vma_bos,
		.render_fd = rs.render_fd,
		.n_dst = rs.dst.n_gpus,
		.kfd_fd = rs.kfd_fd,
	};
	char why[512];
	int r = plugin_vma_update(&map, path, addr, old_pgoff, new_pgoff, plugin_fd, why,
				  sizeof(why));

	vma_done(dirfd);
	if (r == -ENOTSUP)
		return r;
	if (r < 0) {
		pr_err("restore of pid %d: %s", (int)getpid(), why);
		return r;
	}
	pr_debug("device VMA at 0x%" PRIx64 " of %s: offset 0x%" PRIx64 " -> 0x%" PRIx64
		 " through fd %d",
		 addr, path, old_pgoff, *new_pgoff, *plugin_fd);
	return r;
}

/* See plugin_restore.h: criu fails the restore once the task is gone. */
static int kill_unrestored(pid_t pid, int err)
{
	if (kill(pid, SIGKILL))
		pr_err("resume of pid %d: cannot kill it (%s): it must not run with GPU state "
		       "that was not restored",
		       (int)pid, strerror(errno));
	else
		pr_err("resume of pid %d: killed, its GPU state was not restored; criu fails "
		       "the restore",
		       (int)pid);
	return err;
}

int plugin_resume_late(const struct plugin_config *cfg, struct restore_server *srv, int dirfd,
		       pid_t pid)
{
	struct restore_server_done done;
	char who[64];
	pid_t own = pid;
	int kfd, r, ns_err;

	(void)cfg;
	/*
	 * @pid is the task's pid in criu's namespace; its image is named by its
	 * own one (plugin_pid_ns.h). The restore server knows the task by
	 * @pid as well; KFD RESUME takes @pid too.
	 */
	ns_err = plugin_pid_ns_own(pid, &own);
	if (ns_err || own == pid)
		snprintf(who, sizeof(who), "pid %d", (int)pid);
	else
		snprintf(who, sizeof(who), "pid %d (pid %d in its namespace)", (int)pid, (int)own);
	if (srv) {
		struct plugin_progress progress;
		double t0 = common_now_s();

		plugin_progress_init(&progress, "restore", (int)pid);
		if (restore_server_wait(srv, pid, &progress.tp, &done) == 1) {
			double waited = common_now_s() - t0, beside;

			log_jobs(pid, done.jobs, done.n_jobs);
			if (done.status) {
				pr_err("restore of %s: BO contents could not be restored", who);
				return kill_unrestored(pid, done.status);
			}
			/* From hand-over to done, all but the wait ran beside criu. */
			beside = done.finished - done.submitted - waited;
			pr_info("restore of %s: BO contents restored by criu's process in "
				"%.3f s (queued %.3f s), %.3f s of it while criu restored the "
				"rest; resume waited %.3f s",
				who, done.finished - done.started, done.started - done.submitted,
				beside > 0 ? beside : 0.0, waited);
		}
	}
	if (ns_err) /* a task criu just restored has a /proc entry; outside a pid namespace */
		pr_warn("resume of %s: cannot read its pid in its own namespace (%s); looking "
			"its image up by this one",
			who, strerror(-ns_err));
	/*
	 * No GPU state of ours in this task: decline it, as upstream's amdgpu
	 * plugin does (-ENOTSUP when KFD RESUME finds no process), so that
	 * criu's run_plugins() passes the task on to any other plugin loaded
	 * after this one (it stops at the first answer other than -ENOTSUP);
	 * criu's restore_root_task() does not count -ENOTSUP as an error.
	 */
	if (plugin_restore_find_kfd_image(dirfd, own) < 0)
		return -ENOTSUP;
	kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	if (kfd < 0) {
		r = -errno;
		pr_err("resume of %s: cannot open /dev/kfd: %s", who, strerror(-r));
		return kill_unrestored(pid, r);
	}
	r = kfd_criu_resume(kfd, pid);
	close(kfd);
	if (r) {
		pr_err("resume of %s: KFD RESUME failed: %s", who, strerror(-r));
		return kill_unrestored(pid, r);
	}
	pr_info("resume of %s: GPU queues running", who);
	return 0;
}
