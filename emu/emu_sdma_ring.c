/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Emulated SDMA engines: job FIFOs on on-demand threads; see emu_sdma_ring.h. */
#include "emu_sdma_ring.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

static uint64_t emu_sdma_ring_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void emu_sdma_ring_init(struct emu_sdma_ring *ring, unsigned int index, uint64_t bytes_per_sec)
{
	memset(ring, 0, sizeof(*ring));
	pthread_mutex_init(&ring->lock, NULL);
	pthread_cond_init(&ring->cond, NULL);
	ring->index = index;
	ring->bytes_per_sec = bytes_per_sec;
	ring->thread_state = EMU_SDMA_RING_IDLE;
}

/*
 * The bandwidth cap's clock: started when the engine takes a job and again before each
 * packet, at the present unless the bytes before are not yet done. A packet then ends no
 * sooner than its bytes take at the cap from there, and the host's own copy happens inside
 * that time: a packet costs max(copy, bytes / cap), not copy + bytes / cap, so the engine
 * moves at the cap whenever the host copies faster. A packet that waited (a poll) gives the
 * next one no credit, as the clock restarts at that packet.
 */
void emu_sdma_ring_clock_start(struct emu_sdma_ring *ring)
{
	uint64_t now;

	if (!ring->bytes_per_sec)
		return;
	now = emu_sdma_ring_now_ns();
	if (ring->busy_until_ns < now)
		ring->busy_until_ns = now;
}

static void *emu_sdma_ring_main(void *arg)
{
	struct emu_sdma_ring *ring = arg;

	pthread_mutex_lock(&ring->lock);
	/* The thread before still completes its last job: the jobs after it wait, or one of
	 * them could complete first and its fence be overwritten by the older one. */
	while (ring->completing)
		pthread_cond_wait(&ring->cond, &ring->lock);
	for (;;) {
		struct emu_sdma_ring_job *job = ring->head;

		if (!job) { /* only when started on an empty queue */
			ring->thread_state = EMU_SDMA_RING_EXITED;
			pthread_mutex_unlock(&ring->lock);
			return NULL;
		}
		ring->head = job->next;
		if (!ring->head)
			ring->tail = NULL;
		pthread_mutex_unlock(&ring->lock);

		emu_sdma_ring_clock_start(ring);
		job->run(job, ring);

		pthread_mutex_lock(&ring->lock);
		ring->queued--;
		if (!ring->head) {
			/* Drained: exit rather than linger (see emu_sdma_ring.h). Decided before
			 * the completion is signalled, so a woken waiter finds EXITED and joins. */
			ring->thread_state = EMU_SDMA_RING_EXITED;
			ring->completing = true;
			pthread_mutex_unlock(&ring->lock);
			job->complete(job);
			pthread_mutex_lock(&ring->lock);
			ring->completing = false;
			pthread_cond_broadcast(&ring->cond);
			pthread_mutex_unlock(&ring->lock);
			return NULL;
		}
		pthread_mutex_unlock(&ring->lock);
		job->complete(job);
		pthread_mutex_lock(&ring->lock);
	}
}

void emu_sdma_ring_reap(struct emu_sdma_ring *ring)
{
	pthread_t t;

	pthread_mutex_lock(&ring->lock);
	if (ring->thread_state != EMU_SDMA_RING_EXITED) {
		pthread_mutex_unlock(&ring->lock);
		return;
	}
	t = ring->thread;
	ring->thread_state = EMU_SDMA_RING_IDLE;
	pthread_mutex_unlock(&ring->lock);
	pthread_join(t, NULL);
}

int emu_sdma_ring_push(struct emu_sdma_ring *ring, struct emu_sdma_ring_job *job)
{
	pthread_t old = 0;
	bool join_old = false;
	int err = 0;

	job->next = NULL;
	pthread_mutex_lock(&ring->lock);
	if (ring->tail)
		ring->tail->next = job;
	else
		ring->head = job;
	ring->tail = job;
	ring->queued++;
	if (ring->thread_state != EMU_SDMA_RING_RUNNING) {
		pthread_attr_t attr;
		sigset_t all, saved;

		if (ring->thread_state == EMU_SDMA_RING_EXITED) {
			old = ring->thread;
			join_old = true;
		}
		/* The thread takes no signals: they belong to the application's threads. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &saved);
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		err = -pthread_create(&ring->thread, &attr, emu_sdma_ring_main, ring);
		pthread_attr_destroy(&attr);
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
		if (err) {
			/* Unqueue: the caller fails the submission. */
			struct emu_sdma_ring_job **p = &ring->head;

			while (*p != job)
				p = &(*p)->next;
			*p = NULL;
			ring->tail = ring->head;
			while (ring->tail && ring->tail->next)
				ring->tail = ring->tail->next;
			ring->queued--;
			ring->thread_state = EMU_SDMA_RING_IDLE;
		} else {
			ring->thread_state = EMU_SDMA_RING_RUNNING;
		}
	}
	pthread_mutex_unlock(&ring->lock);
	if (join_old)
		pthread_join(old, NULL);
	return err;
}

unsigned int emu_sdma_ring_load(struct emu_sdma_ring *ring)
{
	unsigned int n;

	pthread_mutex_lock(&ring->lock);
	n = ring->queued;
	pthread_mutex_unlock(&ring->lock);
	return n;
}

void emu_sdma_ring_throttle(struct emu_sdma_ring *ring, uint64_t bytes)
{
	uint64_t now, until, cost;
	struct timespec ts;

	if (!ring->bytes_per_sec)
		return;
	/* Only the ring's own thread moves the clock, so no lock is needed for it. */
	cost = (uint64_t)((long double)bytes * 1e9L / (long double)ring->bytes_per_sec);
	now = emu_sdma_ring_now_ns();
	ring->busy_until_ns += cost;
	until = ring->busy_until_ns;
	if (until <= now) {
		/* The host copied slower than the cap: the engine is as late as the copy, and
		 * takes no credit for it into the next packet. */
		ring->busy_until_ns = now;
		return;
	}
	ts.tv_sec = (time_t)(until / 1000000000ull);
	ts.tv_nsec = (long)(until % 1000000000ull);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void emu_sdma_ring_forget_thread(struct emu_sdma_ring *ring)
{
	pthread_mutex_init(&ring->lock, NULL);
	pthread_cond_init(&ring->cond, NULL);
	ring->completing = false;
	ring->thread_state = EMU_SDMA_RING_IDLE;
	ring->head = ring->tail = NULL;
	ring->queued = 0;
}
