// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A host memcpy engine over memfd "BOs" (and a progress recorder) for the
 * transfer pipeline's unit tests (the plugin uses SDMA, tested under the
 * emulator).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memdma.h"

#define MAX_BOS 512

struct plugin_dma {
	unsigned int rings, buffers;
	uint64_t buffer_size;
	void **buf;
	struct {
		uint8_t *map;
		uint64_t size;
	} bo[MAX_BOS];
	unsigned int n_bo;
	uint64_t tickets;
	char err[128];
};

/* Fault injection: the Nth copy (1-based) fails; 0 = none. */
unsigned long fail_copy_at;
unsigned int copy_delay_us;
unsigned long copies;

static int memdma_open(const struct plugin_dma_params *p, struct plugin_dma **out, char *err,
		       size_t err_len)
{
	struct plugin_dma *d = calloc(1, sizeof(*d));

	(void)err;
	(void)err_len;
	if (!d)
		return -ENOMEM;
	d->rings = p->lanes ? p->lanes : 3;
	d->buffers = p->buffers;
	d->buffer_size = p->buffer_size;
	d->buf = calloc(p->buffers, sizeof(void *));
	for (unsigned int i = 0; i < p->buffers; i++)
		d->buf[i] = aligned_alloc(4096, p->buffer_size);
	*out = d;
	return 0;
}

static void memdma_close(struct plugin_dma *d)
{
	for (unsigned int i = 0; i < d->buffers; i++)
		free(d->buf[i]);
	for (unsigned int i = 0; i < d->n_bo; i++)
		if (d->bo[i].size)
			munmap(d->bo[i].map, d->bo[i].size);
	free(d->buf);
	free(d);
}

static unsigned int memdma_lanes(struct plugin_dma *d)
{
	return d->rings;
}

static void *memdma_buffer(struct plugin_dma *d, unsigned int i)
{
	return d->buf[i];
}

static int memdma_import(struct plugin_dma *d, int fd, uint64_t size, unsigned int *bo)
{
	void *m = size ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : NULL;

	if (m == MAP_FAILED)
		return -errno;
	d->bo[d->n_bo].map = m;
	d->bo[d->n_bo].size = size;
	*bo = d->n_bo++;
	return 0;
}

static int memdma_copy(struct plugin_dma *d, unsigned int ring, unsigned int bo, uint64_t off,
		       unsigned int buf, uint64_t len, bool to_device, uint64_t *ticket)
{
	if (ring >= d->rings || bo >= d->n_bo || off + len > d->bo[bo].size || len > d->buffer_size)
		return -EINVAL;
	if (fail_copy_at && ++copies == fail_copy_at) {
		snprintf(d->err, sizeof(d->err), "injected fault");
		return -EIO;
	}
	if (copy_delay_us)
		usleep(copy_delay_us);
	if (to_device)
		memcpy(d->bo[bo].map + off, d->buf[buf], len);
	else
		memcpy(d->buf[buf], d->bo[bo].map + off, len);
	*ticket = ++d->tickets;
	return 0;
}

unsigned long fills;

int memdma_fill(struct plugin_dma *d, unsigned int ring, unsigned int bo, uint64_t off,
		uint64_t len, uint32_t value, uint64_t *ticket)
{
	if (ring >= d->rings || bo >= d->n_bo || off + len > d->bo[bo].size || len % 4 || off % 4)
		return -EINVAL;
	for (uint64_t i = 0; i < len; i += 4)
		memcpy(d->bo[bo].map + off + i, &value, 4);
	fills++;
	*ticket = ++d->tickets;
	return 0;
}

int memdma_fill_unsupported(struct plugin_dma *d, unsigned int ring, unsigned int bo, uint64_t off,
			    uint64_t len, uint32_t value, uint64_t *ticket)
{
	return -ENOTSUP;
}

static int memdma_wait(struct plugin_dma *d, unsigned int ring, uint64_t ticket)
{
	(void)d;
	(void)ring;
	(void)ticket;
	return 0;
}

unsigned int ring0_poll_every;
unsigned long polls_pending;

/* Copies are done when queued: every ticket polls done, except that with
 * ring0_poll_every N ring 0's say so only on every Nth poll (a slower engine). */
static int memdma_poll(struct plugin_dma *d, unsigned int ring, uint64_t ticket)
{
	static unsigned long ring0_polls;

	(void)d;
	(void)ticket;
	if (ring == 0 && ring0_poll_every && ++ring0_polls % ring0_poll_every) {
		polls_pending++;
		return 0;
	}
	return 1;
}

static const char *memdma_error(struct plugin_dma *d)
{
	return d->err;
}

struct plugin_dma_ops memdma = {
	.name = "memcpy",
	.open = memdma_open,
	.close = memdma_close,
	.lanes = memdma_lanes,
	.buffer = memdma_buffer,
	.import = memdma_import,
	.copy = memdma_copy,
	.fill = memdma_fill,
	.wait = memdma_wait,
	.poll = memdma_poll,
	.last_error = memdma_error,
};

int make_bo(uint64_t size, unsigned int kind, unsigned int seed)
{
	int fd = memfd_create("bo", MFD_CLOEXEC);
	uint8_t *m;

	if (fd < 0 || ftruncate(fd, (off_t)size))
		return -1;
	if (!size)
		return fd;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	srand(seed);
	for (uint64_t i = 0; i < size; i++) {
		switch (kind) {
		case 0: /* random */
			m[i] = (uint8_t)rand();
			break;
		case 1: /* zero */
			m[i] = 0;
			break;
		default: /* zero pages between random ones */
			m[i] = (i / 65536) % 3 ? 0 : (uint8_t)rand();
		}
	}
	munmap(m, size);
	return fd;
}

int same_contents(int a, int b, uint64_t size)
{
	uint8_t *ma, *mb;
	int eq;

	if (!size)
		return 1;
	ma = mmap(NULL, size, PROT_READ, MAP_SHARED, a, 0);
	mb = mmap(NULL, size, PROT_READ, MAP_SHARED, b, 0);
	eq = !memcmp(ma, mb, size);
	munmap(ma, size);
	munmap(mb, size);
	return eq;
}

void on_progress(void *ctx, const struct transfer_job *jobs, unsigned int n_jobs, double elapsed_s)
{
	struct seen *s = ctx;
	uint64_t done = 0, total = 0;

	for (unsigned int j = 0; j < n_jobs; j++) {
		done += transfer_job_progress(&jobs[j]);
		for (unsigned int i = 0; i < jobs[j].n_bos; i++)
			total += jobs[j].bos[i].size;
	}
	s->backwards |= done < s->last || done > total || elapsed_s < 0;
	s->last = done;
	s->calls++;
}
