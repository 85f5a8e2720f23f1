/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One emulated SDMA engine: a FIFO of jobs run in order on a thread of the calling process,
 * optionally capped to a bandwidth (to model a PCIe link in benchmarks). Knows nothing of
 * DRM or KFD: a job is a callback. The thread exists only while the engine has work (it is
 * started by a push and exits when the queue drains), so a process that waited for all its
 * jobs holds no emulator threads: CRIU must find none in a task it restores.
 */
#ifndef VRAMSTREAM_EMU_SDMA_RING_H
#define VRAMSTREAM_EMU_SDMA_RING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct emu_sdma_ring;

struct emu_sdma_ring_job {
	struct emu_sdma_ring_job *next; /* owned by the ring while queued */
	/* Execute the job (on the ring's thread). */
	void (*run)(struct emu_sdma_ring_job *job, struct emu_sdma_ring *ring);
	/* Then signal its completion; may free @job. Called after the ring has decided whether
	 * its thread exits, so a waiter woken here can reap the thread. */
	void (*complete)(struct emu_sdma_ring_job *job);
};

enum emu_sdma_ring_thread { EMU_SDMA_RING_IDLE, EMU_SDMA_RING_RUNNING, EMU_SDMA_RING_EXITED };

struct emu_sdma_ring {
	pthread_mutex_t lock; /* guards every field below */
	struct emu_sdma_ring_job *head, *tail;
	unsigned int queued; /* jobs pushed and not finished (the running one included) */
	enum emu_sdma_ring_thread thread_state;
	pthread_t thread;
	/* An exited thread is still in its last job's complete(): a new thread waits (cond)
	 * before running anything, so jobs complete in push order as fences on a ring signal
	 * in order (amdgpu_fence_process). */
	bool completing;
	pthread_cond_t cond;
	uint64_t bytes_per_sec; /* 0: unlimited */
	uint64_t busy_until_ns; /* bandwidth cap: when the bytes moved so far are "done" */
	unsigned int index;
};

void emu_sdma_ring_init(struct emu_sdma_ring *ring, unsigned int index, uint64_t bytes_per_sec);
/* Queue @job; starts the thread when needed (joining an exited one, so never call it with a
 * lock that a job's complete() takes). Returns 0 or -errno (thread creation). */
int emu_sdma_ring_push(struct emu_sdma_ring *ring, struct emu_sdma_ring_job *job);
/* Jobs queued or running: the load that picks a ring for an idle entity. */
unsigned int emu_sdma_ring_load(struct emu_sdma_ring *ring);
/* From a job, before a packet that may move bytes: start the cap's clock at the present
 * unless bytes moved before are not yet done (the ring does this itself before each job). */
void emu_sdma_ring_clock_start(struct emu_sdma_ring *ring);
/* From a job, after moving @bytes: sleep until they are done at the ring's bandwidth cap,
 * counted from the clock's start or the end of the bytes before, so the time the copy
 * itself took is part of that time, not added to it. */
void emu_sdma_ring_throttle(struct emu_sdma_ring *ring, uint64_t bytes);
/* Join the thread if it has exited (after its last job), so no emulator thread outlives the
 * work a caller waited for. Never blocks on a running thread. */
void emu_sdma_ring_reap(struct emu_sdma_ring *ring);
/* After fork(): the child has no ring threads; forget the parent's. */
void emu_sdma_ring_forget_thread(struct emu_sdma_ring *ring);

#endif
