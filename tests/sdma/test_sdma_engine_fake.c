// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sdma_engine's logic against the libdrm test double (sdma_fake_amdgpu.c):
 * lanes and contexts from the reported rings and instances, copies split
 * over packets and IBs, IB reuse only after completion, tickets that gate
 * the data, BO lists, sticky lane errors, threads on separate lanes. The
 * fake executes the packets the engine really emitted, so every
 * check is on bytes moved. What it cannot show (the kernel interface) is
 * test_sdma_engine's job on the emulator.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sdma_engine.h"
#include "sdma_fake_amdgpu.h"
#include "sdma_gen.h"
#include "test_common.h"

#define VRAM_SIZE (16ULL << 20)
#define WAIT_NS	  (10ULL * 1000000000ULL)

static const struct fake_amdgpu_device_desc mi300 = {
	/* sdma_v4_4_2_ip_block reports 4.4; discovery 4.4.2; 2 rings per context. */
	.hw_ip_major = 4, .hw_ip_minor = 4, .discovery_version = 0x040402, .available_rings = 0x3,
	.instances = 5,	  .count_bits = 22, .copy_max_bytes = 0x400000,
};

static char last_msg[512];

static void record(void *opaque, const char *msg)
{
	(void)opaque;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
}

/* A memfd standing in for a KFD dmabuf, filled with random bytes. */
static int make_vram(uint64_t size, unsigned int *seed)
{
	int fd = memfd_create("fake-vram", MFD_CLOEXEC);
	uint8_t *p;
	uint64_t i;

	if (fd < 0 || ftruncate(fd, (off_t)size))
		return -1;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	for (i = 0; i < size; i++)
		p[i] = (uint8_t)rand_r(seed);
	munmap(p, size);
	return fd;
}

static struct sdma_engine *open_engine(const struct fake_amdgpu_device_desc *desc,
				       const struct sdma_engine_config *cfg)
{
	struct sdma_engine *e = NULL;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	fake_amdgpu_set_device(desc);
	CHECK_EQ_INT(sdma_engine_new(fd, cfg, &e), 0);
	close(fd);
	return e;
}

static void check_no_violations(const char *when)
{
	struct fake_amdgpu_stats st;

	fake_amdgpu_get_stats(&st);
	if (st.violations)
		fprintf(stderr, "%s: %u violations, last: %s\n", when, st.violations,
			st.last_violation);
	CHECK_EQ_INT(st.violations, 0);
}

/* EXPECT: MI300-like device: 5 lanes over 3 contexts; generation SDMA 4.4 from the discovery word.
 */
static void test_info(void)
{
	struct sdma_engine *e = open_engine(&mi300, NULL);
	struct sdma_engine_info info;

	if (!e)
		return;
	sdma_engine_get_info(e, &info);
	CHECK_EQ_INT(info.ip_version, SDMA_IP_VERSION(4, 4, 2));
	CHECK(!strcmp(info.gen_name, "SDMA 4.4"));
	CHECK_EQ_INT(info.num_instances, 5);
	CHECK_EQ_INT(info.available_rings, 3);
	CHECK_EQ_INT(info.num_lanes, 5);
	CHECK_EQ_INT(info.copy_max_bytes, 0x3fff00);
	sdma_engine_free(e);

	/* No discovery word (older kernel): the block's 4.0 gives SDMA 4.0, same limits. */
	{
		struct fake_amdgpu_device_desc old = mi300;
		struct sdma_engine_config cfg = { .num_lanes = 3 };

		old.hw_ip_minor = 0;
		old.discovery_version = 0;
		e = open_engine(&old, &cfg);
		if (!e)
			return;
		sdma_engine_get_info(e, &info);
		CHECK_EQ_INT(info.ip_version, SDMA_IP_VERSION(4, 0, 0));
		CHECK_EQ_INT(info.num_lanes, 3);
		sdma_engine_free(e);
	}
}

/* EXPECT: SDMA 7 and a device without DMA rings are refused with a message naming why. */
static void test_refusals(void)
{
	struct fake_amdgpu_device_desc d = mi300;
	struct sdma_engine_config cfg = { .debug = record };
	struct sdma_engine *e = NULL;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	d.hw_ip_major = 7;
	d.discovery_version = 0x070000;
	fake_amdgpu_set_device(&d);
	CHECK_EQ_INT(sdma_engine_new(fd, &cfg, &e), -ENOTSUP);
	CHECK(e == NULL);
	CHECK(strstr(last_msg, "SDMA IP 7.0.0") != NULL);

	d = mi300;
	d.available_rings = 0;
	fake_amdgpu_set_device(&d);
	CHECK_EQ_INT(sdma_engine_new(fd, &cfg, &e), -ENODEV);
	CHECK(strstr(last_msg, "no available DMA ring") != NULL);
	close(fd);
}

