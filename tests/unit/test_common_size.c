// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: the one size dialect (common/common_size.h) that the plugin's
 * settings, vramstream-img, vramstream-bench, the emulator daemon and the
 * sample workload all read: decimal or 0x, K/M/G/T with optional B or iB;
 * nothing else, and nothing past 2^64 - 1.
 */
#include <errno.h>
#include <stdint.h>

#include "common_size.h"
#include "test_common.h"

int main(void)
{
	uint64_t v = 0;

	CHECK(common_size_parse("4096", &v) == 0 && v == 4096);
	CHECK(common_size_parse("0x1000", &v) == 0 && v == 4096);
	CHECK(common_size_parse("010", &v) == 0 && v == 10); /* not octal */
	CHECK(common_size_parse("64K", &v) == 0 && v == 65536);
	CHECK(common_size_parse("64k", &v) == 0 && v == 65536);
	CHECK(common_size_parse("8M", &v) == 0 && v == 8u << 20);
	CHECK(common_size_parse("8MB", &v) == 0 && v == 8u << 20);
	CHECK(common_size_parse("8mib", &v) == 0 && v == 8u << 20);
	CHECK(common_size_parse("1GiB", &v) == 0 && v == 1u << 30);
	CHECK(common_size_parse("2T", &v) == 0 && v == 2ull << 40);
	CHECK(common_size_parse("0", &v) == 0 && v == 0);
	CHECK_EQ_INT(common_size_parse("", &v), -EINVAL);
	CHECK_EQ_INT(common_size_parse(NULL, &v), -EINVAL);
	CHECK_EQ_INT(common_size_parse("-1", &v), -EINVAL);
	CHECK_EQ_INT(common_size_parse(" 1", &v), -EINVAL);
	CHECK_EQ_INT(common_size_parse("1 ", &v), -EINVAL);
	CHECK_EQ_INT(common_size_parse("1.5G", &v), -EINVAL);
	CHECK_EQ_INT(common_size_parse("12Q", &v), -EINVAL);
	CHECK_EQ_INT(common_size_parse("8MX", &v), -EINVAL);
	CHECK_EQ_INT(common_size_parse("M", &v), -EINVAL);
	CHECK_EQ_INT(common_size_parse("99999999999999999999", &v), -ERANGE);
	CHECK_EQ_INT(common_size_parse("17179869184G", &v), -ERANGE);
	CHECK(common_size_parse("16777215T", &v) == 0 && v == 16777215ull << 40);
	return test_finish("test_common_size");
}
