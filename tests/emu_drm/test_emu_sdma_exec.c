/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the emulated SDMA 4.x packet engine (emu/emu_sdma_exec.c) over plain host
 * buffers: exact bytes for random data and odd sizes, the generation's count limit, malformed
 * and truncated packets, unmapped, read-only and out-of-bounds addresses, dry runs, and a
 * random-IB robustness loop (run under ASan in the unit suite).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu_sdma_exec.h"
#include "emu_sdma_pkt.h"
#include "test_common.h"

/* The tests below but test_generations() run by SDMA 4.2's rules (22-bit counts, no GCR). */
static const struct emu_sdma_gen *gen;

struct map {
	uint64_t va;
	uint8_t *host;
	uint64_t size;
	bool writable;
};

struct vm {
	struct map maps[4];
	int n;
	int held, holds, translate_unheld;
	uint64_t accounted;
	uint32_t traps, last_trap;
	int begins, begin_held, account_unbegun;
	bool begun; /* a begin not yet followed by its packet's account */
};

static void *vm_translate(void *ctx, uint64_t va, uint64_t len, bool write, uint64_t *avail)
{
	struct vm *vm = ctx;

	if (vm->holds && vm->held != 1)
		vm->translate_unheld++;
	for (int i = 0; i < vm->n; i++) {
		struct map *m = &vm->maps[i];

		if (va >= m->va && va - m->va < m->size) {
			if (write && !m->writable)
				return NULL;
			*avail = m->size - (va - m->va);
			if (*avail > len)
				*avail = len;
			return m->host + (va - m->va);
		}
	}
	return NULL;
}

static void vm_account(void *ctx, uint64_t bytes)
{
	struct vm *vm = ctx;

	if (vm->begins && !vm->begun)
		vm->account_unbegun++;
	vm->begun = false;
	vm->accounted += bytes;
}

static void vm_begin(void *ctx)
{
	struct vm *vm = ctx;

	if (vm->held)
		vm->begin_held++;
	vm->begins++;
	vm->begun = true;
}

static void vm_trap(void *ctx, uint32_t int_context)
{
	struct vm *vm = ctx;

	vm->traps++;
	vm->last_trap = int_context;
}

static void vm_hold(void *ctx, bool on)
{
	struct vm *vm = ctx;

	vm->held += on ? 1 : -1;
	vm->holds++;
}

static struct emu_sdma_mem vm_mem(struct vm *vm)
{
	struct emu_sdma_mem mem = {
		.translate = vm_translate,
		.account = vm_account,
		.trap = vm_trap,
		.ctx = vm,
	};

	return mem;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng();
}

/* Test-side packet builders, written from the same public layout (sdma_v4_0.c). */
static size_t put_copy(uint32_t *ib, uint64_t src, uint64_t dst, uint64_t bytes)
{
	ib[0] = EMU_SDMA_OP_COPY | (EMU_SDMA_SUBOP_COPY_LINEAR << 8);
	ib[1] = (uint32_t)(bytes - 1);
	ib[2] = 0;
	ib[3] = (uint32_t)src;
	ib[4] = (uint32_t)(src >> 32);
	ib[5] = (uint32_t)dst;
	ib[6] = (uint32_t)(dst >> 32);
	return 7;
}

static size_t put_fence(uint32_t *ib, uint64_t addr, uint32_t value)
{
	ib[0] = EMU_SDMA_OP_FENCE;
	ib[1] = (uint32_t)addr;
	ib[2] = (uint32_t)(addr >> 32);
	ib[3] = value;
	return 4;
}

#define VA_A  0x100000000ull
#define VA_B  0x200000000ull
#define VA_RO 0x300000000ull
#define SZ    (9u << 20)

static uint8_t *buf_a, *buf_b, *buf_ro;

static void setup_vm(struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->maps[0] = (struct map){ VA_A, buf_a, SZ, true };
	vm->maps[1] = (struct map){ VA_B, buf_b, SZ, true };
	vm->maps[2] = (struct map){ VA_RO, buf_ro, 4096, false };
	vm->n = 3;
}