/*
 * EXPECT: a ticket gates its bytes (nothing lands before the wait), copies
 * span packets and IBs with IBs reused only after completion, and every
 * lane moves exactly its bytes.
 */
static void test_copies(unsigned int *seed)
{
	struct sdma_engine_config cfg = { .ibs_per_lane = 2, .max_ib_bytes = 256 << 10 };
	struct sdma_hostbuf *in = NULL, *out = NULL;
	struct sdma_engine *e = open_engine(&mi300, &cfg);
	struct fake_amdgpu_stats st;
	struct sdma_ticket t[10];
	struct sdma_bo *bo = NULL;
	uint8_t *view, *pi, *po;
	int fd = make_vram(VRAM_SIZE, seed);
	unsigned int l;
	uint64_t i;

	CHECK(fd >= 0);
	if (!e || fd < 0)
		return;
	CHECK_EQ_INT(sdma_bo_import_dmabuf(e, fd, &bo), 0);
	CHECK_EQ_INT(sdma_hostbuf_alloc(e, VRAM_SIZE, &in), 0);
	CHECK_EQ_INT(sdma_hostbuf_alloc(e, VRAM_SIZE, &out), 0);
	if (!bo || !in || !out)
		goto done;
	CHECK_EQ_INT(sdma_bo_size(bo), VRAM_SIZE);
	view = mmap(NULL, VRAM_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	pi = sdma_hostbuf_ptr(in);
	po = sdma_hostbuf_ptr(out);
	fake_amdgpu_reset_stats();

	/* BO -> host, 10 MiB + 3 on lane 1: 41 IBs of <= 256 KiB taking turns on 2 slots. */
	memset(po, 0x5a, VRAM_SIZE);
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, 5, out, 7, (10 << 20) + 3, 1, &t[0]), 0);
	CHECK_EQ_INT(t[0].lane, 1);
	CHECK(t[0].seq > 1);
	CHECK_EQ_INT(sdma_engine_wait(e, &t[0], WAIT_NS), 0);
	CHECK(!memcmp(po + 7, view + 5, (10 << 20) + 3));
	CHECK_EQ_INT(po[6], 0x5a);
	CHECK_EQ_INT(po[7 + (10 << 20) + 3], 0x5a);
	fake_amdgpu_get_stats(&st);
	CHECK(st.max_copy_packet <= 256 << 10);
	CHECK_EQ_INT(st.jobs, 41);

	/* Host -> BO on every lane at once, then back: nothing lands before its wait. */
	for (i = 0; i < VRAM_SIZE; i++)
		pi[i] = (uint8_t)rand_r(seed);
	memset(po, 0x5a, VRAM_SIZE);
	for (l = 0; l < 5; l++) {
		uint64_t off = l * (3ULL << 20) + l, len = (2ULL << 20) + 4 * l + 1;

		CHECK_EQ_INT(sdma_engine_copy_from_host(e, in, off + 1, bo, off, len, l, &t[2 * l]),
			     0);
		CHECK_EQ_INT(
			sdma_engine_copy_to_host(e, bo, off, out, off + 2, len, l, &t[2 * l + 1]),
			0);
	}
	/* 18 IBs on 2 slots: 16 ran to free slots, one poll step runs the 17th, not the 18th. */
	CHECK_EQ_INT(sdma_engine_poll(e, &t[1]), 0);
	for (l = 0; l < 10; l++)
		CHECK_EQ_INT(sdma_engine_wait(e, &t[l], WAIT_NS), 0);
	CHECK_EQ_INT(sdma_engine_poll(e, &t[9]), 1);
	for (l = 0; l < 5; l++) {
		uint64_t off = l * (3ULL << 20) + l, len = (2ULL << 20) + 4 * l + 1;

		CHECK(!memcmp(view + off, pi + off + 1, len));
		CHECK(!memcmp(po + off + 2, pi + off + 1, len));
		CHECK_EQ_INT(po[off + 1], 0x5a);
		CHECK_EQ_INT(po[off + 2 + len], 0x5a);
	}
	fake_amdgpu_get_stats(&st);
	CHECK(st.max_pending >= 2); /* several IBs in flight per lane */

	/* A ticket gates its bytes: the fake runs a job only when a wait reaches it. */
	memset(po, 0x5a, 4096);
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, 0, out, 0, 4096, 0, &t[0]), 0);
	for (i = 0; i < 4096 && po[i] == 0x5a; i++)
		;
	CHECK_EQ_INT(i, 4096);
	CHECK_EQ_INT(sdma_engine_wait(e, &t[0], WAIT_NS), 0);
	CHECK(!memcmp(po, view, 4096));

	/* Fill: zero chunk restore on lane 4. */
	CHECK_EQ_INT(sdma_engine_fill(e, bo, 4096, 5 << 20, 0, 4, &t[0]), 0);
	CHECK_EQ_INT(sdma_engine_wait(e, &t[0], WAIT_NS), 0);
	for (i = 0; i < (5 << 20) && !view[4096 + i]; i++)
		;
	CHECK_EQ_INT(i, 5 << 20);
	CHECK_EQ_INT(sdma_engine_drain(e, WAIT_NS), 0);
	check_no_violations("copies");
	munmap(view, VRAM_SIZE);
