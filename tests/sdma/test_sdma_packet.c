// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sdma_packet / sdma_gen unit tests: dwords checked against the documented
 * layouts (Linux vega10_sdma_pkt_open.h / navi10_sdma_pkt_open.h, Mesa
 * ac_cmdbuf_sdma.c), and a small interpreter that executes emitted
 * COPY_LINEAR / CONST_FILL packets over host memory to prove that a loop of
 * builder calls covers exactly the requested bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdma_gen.h"
#include "sdma_packet.h"
#include "test_common.h"

/* Field layouts restated from vega10_sdma_pkt_open.h, independently of the builders. */
#define HDR_OP(dw)		((dw)&0xff)
#define HDR_SUB_OP(dw)		(((dw) >> 8) & 0xff)
#define CONST_FILL_FILLSIZE(dw) (((dw) >> 30) & 0x3)

static const struct sdma_gen *gen_of(uint32_t ip)
{
	const struct sdma_gen *gen = NULL;

	CHECK_EQ_INT(sdma_gen_lookup(ip, &gen), 0);
	CHECK(gen != NULL);
	return gen;
}

/* EXPECT: each supported GPU's SDMA version maps to its generation; 3.x and 7.x are refused. */
static void test_gen_table(void)
{
	const struct sdma_gen *gen;

	CHECK(!strcmp(gen_of(SDMA_IP_VERSION(4, 0, 0))->name, "SDMA 4.0")); /* Vega10 */
	CHECK(!strcmp(gen_of(SDMA_IP_VERSION(4, 2, 0))->name, "SDMA 4.0")); /* MI50 */
	CHECK(!strcmp(gen_of(SDMA_IP_VERSION(4, 2, 2))->name, "SDMA 4.0")); /* MI100 */
	CHECK(!strcmp(gen_of(SDMA_IP_VERSION(4, 4, 0))->name, "SDMA 4.4")); /* MI200 */
	CHECK(!strcmp(gen_of(SDMA_IP_VERSION(4, 4, 2))->name, "SDMA 4.4")); /* MI300 */
	CHECK(!strcmp(gen_of(SDMA_IP_VERSION(5, 0, 0))->name, "SDMA 5.0"));
	CHECK(!strcmp(gen_of(SDMA_IP_VERSION(5, 2, 0))->name, "SDMA 5.2"));
	CHECK(!strcmp(gen_of(SDMA_IP_VERSION(6, 0, 0))->name, "SDMA 6"));
	CHECK(!strcmp(gen_of(SDMA_IP_VERSION(6, 1, 0))->name, "SDMA 6"));

	CHECK_EQ_INT(sdma_gen_lookup(SDMA_IP_VERSION(3, 0, 0), &gen), -ENOTSUP);
	CHECK(gen == NULL);
	CHECK_EQ_INT(sdma_gen_lookup(SDMA_IP_VERSION(7, 0, 0), &gen), -ENOTSUP);

	/* Mesa sid.h: 0x3fff00 below SDMA 5.2, 0x3fffff00 from 5.2 on. */
	CHECK_EQ_INT(gen_of(SDMA_IP_VERSION(4, 4, 2))->copy_max_bytes, 0x3fff00);
	CHECK_EQ_INT(gen_of(SDMA_IP_VERSION(5, 2, 0))->copy_max_bytes, 0x3fffff00);
	CHECK_EQ_INT(gen_of(SDMA_IP_VERSION(6, 0, 0))->fill_max_bytes, 0x3ffffffc);
	CHECK_EQ_INT(gen_of(SDMA_IP_VERSION(5, 2, 0))->fill_max_bytes, 0x3ffffc);

	/* The discovery version wins; without it, the block's major.minor. */
	CHECK_EQ_INT(sdma_gen_ip_from_hw_ip(4, 4, 0x040402), SDMA_IP_VERSION(4, 4, 2));
	CHECK_EQ_INT(sdma_gen_ip_from_hw_ip(4, 0, 0), SDMA_IP_VERSION(4, 0, 0));
	CHECK_EQ_INT(sdma_gen_ip_from_hw_ip(5, 2, 0), SDMA_IP_VERSION(5, 2, 0));
}

