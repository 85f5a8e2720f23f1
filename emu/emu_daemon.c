// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vramstream-emu-daemon: owns the emulated GPUs and every process's KFD
 * state. Usage:
 *   vramstream-emu-daemon DIR [--gpus N] [--vram BYTES] [--gpu-ids ID,ID...]
 *                             [--config FILE]
 * --config applies a file in $DIR/config's format over the defaults
 * ("num_gpus 2", "gpu.1.gpu_id 4660", ...); --gpu-ids then sets gpu_ids.
 * It writes DIR/config, builds DIR/root (emu_root.c), listens on DIR/socket,
 * writes DIR/daemon.pid once ready, and runs until EMU_OP_SHUTDOWN or SIGTERM.
 *
 * Each connection carries one request (emu_proto.h) and is served by its own
 * thread, so a client that criu freezes halfway through a request cannot hold
 * up requests from criu itself; handlers run under d->lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common_size.h"
#include "emu_daemon_internal.h"
#include "emu_aperture.h"
#include "emu_devcgroup.h"
#include "emu_root.h"
#include "emu_sock.h"

static volatile sig_atomic_t emu_daemon_signalled;

static void emu_daemon_on_signal(int sig)
{
	(void)sig;
	emu_daemon_signalled = 1;
}

static int emu_daemon_stats(struct emu_daemon *d, struct emu_drep *rep)
{
	struct emu_stats *st;
	struct emu_kproc *p;
	struct emu_bo *bo;
	unsigned int i;
	int err = emu_drep_alloc(rep, sizeof(*st));

	if (err)
		return err;
	st = (struct emu_stats *)rep->payload;
	for (p = d->procs; p; p = p->next) {
		st->num_processes++;
		for (bo = p->bos; bo; bo = bo->next)
			st->num_bos++;
	}
	for (i = 0; i < EMU_MAX_GPUS && i < 8; i++)
		st->vram_used[i] = d->vram_used[i];
	st->packets_executed = d->packets_executed;
	return 0;
}

static int emu_daemon_kfd_open(struct emu_daemon *d, const struct emu_dreq *rq,
			       struct emu_drep *rep)
{
	struct emu_kproc *p;
	char path[PATH_MAX];
	int err;

	err = emu_kproc_open(d, rq->caller, &p);
	if (!err)
		err = emu_root_kfd_node(d->root, rq->caller, path, sizeof(path));
	if (!err)
		err = emu_drep_alloc(rep, strlen(path) + 1);
	if (!err)
		memcpy(rep->payload, path, strlen(path) + 1);
	return err;
}

static int emu_daemon_bo_by_offset(struct emu_daemon *d, const struct emu_dreq *rq,
				   struct emu_drep *rep)
{
	struct emu_kproc *owner;
	struct emu_bo_info *info;
	struct emu_bo *bo;
	pid_t seen;
	int err;

	if (rq->req.gpu_index >= d->cfg.num_gpus)
		return -EINVAL;
	bo = emu_bo_by_offset(d, rq->req.gpu_index, rq->req.arg0, &owner);
	if (!bo)
		return -EINVAL;
	err = emu_drep_alloc(rep, sizeof(*info));
	if (err)
		return err;
	info = (struct emu_bo_info *)rep->payload;
	info->size = bo->size;
	info->va = bo->va;
	info->alloc_flags = bo->flags;
	info->gpu_id = d->cfg.gpus[bo->gpu_index].gpu_id;
	/* The shim compares it with its getpid(): the owner as the caller sees it. */
	err = emu_pid_ns_nr(owner->pid, rq->caller, &seen);
	if (err)
		return err;
	info->owner_pid = (uint32_t)seen;
	return 0;
}

static int emu_daemon_dispatch(struct emu_daemon *d, const struct emu_dreq *rq,
			       struct emu_drep *rep)
{
	switch (rq->req.op) {
	case EMU_OP_PING:
		return 0;
	case EMU_OP_KFD_OPEN:
		return emu_daemon_kfd_open(d, rq, rep);
	case EMU_OP_KFD_IOCTL:
		return emu_kfd_handle_ioctl(d, rq, rep);
	case EMU_OP_KFD_MMAP:
		return emu_kfd_handle_mmap(d, rq, rep);
	case EMU_OP_BO_BY_OFFSET:
		return emu_daemon_bo_by_offset(d, rq, rep);
	case EMU_OP_STATS:
		emu_kproc_reap(d);
		return emu_daemon_stats(d, rep);
	case EMU_OP_SHUTDOWN:
		d->stop = true;
		return 0;
	case EMU_OP_GEM:
		return emu_gem_handle(d, rq, rep);
	case EMU_OP_GPU_ACCESS:
		if (rq->req.gpu_index >= d->cfg.num_gpus)
			return -EINVAL;
		return emu_devcgroup_check(rq->caller, d->cfg.gpus[rq->req.gpu_index].render_minor);
	default:
		return -EOPNOTSUPP;
	}
}

struct emu_conn {
	struct emu_daemon *d;
	int sock;
};

