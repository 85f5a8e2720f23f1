// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The overlapped-restore server (plugin_restore_server.h): a receiving thread
 * that takes requests from restored tasks over a SOCK_SEQPACKET socket, and
 * copying threads that run them through the transfer pipeline, each request
 * over all its GPUs at once, and requests on disjoint GPUs side by side.
 *
 * Wire format: fixed-size messages between two copies of the same plugin
 * build (the task is a clone of criu's process), each starting with a magic
 * and a type: BEGIN (job and BO counts), then per job a JOB message and BOS
 * messages carrying up to SRV_BOS_PER_MSG BO sizes and tags with their
 * dma-buf fds as SCM_RIGHTS (fewer than the kernel's SCM_MAX_FD of 253),
 * then END; the server answers one REPLY. Anything out of order or out of
 * range ends the connection with a failing REPLY and queues nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common_clock.h"
#include "common_err.h"
#include "common_thread.h"
#include "image.h"
#include "plugin_restore_server.h"

#define SRV_MAGIC	 0x56525352u /* "RSRV" */
#define SRV_BOS_PER_MSG	 128
#define SRV_MAX_JOBS	 64
#define SRV_MAX_BOS	 (1u << 20)
#define SRV_IO_TIMEOUT_S 60
/*
 * Requests whose GPUs are all free run at once, each on its own thread: a
 * tree of one process per GPU (torchrun, MPI) restores all its GPUs in
 * parallel, while two requests never share a GPU's engine and pinned pool.
 */
#define SRV_COPY_THREADS 8

enum srv_type { SRV_BEGIN = 1, SRV_JOB, SRV_BOS, SRV_END, SRV_REPLY };

struct srv_begin {
	uint32_t magic, type;
	uint32_t n_jobs, n_bos;
	char meta[128]; /* the image's KFD metadata file, when references need its list */
};

struct srv_job {
	uint32_t magic, type;
	uint32_t index, gpu_id, render_minor, n_parts, n_bos, pad;
	char stream[256];
};

struct srv_bos {
	uint32_t magic, type;
	uint32_t job, count;
	struct {
		uint64_t size, tag;
	} e[SRV_BOS_PER_MSG];
};

struct srv_end {
	uint32_t magic, type;
};

struct srv_reply {
	uint32_t magic, type;
	int32_t status;
	char err[400];
};

union srv_msg {
	struct {
		uint32_t magic, type;
	} h;
	struct srv_begin begin;
	struct srv_job job;
	struct srv_bos bos;
	struct srv_end end;
	struct srv_reply reply;
};

enum req_state { REQ_QUEUED, REQ_RUNNING, REQ_DONE };

struct request {
	pid_t pid;
	enum req_state state;
	bool waited;
	struct transfer_job *jobs;
	unsigned int n_jobs;
	struct transfer_bo *bos; /* every job's, in job order; the fds are ours */
	unsigned int n_bos;
	Vramstream__ProcessImage *img; /* for the jobs' references, or NULL */
	int dirfd;		       /* the image folder, with img */
	int status;
	double submitted, started, finished;
	struct request *next;
};

struct restore_server {
	/* Read by tasks from their copy of criu's memory: set once at start. */
	struct sockaddr_un addr;
	socklen_t addr_len;

	/* Only in criu's process. */
	struct plugin_config cfg;
	const struct plugin_dma_ops *dma;
	char dir[PATH_MAX];
	int listen_fd, stop_fd;
	pthread_t rx_thread, copy_thread[SRV_COPY_THREADS];
	bool rx_started;
	unsigned int copy_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping, discard;
	unsigned int own_fs; /* threads that left criu's fs_struct (thread_own_fs) */
	int own_fs_err;
	int cancel;	      /* set when stopping with discard: running copies end early */
	struct request *head; /* every request, oldest first */
};

static void request_free(struct request *q)
{
	if (!q)
		return;
	for (unsigned int i = 0; q->bos && i < q->n_bos; i++)
		if (q->bos[i].dmabuf_fd >= 0)
			close(q->bos[i].dmabuf_fd);
	image_meta_free(q->img);
	if (q->img)
		close(q->dirfd);
	free(q->bos);
	free(q->jobs);
	free(q);
}

/* ---- receiving side (criu's process) ---- */

static size_t msg_size(uint32_t type)
{
	switch (type) {
	case SRV_BEGIN:
		return sizeof(struct srv_begin);
	case SRV_JOB:
		return sizeof(struct srv_job);
	case SRV_BOS:
		return sizeof(struct srv_bos);
	case SRV_END:
		return sizeof(struct srv_end);
	case SRV_REPLY:
		return sizeof(struct srv_reply);
	}
	return 0;
}

/* Receives one message of @type, with at most @max_fds fds into @fds (NULL: none). */
static int recv_msg(int fd, union srv_msg *m, uint32_t type, int *fds, unsigned int max_fds,
		    unsigned int *n_fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SRV_BOS_PER_MSG)];
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	unsigned int got = 0;
	ssize_t n;
	int r = 0;

	if (fds) {
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
	}
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (c = fds ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned int k = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		const int *in = (const int *)CMSG_DATA(c);

		for (unsigned int i = 0; i < k; i++) {
			if (got < max_fds) {
				fds[got++] = in[i];
			} else {
				close(in[i]);
				r = -EPROTO;
			}
		}
	}
	if (n_fds)
		*n_fds = got;
	if (mh.msg_flags & MSG_CTRUNC)
		r = fds ? -EMFILE : -EPROTO; /* fds lost: out of file numbers, or unexpected */
	else if (n == 0)
		r = -ECONNRESET;
	else if ((size_t)n != msg_size(type) || m->h.magic != SRV_MAGIC || m->h.type != type)
		r = -EPROTO;
	if (r && fds)
		for (unsigned int i = 0; i < got; i++)
			close(fds[i]);
	return r;
}

