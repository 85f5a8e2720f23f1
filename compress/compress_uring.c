/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every io_uring call of compress/ (liburing 2.x). Several threads submit under
 * sq_lock; one reaper thread per ring takes completions, which liburing allows
 * without a lock because the CQ side has a single consumer (liburing's
 * io_uring_wait_cqe does not touch the SQ unless asked to submit).
 */
#include <errno.h>
#include <string.h>

#include "compress_internal.h"

int compress_uring_init(struct compress_uring *u, unsigned int entries, const struct iovec *bufs,
			unsigned int nbufs)
{
	struct io_uring_params p;
	int ret;

	memset(u, 0, sizeof(*u));
	memset(&p, 0, sizeof(p));
	/* The CQ holds every request in flight plus the stop NOP. */
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = 2 * entries + 2;
	ret = io_uring_queue_init_params(entries, &u->ring, &p);
	if (ret < 0)
		return ret;
	pthread_mutex_init(&u->sq_lock, NULL);
	u->ready = true;
	/*
	 * Fixed buffers save the kernel a page-table walk and pin per I/O; without
	 * CAP_IPC_LOCK they count against RLIMIT_MEMLOCK and may be refused, in
	 * which case plain reads and writes do the same job.
	 */
	if (nbufs && io_uring_register_buffers(&u->ring, bufs, nbufs) == 0)
		u->registered = true;
	return 0;
}

void compress_uring_exit(struct compress_uring *u)
{
	if (!u->ready)
		return;
	if (u->registered)
		io_uring_unregister_buffers(&u->ring);
	io_uring_queue_exit(&u->ring);
	pthread_mutex_destroy(&u->sq_lock);
	u->ready = false;
}

static struct io_uring_sqe *uring_sqe(struct compress_uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	/* Callers bound requests in flight by the ring size; a full SQ is flushed and retried. */
	if (!sqe && io_uring_submit(&u->ring) >= 0)
		sqe = io_uring_get_sqe(&u->ring);
	return sqe;
}

static int uring_submit(struct compress_uring *u)
{
	int ret;

	do
		ret = io_uring_submit(&u->ring);
	while (ret == -EINTR || ret == -EAGAIN);
	return ret < 0 ? ret : 0;
}

int compress_uring_write(struct compress_uring *u, int fd, const void *buf, unsigned int len,
			 uint64_t off, int buf_index, uint64_t user_data)
{
	struct io_uring_sqe *sqe;
	int ret = -EBUSY;

	pthread_mutex_lock(&u->sq_lock);
	sqe = uring_sqe(u);
	if (sqe) {
		if (buf_index >= 0 && u->registered)
			io_uring_prep_write_fixed(sqe, fd, buf, len, off, buf_index);
		else
			io_uring_prep_write(sqe, fd, buf, len, off);
		io_uring_sqe_set_data64(sqe, user_data);
		ret = uring_submit(u);
	}
	pthread_mutex_unlock(&u->sq_lock);
	return ret;
}

int compress_uring_read(struct compress_uring *u, int fd, void *buf, unsigned int len, uint64_t off,
			int buf_index, bool worker, uint64_t user_data)
{
	struct io_uring_sqe *sqe;
	int ret = -EBUSY;

	pthread_mutex_lock(&u->sq_lock);
	sqe = uring_sqe(u);
	if (sqe) {
		if (buf_index >= 0 && u->registered)
			io_uring_prep_read_fixed(sqe, fd, buf, len, off, buf_index);
		else
			io_uring_prep_read(sqe, fd, buf, len, off);
		if (worker)
			io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
		io_uring_sqe_set_data64(sqe, user_data);
		ret = uring_submit(u);
	}
	pthread_mutex_unlock(&u->sq_lock);
	return ret;
}

int compress_uring_stop(struct compress_uring *u)
{
	struct io_uring_sqe *sqe;
	int ret = -EBUSY;

	pthread_mutex_lock(&u->sq_lock);
	sqe = uring_sqe(u);
	if (sqe) {
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, COMPRESS_URING_STOP);
		ret = uring_submit(u);
	}
	pthread_mutex_unlock(&u->sq_lock);
	return ret;
}

int compress_uring_reap(struct compress_uring *u, int *res, uint64_t *user_data)
{
	struct io_uring_cqe *cqe;
	int ret;

	do
		ret = io_uring_wait_cqe(&u->ring, &cqe);
	while (ret == -EINTR);
	if (ret < 0)
		return ret;
	*res = cqe->res;
	*user_data = io_uring_cqe_get_data64(cqe);
	io_uring_cqe_seen(&u->ring, cqe);
	/*
	 * The request was submitted under sq_lock, after its submitter filled the
	 * request's fields. The kernel orders those writes before this completion,
	 * but ThreadSanitizer cannot see through the ring: taking the lock once
	 * makes the order visible (the submitter released it before the kernel
	 * could complete the request). Uncontended, it costs next to nothing.
	 */
	pthread_mutex_lock(&u->sq_lock);
	pthread_mutex_unlock(&u->sq_lock);
	return 0;
}