static void *emu_daemon_conn_main(void *arg)
{
	struct emu_conn *c = arg;
	struct emu_daemon *d = c->d;
	struct emu_dreq rq = { .payload = NULL, .fds = NULL, .nfds = 0 };
	struct emu_drep rep = { .result = 0 };
	struct emu_rep hdr = { .result = 0 };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	unsigned int i;
	int err;

	if (getsockopt(c->sock, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0)
		goto out;
	rq.caller = cred.pid;
	if (emu_sock_recv_all(c->sock, &rq.req, sizeof(rq.req)) != 0 ||
	    rq.req.magic != EMU_PROTO_MAGIC || rq.req.payload_len > EMU_PROTO_MAX_PAYLOAD ||
	    rq.req.nfds > 4096)
		goto out;
	rq.payload = calloc(1, rq.req.payload_len + 8);
	rq.fds = calloc(rq.req.nfds + 1, sizeof(int));
	if (!rq.payload || !rq.fds)
		goto out;
	if (rq.req.payload_len && emu_sock_recv_all(c->sock, rq.payload, rq.req.payload_len) != 0)
		goto out;
	if (rq.req.nfds && emu_sock_recv_fds(c->sock, rq.fds, rq.req.nfds) != 0)
		goto out;
	rq.nfds = rq.req.nfds;

	pthread_mutex_lock(&d->lock);
	err = emu_daemon_dispatch(d, &rq, &rep);
	pthread_mutex_unlock(&d->lock);
	rep.result = err;
	if (err < 0) {
		/*
		 * A failed request returns no fds; its payload (the argument struct)
		 * still goes back, as kfd_ioctl copies it out whatever the result.
		 */
		while (rep.nfds)
			close(rep.fds[--rep.nfds]);
	}
	hdr.result = rep.result;
	hdr.payload_len = (uint32_t)rep.len;
	hdr.nfds = rep.nfds;
	if (emu_sock_send_all(c->sock, &hdr, sizeof(hdr)) == 0 &&
	    (!rep.len || emu_sock_send_all(c->sock, rep.payload, rep.len) == 0) && rep.nfds)
		emu_sock_send_fds(c->sock, rep.fds, rep.nfds);
out:
	emu_drep_release(&rep);
	for (i = 0; i < rq.nfds; i++)
		close(rq.fds[i]);
	free(rq.fds);
	free(rq.payload);
	close(c->sock);
	free(c);
	return NULL;
}

static int emu_daemon_listen(struct emu_daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/socket", d->dir) >=
	    sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	unlink(sa.sun_path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s, 128) != 0) {
		int err = -errno;

		close(s);
		return err;
	}
	chmod(sa.sun_path, 0666);
	d->listen_fd = s;
	return 0;
}

/* "0x1a2b,0x3c4d": gpu_ids of GPUs 0, 1, ... (restore onto other gpu_ids). */
static int emu_daemon_set_gpu_ids(struct emu_config *cfg, const char *list)
{
	unsigned int i = 0;
	const char *p = list;

	while (*p) {
		char *end;
		unsigned long v = strtoul(p, &end, 0);

		if (end == p || i >= cfg->num_gpus || !v || v > 0xffff)
			return -EINVAL;
		cfg->gpus[i++].gpu_id = (uint32_t)v;
		p = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -EINVAL;
	}
	return 0;
}

/* Waits for connections and for processes to exit; frees the state of exited ones. */
static bool emu_daemon_stopping(struct emu_daemon *d)
{
	bool stop;

	pthread_mutex_lock(&d->lock);
	stop = d->stop;
	pthread_mutex_unlock(&d->lock);
	return stop || emu_daemon_signalled;
}

static void emu_daemon_loop(struct emu_daemon *d)
{
	while (!emu_daemon_stopping(d)) {
		struct pollfd pfd[1 + 256];
		struct emu_kproc *p;
		nfds_t n = 1;
		int r;

		pfd[0].fd = d->listen_fd;
		pfd[0].events = POLLIN;
		pthread_mutex_lock(&d->lock);
		for (p = d->procs; p && n < sizeof(pfd) / sizeof(pfd[0]); p = p->next) {
			pfd[n].fd = p->pidfd;
			pfd[n].events = POLLIN;
			n++;
		}
		pthread_mutex_unlock(&d->lock);
		r = poll(pfd, n, 200);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && (pfd[0].revents & POLLIN)) {
			int s = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (s >= 0) {
				struct emu_conn *c = malloc(sizeof(*c));
				pthread_attr_t attr;
				pthread_t t;

				pthread_attr_init(&attr);
				pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
				if (c) {
					c->d = d;
					c->sock = s;
				}
				if (!c || pthread_create(&t, &attr, emu_daemon_conn_main, c) != 0) {
					close(s);
					free(c);
				}
				pthread_attr_destroy(&attr);
			}
		}
		pthread_mutex_lock(&d->lock);
		emu_kproc_reap(d);
		emu_gem_reap(d);
		pthread_mutex_unlock(&d->lock);
		/* Its folder gone (a test that removed it without `stop`), nobody
		 * can reach the daemon any more: exit rather than poll forever. */
		if (access(d->dir, F_OK) != 0 && errno == ENOENT)
			break;
	}
}