/*
 * The image whose list of stream files the request's references name: read
 * here from the folder, as the task read it (it was checked there).
 */
static int request_image(struct restore_server *s, struct request *q, const char *meta, char *err,
			 size_t err_len)
{
	char why[300];
	uint8_t *buf;
	size_t len;
	int r;

	if (image_name_kind(meta, NULL, NULL) != IMAGE_FILE_KFD) {
		common_errf(err, err_len, "malformed request");
		return -EPROTO;
	}
	q->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->dirfd < 0) {
		r = -errno;
		common_errf(err, err_len, "%s: %s", s->dir, strerror(-r));
		return r;
	}
	r = image_file_read(q->dirfd, meta, &buf, &len);
	if (r) {
		common_errf(err, err_len, "%s: %s", meta, strerror(-r));
		close(q->dirfd);
		return r;
	}
	r = image_meta_decode(buf, len, &q->img, why, sizeof(why));
	free(buf);
	if (r) {
		common_errf(err, err_len, "%s: %s", meta, why);
		close(q->dirfd);
	}
	return r;
}

static int receive_request(struct restore_server *s, int conn, struct request **out, char *err,
			   size_t err_len)
{
	union srv_msg *m = malloc(sizeof(*m));
	struct request *q = calloc(1, sizeof(*q));
	unsigned int filled = 0;
	int r;

	if (!m || !q) {
		free(m);
		free(q);
		common_errf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	r = recv_msg(conn, m, SRV_BEGIN, NULL, 0, NULL);
	if (r)
		goto bad;
	if (!m->begin.n_jobs || m->begin.n_jobs > SRV_MAX_JOBS || !m->begin.n_bos ||
	    m->begin.n_bos > SRV_MAX_BOS) {
		r = -EPROTO;
		goto bad;
	}
	q->n_jobs = m->begin.n_jobs;
	q->n_bos = m->begin.n_bos;
	q->jobs = calloc(q->n_jobs, sizeof(*q->jobs));
	q->bos = calloc(q->n_bos, sizeof(*q->bos));
	if (!q->jobs || !q->bos) {
		r = -ENOMEM;
		goto bad;
	}
	for (unsigned int i = 0; i < q->n_bos; i++)
		q->bos[i].dmabuf_fd = -1;
	m->begin.meta[sizeof(m->begin.meta) - 1] = '\0';
	if (m->begin.meta[0]) {
		r = request_image(s, q, m->begin.meta, err, err_len);
		if (r) {
			free(m);
			request_free(q);
			return r;
		}
	}

	for (unsigned int j = 0; j < q->n_jobs; j++) {
		struct transfer_job *job = &q->jobs[j];
		unsigned int want;

		r = recv_msg(conn, m, SRV_JOB, NULL, 0, NULL);
		if (r)
			goto bad;
		m->job.stream[sizeof(m->job.stream) - 1] = '\0';
		if (m->job.index != j || !m->job.n_bos || m->job.n_bos > q->n_bos - filled ||
		    image_parts_check(m->job.n_parts) || image_stream_name_check(m->job.stream)) {
			r = -EPROTO;
			goto bad;
		}
		job->gpu_id = m->job.gpu_id;
		job->render_minor = m->job.render_minor;
		job->cancel = &s->cancel;
		job->refs_img = q->img;
		job->refs_dirfd = q->img ? q->dirfd : -1;
		job->n_parts = m->job.n_parts;
		job->bos = &q->bos[filled];
		job->close_fds = true; /* ours: closed once imported (request_free skips -1) */
		if (snprintf(job->stream_path, sizeof(job->stream_path), "%s/%s", s->dir,
			     m->job.stream) >= (int)sizeof(job->stream_path)) {
			r = -ENAMETOOLONG;
			goto bad;
		}
		want = m->job.n_bos;
		while (job->n_bos < want) {
			int fds[SRV_BOS_PER_MSG];
			unsigned int nf = 0;

			r = recv_msg(conn, m, SRV_BOS, fds, SRV_BOS_PER_MSG, &nf);
			if (r)
				goto bad;
			if (m->bos.job != j || !m->bos.count || m->bos.count > SRV_BOS_PER_MSG ||
			    m->bos.count > want - job->n_bos || nf != m->bos.count) {
				for (unsigned int i = 0; i < nf; i++)
					close(fds[i]);
				r = -EPROTO;
				goto bad;
			}
			for (unsigned int i = 0; i < nf; i++) {
				struct transfer_bo *b = &q->bos[filled++];

				b->size = m->bos.e[i].size;
				b->tag = m->bos.e[i].tag;
				b->dmabuf_fd = fds[i];
				job->n_bos++;
			}
		}
	}
	if (filled != q->n_bos) {
		r = -EPROTO;
		goto bad;
	}
	r = recv_msg(conn, m, SRV_END, NULL, 0, NULL);
	if (r)
		goto bad;
	free(m);
	*out = q;
	return 0;
bad:
	if (r == -EMFILE)
		common_errf(err, err_len,
			    "criu's process ran out of file numbers for the BOs' fds");
	else if (r == -EPROTO)
		common_errf(err, err_len, "malformed request");
	else
		common_errf(err, err_len, "receiving the request: %s", strerror(-r));
	free(m);
	request_free(q);
	return r;
}

static void send_reply(int conn, int status, const char *err)
{
	struct srv_reply rep = { .magic = SRV_MAGIC, .type = SRV_REPLY, .status = status };

	snprintf(rep.err, sizeof(rep.err), "%s", err ? err : "");
	(void)send(conn, &rep, sizeof(rep), MSG_NOSIGNAL);
}

/* Only a task of the same user as criu may hand work to it. */
static int peer_of(int conn, pid_t *pid, char *err, size_t err_len)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &len)) {
		int r = -errno;

		common_errf(err, err_len, "SO_PEERCRED: %s", strerror(-r));
		return r;
	}
	if (cr.uid != geteuid()) {
		common_errf(err, err_len, "caller uid %u is not criu's", (unsigned int)cr.uid);
		return -EPERM;
	}
	/*
	 * The task's pid in criu's namespace whatever namespace the task is in
	 * (net/core/sock.c, SO_PEERCRED: pid_vnr, for the reader): the number
	 * criu later passes RESUME_DEVICES_LATE, which waits by it.
	 */
	*pid = cr.pid;
	return 0;
}