/* EXPECT: COPY_LINEAR is header, bytes-1, 0, src lo/hi, dst lo/hi; addresses above 4 GiB survive.
 */
static void test_copy_linear_layout(void)
{
	const struct sdma_gen *gen = gen_of(SDMA_IP_VERSION(4, 4, 2));
	uint32_t buf[16];
	struct sdma_cs cs = { buf, 0, 16 };
	uint64_t n;

	n = sdma_emit_copy_linear(&cs, gen, 0x123456789000ULL, 0xabcdef0100ULL, 0x1000);
	CHECK_EQ_INT(n, 0x1000);
	CHECK_EQ_INT(cs.cdw, SDMA_COPY_LINEAR_DW);
	CHECK_EQ_INT(buf[0], 0x00000001); /* op COPY (1), sub-op LINEAR (0) */
	CHECK_EQ_INT(HDR_OP(buf[0]), 1);
	CHECK_EQ_INT(HDR_SUB_OP(buf[0]), 0);
	CHECK_EQ_INT(buf[1], 0xfff);
	CHECK_EQ_INT(buf[2], 0);
	CHECK_EQ_INT(buf[3], 0xcdef0100);
	CHECK_EQ_INT(buf[4], 0xab);
	CHECK_EQ_INT(buf[5], 0x56789000);
	CHECK_EQ_INT(buf[6], 0x1234);

	/* No room for a second packet: nothing written, 0 returned. */
	cs.max_dw = 13;
	CHECK_EQ_INT(sdma_emit_copy_linear(&cs, gen, 0, 0, 16), 0);
	CHECK_EQ_INT(cs.cdw, SDMA_COPY_LINEAR_DW);
	CHECK_EQ_INT(sdma_emit_copy_linear(&cs, gen, 0, 0, 0), 0);
}

/* EXPECT: copies split at the generation's maximum, counts are bytes-1, odd tails split off. */
static void test_copy_linear_split(void)
{
	const struct sdma_gen *g4 = gen_of(SDMA_IP_VERSION(4, 2, 2));
	const struct sdma_gen *g52 = gen_of(SDMA_IP_VERSION(5, 2, 0));
	uint32_t buf[64];
	struct sdma_cs cs = { buf, 0, 64 };
	uint64_t size = 10ULL << 20, done = 0, n;
	unsigned int packets = 0;

	while (done < size) {
		n = sdma_emit_copy_linear(&cs, g4, 0x100000000ULL + done, 0x200000000ULL + done,
					  size - done);
		CHECK(n > 0 && n <= 0x3fff00);
		if (!n)
			break;
		CHECK_EQ_INT(buf[cs.cdw - 6], n - 1);
		CHECK_EQ_INT(buf[cs.cdw - 4], (uint32_t)(0x200000000ULL + done)); /* src lo */
		CHECK_EQ_INT(buf[cs.cdw - 3], 2);				  /* src hi */
		done += n;
		packets++;
	}
	CHECK_EQ_INT(done, size);
	CHECK_EQ_INT(packets, 3); /* 0x3fff00 + 0x3fff00 + 0x200200 */
	CHECK(sdma_copy_linear_dw(g4, size) >= cs.cdw);

	/* Aligned addresses, odd size: dword bulk first, then the tail. */
	cs.cdw = 0;
	CHECK_EQ_INT(sdma_emit_copy_linear(&cs, g4, 0x1000, 0x2000, 4097), 4096);
	CHECK_EQ_INT(sdma_emit_copy_linear(&cs, g4, 0x2000, 0x3000, 1), 1);
	CHECK_EQ_INT(buf[8], 0); /* count 1 byte - 1 */
	/* Unaligned address: one packet for everything. */
	CHECK_EQ_INT(sdma_emit_copy_linear(&cs, g4, 0x1001, 0x2000, 4097), 4097);
	CHECK_EQ_INT(sdma_emit_copy_linear(&cs, g4, 0x1000, 0x2000, 3), 3);

	/* SDMA 5.2: almost 1 GiB per packet, 30-bit count. */
	cs.cdw = 0;
	CHECK_EQ_INT(sdma_emit_copy_linear(&cs, g52, 0, 0, 2ULL << 30), 0x3fffff00);
	CHECK_EQ_INT(buf[1], 0x3ffffeff);
}

