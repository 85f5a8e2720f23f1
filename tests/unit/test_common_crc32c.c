// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: common_crc32c() gives RFC 3720's CRC32C test values (appendix
 * B.4) and the same checksum as compress/'s fast one, for any length and
 * alignment and when continued over pieces.
 */
#include <stdint.h>
#include <string.h>

#include "common_crc32c.h"
#include "compress.h"
#include "test_common.h"

int main(void)
{
	uint8_t buf[4096 + 64];

	memset(buf, 0, 32);
	CHECK(common_crc32c(0, buf, 32) == 0x8a9136aa);
	memset(buf, 0xff, 32);
	CHECK(common_crc32c(0, buf, 32) == 0x62a8ab43);
	CHECK(common_crc32c(0, "123456789", 9) == 0xe3069283);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 7));
	for (size_t len = 0; len < sizeof(buf) - 8; len += 97) {
		for (size_t off = 0; off < 8; off++) {
			uint32_t a = common_crc32c(0, buf + off, len);

			CHECK(a == (uint32_t)compress_checksum(buf + off, len));
			CHECK(a == common_crc32c(common_crc32c(0, buf + off, len / 3),
						 buf + off + len / 3, len - len / 3));
		}
	}
	return test_finish("test_common_crc32c");
}