/* EXPECT: copies of random bytes at odd sizes and offsets land exactly, nothing around them. */
static void test_copy_sizes(void)
{
	static const uint64_t sizes[] = { 1,	3,    4,     5,	      4095,
					  4096, 4097, 65537, 1000003, EMU_SDMA_COPY_MAX_BYTES };
	struct vm vm;
	struct emu_sdma_mem mem;
	struct emu_sdma_status st;
	uint32_t ib[64];

	setup_vm(&vm);
	mem = vm_mem(&vm);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t so = rng() % 4096, doff = rng() % 4096 + 1, n = sizes[i];
		size_t ndw;

		fill_random(buf_a, SZ);
		memset(buf_b, 0x5a, SZ);
		ndw = put_copy(ib, VA_A + so, VA_B + doff, n);
		CHECK_EQ_INT(emu_sdma_exec(gen, ib, ndw, &mem, 0, &st), 0);
		CHECK(memcmp(buf_b + doff, buf_a + so, n) == 0);
		CHECK_EQ_INT(buf_b[doff - 1], 0x5a);
		CHECK_EQ_INT(buf_b[doff + n], 0x5a);
		CHECK_EQ_INT(st.bytes, n);
	}
	/* And back: B -> A. */
	fill_random(buf_b, SZ);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, put_copy(ib, VA_B + 7, VA_A + 1, 777777), &mem, 0, &st),
		     0);
	CHECK(memcmp(buf_a + 1, buf_b + 7, 777777) == 0);
	CHECK_EQ_INT(vm.accounted, 777777 + 1 + 3 + 4 + 5 + 4095 + 4096 + 4097 + 65537 + 1000003 +
					   EMU_SDMA_COPY_MAX_BYTES);
}

/* EXPECT: several packets in one IB run in order; a copy spanning two adjacent mappings works. */
static void test_multi_and_span(void)
{
	struct vm vm;
	struct emu_sdma_mem mem;
	struct emu_sdma_status st;
	uint32_t ib[64];
	size_t n = 0;

	setup_vm(&vm);
	/* Split A into two adjacent mappings backed by distinct host memory. */
	vm.maps[0].size = 8192;
	vm.maps[3] = (struct map){ VA_A + 8192, buf_a + 3 * 8192, 8192, true };
	vm.n = 4;
	mem = vm_mem(&vm);
	fill_random(buf_b, SZ);
	memset(buf_a, 0, 4 * 8192);
	n += put_copy(ib + n, VA_B, VA_A + 4096, 8192);		 /* spans both A mappings */
	n += put_copy(ib + n, VA_A + 4096, VA_B + 100000, 8192); /* and back again */
	n += put_fence(ib + n, VA_B + 200000, 0xfeedf00d);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), 0);
	CHECK_EQ_INT(st.packets, 3);
	CHECK(memcmp(buf_a + 4096, buf_b, 4096) == 0);
	CHECK(memcmp(buf_a + 3 * 8192, buf_b + 4096, 4096) == 0);
	CHECK(memcmp(buf_b + 100000, buf_b, 8192) == 0);
	CHECK_EQ_INT(*(uint32_t *)(buf_b + 200000), 0xfeedf00d);
}

/* EXPECT: a count beyond SDMA 4.x's 22 bits, an unmapped or read-only destination and a source
 * running off its mapping fail the IB and write nothing; earlier packets have run. */