/* EXPECT: CONST_FILL is header with fillsize 2, dst lo/hi, value, bytes-1; unaligned is refused. */
static void test_const_fill(void)
{
	const struct sdma_gen *g4 = gen_of(SDMA_IP_VERSION(4, 0, 0));
	const struct sdma_gen *g6 = gen_of(SDMA_IP_VERSION(6, 0, 0));
	uint32_t buf[16];
	struct sdma_cs cs = { buf, 0, 16 };

	CHECK_EQ_INT(sdma_emit_const_fill(&cs, g4, 0x7654321000ULL, 64, 0xdeadbeef), 64);
	CHECK_EQ_INT(cs.cdw, SDMA_CONST_FILL_DW);
	CHECK_EQ_INT(buf[0], 0x8000000b);
	CHECK_EQ_INT(HDR_OP(buf[0]), 11);
	CHECK_EQ_INT(CONST_FILL_FILLSIZE(buf[0]), 2);
	CHECK_EQ_INT(buf[1], 0x54321000);
	CHECK_EQ_INT(buf[2], 0x76);
	CHECK_EQ_INT(buf[3], 0xdeadbeef);
	CHECK_EQ_INT(buf[4], 63);

	CHECK_EQ_INT(sdma_emit_const_fill(&cs, g4, 0x1002, 64, 0), 0);
	CHECK_EQ_INT(sdma_emit_const_fill(&cs, g4, 0x1000, 62, 0), 0);
	CHECK_EQ_INT(cs.cdw, SDMA_CONST_FILL_DW);

	cs.cdw = 0;
	CHECK_EQ_INT(sdma_emit_const_fill(&cs, g4, 0, 1ULL << 30, 0), 0x3ffffc);
	CHECK_EQ_INT(buf[4], 0x3ffffb);
	CHECK_EQ_INT(sdma_emit_const_fill(&cs, g6, 0, 1ULL << 31, 0), 0x3ffffffc);
	CHECK_EQ_INT(buf[9], 0x3ffffffb);
	cs.max_dw = 14;
	CHECK_EQ_INT(sdma_emit_const_fill(&cs, g6, 0, 4, 0), 0); /* no room */
}

/* EXPECT: NOP padding to 16 dwords; padding and NOPs past the end fail with -ENOSPC. */
static void test_nop_pad(void)
{
	const struct sdma_gen *gen = gen_of(SDMA_IP_VERSION(4, 4, 0));
	uint32_t buf[32];
	struct sdma_cs cs = { buf, 0, 32 };
	unsigned int i;

	memset(buf, 0xff, sizeof(buf));
	buf[0] = buf[1] = buf[2] = buf[3] = 0x12345678; /* four dwords of some packet */
	cs.cdw = 4;

	CHECK_EQ_INT(sdma_pad_ib(&cs, gen), 0);
	CHECK_EQ_INT(cs.cdw, 16);
	CHECK_EQ_INT(buf[3], 0x12345678);
	for (i = 4; i < 16; i++)
		CHECK_EQ_INT(buf[i], 0); /* NOP: op 0, count 0 */
	CHECK_EQ_INT(sdma_pad_ib(&cs, gen), 0);
	CHECK_EQ_INT(cs.cdw, 16);

	CHECK_EQ_INT(sdma_emit_nop(&cs), 0);
	cs.max_dw = 20;
	CHECK_EQ_INT(sdma_pad_ib(&cs, gen), -ENOSPC);
	CHECK_EQ_INT(cs.cdw, 17);
	cs.cdw = 20;
	CHECK_EQ_INT(sdma_emit_nop(&cs), -ENOSPC);
}

/*
 * Executes COPY_LINEAR / CONST_FILL / NOP packets with addresses taken as
 * offsets into mem. Returns 0, or -1 on an unknown packet or a bad range.
 */