static void serve_connection(struct restore_server *s, int conn)
{
	struct timeval tv = { .tv_sec = SRV_IO_TIMEOUT_S };
	struct request *q = NULL, **tail;
	char err[400] = "";
	pid_t pid = 0;
	int r;

	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	r = peer_of(conn, &pid, err, sizeof(err));
	if (!r)
		r = receive_request(s, conn, &q, err, sizeof(err));
	if (!r) {
		pthread_mutex_lock(&s->lock);
		for (struct request *o = s->head; o; o = o->next)
			if (o->pid == pid && !o->waited) {
				common_errf(err, sizeof(err),
					    "pid %d already handed a request over", (int)pid);
				r = -EEXIST;
			}
		if (!r && s->stopping) {
			common_errf(err, sizeof(err), "criu's restore is ending");
			r = -ESHUTDOWN;
		}
		if (!r) {
			q->pid = pid;
			q->submitted = common_now_s();
			for (tail = &s->head; *tail; tail = &(*tail)->next)
				;
			*tail = q;
			pthread_cond_broadcast(&s->cond);
		}
		pthread_mutex_unlock(&s->lock);
		if (r)
			request_free(q);
	}
	send_reply(conn, r, err);
}

/*
 * Threads share their process's fs_struct (pthread_create passes CLONE_FS),
 * and criu's process must be the only user of its own to enter the restored
 * mount namespace: setns(CLONE_NEWNS) is -EINVAL otherwise (fs/namespace.c,
 * mntns_install: fs->users != 1), which fails the restore of any task in a
 * mount namespace of its own (criu/mount.c, "Switching to new ns to clean
 * ghosts"). So each thread takes a copy of its own first (kernel/fork.c,
 * ksys_unshare -> unshare_fs), and threads they start share that copy.
 */