static void test_copy_rejects(void)
{
	struct vm vm;
	struct emu_sdma_mem mem;
	struct emu_sdma_status st;
	uint32_t ib[64];
	size_t n;

	setup_vm(&vm);
	mem = vm_mem(&vm);
	fill_random(buf_a, SZ);
	memset(buf_b, 0, SZ);

	n = put_copy(ib, VA_A, VA_B, 16);
	n += put_copy(ib + n, VA_A, VA_B + 4096, 16);
	ib[n - 7 + 1] = EMU_SDMA_COPY_MAX_BYTES; /* count field overflows into reserved bits */
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EINVAL);
	CHECK_EQ_INT(st.packet_dw, 7);
	CHECK(strstr(st.reason, "22-bit") != NULL);
	CHECK(memcmp(buf_b, buf_a, 16) == 0); /* first packet ran */
	CHECK_EQ_INT(buf_b[4096], 0);

	/* Source runs 1 byte past the end of A. */
	n = put_copy(ib, VA_A + SZ - 100, VA_B, 101);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EFAULT);
	CHECK_EQ_INT(st.packet_dw, 0);
	CHECK_EQ_INT(buf_b[0], buf_a[0]); /* untouched since the previous copy */
	CHECK(memcmp(buf_b + 16, "\0\0\0\0", 4) == 0);

	/* Destination runs past the end of B: nothing written. */
	memset(buf_b, 0, SZ);
	n = put_copy(ib, VA_A, VA_B + SZ - 10, 11);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EFAULT);
	CHECK_EQ_INT(buf_b[SZ - 10], 0);

	/* Unmapped destination, read-only destination. */
	n = put_copy(ib, VA_A, 0x700000000ull, 64);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EFAULT);
	CHECK(strstr(st.reason, "not mapped") != NULL);
	memset(buf_ro, 0x11, 4096);
	n = put_copy(ib, VA_A, VA_RO, 64);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EFAULT);
	CHECK_EQ_INT(buf_ro[0], 0x11);
	/* Reading from the read-only mapping is fine. */
	n = put_copy(ib, VA_RO, VA_B, 64);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), 0);
	CHECK_EQ_INT(buf_b[63], 0x11);

	/* Address range wrapping 2^64. */
	n = put_copy(ib, 0xfffffffffffff000ull, VA_B, 0x2000);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EFAULT);

	/* Broadcast / TMZ and endian swap are refused, not ignored. */
	n = put_copy(ib, VA_A, VA_B, 64);
	ib[0] |= EMU_SDMA_COPY_HDR_BROADCAST;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EINVAL);
	n = put_copy(ib, VA_A, VA_B, 64);
	ib[0] |= EMU_SDMA_COPY_HDR_TMZ;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EINVAL);
	n = put_copy(ib, VA_A, VA_B, 64);
	ib[2] = 2u << 16;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EINVAL);
	/* COPY sub-ops other than LINEAR (e.g. tiled) are refused. */
	n = put_copy(ib, VA_A, VA_B, 64);
	ib[0] = EMU_SDMA_OP_COPY | (1u << 8);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EINVAL);
}

/* EXPECT: truncated packets and unknown opcodes fail with -EINVAL at the right packet. */
static void test_malformed(void)
{
	struct vm vm;
	struct emu_sdma_mem mem;
	struct emu_sdma_status st;
	uint32_t ib[64];
	size_t n;

	setup_vm(&vm);
	mem = vm_mem(&vm);
	n = put_copy(ib, VA_A, VA_B, 64);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n - 1, &mem, 0, &st), -EINVAL);
	CHECK(strstr(st.reason, "needs 7 dwords") != NULL);

	ib[0] = 0;    /* NOP */
	ib[1] = 0x63; /* opcode 99 */
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 2, &mem, 0, &st), -EINVAL);
	CHECK_EQ_INT(st.packet_dw, 1);
	CHECK_EQ_INT(st.packets, 1);

	/* NOP with a count skips that many dwords (padding), even if they look like garbage. */
	ib[0] = EMU_SDMA_OP_NOP | (3u << 16);
	ib[1] = ib[2] = ib[3] = 0xffffffffu;
	n = 4 + put_fence(ib + 4, VA_B, 7);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), 0);
	CHECK_EQ_INT(*(uint32_t *)buf_b, 7);
	/* ...but not beyond the IB. */
	ib[0] = EMU_SDMA_OP_NOP | (8u << 16);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 4, &mem, 0, &st), -EINVAL);

	/* Unaligned fence. */
	n = put_fence(ib, VA_B + 2, 7);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EINVAL);
	/* Fence to an unmapped address. */
	n = put_fence(ib, 0x40, 7);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EFAULT);
}