done:
	sdma_hostbuf_free(in);
	sdma_hostbuf_free(out);
	sdma_bo_release(bo);
	sdma_engine_free(e);
	close(fd);
	check_no_violations("copies teardown");
}

/*
 * EXPECT: 10 MiB takes 3 packets of at most 0x3fff00 on SDMA 4.4 and one
 * packet on SDMA 5.2 (up to 0x3fffff00).
 */
static void test_big_packets(unsigned int *seed, int sdma52)
{
	struct fake_amdgpu_device_desc navi21 = {
		.hw_ip_major = 5,
		.hw_ip_minor = 2,
		.discovery_version = 0x050200,
		.available_rings = 0x3,
		.instances = 4,
		.count_bits = 30,
		.copy_max_bytes = 0x40000000,
	};
	struct sdma_engine *e = open_engine(sdma52 ? &navi21 : &mi300, NULL);
	struct sdma_hostbuf *out = NULL;
	struct fake_amdgpu_stats st;
	struct sdma_bo *bo = NULL;
	struct sdma_ticket t;
	int fd = make_vram(VRAM_SIZE, seed);
	uint8_t *view;

	if (!e || fd < 0)
		goto done;
	CHECK_EQ_INT(sdma_bo_import_dmabuf(e, fd, &bo), 0);
	CHECK_EQ_INT(sdma_hostbuf_alloc(e, VRAM_SIZE, &out), 0);
	if (!bo || !out)
		goto done;
	fake_amdgpu_reset_stats();
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, 0, out, 0, 10 << 20, 3, &t), 0);
	CHECK_EQ_INT(sdma_engine_wait(e, &t, WAIT_NS), 0);
	fake_amdgpu_get_stats(&st);
	CHECK_EQ_INT(st.jobs, 1);
	CHECK_EQ_INT(st.packets_copy, sdma52 ? 1 : 3);
	CHECK_EQ_INT(st.max_copy_packet, sdma52 ? 10 << 20 : 0x3fff00);
	view = mmap(NULL, VRAM_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(view != MAP_FAILED && !memcmp(view, sdma_hostbuf_ptr(out), 10 << 20));
	munmap(view, VRAM_SIZE);
	check_no_violations("big packets");
done:
	sdma_hostbuf_free(out);
	sdma_bo_release(bo);
	sdma_engine_free(e);
	if (fd >= 0)
		close(fd);
}

/* EXPECT: a failed job's error reaches its ticket and sticks to that lane only. */
static void test_job_error(unsigned int *seed)
{
	struct sdma_engine_config cfg = { .debug = record };
	struct sdma_engine *e = open_engine(&mi300, &cfg);
	struct sdma_hostbuf *hb = NULL;
	struct sdma_bo *bo = NULL;
	struct sdma_ticket t;
	int fd = make_vram(1 << 20, seed);
	char msg[256];

	if (!e || fd < 0)
		goto done;
	CHECK_EQ_INT(sdma_bo_import_dmabuf(e, fd, &bo), 0);
	CHECK_EQ_INT(sdma_hostbuf_alloc(e, 1 << 20, &hb), 0);
	if (!bo || !hb)
		goto done;
	fake_amdgpu_fail_next_job(-ECANCELED);
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, 0, hb, 0, 4096, 2, &t), 0);
	CHECK_EQ_INT(sdma_engine_wait(e, &t, WAIT_NS), -ECANCELED);
	sdma_engine_last_error(e, msg, sizeof(msg));
	CHECK(strstr(msg, "lane 2") != NULL);
	CHECK(strstr(last_msg, "lane 2") != NULL);
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, 0, hb, 0, 4096, 2, &t), -ECANCELED);
	CHECK_EQ_INT(t.seq, 0); /* refused before reaching the GPU */
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, 0, hb, 0, 4096, 3, &t), 0);
	CHECK_EQ_INT(sdma_engine_wait(e, &t, WAIT_NS), 0);
	CHECK_EQ_INT(sdma_engine_drain(e, WAIT_NS), -ECANCELED);
done:
	sdma_hostbuf_free(hb);
	sdma_bo_release(bo);
	sdma_engine_free(e);
	if (fd >= 0)
		close(fd);
}

struct lane_worker {
	struct sdma_engine *e;
	struct sdma_bo *bo;
	struct sdma_hostbuf *in, *out;
	unsigned int lane;
	uint64_t base, len;
	int failures;
};

