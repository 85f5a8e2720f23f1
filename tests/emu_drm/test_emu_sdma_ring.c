/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the emulated SDMA engines' job FIFOs (emu/emu_sdma_ring.c): jobs run in
 * order, the thread exists only while there is work and is joined by a reap, a push after
 * the thread exited starts a new one, and the bandwidth cap holds (a lower bound on time,
 * which sleeping guarantees, not a speed measurement), and a job pushed while the exited
 * thread still completes its last job runs only after that completion (fences on one ring
 * signal in order: an emulated fence once went back from 1920 to 1919 this way and the
 * plugin waited for ever, issue 23).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "emu_sdma_ring.h"
#include "test_common.h"

struct tjob {
	struct emu_sdma_ring_job rj;
	int id;
	int *log;
	int *nlog;
	pthread_mutex_t *lock;
	pthread_cond_t *cond;
	int *done;
	uint64_t bytes;
};

static void tjob_run(struct emu_sdma_ring_job *rj, struct emu_sdma_ring *ring)
{
	struct tjob *j = (struct tjob *)rj;

	if (j->bytes)
		emu_sdma_ring_throttle(ring, j->bytes);
	pthread_mutex_lock(j->lock);
	j->log[(*j->nlog)++] = j->id;
	pthread_mutex_unlock(j->lock);
}

static void tjob_complete(struct emu_sdma_ring_job *rj)
{
	struct tjob *j = (struct tjob *)rj;

	pthread_mutex_lock(j->lock);
	(*j->done)++;
	pthread_cond_broadcast(j->cond);
	pthread_mutex_unlock(j->lock);
	free(j);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int log_ids[256], nlog, done;
static int in_slow_complete;

/* A completion that takes its time, as one waiting for a contended lock does; it logs
 * -id when it is over. */
static void tjob_slow_complete(struct emu_sdma_ring_job *rj)
{
	struct tjob *j = (struct tjob *)rj;
	struct timespec d = { 0, 150 * 1000 * 1000 };

	pthread_mutex_lock(j->lock);
	in_slow_complete = 1;
	pthread_cond_broadcast(j->cond);
	pthread_mutex_unlock(j->lock);
	nanosleep(&d, NULL);
	pthread_mutex_lock(j->lock);
	j->log[(*j->nlog)++] = -j->id;
	pthread_mutex_unlock(j->lock);
	tjob_complete(rj);
}

static void push(struct emu_sdma_ring *ring, int id, uint64_t bytes)
{
	struct tjob *j = calloc(1, sizeof(*j));

	j->rj.run = tjob_run;
	j->rj.complete = tjob_complete;
	j->id = id;
	j->log = log_ids;
	j->nlog = &nlog;
	j->lock = &lock;
	j->cond = &cond;
	j->done = &done;
	j->bytes = bytes;
	CHECK_EQ_INT(emu_sdma_ring_push(ring, &j->rj), 0);
}

static void wait_done(int n)
{
	pthread_mutex_lock(&lock);
	while (done < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	struct emu_sdma_ring ring;
	double t0;

	/* EXPECT: 100 jobs run in push order; after the last completes, a reap leaves no thread. */
	emu_sdma_ring_init(&ring, 0, 0);
	for (int i = 0; i < 100; i++)
		push(&ring, i, 0);
	wait_done(100);
	for (int i = 0; i < 100; i++)
		CHECK_EQ_INT(log_ids[i], i);
	emu_sdma_ring_reap(&ring);
	CHECK_EQ_INT(ring.thread_state, EMU_SDMA_RING_IDLE);
	CHECK_EQ_INT(emu_sdma_ring_load(&ring), 0);

	/* EXPECT: a push after the thread exited starts a new one. */
	push(&ring, 100, 0);
	wait_done(101);
	CHECK_EQ_INT(log_ids[100], 100);
	emu_sdma_ring_reap(&ring);
	CHECK_EQ_INT(ring.thread_state, EMU_SDMA_RING_IDLE);

	/* EXPECT: a job pushed while the exited thread is still in its last job's completion
	 * runs after that completion is over: log 102, -102, 103. */
	{
		struct tjob *j = calloc(1, sizeof(*j));

		j->rj.run = tjob_run;
		j->rj.complete = tjob_slow_complete;
		j->id = 102;
		j->log = log_ids;
		j->nlog = &nlog;
		j->lock = &lock;
		j->cond = &cond;
		j->done = &done;
		CHECK_EQ_INT(emu_sdma_ring_push(&ring, &j->rj), 0);
		pthread_mutex_lock(&lock);
		while (!in_slow_complete)
			pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
		push(&ring, 103, 0);
		wait_done(103);
		CHECK_EQ_INT(log_ids[101], 102);
		CHECK_EQ_INT(log_ids[102], -102);
		CHECK_EQ_INT(log_ids[103], 103);
		emu_sdma_ring_reap(&ring);
	}

	/* EXPECT: at 100 MB/s, three jobs of 10 MB take at least 0.3 s. */
	emu_sdma_ring_init(&ring, 1, 100000000ull);
	t0 = now_s();
	for (int i = 0; i < 3; i++)
		push(&ring, 200 + i, 10000000ull);
	wait_done(106);
	CHECK(now_s() - t0 >= 0.29);
	emu_sdma_ring_reap(&ring);
	return test_finish("emu_sdma_ring");
}