/* EXPECT: WRITE_LINEAR, CONST_FILL, TRAP and POLL_REGMEM do what the layout says. */
static void test_other_packets(void)
{
	struct vm vm;
	struct emu_sdma_mem mem;
	struct emu_sdma_status st;
	uint32_t ib[64];

	setup_vm(&vm);
	mem = vm_mem(&vm);
	memset(buf_b, 0, 4096);

	ib[0] = EMU_SDMA_OP_WRITE;
	ib[1] = (uint32_t)(VA_B + 8);
	ib[2] = (uint32_t)((VA_B + 8) >> 32);
	ib[3] = 2; /* 3 dwords */
	ib[4] = 0x11111111;
	ib[5] = 0x22222222;
	ib[6] = 0x33333333;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 7, &mem, 0, &st), 0);
	CHECK_EQ_INT(((uint32_t *)buf_b)[2], 0x11111111);
	CHECK_EQ_INT(((uint32_t *)buf_b)[4], 0x33333333);
	CHECK_EQ_INT(((uint32_t *)buf_b)[5], 0);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 6, &mem, 0, &st), -EINVAL); /* data cut off */

	ib[0] = EMU_SDMA_OP_CONST_FILL | (EMU_SDMA_FILL_FILLSIZE_DWORD << 30);
	ib[1] = (uint32_t)(VA_B + 256);
	ib[2] = (uint32_t)((VA_B + 256) >> 32);
	ib[3] = 0xa1b2c3d4;
	ib[4] = 64 - 1;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 5, &mem, 0, &st), 0);
	CHECK_EQ_INT(((uint32_t *)buf_b)[64], 0xa1b2c3d4);
	CHECK_EQ_INT(((uint32_t *)buf_b)[79], 0xa1b2c3d4);
	CHECK_EQ_INT(((uint32_t *)buf_b)[80], 0);
	ib[4] = 62 - 1; /* not a whole number of dwords */
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 5, &mem, 0, &st), -EINVAL);
	ib[0] = EMU_SDMA_OP_CONST_FILL; /* fillsize 0: only byte-uniform values */
	ib[4] = 5 - 1;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 5, &mem, 0, &st), -EINVAL);
	ib[3] = 0x77777777;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 5, &mem, 0, &st), 0);
	CHECK_EQ_INT(buf_b[256 + 4], 0x77);
	CHECK_EQ_INT(buf_b[256 + 5], 0xc3);

	ib[0] = EMU_SDMA_OP_TRAP;
	ib[1] = 0x1234;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 2, &mem, 0, &st), 0);
	CHECK_EQ_INT(vm.traps, 1);
	CHECK_EQ_INT(vm.last_trap, 0x1234);

	/* Memory poll that already holds, HDP flush (register poll), other register polls. */
	((uint32_t *)buf_b)[100] = 0x5;
	ib[0] = EMU_SDMA_OP_POLL_REGMEM | EMU_SDMA_POLL_HDR_MEM_POLL | (3u << 28);
	ib[1] = (uint32_t)(VA_B + 400);
	ib[2] = (uint32_t)((VA_B + 400) >> 32);
	ib[3] = 0x5;
	ib[4] = 0xffffffff;
	ib[5] = 0x0fff0004;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 6, &mem, 0, &st), 0);
	ib[0] = EMU_SDMA_OP_POLL_REGMEM | EMU_SDMA_POLL_HDR_HDP_FLUSH | (3u << 28);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 6, &mem, 0, &st), 0);
	ib[0] = EMU_SDMA_OP_POLL_REGMEM | (3u << 28);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 6, &mem, 0, &st), -EINVAL);
	/* ROCr's HDP flush: a register poll with function 0 (always) holds at once. */
	ib[0] = 0x8;
	ib[1] = 0;
	ib[2] = 0x80000000u;
	ib[3] = ib[4] = ib[5] = 0;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 6, &mem, 0, &st), 0);

	/* EMU_SDMA_EXEC_POLL_ONCE: an unmet poll ends the run at its header, after the packets
	 * before it, without waiting; a met one runs through. */
	ib[0] = EMU_SDMA_OP_FENCE;
	ib[1] = (uint32_t)(VA_B + 408);
	ib[2] = (uint32_t)((VA_B + 408) >> 32);
	ib[3] = 0xabc;
	ib[4] = EMU_SDMA_OP_POLL_REGMEM | EMU_SDMA_POLL_HDR_MEM_POLL | (3u << 28);
	ib[5] = (uint32_t)(VA_B + 400);
	ib[6] = (uint32_t)((VA_B + 400) >> 32);
	ib[7] = 0x6;
	ib[8] = 0xffffffff;
	ib[9] = 0x0fff0004;
	ib[10] = EMU_SDMA_OP_NOP;
	((uint32_t *)buf_b)[102] = 0;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, 11, &mem, EMU_SDMA_EXEC_POLL_ONCE, &st), -EAGAIN);
	CHECK_EQ_INT(st.packet_dw, 4);
	CHECK_EQ_INT(st.packets, 1);
	CHECK_EQ_INT(((uint32_t *)buf_b)[102], 0xabc);
	CHECK(strstr(st.reason, "POLL_REGMEM") != NULL);
	((uint32_t *)buf_b)[100] = 0x6;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib + 4, 7, &mem, EMU_SDMA_EXEC_POLL_ONCE, &st), 0);
	CHECK_EQ_INT(st.packets, 2);
}