/*
 * The daemon stands for the kernel, which holds a process's dma-bufs without
 * fds of its own; only the caller's RLIMIT_NOFILE may limit a CHECKPOINT or
 * RESTORE (the shim's receive fails as get_unused_fd_flags would: EMFILE).
 * So the daemon, which opens every dma-buf of such a call before sending it,
 * takes all the soft limit its hard limit allows.
 */
static void daemon_nofile_raise(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static struct emu_daemon daemon_state;
	struct emu_daemon *d = &daemon_state;
	unsigned int gpus = 1;
	uint64_t vram = 1ULL << 30;
	const char *config_file = NULL, *gpu_ids = NULL, *aperture_in = EMU_APERTURE_PARENT;
	char path[PATH_MAX];
	pthread_t exec_thread;
	struct sigaction sa;
	int i, err;

	if (argc < 2 || argv[1][0] != '/' || strlen(argv[1]) >= sizeof(d->dir)) {
		fprintf(stderr,
			"usage: %s ABSOLUTE_DIR (< 1 KiB) [--gpus N] [--vram SIZE] "
			"[--gpu-ids ID,...] [--config FILE] [--aperture-in TMPFS_DIR]\n",
			argv[0]);
		return 2;
	}
	daemon_nofile_raise();
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--gpus") == 0 && i + 1 < argc)
			gpus = (unsigned int)strtoul(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--vram") == 0 && i + 1 < argc) {
			if (common_size_parse(argv[++i], &vram)) {
				fprintf(stderr,
					"emu-daemon: --vram %s is not a size (4096, 64K, 8M, 1G)\n",
					argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config_file = argv[++i];
		else if (strcmp(argv[i], "--gpu-ids") == 0 && i + 1 < argc)
			gpu_ids = argv[++i];
		else if (strcmp(argv[i], "--aperture-in") == 0 && i + 1 < argc)
			aperture_in = argv[++i];
		else {
			fprintf(stderr, "emu-daemon: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	if (gpus < 1 || gpus > EMU_MAX_GPUS) {
		fprintf(stderr, "emu-daemon: --gpus must be 1..%d\n", EMU_MAX_GPUS);
		return 2;
	}
	snprintf(d->dir, sizeof(d->dir), "%s", argv[1]);
	if (snprintf(d->root, sizeof(d->root), "%s/root", d->dir) >= (int)sizeof(d->root))
		return 2;
	pthread_mutex_init(&d->lock, NULL);
	d->listen_fd = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = emu_daemon_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	err = emu_root_mkdirs(d->dir);
	if (!err) {
		emu_config_defaults(&d->cfg, gpus, vram);
		if (config_file)
			err = emu_config_apply_file(config_file, &d->cfg);
	}
	if (!err && gpu_ids)
		err = emu_daemon_set_gpu_ids(&d->cfg, gpu_ids);
	if (!err && (d->cfg.num_gpus < 1 || d->cfg.num_gpus > EMU_MAX_GPUS))
		err = -EINVAL;
	for (i = 0; !err && i < (int)d->cfg.num_links; i++)
		if (d->cfg.links[i].a >= d->cfg.num_gpus || d->cfg.links[i].b >= d->cfg.num_gpus)
			err = -EINVAL; /* a link to a GPU the machine does not have */
	if (!err)
		err = emu_config_check(&d->cfg);
	if (!err)
		err = emu_config_save(d->dir, &d->cfg);
	if (!err)
		err = emu_aperture_dir(d->dir, aperture_in, d->aperture_dir,
				       sizeof(d->aperture_dir));
	if (!err)
		err = emu_root_create(d->root, d->aperture_dir, &d->cfg);
	if (!err)
		err = emu_daemon_apertures_open(d);
	if (!err)
		err = emu_daemon_listen(d);
	if (!err)
		err = emu_queue_executor_start(d, &exec_thread);
	if (err) {
		fprintf(stderr, "emu-daemon: cannot start in %s: %s\n", d->dir, strerror(-err));
		return 1;
	}
	if (snprintf(path, sizeof(path), "%s/daemon.pid", d->dir) >= (int)sizeof(path))
		return 2;
	{
		char buf[32];

		snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
		unlink(path);
		emu_root_write_file(path, buf);
	}
	fprintf(stderr, "emu-daemon: %u GPU(s), %llu bytes VRAM on GPU 0, in %s\n", d->cfg.num_gpus,
		(unsigned long long)d->cfg.gpus[0].vram_size, d->dir);
	emu_daemon_loop(d);

	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_mutex_unlock(&d->lock);
	pthread_join(exec_thread, NULL);
	if (snprintf(path, sizeof(path), "%s/socket", d->dir) < (int)sizeof(path))
		unlink(path);
	if (snprintf(path, sizeof(path), "%s/daemon.pid", d->dir) < (int)sizeof(path))
		unlink(path);
	emu_root_remove_apertures(d->aperture_dir);
	return 0;
}
