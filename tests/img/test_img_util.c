// SPDX-License-Identifier: GPL-2.0-or-later
/* vramstream-img's pure helpers: JSON, tables, sizes, the content digest, coverage, tune model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "img_util.h"
#include "test_common.h"

static char *capture(void (*fn)(FILE *f, void *ctx), void *ctx)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fn(f, ctx);
	fclose(f);
	return buf;
}

static void json_doc(FILE *f, void *ctx)
{
	struct img_json j;

	(void)ctx;
	img_json_init(&j, f);
	img_json_obj_begin(&j, NULL);
	img_json_str(&j, "name", "a\"b\\c\n\x01");
	img_json_arr_begin(&j, "list");
	img_json_u64(&j, NULL, 18446744073709551615ull);
	img_json_i64(&j, NULL, -5);
	img_json_double(&j, NULL, INFINITY);
	img_json_bool(&j, NULL, true);
	img_json_arr_end(&j);
	img_json_arr_begin(&j, "empty");
	img_json_arr_end(&j);
	img_json_obj_end(&j);
}

/* EXPECT: escapes, nesting, separators and non-finite numbers as null. */
static void test_json(void)
{
	char *s = capture(json_doc, NULL);

	CHECK(!strcmp(s, "{\n"
			 "  \"name\": \"a\\\"b\\\\c\\n\\u0001\",\n"
			 "  \"list\": [\n"
			 "    18446744073709551615,\n"
			 "    -5,\n"
			 "    null,\n"
			 "    true\n"
			 "  ],\n"
			 "  \"empty\": []\n"
			 "}\n"));
	free(s);
}

static void table_doc(FILE *f, void *ctx)
{
	struct img_table t;

	(void)ctx;
	img_table_init(&t, "lr", "NAME", "N");
	img_table_cell(&t, "alpha");
	img_table_cell(&t, "%d", 1);
	img_table_cell(&t, "b");
	img_table_cell(&t, "%d", 12345);
	img_table_print(&t, f, 2);
	img_table_free(&t);
}

/* EXPECT: columns as wide as their widest cell, left/right aligned. */
static void test_table(void)
{
	char *s = capture(table_doc, NULL);

	CHECK(!strcmp(s, "  NAME       N\n"
			 "  alpha      1\n"
			 "  b      12345\n"));
	free(s);
}

/* EXPECT: bytes format in binary units (sizes parse in tests/unit/test_common_size.c). */
static void test_sizes(void)
{
	char b[32];

	CHECK(!strcmp(img_fmt_bytes(b, sizeof(b), 812), "812 B"));
	CHECK(!strcmp(img_fmt_bytes(b, sizeof(b), 5u << 20), "5.00 MiB"));
	CHECK(!strcmp(img_fmt_bytes(b, sizeof(b), 300ull << 30), "300 GiB"));
	CHECK(!strcmp(img_fmt_level(b, sizeof(b), COMPRESS_LEVEL_OFF), "off"));
	CHECK(!strcmp(img_fmt_level(b, sizeof(b), -5), "-5"));
}

/* EXPECT: the digest of a buffer equals the sum over any split, at any offset; one changed
 * byte or two swapped words change it. */
static void test_digest(void)
{
	enum { N = 1 << 16 };
	uint8_t *buf = malloc(N);
	uint64_t whole, parts, x = 12345;

	for (size_t i = 0; i < N; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		buf[i] = (uint8_t)(x >> 56);
	}
	whole = img_digest_piece(0, buf, N);
	for (size_t cut = 1; cut < 200; cut += 7) {
		parts = img_digest_piece(0, buf, cut) + img_digest_piece(cut, buf + cut, N - cut);
		CHECK(parts == whole);
	}
	parts = 0;
	for (size_t off = 0; off < N; off += 4093) {
		size_t len = N - off < 4093 ? N - off : 4093;

		parts += img_digest_piece(off, buf + off, len);
	}
	CHECK(parts == whole);
	/* the same bytes at another offset are another object's bytes */
	CHECK(img_digest_piece(8, buf, 64) != img_digest_piece(0, buf, 64));
	buf[777] ^= 0x10;
	CHECK(img_digest_piece(0, buf, N) != whole);
	buf[777] ^= 0x10;
	{
		uint8_t w[8];

		memcpy(w, buf + 64, 8);
		memcpy(buf + 64, buf + 128, 8);
		memcpy(buf + 128, w, 8);
		CHECK(memcmp(buf + 64, buf + 128, 8) == 0 || img_digest_piece(0, buf, N) != whole);
	}
	free(buf);
}