static size_t put_atomic(uint32_t *ib, uint32_t hdr, uint64_t addr, uint64_t add)
{
	memset(ib, 0, EMU_SDMA_ATOMIC_DW * 4);
	ib[0] = hdr;
	ib[1] = (uint32_t)addr;
	ib[2] = (uint32_t)(addr >> 32);
	ib[3] = (uint32_t)add;
	ib[4] = (uint32_t)(add >> 32);
	return EMU_SDMA_ATOMIC_DW;
}

/* EXPECT: ATOMIC ADD64 adds 64 bits (ROCr decrements signals with -1); other atomics,
 * loops, misaligned or unmapped addresses fail without touching memory. */
static void test_atomic(void)
{
	const uint32_t add64 = EMU_SDMA_OP_ATOMIC | (EMU_SDMA_ATOMIC_ADD64 << 25);
	struct vm vm;
	struct emu_sdma_mem mem;
	struct emu_sdma_status st;
	uint32_t ib[16];
	uint64_t v;

	setup_vm(&vm);
	mem = vm_mem(&vm);
	v = 0x100000000ull;
	memcpy(buf_b + 64, &v, 8);
	put_atomic(ib, add64, VA_B + 64, UINT64_MAX);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, EMU_SDMA_ATOMIC_DW, &mem, 0, &st), 0);
	memcpy(&v, buf_b + 64, 8);
	CHECK(v == 0xffffffffull);
	put_atomic(ib, add64, VA_B + 64, 3);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, EMU_SDMA_ATOMIC_DW, &mem, 0, &st), 0);
	memcpy(&v, buf_b + 64, 8);
	CHECK(v == 0x100000002ull);
	put_atomic(ib, add64, VA_B + 68, 1); /* not qword aligned */
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, EMU_SDMA_ATOMIC_DW, &mem, 0, &st), -EINVAL);
	put_atomic(ib, EMU_SDMA_OP_ATOMIC | (1u << 25), VA_B + 64, 1); /* another operation */
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, EMU_SDMA_ATOMIC_DW, &mem, 0, &st), -EINVAL);
	put_atomic(ib, add64 | EMU_SDMA_ATOMIC_HDR_LOOP, VA_B + 64, 1);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, EMU_SDMA_ATOMIC_DW, &mem, 0, &st), -EINVAL);
	put_atomic(ib, add64, VA_RO, 1); /* read-only */
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, EMU_SDMA_ATOMIC_DW, &mem, 0, &st), -EFAULT);
	put_atomic(ib, add64, 0x900000000ull, 1); /* unmapped */
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, EMU_SDMA_ATOMIC_DW, &mem, 0, &st), -EFAULT);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, EMU_SDMA_ATOMIC_DW - 1, &mem, 0, &st), -EINVAL);
	memcpy(&v, buf_b + 64, 8);
	CHECK(v == 0x100000002ull);
}

/* EXPECT: a dry run checks like a real run but changes no memory. */
static void test_dry_run(void)
{
	struct vm vm;
	struct emu_sdma_mem mem;
	struct emu_sdma_status st;
	uint32_t ib[64];
	size_t n;

	setup_vm(&vm);
	mem = vm_mem(&vm);
	mem.begin = vm_begin;
	fill_random(buf_a, 4096);
	memset(buf_b, 0, 4096);
	n = put_copy(ib, VA_A, VA_B, 4096);
	n += put_fence(ib + n, VA_B + 4096, 1);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, EMU_SDMA_EXEC_DRY_RUN, &st), 0);
	CHECK_EQ_INT(buf_b[0], 0);
	CHECK_EQ_INT(buf_b[4096], 0);
	CHECK_EQ_INT(vm.accounted, 0);
	CHECK_EQ_INT(vm.begins, 0);
	n = put_copy(ib, VA_A, VA_RO, 4096);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, EMU_SDMA_EXEC_DRY_RUN, &st), -EFAULT);
}