static void thread_own_fs(struct restore_server *s)
{
	int r = unshare(CLONE_FS) ? -errno : 0;

	pthread_mutex_lock(&s->lock);
	if (r && !s->own_fs_err)
		s->own_fs_err = r;
	s->own_fs++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void *rx_main(void *arg)
{
	struct restore_server *s = arg;
	struct pollfd pfd[2] = { { s->listen_fd, POLLIN, 0 }, { s->stop_fd, POLLIN, 0 } };

	thread_own_fs(s);
	for (;;) {
		int conn;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		conn = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0)
			continue;
		serve_connection(s, conn);
		close(conn);
	}
	return NULL;
}

/* ---- copying side (criu's process) ---- */

/* True when @a and @b have a GPU (render node) in common. */
static bool requests_share_gpu(const struct request *a, const struct request *b)
{
	for (unsigned int i = 0; i < a->n_jobs; i++)
		for (unsigned int k = 0; k < b->n_jobs; k++)
			if (a->jobs[i].render_minor == b->jobs[k].render_minor)
				return true;
	return false;
}

/* Under s->lock: the oldest queued request none of whose GPUs is busy. */
static struct request *next_runnable(struct restore_server *s)
{
	for (struct request *q = s->head; q; q = q->next) {
		bool blocked = false;

		if (q->state != REQ_QUEUED)
			continue;
		for (struct request *o = s->head; o && !blocked; o = o->next)
			blocked = o->state == REQ_RUNNING && requests_share_gpu(q, o);
		if (!blocked)
			return q;
	}
	return NULL;
}

