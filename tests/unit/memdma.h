/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VRAMSTREAM_TEST_MEMDMA_H
#define VRAMSTREAM_TEST_MEMDMA_H

#include <stdint.h>

#include <stdbool.h>

#include "plugin_dma.h"
#include "plugin_transfer.h"

/* The engine: BOs are memfds, copies are memcpy, tickets complete at once. */
extern struct plugin_dma_ops memdma;
/* Fault injection: the Nth copy (1-based) fails; 0 = none. */
extern unsigned long fail_copy_at;
extern unsigned long copies;	   /* copies so far (counted while fail_copy_at is set) */
extern unsigned long fills;	   /* fills carried out */
extern unsigned int copy_delay_us; /* each copy takes at least this long */
/* With N, ring 0's tickets poll done only on every Nth poll (0: always); the
 * polls that said "still running" are counted. */
extern unsigned int ring0_poll_every;
extern unsigned long polls_pending;
/* The engine's fill (memdma.fill), to put back after a test replaced it. */
int memdma_fill(struct plugin_dma *d, unsigned int ring, unsigned int bo, uint64_t off,
		uint64_t len, uint32_t value, uint64_t *ticket);
int memdma_fill_unsupported(struct plugin_dma *d, unsigned int ring, unsigned int bo, uint64_t off,
			    uint64_t len, uint32_t value, uint64_t *ticket);

/* A memfd BO of @size: kind 0 random, 1 zero, 2 zero pages between random ones. */
int make_bo(uint64_t size, unsigned int kind, unsigned int seed);
/* 1 when the two BOs hold the same @size bytes. */
int same_contents(int a, int b, uint64_t size);

/* Records the progress calls of transfer_*_progress / restore_server_wait. */
struct seen {
	unsigned int calls;
	uint64_t last;
	bool backwards; /* the count went down, or past the jobs' total */
};
void on_progress(void *ctx, const struct transfer_job *jobs, unsigned int n_jobs, double elapsed_s);

#endif