static int run_packets(const uint32_t *dw, uint32_t ndw, uint8_t *mem, uint64_t mem_size,
		       unsigned int count_bits)
{
	uint32_t i = 0;

	while (i < ndw) {
		uint32_t op = HDR_OP(dw[i]);

		if (op == 0) {
			i++;
		} else if (op == 1 && HDR_SUB_OP(dw[i]) == 0 && i + 7 <= ndw) {
			uint64_t n = (dw[i + 1] & ((1ULL << count_bits) - 1)) + 1;
			uint64_t src = dw[i + 3] | (uint64_t)dw[i + 4] << 32;
			uint64_t dst = dw[i + 5] | (uint64_t)dw[i + 6] << 32;

			if (src > mem_size || n > mem_size - src || dst > mem_size ||
			    n > mem_size - dst)
				return -1;
			memmove(mem + dst, mem + src, n);
			i += 7;
		} else if (op == 11 && i + 5 <= ndw) {
			uint64_t dst = dw[i + 1] | (uint64_t)dw[i + 2] << 32;
			uint64_t n = (uint64_t)dw[i + 4] + 1, k;

			if (CONST_FILL_FILLSIZE(dw[i]) != 2 || (n & 3) || dst > mem_size ||
			    n > mem_size - dst)
				return -1;
			for (k = 0; k < n; k += 4)
				memcpy(mem + dst + k, &dw[i + 3], 4);
			i += 5;
		} else {
			return -1;
		}
	}
	return 0;
}

/* EXPECT: random sizes and alignments: the emitted packets move exactly the requested bytes. */
static void test_copy_interpreted(void)
{
	/* A made-up generation with a tiny limit, so splits happen at test sizes. */
	const struct sdma_gen tiny = {
		.name = "tiny",
		.copy_max_bytes = 768,
		.fill_max_bytes = 516,
		.count_bits = 22,
		.ib_pad_dw = 16,
		.ib_align_bytes = 256,
	};
	enum { MEM = 1 << 16, HALF = MEM / 2 };
	uint8_t *mem = malloc(MEM), *expect = malloc(MEM);
	uint32_t buf[512];
	unsigned int iter, fails = 0;

	srand(1234);
	for (iter = 0; iter < 500 && mem && expect; iter++) {
		struct sdma_cs cs = { buf, 0, 512 };
		uint64_t src = rand() % (HALF - 4096), dst = HALF + rand() % (HALF - 4096);
		uint64_t size = 1 + rand() % 4000, done = 0, k;
		uint32_t value = (uint32_t)rand();

		for (k = 0; k < MEM; k++)
			mem[k] = (uint8_t)rand();
		memcpy(expect, mem, MEM);
		memcpy(expect + dst, mem + src, size);
		while (done < size) {
			uint64_t n = sdma_emit_copy_linear(&cs, &tiny, dst + done, src + done,
							   size - done);
			if (!n)
				break;
			done += n;
		}
		CHECK_EQ_INT(done, size);
		CHECK(cs.cdw <= sdma_copy_linear_dw(&tiny, size));

		/* Then a fill over an aligned range right after the copy. */
		k = (dst + size + 3) & ~3ULL;
		size = 4 * (1 + rand() % 600);
		if (k + size > MEM)
			size = 0;
		for (done = 0; done < size;) {
			uint64_t n = sdma_emit_const_fill(&cs, &tiny, k + done, size - done, value);
			if (!n)
				break;
			CHECK(n <= 516);
			done += n;
		}
		CHECK_EQ_INT(done, size);
		for (done = 0; done < size; done += 4)
			memcpy(expect + k + done, &value, 4);

		CHECK_EQ_INT(sdma_pad_ib(&cs, &tiny), 0);
		CHECK_EQ_INT(cs.cdw % 16, 0);
		CHECK_EQ_INT(run_packets(buf, cs.cdw, mem, MEM, tiny.count_bits), 0);
		if (memcmp(mem, expect, MEM))
			fails++;
	}
	CHECK(mem && expect);
	CHECK_EQ_INT(fails, 0);
	free(mem);
	free(expect);
}

int main(void)
{
	test_gen_table();
	test_copy_linear_layout();
	test_copy_linear_split();
	test_const_fill();
	test_nop_pad();
	test_copy_interpreted();
	return test_finish("test_sdma_packet");
}
