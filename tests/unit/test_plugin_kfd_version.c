// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: the KFD ioctl version check accepts 1.8 and newer 1.x, refuses
 * 1.7 (CRIU ioctls without GTT dmabufs), 1.6 (no CRIU ioctls) and another
 * major version with a message naming the kernel's version, the one needed
 * and the kernel that has it, and passes a failing GET_VERSION on.
 *
 * The KFD is this file's ioctl(), which the plugin's static library calls
 * instead of libc's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "plugin_kfd.h"
#include "test_common.h"

static uint32_t kfd_major, kfd_minor;
static int kfd_errno;
static unsigned int calls;

int ioctl(int fd, unsigned long request, ...)
{
	struct kfd_ioctl_get_version_args *a;
	va_list ap;

	(void)fd;
	calls++;
	va_start(ap, request);
	a = va_arg(ap, struct kfd_ioctl_get_version_args *);
	va_end(ap);
	if (request != AMDKFD_IOC_GET_VERSION || kfd_errno) {
		errno = kfd_errno ? kfd_errno : ENOTTY;
		return -1;
	}
	a->major_version = kfd_major;
	a->minor_version = kfd_minor;
	return 0;
}

static int check(uint32_t major, uint32_t minor, char *why, size_t len)
{
	kfd_major = major;
	kfd_minor = minor;
	why[0] = '\0';
	return kfd_check_version(3, why, len);
}

int main(void)
{
	char why[512];

	CHECK_EQ_INT(check(1, 8, why, sizeof(why)), 0);
	CHECK_EQ_INT(check(1, 11, why, sizeof(why)), 0);
	CHECK_EQ_INT(check(1, 7, why, sizeof(why)), -EPROTONOSUPPORT);
	CHECK(strstr(why, "1.7") && strstr(why, "1.8 or newer") && strstr(why, "Linux"));
	printf("refused: %s\n", why);
	CHECK_EQ_INT(check(1, 6, why, sizeof(why)), -EPROTONOSUPPORT);
	CHECK(strstr(why, "version 1.6"));
	CHECK_EQ_INT(check(2, 0, why, sizeof(why)), -EPROTONOSUPPORT);
	CHECK(strstr(why, "version 2.0"));
	kfd_errno = EBADF;
	CHECK_EQ_INT(check(1, 11, why, sizeof(why)), -EBADF);
	CHECK(strstr(why, "GET_VERSION"));
	CHECK(calls == 6);
	return test_finish("plugin_kfd_version");
}