static void *lane_worker_run(void *arg)
{
	struct lane_worker *w = arg;
	uint8_t *pi = sdma_hostbuf_ptr(w->in), *po = sdma_hostbuf_ptr(w->out);
	struct sdma_ticket t[2];
	unsigned int round;

	for (round = 0; round < 8; round++) {
		uint64_t len = w->len - round * 4099;
		uint64_t k;

		for (k = 0; k < len; k++)
			pi[w->base + k] = (uint8_t)(k * 31 + round + w->lane);
		if (sdma_engine_copy_from_host(w->e, w->in, w->base, w->bo, w->base, len, w->lane,
					       &t[0]) ||
		    sdma_engine_copy_to_host(w->e, w->bo, w->base, w->out, w->base, len, w->lane,
					     &t[1]) ||
		    sdma_engine_wait(w->e, &t[1], WAIT_NS) ||
		    memcmp(pi + w->base, po + w->base, len))
			w->failures++;
	}
	return NULL;
}

/* EXPECT: one thread per lane, submitting and waiting concurrently, each gets its bytes. */
static void test_threads(unsigned int *seed)
{
	struct sdma_engine_config cfg = { .num_lanes = 4,
					  .ibs_per_lane = 3,
					  .max_ib_bytes = 128 << 10 };
	struct sdma_engine *e = open_engine(&mi300, &cfg);
	struct sdma_hostbuf *in = NULL, *out = NULL;
	struct lane_worker w[4];
	pthread_t th[4];
	struct sdma_bo *bo = NULL;
	int fd = make_vram(VRAM_SIZE, seed);
	unsigned int i;

	if (!e || fd < 0)
		goto done;
	CHECK_EQ_INT(sdma_bo_import_dmabuf(e, fd, &bo), 0);
	CHECK_EQ_INT(sdma_hostbuf_alloc(e, VRAM_SIZE, &in), 0);
	CHECK_EQ_INT(sdma_hostbuf_alloc(e, VRAM_SIZE, &out), 0);
	if (!bo || !in || !out)
		goto done;
	for (i = 0; i < 4; i++) {
		w[i] = (struct lane_worker){ e, bo, in, out, i, i * (4ULL << 20), (3ULL << 20) + i,
					     0 };
		CHECK_EQ_INT(pthread_create(&th[i], NULL, lane_worker_run, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(w[i].failures, 0);
	}
	check_no_violations("threads");
done:
	sdma_hostbuf_free(in);
	sdma_hostbuf_free(out);
	sdma_bo_release(bo);
	sdma_engine_free(e);
	if (fd >= 0)
		close(fd);
}

/* EXPECT: a host buffer of no bytes and out-of-range copies fail cleanly. */
static void test_bad_args(unsigned int *seed)
{
	struct sdma_engine *e = open_engine(&mi300, NULL);
	struct sdma_hostbuf *hb = NULL;
	struct sdma_bo *bo = NULL;
	struct sdma_ticket t;
	int fd = make_vram(1 << 20, seed);

	if (!e || fd < 0)
		goto done;
	CHECK_EQ_INT(sdma_hostbuf_alloc(e, 0, &hb), -EINVAL);
	CHECK_EQ_INT(sdma_hostbuf_alloc(e, 8000, &hb), 0); /* rounded up to whole pages */
	CHECK_EQ_INT(sdma_bo_import_dmabuf(e, fd, &bo), 0);
	if (!bo || !hb)
		goto done;
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, (1 << 20) - 4, hb, 0, 8, 0, &t), -ERANGE);
	CHECK_EQ_INT(sdma_engine_copy_from_host(e, hb, 8000, bo, 0, 200, 0, &t), -ERANGE);
	CHECK_EQ_INT(sdma_engine_copy_to_host(e, bo, 0, hb, 0, 8, 5, &t), -EINVAL);
	CHECK_EQ_INT(sdma_engine_fill(e, bo, 0, 6, 0, 0, &t), -EINVAL);
	{
		struct sdma_bo *none = NULL;

		CHECK_EQ_INT(sdma_bo_import_dmabuf(e, 9999, &none), -EBADF);
		CHECK(none == NULL);
	}
done:
	sdma_hostbuf_free(hb);
	sdma_bo_release(bo);
	sdma_engine_free(e);
	if (fd >= 0)
		close(fd);
	check_no_violations("bad args");
}

int main(void)
{
	unsigned int seed = 7;

	test_info();
	test_refusals();
	test_copies(&seed);
	test_big_packets(&seed, 0);
	test_big_packets(&seed, 1);
	test_job_error(&seed);
	test_threads(&seed);
	test_bad_args(&seed);
	return test_finish("test_sdma_engine_fake");
}