/* EXPECT: with a hold callback, memory is translated only while held, holds balance, and
 * bandwidth accounting happens outside them: begin before each packet, account after the
 * packet that moved bytes. */
static void test_hold(void)
{
	struct vm vm;
	struct emu_sdma_mem mem;
	struct emu_sdma_status st;
	uint32_t ib[64];
	size_t n;

	setup_vm(&vm);
	mem = vm_mem(&vm);
	mem.hold = vm_hold;
	mem.begin = vm_begin;
	n = put_copy(ib, VA_A, VA_B, 10000);
	n += put_fence(ib + n, VA_B + 20000, 3);
	((uint32_t *)buf_b)[6000] = 9;
	ib[n++] = EMU_SDMA_OP_POLL_REGMEM | EMU_SDMA_POLL_HDR_MEM_POLL | (3u << 28);
	ib[n++] = (uint32_t)(VA_B + 24000);
	ib[n++] = (uint32_t)((VA_B + 24000) >> 32);
	ib[n++] = 9;
	ib[n++] = 0xffffffff;
	ib[n++] = 0;
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), 0);
	CHECK_EQ_INT(vm.held, 0);
	CHECK_EQ_INT(vm.holds, 6);
	CHECK_EQ_INT(vm.translate_unheld, 0);
	CHECK_EQ_INT(vm.accounted, 10000);
	CHECK_EQ_INT(vm.begins, 3); /* copy, fence, poll */
	CHECK_EQ_INT(vm.begin_held, 0);
	CHECK_EQ_INT(vm.account_unbegun, 0);
	/* A failing packet releases its hold too. */
	n = put_copy(ib, VA_A, 0x700000000ull, 64);
	CHECK_EQ_INT(emu_sdma_exec(gen, ib, n, &mem, 0, &st), -EFAULT);
	CHECK_EQ_INT(vm.held, 0);
}

/* EXPECT: random IBs never crash or touch memory outside the mappings (ASan watches). */
static void test_random_ibs(void)
{
	static const uint32_t ops[] = { 0, 1, 2, 5, 6, 8, 10, 11, 3, 200 };
	struct vm vm;
	struct emu_sdma_mem mem;
	struct emu_sdma_status st;
	uint32_t ib[32];
	int ok = 0;

	setup_vm(&vm);
	vm.maps[0].size = 65536;
	vm.maps[1].size = 65536;
	mem = vm_mem(&vm);
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = 1 + rng() % 32;

		for (size_t i = 0; i < n; i++) {
			uint64_t r = rng();

			switch (r % 4) {
			case 0:
				ib[i] = (uint32_t)r;
				break;
			case 1:
				ib[i] = (uint32_t)(r >> 8) % 70000;
				break; /* small counts */
			case 2:
				ib[i] = (uint32_t)((r & 1 ? VA_A : VA_B) >> 32);
				break;
			default:
				ib[i] = ops[(r >> 8) % 10] | ((uint32_t)(r >> 32) & 0x80000000u);
				break;
			}
		}
		/* Keep polls from waiting their full timeout: always-true function. */
		for (size_t i = 0; i < n; i++)
			if ((ib[i] & 0xff) == EMU_SDMA_OP_POLL_REGMEM)
				ib[i] &= 0x8fffffffu;
		if (emu_sdma_exec(gen, ib, n, &mem, 0, &st) == 0)
			ok++;
		else
			CHECK(st.err < 0 && st.reason[0] != '\0' && st.packet_dw < n);
	}
	CHECK(ok > 0);
}

/*
 * Each generation's rules (emu_sdma_exec.c: emu_sdma_gens): a COPY_LINEAR of 4 MiB + 1 bytes
 * and a CONST_FILL of 4 MiB + 4 bytes need more than 22 count bits; GCR_REQ exists from 5.0.
 */
