// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What ROCr 5.2 relies on below the HSA API, checked directly on the
 * emulator's /dev/kfd (runs under the shim with its own daemon): the dGPU
 * event page handed over with the first CREATE_EVENT (kfd_kmap_event_page
 * rules), SDMA user queues (KFD_IOC_QUEUE_TYPE_SDMA: byte read/write
 * pointers in user memory, SDMA 4.x packets over userptr and GTT memory),
 * and SDMA TRAP raising the event whose slot the queue wrote, as
 * kfd_signal_event_interrupt does. Each case says what it expects.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kfd_ioctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "test_common.h"

#define T_USER	    ((void *)0x3e0000000000ULL) /* userptr region: ring, pointers, data */
#define T_USER_SIZE (256u << 10)
#define T_GTT_VA    0x220000000000ULL /* the event page */
#define T_GTT_SIZE  (KFD_SIGNAL_EVENT_LIMIT * 8u)
#define T_VRAM_VA   0x230000000000ULL
#define T_RING_SIZE 4096u

/* Offsets in the userptr region. */
#define T_OFF_RING  0
#define T_OFF_RING2 4096  /* a second queue's ring (T_RING_SIZE) */
#define T_OFF_RING3 12288 /* a third one's */
#define T_OFF_PTRS  8192  /* rptr, wptr */
#define T_OFF_SRC   (64u << 10)
#define T_OFF_DST   (128u << 10)
#define T_COPY	    (16u << 10)

static int kfd = -1;
static uint32_t gpu_id;
static uint8_t *user;
static uint64_t gtt_handle, vram_handle;

static int t_render_minor(uint32_t *minor)
{
	FILE *f = fopen("/sys/devices/virtual/kfd/kfd/topology/nodes/1/properties", "r");
	char key[64];
	unsigned long long v;
	int found = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %llu", key, &v) == 2)
		if (!strcmp(key, "drm_render_minor")) {
			*minor = (uint32_t)v;
			found = 0;
		}
	fclose(f);
	return found;
}