/* EXPECT: exact coverage passes; gaps, overlaps, chunks past the end and a missing tail are
 * each reported with their offsets and chunk. */
static void test_cover(void)
{
	struct img_cover_problem p[8];
	struct img_extent ok[] = { { 4096, 4096, 1 }, { 0, 4096, 0 }, { 8192, 100, 2 } };
	struct img_extent bad[] = { { 0, 4096, 0 }, { 8192, 4096, 1 }, { 10000, 4096, 2 } };

	CHECK_EQ_INT(img_cover_check(ok, 3, 8292, p, 8), 0);
	CHECK_EQ_INT(img_cover_check(ok, 3, 9000, p, 8), 1);
	CHECK(p[0].kind == IMG_COVER_GAP && p[0].offset == 8292 && p[0].len == 708 &&
	      p[0].chunk == UINT64_MAX);
	CHECK_EQ_INT(img_cover_check(bad, 3, 14000, p, 8), 3);
	CHECK(p[0].kind == IMG_COVER_GAP && p[0].offset == 4096 && p[0].len == 4096 &&
	      p[0].chunk == 1);
	CHECK(p[1].kind == IMG_COVER_OVERLAP && p[1].offset == 10000 && p[1].len == 2288 &&
	      p[1].chunk == 2);
	CHECK(p[2].kind == IMG_COVER_BEYOND && p[2].chunk == 2);
	CHECK_EQ_INT(img_cover_check(NULL, 0, 0, p, 8), 0);
	CHECK_EQ_INT(img_cover_check(NULL, 0, 10, p, 8), 1);
}

/* EXPECT: prediction follows max(CPU, storage); the front holds exactly the undominated
 * points; the recommendation is the smallest image within 5% of the fastest checkpoint. */
static void test_model(void)
{
	struct img_tune_point p[4] = {
		/* fast, big */
		{ .sample_raw = 1000,
		  .sample_stored = 1000,
		  .compress_s = 1e-7,
		  .decompress_s = 1e-7 },
		/* slower, small */
		{ .sample_raw = 1000,
		  .sample_stored = 500,
		  .compress_s = 1e-6,
		  .decompress_s = 2e-7 },
		/* slow and big: dominated */
		{ .sample_raw = 1000,
		  .sample_stored = 900,
		  .compress_s = 2e-6,
		  .decompress_s = 1e-6 },
		/* about as fast as the fastest, smaller */
		{ .sample_raw = 1000,
		  .sample_stored = 800,
		  .compress_s = 1e-7,
		  .decompress_s = 1e-7 },
	};

	/* 1e9-byte image, 1 GB/s storage: writing dominates every setting */
	img_model_predict(p, 4, 1000000000ull, 1.0);
	CHECK(fabs(p[0].ratio - 1.0) < 1e-9 && fabs(p[1].ratio - 2.0) < 1e-9);
	CHECK(fabs(p[0].compress_gbps - 10.0) < 1e-6);
	CHECK(fabs(p[0].dump_s - 1.0) < 1e-9); /* 1e9 stored bytes at 1 GB/s */
	CHECK(fabs(p[1].dump_s - 1.0) < 1e-9); /* CPU: 1e9 / 1e9 B/s = 1 s, storage 0.5 s */
	CHECK(fabs(p[1].image_stored - 5e8) < 1);
	CHECK(fabs(p[3].dump_s - 0.8) < 1e-9);
	img_model_pareto(p, 4);
	CHECK(!p[0].pareto && !p[2].pareto);
	CHECK(p[1].pareto && p[3].pareto);
	CHECK_EQ_INT(img_model_recommend(p, 4), 3);
	CHECK(p[3].recommended && !p[1].recommended);
	/* much faster storage: CPU dominates, the fastest compressor wins */
	img_model_predict(p, 4, 1000000000ull, 100.0);
	img_model_pareto(p, 4);
	CHECK_EQ_INT(img_model_recommend(p, 4), 3);
	CHECK(p[0].pareto == false); /* same speed as 3, bigger */
	CHECK_EQ_INT(img_model_recommend(p, 0), -1);
}

int main(void)
{
	test_json();
	test_table();
	test_sizes();
	test_digest();
	test_cover();
	test_model();
	return test_finish("img_util");
}