static void test_generations(void)
{
	static const struct {
		uint32_t ip;
		bool wide_copy, wide_fill, gcr;
	} g[] = {
		{ 0x040202, false, false, false }, /* MI100 */
		{ 0x040400, true, false, false },  /* MI200 */
		{ 0x040402, true, false, false },  /* MI300 */
		{ 0x050000, false, false, true },  /* Navi10 */
		{ 0x050200, true, false, true },   /* Navi21 */
		{ 0x060000, true, true, true },	   /* Navi31 */
	};
	struct emu_sdma_status st;
	struct vm vm;
	struct emu_sdma_mem mem;
	uint32_t ib[16];
	size_t k;

	CHECK(emu_sdma_gen_find(0x030000) == NULL); /* SDMA 3 counts bytes, not bytes - 1 */
	CHECK(emu_sdma_gen_find(0x070000) == NULL); /* SDMA 7 has another COPY_LINEAR */
	setup_vm(&vm);
	mem = vm_mem(&vm);
	for (k = 0; k < sizeof(g) / sizeof(g[0]); k++) {
		const struct emu_sdma_gen *e = emu_sdma_gen_find(g[k].ip);
		size_t n;

		CHECK(e != NULL);
		if (!e)
			continue;
		fill_random(buf_a, SZ);
		memset(buf_b, 0, SZ);
		/* 4 MiB, the most 22 bits count, on every generation. */
		n = put_copy(ib, VA_A, VA_B, 4u << 20);
		CHECK_EQ_INT(emu_sdma_exec(e, ib, n, &mem, 0, &st), 0);
		n = put_copy(ib, VA_A + 8, VA_B + 8, (4u << 20) + 1);
		CHECK_EQ_INT(emu_sdma_exec(e, ib, n, &mem, 0, &st), g[k].wide_copy ? 0 : -EINVAL);
		CHECK(g[k].wide_copy ? memcmp(buf_a + 8, buf_b + 8, (4u << 20) + 1) == 0
				     : strstr(st.reason, e->name) != NULL);

		ib[0] = EMU_SDMA_OP_CONST_FILL | (EMU_SDMA_FILL_FILLSIZE_DWORD << 30);
		ib[1] = (uint32_t)VA_B;
		ib[2] = (uint32_t)(VA_B >> 32);
		ib[3] = 0x01020304;
		ib[4] = (4u << 20) + 4 - 1;
		CHECK_EQ_INT(emu_sdma_exec(e, ib, EMU_SDMA_FILL_DW, &mem, 0, &st),
			     g[k].wide_fill ? 0 : -EINVAL);
		ib[4] = (4u << 20) - 1;
		CHECK_EQ_INT(emu_sdma_exec(e, ib, EMU_SDMA_FILL_DW, &mem, 0, &st), 0);

		/* GCR_REQ as sdma_v5_0_ring_emit_mem_sync writes it (GL2 invalidate + writeback).
		 */
		memset(ib, 0, EMU_SDMA_GCR_REQ_DW * 4);
		ib[0] = EMU_SDMA_OP_GCR_REQ;
		ib[2] = (0xc000u << 16);
		ib[4] = 0xffff;
		CHECK_EQ_INT(emu_sdma_exec(e, ib, EMU_SDMA_GCR_REQ_DW, &mem, 0, &st),
			     g[k].gcr ? 0 : -EINVAL);
		CHECK_EQ_INT(emu_sdma_exec(e, ib, EMU_SDMA_GCR_REQ_DW - 1, &mem, 0, &st), -EINVAL);
	}
}

int main(void)
{
	buf_a = malloc(SZ + 1);
	buf_b = malloc(SZ + 1);
	buf_ro = malloc(4096);
	if (!buf_a || !buf_b || !buf_ro)
		return 1;
	gen = emu_sdma_gen_find(0x040202);
	if (!gen)
		return 1;
	test_copy_sizes();
	test_multi_and_span();
	test_copy_rejects();
	test_malformed();
	test_other_packets();
	test_atomic();
	test_dry_run();
	test_hold();
	test_random_ibs();
	test_generations();
	free(buf_a);
	free(buf_b);
	free(buf_ro);
	return test_finish("emu_sdma_exec");
}