static void *copy_main(void *arg)
{
	struct restore_server *s = arg;

	thread_own_fs(s);
	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct request *q = next_runnable(s);

		if (q && s->stopping && s->discard) {
			/* The restore failed: nobody waits for these. */
			q->state = REQ_DONE;
			q->status = -ECANCELED;
			continue;
		}
		if (!q) {
			if (s->stopping)
				break;
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		q->state = REQ_RUNNING;
		q->started = common_now_s();
		pthread_mutex_unlock(&s->lock);

		q->status = transfer_restore(&s->cfg, s->dma, q->jobs, q->n_jobs);
		for (unsigned int i = 0; i < q->n_bos; i++) {
			close(q->bos[i].dmabuf_fd);
			q->bos[i].dmabuf_fd = -1;
		}

		pthread_mutex_lock(&s->lock);
		q->finished = common_now_s();
		q->state = REQ_DONE;
		pthread_cond_broadcast(&s->cond); /* waiters, and threads held by its GPUs */
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int restore_server_start(const struct plugin_config *cfg, const struct plugin_dma_ops *dma,
			 const char *image_dir, struct restore_server **out, char *err,
			 size_t err_len)
{
	struct restore_server *s = calloc(1, sizeof(*s));
	unsigned char rnd[8];
	int r, n;

	*out = NULL;
	if (!s) {
		common_errf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	s->listen_fd = s->stop_fd = -1;
	s->cfg = *cfg;
	s->dma = dma;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (snprintf(s->dir, sizeof(s->dir), "%s", image_dir) >= (int)sizeof(s->dir)) {
		common_errf(err, err_len, "image folder name too long");
		r = -ENAMETOOLONG;
		goto fail;
	}

	/* Abstract name: nothing to clean up in the file system afterwards. */
	if (getentropy(rnd, sizeof(rnd)))
		memset(rnd, 0, sizeof(rnd));
	s->addr.sun_family = AF_UNIX;
	n = snprintf(s->addr.sun_path + 1, sizeof(s->addr.sun_path) - 1,
		     "vramstream-restore-%d-%02x%02x%02x%02x%02x%02x%02x%02x", (int)getpid(),
		     rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	s->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);

	s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&s->addr, s->addr_len) ||
	    listen(s->listen_fd, 64)) {
		r = -errno;
		common_errf(err, err_len, "unix socket for the tasks: %s", strerror(-r));
		goto fail;
	}
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (s->stop_fd < 0) {
		r = -errno;
		common_errf(err, err_len, "eventfd: %s", strerror(-r));
		goto fail;
	}
	for (unsigned int i = 0; i < SRV_COPY_THREADS; i++) {
		r = common_thread_start(&s->copy_thread[i], copy_main, s);
		if (r) {
			common_errf(err, err_len, "cannot start the copying threads: %s",
				    strerror(-r));
			goto fail;
		}
		s->copy_started++;
	}
	/* Every signal blocked (common_thread.h): criu's SIGCHLD handler reaping
	 * iptables-restore from one of these threads failed runc restores. */
	r = common_thread_start(&s->rx_thread, rx_main, s);
	if (r) {
		common_errf(err, err_len, "cannot start the receiving thread: %s", strerror(-r));
		goto fail;
	}
	s->rx_started = true;
	pthread_mutex_lock(&s->lock);
	while (s->own_fs < s->copy_started + 1)
		pthread_cond_wait(&s->cond, &s->lock);
	r = s->own_fs_err;
	pthread_mutex_unlock(&s->lock);
	if (r) {
		common_errf(err, err_len, "unshare(CLONE_FS) in a server thread: %s", strerror(-r));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	restore_server_stop(s, true);
	return r;
}

void restore_server_stop(struct restore_server *s, bool discard)
{
	struct request *q;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	s->discard = discard;
	if (discard)
		__atomic_store_n(&s->cancel, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->stop_fd >= 0) {
		uint64_t one = 1;

		(void)!write(s->stop_fd, &one, sizeof(one));
	}
	if (s->rx_started)
		pthread_join(s->rx_thread, NULL);
	for (unsigned int i = 0; i < s->copy_started; i++)
		pthread_join(s->copy_thread[i], NULL);
	while ((q = s->head)) {
		s->head = q->next;
		request_free(q);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int restore_server_wait(struct restore_server *s, pid_t pid,
			const struct transfer_progress *progress, struct restore_server_done *done)
{
	bool watch = progress && progress->fn && progress->interval_s > 0;
	double t0 = common_now_s(), next = t0 + (watch ? progress->interval_s : 0);
	struct request *q = NULL;

	pthread_mutex_lock(&s->lock);
	for (struct request *o = s->head; o && !q; o = o->next)
		if (o->pid == pid && !o->waited)
			q = o;
	while (q && q->state != REQ_DONE) {
		struct timespec ts;

		if (!watch) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		transfer_deadline(next - common_now_s(), &ts);
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		if (q->state != REQ_DONE && common_now_s() >= next) {
			/* The jobs' progress counters are atomic; the rest is fixed. */
			pthread_mutex_unlock(&s->lock);
			progress->fn(progress->ctx, q->jobs, q->n_jobs, common_now_s() - t0);
			pthread_mutex_lock(&s->lock);
			next = common_now_s() + progress->interval_s;
		}
	}
	if (q)
		q->waited = true;
	pthread_mutex_unlock(&s->lock);
	if (!q)
		return 0;
	done->jobs = q->jobs;
	done->n_jobs = q->n_jobs;
	done->status = q->status;
	done->submitted = q->submitted;
	done->started = q->started;
	done->finished = q->finished;
	return 1;
}

/* ---- task side ---- */

static int send_msg(int fd, const void *m, size_t len, const int *fds, unsigned int n_fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SRV_BOS_PER_MSG)];
	struct iovec iov = { (void *)m, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n_fds) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		return errno ? -errno : -EIO;
	return 0;
}

static int submit_on(int fd, const struct transfer_job *jobs, unsigned int n_jobs, char *err,
		     size_t err_len)
{
	union srv_msg *m = calloc(1, sizeof(*m));
	unsigned int n_bos = 0;
	int r;

	if (!m)
		return -ENOMEM;
	for (unsigned int j = 0; j < n_jobs; j++)
		n_bos += jobs[j].n_bos;
	m->begin = (struct srv_begin){ SRV_MAGIC, SRV_BEGIN, n_jobs, n_bos };
	snprintf(m->begin.meta, sizeof(m->begin.meta), "%s", jobs[0].refs_meta);
	r = send_msg(fd, &m->begin, sizeof(m->begin), NULL, 0);
	for (unsigned int j = 0; !r && j < n_jobs; j++) {
		const struct transfer_job *job = &jobs[j];
		const char *base = strrchr(job->stream_path, '/');

		base = base ? base + 1 : job->stream_path;
		memset(m, 0, sizeof(*m));
		m->job.magic = SRV_MAGIC;
		m->job.type = SRV_JOB;
		m->job.index = j;
		m->job.gpu_id = job->gpu_id;
		m->job.render_minor = job->render_minor;
		m->job.n_parts = job->n_parts ? job->n_parts : 1;
		m->job.n_bos = job->n_bos;
		if (snprintf(m->job.stream, sizeof(m->job.stream), "%s", base) >=
		    (int)sizeof(m->job.stream)) {
			r = -ENAMETOOLONG;
			break;
		}
		r = send_msg(fd, &m->job, sizeof(m->job), NULL, 0);
		for (unsigned int b = 0; !r && b < job->n_bos; b += SRV_BOS_PER_MSG) {
			unsigned int k = job->n_bos - b;
			int fds[SRV_BOS_PER_MSG];

			if (k > SRV_BOS_PER_MSG)
				k = SRV_BOS_PER_MSG;
			memset(m, 0, sizeof(*m));
			m->bos.magic = SRV_MAGIC;
			m->bos.type = SRV_BOS;
			m->bos.job = j;
			m->bos.count = k;
			for (unsigned int i = 0; i < k; i++) {
				m->bos.e[i].size = job->bos[b + i].size;
				m->bos.e[i].tag = job->bos[b + i].tag;
				fds[i] = job->bos[b + i].dmabuf_fd;
			}
			r = send_msg(fd, &m->bos, sizeof(m->bos), fds, k);
		}
	}
	if (!r) {
		m->end = (struct srv_end){ SRV_MAGIC, SRV_END };
		r = send_msg(fd, &m->end, sizeof(m->end), NULL, 0);
	}
	if (r)
		common_errf(err, err_len, "sending the request: %s", strerror(-r));
	/* The server's answer says more than our send error (it may have hung up
	 * on a malformed message). */
	memset(m, 0, sizeof(*m));
	if (!recv_msg(fd, m, SRV_REPLY, NULL, 0, NULL)) {
		m->reply.err[sizeof(m->reply.err) - 1] = '\0';
		if (m->reply.status) {
			r = m->reply.status < 0 ? m->reply.status : -EPROTO;
			common_errf(err, err_len, "criu's restore thread refused the request: %s",
				    m->reply.err);
		}
	} else if (!r) {
		r = -ECONNRESET;
		common_errf(err, err_len, "criu's restore thread did not answer");
	}
	free(m);
	return r;
}

int restore_server_submit(const struct restore_server *s, const struct transfer_job *jobs,
			  unsigned int n_jobs, char *err, size_t err_len)
{
	struct timeval tv = { .tv_sec = SRV_IO_TIMEOUT_S };
	unsigned int n_bos = 0;
	int fd, r;

	for (unsigned int j = 0; j < n_jobs; j++)
		n_bos += jobs[j].n_bos;
	if (!n_jobs || !n_bos || n_jobs > SRV_MAX_JOBS || n_bos > SRV_MAX_BOS) {
		common_errf(err, err_len, "%u GPU(s) and %u BO(s) do not fit a request", n_jobs,
			    n_bos);
		return -E2BIG;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		common_errf(err, err_len, "socket: %s", strerror(-r));
		return r;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)&s->addr, s->addr_len)) {
		r = -errno;
		common_errf(err, err_len,
			    "cannot reach criu's restore thread: %s (a task in another network "
			    "namespace cannot)",
			    strerror(-r));
		close(fd);
		return r;
	}
	r = submit_on(fd, jobs, n_jobs, err, err_len);
	close(fd);
	return r;
}