static int t_setup(void)
{
	struct kfd_ioctl_acquire_vm_args acq = { 0 };
	char path[64];
	uint32_t minor;
	FILE *f;
	int drm;

	f = fopen("/sys/devices/virtual/kfd/kfd/topology/nodes/1/gpu_id", "r");
	if (!f || fscanf(f, "%u", &gpu_id) != 1)
		return -1;
	fclose(f);
	if (t_render_minor(&minor))
		return -1;
	snprintf(path, sizeof(path), "/dev/dri/renderD%u", minor);
	drm = open(path, O_RDWR | O_CLOEXEC);
	if (drm < 0)
		return -1;
	acq.gpu_id = gpu_id;
	acq.drm_fd = (uint32_t)drm;
	if (ioctl(kfd, AMDKFD_IOC_ACQUIRE_VM, &acq))
		return -1;
	user = mmap(T_USER, T_USER_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	return user == T_USER ? 0 : -1;
}

/* ALLOC + MAP on the GPU; userptr BOs take their CPU address in mmap_offset. */
static int t_alloc(uint64_t va, uint64_t size, uint32_t flags, uint64_t *handle)
{
	struct kfd_ioctl_alloc_memory_of_gpu_args a = {
		.va_addr = va,
		.size = size,
		.gpu_id = gpu_id,
		.flags = flags,
		.mmap_offset = (flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR) ? va : 0,
	};
	struct kfd_ioctl_map_memory_to_gpu_args m = { .n_devices = 1 };

	if (ioctl(kfd, AMDKFD_IOC_ALLOC_MEMORY_OF_GPU, &a))
		return -errno;
	*handle = a.handle;
	m.handle = a.handle;
	m.device_ids_array_ptr = (uint64_t)(uintptr_t)&gpu_id;
	return ioctl(kfd, AMDKFD_IOC_MAP_MEMORY_TO_GPU, &m) ? -errno : 0;
}

static int t_event(uint64_t page, uint32_t *id, uint32_t *slot)
{
	struct kfd_ioctl_create_event_args a = {
		.event_page_offset = page,
		.event_type = KFD_IOC_EVENT_SIGNAL,
		.auto_reset = 1,
	};

	if (ioctl(kfd, AMDKFD_IOC_CREATE_EVENT, &a))
		return -errno;
	*id = a.event_id;
	*slot = a.event_slot_index;
	return 0;
}

static uint32_t t_wait(uint32_t id, uint32_t timeout_ms)
{
	struct kfd_event_data ev = { .event_id = id };
	struct kfd_ioctl_wait_events_args w = {
		.events_ptr = (uint64_t)(uintptr_t)&ev,
		.num_events = 1,
		.wait_for_all = 1,
		.timeout = timeout_ms,
	};

	if (ioctl(kfd, AMDKFD_IOC_WAIT_EVENTS, &w))
		return 0xffffffffu;
	return w.wait_result;
}

/* SDMA 4.x packets (vega10_sdma_pkt_open.h), as ROCr's BlitSdma writes them. */
static uint32_t *t_copy(uint32_t *p, uint64_t src, uint64_t dst, uint32_t bytes)
{
	*p++ = 1; /* COPY, LINEAR */
	*p++ = bytes - 1;
	*p++ = 0;
	*p++ = (uint32_t)src;
	*p++ = (uint32_t)(src >> 32);
	*p++ = (uint32_t)dst;
	*p++ = (uint32_t)(dst >> 32);
	return p;
}

static uint32_t *t_fence(uint32_t *p, uint64_t addr, uint32_t value)
{
	*p++ = 5; /* FENCE */
	*p++ = (uint32_t)addr;
	*p++ = (uint32_t)(addr >> 32);
	*p++ = value;
	return p;
}

static uint32_t *t_trap(uint32_t *p, uint32_t ctx)
{
	*p++ = 6; /* TRAP */
	*p++ = ctx;
	return p;
}

static uint32_t *t_atomic_dec(uint32_t *p, uint64_t addr)
{
	*p++ = 10 | (47u << 25); /* ATOMIC, ADD64 */
	*p++ = (uint32_t)addr;
	*p++ = (uint32_t)(addr >> 32);
	*p++ = 0xffffffffu;
	*p++ = 0xffffffffu;
	*p++ = 0;
	*p++ = 0;
	*p++ = 0;
	return p;
}

static volatile uint64_t *t_rptr(void)
{
	return (volatile uint64_t *)(user + T_OFF_PTRS);
}

static volatile uint64_t *t_wptr(void)
{
	return (volatile uint64_t *)(user + T_OFF_PTRS + 8);
}

/* Appends dwords at the write pointer (wrapping) and commits them. */
static void t_submit(const uint32_t *dw, size_t n)
{
	uint64_t w = *t_wptr();
	size_t i;

	for (i = 0; i < n; i++)
		((uint32_t *)(user + T_OFF_RING))[((w / 4) + i) % (T_RING_SIZE / 4)] = dw[i];
	__atomic_store_n(t_wptr(), w + n * 4, __ATOMIC_RELEASE);
}

static int t_wait_rptr(uint64_t want, unsigned int ms)
{
	struct timespec ts = { 0, 1000000 };

	while (ms--) {
		if (__atomic_load_n(t_rptr(), __ATOMIC_ACQUIRE) == want)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* EXPECT: the event page must be a GTT BO of this process, set once (kfd_kmap_event_page). */
static void t_event_page(uint32_t *id)
{
	uint32_t slot, other;

	CHECK_EQ_INT(t_event(((uint64_t)gpu_id << 32) | 0xfffff, id, &slot), -EINVAL);
	CHECK_EQ_INT(t_event(((uint64_t)(gpu_id ^ 1) << 32) | (uint32_t)gtt_handle, id, &slot),
		     -EINVAL);
	CHECK_EQ_INT(t_event(vram_handle, id, &slot), -EINVAL);
	CHECK_EQ_INT(t_event(gtt_handle, id, &slot), 0);
	CHECK_EQ_INT(slot, *id);
	CHECK_EQ_INT(t_event(gtt_handle, &other, &slot), -EINVAL); /* already set */
	CHECK_EQ_INT(t_wait(*id, 0), KFD_IOC_WAIT_RESULT_TIMEOUT);
}

/*
 * EXPECT: an SDMA queue copies userptr memory, decrements a signal, writes
 * the event's slot with FENCE and raises it with TRAP; the read pointer
 * follows the write pointer in bytes, also across the ring's end.
 */
static void t_sdma_queue(uint32_t id, uint32_t *queue_id)
{
	struct kfd_ioctl_create_queue_args q = {
		.gpu_id = gpu_id,
		.queue_type = KFD_IOC_QUEUE_TYPE_SDMA,
		.ring_base_address = (uint64_t)(uintptr_t)(user + T_OFF_RING),
		.ring_size = T_RING_SIZE,
		.queue_percentage = 100,
		.queue_priority = 15,
		.read_pointer_address = (uint64_t)(uintptr_t)t_rptr(),
		.write_pointer_address = (uint64_t)(uintptr_t)t_wptr(),
	};
	uint64_t sig_va = (uint64_t)(uintptr_t)(user + T_OFF_PTRS + 64);
	uint64_t slot_va = T_GTT_VA + (uint64_t)id * 8;
	uint32_t cmd[64], *p;
	unsigned int round;
	uint64_t total = 0;

	CHECK_EQ_INT(ioctl(kfd, AMDKFD_IOC_CREATE_QUEUE, &q), 0);
	*queue_id = q.queue_id;
	/* 45 rounds of 25 dwords cross the 1024-dword ring's end. */
	for (round = 0; round < 45; round++) {
		uint8_t *src = user + T_OFF_SRC, *dst = user + T_OFF_DST;
		uint32_t i;

		for (i = 0; i < T_COPY; i++)
			src[i] = (uint8_t)(i * 7 + round);
		memset(dst, 0, T_COPY);
		*(volatile uint64_t *)(user + T_OFF_PTRS + 64) = 1;
		p = t_copy(cmd, (uint64_t)(uintptr_t)src, (uint64_t)(uintptr_t)dst, T_COPY);
		p = t_atomic_dec(p, sig_va);
		p = t_fence(p, slot_va, id);
		p = t_trap(p, id);
		p = t_fence(p, sig_va + 16, round + 1);
		t_submit(cmd, (size_t)(p - cmd));
		total += (uint64_t)(p - cmd) * 4;
		if (t_wait(id, 5000) != KFD_IOC_WAIT_RESULT_COMPLETE) {
			CHECK(!"TRAP after FENCE to the slot fires the event");
			return;
		}
		CHECK(t_wait_rptr(*t_wptr(), 5000) == 0);
		CHECK(memcmp(src, dst, T_COPY) == 0);
		CHECK(*(volatile uint64_t *)(user + T_OFF_PTRS + 64) == 0);
		CHECK(*(volatile uint32_t *)(user + T_OFF_PTRS + 80) == round + 1);
	}
	CHECK(*t_rptr() == total && total > T_RING_SIZE);
	/* A TRAP whose slot was not written does not fire the event. */
	p = t_trap(cmd, id);
	t_submit(cmd, (size_t)(p - cmd));
	CHECK(t_wait_rptr(*t_wptr(), 5000) == 0);
	CHECK_EQ_INT(t_wait(id, 50), KFD_IOC_WAIT_RESULT_TIMEOUT);
}

static uint32_t *t_poll_eq(uint32_t *p, uint64_t addr, uint32_t ref)
{
	*p++ = 8 | (3u << 28) | (1u << 31); /* POLL_REGMEM, function "==", memory */
	*p++ = (uint32_t)addr;
	*p++ = (uint32_t)(addr >> 32);
	*p++ = ref;
	*p++ = 0xffffffffu;	    /* mask */
	*p++ = 10 | (0xfffu << 16); /* interval, retry_count (sdma_v4_0_wait_reg_mem's) */
	return p;
}

/*
 * EXPECT: SDMA queues run independently, as ROCr uses them: queue 2 copies
 * VRAM to host only after POLL_REGMEM sees the signal that queue 1's
 * host-to-VRAM copy decrements, and queue 1's packets are committed after
 * queue 2 already waits. Both complete, and the host gets the data.
 */
static void t_sdma_two_queues(void)
{
	volatile uint64_t *rptr2 = (volatile uint64_t *)(user + T_OFF_PTRS + 128);
	volatile uint64_t *wptr2 = (volatile uint64_t *)(user + T_OFF_PTRS + 136);
	volatile uint64_t *sig = (volatile uint64_t *)(user + T_OFF_PTRS + 144);
	volatile uint32_t *done = (volatile uint32_t *)(user + T_OFF_PTRS + 152);
	struct kfd_ioctl_create_queue_args q = {
		.gpu_id = gpu_id,
		.queue_type = KFD_IOC_QUEUE_TYPE_SDMA,
		.ring_base_address = (uint64_t)(uintptr_t)(user + T_OFF_RING2),
		.ring_size = T_RING_SIZE,
		.queue_percentage = 100,
		.queue_priority = 15,
		.read_pointer_address = (uint64_t)(uintptr_t)rptr2,
		.write_pointer_address = (uint64_t)(uintptr_t)wptr2,
	};
	uint8_t *src = user + T_OFF_SRC, *dst = user + T_OFF_DST;
	struct timespec ms = { 0, 1000000 };
	uint32_t cmd[32], *p, i, *ring2 = (uint32_t *)(user + T_OFF_RING2);
	unsigned int waited;

	for (i = 0; i < T_COPY; i++)
		src[i] = (uint8_t)(i * 13 + 5);
	memset(dst, 0, T_COPY);
	*sig = 1;
	*done = 0;
	*rptr2 = *wptr2 = 0;
	CHECK_EQ_INT(ioctl(kfd, AMDKFD_IOC_CREATE_QUEUE, &q), 0);

	/* Queue 2: wait for the signal to reach 0, then VRAM -> host, then mark done. */
	p = t_poll_eq(cmd, (uint64_t)(uintptr_t)sig, 0);
	p = t_copy(p, T_VRAM_VA, (uint64_t)(uintptr_t)dst, T_COPY);
	p = t_fence(p, (uint64_t)(uintptr_t)done, 1);
	memcpy(ring2, cmd, (size_t)(p - cmd) * 4);
	__atomic_store_n(wptr2, (uint64_t)(p - cmd) * 4, __ATOMIC_RELEASE);
	/* Let the executor find queue 2 waiting before queue 1 has anything to run. */
	for (waited = 0; waited < 50; waited++)
		nanosleep(&ms, NULL);
	CHECK(*done == 0);

	/* Queue 1: host -> VRAM, then decrement the signal (ROCr's completion signal). */
	p = t_copy(cmd, (uint64_t)(uintptr_t)src, T_VRAM_VA, T_COPY);
	p = t_atomic_dec(p, (uint64_t)(uintptr_t)sig);
	t_submit(cmd, (size_t)(p - cmd));

	/* Well within the 10 s a poll may wait before the queue faults. */
	for (waited = 0; waited < 5000 && __atomic_load_n(done, __ATOMIC_ACQUIRE) != 1; waited++)
		nanosleep(&ms, NULL);
	CHECK(*done == 1);
	CHECK(*sig == 0);
	CHECK(memcmp(src, dst, T_COPY) == 0);
	CHECK(t_wait_rptr(*t_wptr(), 5000) == 0);
	CHECK(*rptr2 == *wptr2);
}

/* EXPECT: a POLL_REGMEM never met faults its queue after 10 s, and the queue stays stopped. */
static void t_sdma_poll_timeout(void)
{
	volatile uint64_t *rptr3 = (volatile uint64_t *)(user + T_OFF_PTRS + 192);
	volatile uint64_t *wptr3 = (volatile uint64_t *)(user + T_OFF_PTRS + 200);
	volatile uint64_t *sig = (volatile uint64_t *)(user + T_OFF_PTRS + 208);
	volatile uint32_t *done = (volatile uint32_t *)(user + T_OFF_PTRS + 216);
	struct kfd_ioctl_create_queue_args q = {
		.gpu_id = gpu_id,
		.queue_type = KFD_IOC_QUEUE_TYPE_SDMA,
		.ring_base_address = (uint64_t)(uintptr_t)(user + T_OFF_RING3),
		.ring_size = T_RING_SIZE,
		.queue_percentage = 100,
		.queue_priority = 15,
		.read_pointer_address = (uint64_t)(uintptr_t)rptr3,
		.write_pointer_address = (uint64_t)(uintptr_t)wptr3,
	};
	uint32_t cmd[16], *p;
	struct timespec ms = { 0, 1000000 };
	unsigned int waited;

	*sig = 1;
	*done = 0;
	*rptr3 = *wptr3 = 0;
	CHECK_EQ_INT(ioctl(kfd, AMDKFD_IOC_CREATE_QUEUE, &q), 0);
	p = t_poll_eq(cmd, (uint64_t)(uintptr_t)sig, 0);
	p = t_fence(p, (uint64_t)(uintptr_t)done, 1);
	memcpy(user + T_OFF_RING3, cmd, (size_t)(p - cmd) * 4);
	__atomic_store_n(wptr3, (uint64_t)(p - cmd) * 4, __ATOMIC_RELEASE);
	/* Meanwhile the read pointer stays on the poll and nothing after it runs. */
	for (waited = 0; waited < 200; waited++)
		nanosleep(&ms, NULL);
	CHECK(*rptr3 == 0 && *done == 0);
	/* After the fault the queue is stopped: the signal reaching 0 no longer runs the fence. */
	for (waited = 0; waited < 10500; waited++)
		nanosleep(&ms, NULL);
	*sig = 0;
	for (waited = 0; waited < 200; waited++)
		nanosleep(&ms, NULL);
	CHECK(*rptr3 == 0 && *done == 0);
}

/* EXPECT: a packet on an unmapped address stops the queue where it failed (a GPU VM fault). */
static void t_sdma_fault(void)
{
	uint32_t cmd[16], *p;
	uint64_t before = *t_rptr();

	p = t_fence(cmd, (uint64_t)(uintptr_t)(user + T_OFF_PTRS + 96), 7);
	p = t_copy(p, 0x3d0000000000ULL, (uint64_t)(uintptr_t)(user + T_OFF_DST), 4096);
	p = t_fence(p, (uint64_t)(uintptr_t)(user + T_OFF_PTRS + 100), 9);
	t_submit(cmd, (size_t)(p - cmd));
	CHECK(t_wait_rptr(before + 16, 5000) == 0);
	CHECK(*(volatile uint32_t *)(user + T_OFF_PTRS + 96) == 7);
	CHECK(*(volatile uint32_t *)(user + T_OFF_PTRS + 100) != 9);
	CHECK(*t_rptr() == before + 16);
}

int main(void)
{
	uint64_t user_handle;
	uint32_t id = 0, queue_id = 0;

	kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	CHECK(kfd >= 0);
	if (kfd < 0 || t_setup()) {
		CHECK(!"set up a VM and the userptr region");
		return test_finish("test_rocm_kfd_sdma");
	}
	CHECK_EQ_INT(t_alloc((uint64_t)(uintptr_t)user, T_USER_SIZE,
			     KFD_IOC_ALLOC_MEM_FLAGS_USERPTR | KFD_IOC_ALLOC_MEM_FLAGS_WRITABLE,
			     &user_handle),
		     0);
	CHECK_EQ_INT(t_alloc(T_GTT_VA, T_GTT_SIZE,
			     KFD_IOC_ALLOC_MEM_FLAGS_GTT | KFD_IOC_ALLOC_MEM_FLAGS_WRITABLE,
			     &gtt_handle),
		     0);
	CHECK_EQ_INT(t_alloc(T_VRAM_VA, 1u << 20,
			     KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_WRITABLE,
			     &vram_handle),
		     0);
	t_event_page(&id);
	t_sdma_queue(id, &queue_id);
	t_sdma_two_queues();
	t_sdma_poll_timeout();
	t_sdma_fault();
	return test_finish("test_rocm_kfd_sdma");
}
