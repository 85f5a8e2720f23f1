// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: image metadata round-trips with 64-bit sizes intact; a foreign
 * format version and garbage bytes are refused with a reason.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "plugin_image.h"
#include "test_common.h"

static void test_round_trip(void)
{
	Vramstream__ProcessImage img = VRAMSTREAM__PROCESS_IMAGE__INIT;
	Vramstream__BoEntry bo = VRAMSTREAM__BO_ENTRY__INIT;
	Vramstream__BoEntry *bos[] = { &bo };
	Vramstream__ProcessImage *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[256] = "";

	img.pid = 4242;
	bo.addr = 0x7f0000000000ull;
	bo.size = 200ull << 30; /* an MI300-sized BO: beyond 32 bits */
	bo.offset = 0x123456789ull;
	bo.gpu_id = 0xbeef;
	bo.alloc_flags = 1;
	img.n_bos = 1;
	img.bos = bos;

	CHECK_EQ_INT(plugin_image_encode(&img, &buf, &len), 0);
	CHECK(len > 0);
	CHECK_EQ_INT(plugin_image_decode(buf, len, &back, why, sizeof(why)), 0);
	if (back) {
		CHECK_EQ_INT(back->format_version, VRAMSTREAM_FORMAT_VERSION);
		CHECK_EQ_INT(back->pid, 4242);
		CHECK_EQ_INT(back->n_bos, 1);
		CHECK(back->bos[0]->size == 200ull << 30);
		CHECK(back->bos[0]->addr == 0x7f0000000000ull);
		CHECK(back->bos[0]->offset == 0x123456789ull);
		CHECK_EQ_INT(back->bos[0]->gpu_id, 0xbeef);
	}
	plugin_image_free(back);
	free(buf);
}

static void test_foreign_version(void)
{
	Vramstream__ProcessImage img = VRAMSTREAM__PROCESS_IMAGE__INIT;
	Vramstream__ProcessImage *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[256] = "";

	CHECK_EQ_INT(plugin_image_encode(&img, &buf, &len), 0);
	/* Re-pack with a version from the future, as a newer release would. */
	free(buf);
	img.format_version = VRAMSTREAM_FORMAT_VERSION + 1;
	len = vramstream__process_image__get_packed_size(&img);
	buf = malloc(len);
	vramstream__process_image__pack(&img, buf);

	CHECK_EQ_INT(plugin_image_decode(buf, len, &back, why, sizeof(why)), -EPROTONOSUPPORT);
	CHECK(back == NULL);
	CHECK(strstr(why, "format version 2") != NULL);
	free(buf);
}

static void test_garbage(void)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x42 };
	Vramstream__ProcessImage *back = NULL;
	char why[256] = "";

	CHECK_EQ_INT(plugin_image_decode(junk, sizeof(junk), &back, why, sizeof(why)), -EINVAL);
	CHECK(back == NULL);
	CHECK(strstr(why, "do not parse") != NULL);
	/* Truncated input: no required fields at all. */
	CHECK_EQ_INT(plugin_image_decode(junk, 0, &back, why, sizeof(why)), -EINVAL);
}

int main(void)
{
	test_round_trip();
	test_foreign_version();
	test_garbage();
	return test_finish("test_plugin_image");
}
