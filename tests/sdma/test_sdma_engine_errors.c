// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sdma_engine failure paths that need no GPU: a missing render node and a
 * file that is not a DRM device must fail with an errno and a message that
 * names the object and the failing call.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "sdma_engine.h"
#include "test_common.h"

static char last_msg[512];
static int nmsg;

static void record(void *opaque, const char *msg)
{
	(void)opaque;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
	nmsg++;
}

int main(void)
{
	struct sdma_engine_config cfg = { .debug = record };
	struct sdma_engine *e = (struct sdma_engine *)&cfg;
	int fd, r;

	/* EXPECT: a render minor that does not exist: -ENOENT, message names the node. */
	r = sdma_engine_open(251, &cfg, &e);
	CHECK_EQ_INT(r, -ENOENT);
	CHECK(e == NULL);
	CHECK_EQ_INT(nmsg, 1);
	CHECK(strstr(last_msg, "/dev/dri/renderD251") != NULL);

	/* EXPECT: /dev/null is no amdgpu device: an error naming amdgpu_device_initialize. */
	fd = open("/dev/null", O_RDWR);
	CHECK(fd >= 0);
	e = (struct sdma_engine *)&cfg;
	r = sdma_engine_new(fd, &cfg, &e);
	CHECK(r < 0);
	CHECK(e == NULL);
	CHECK_EQ_INT(nmsg, 2);
	CHECK(strstr(last_msg, "amdgpu_device_initialize") != NULL);
	CHECK(fcntl(fd, F_GETFD) >= 0); /* the caller's fd is still open */
	close(fd);

	sdma_engine_free(NULL);
	return test_finish("test_sdma_engine_errors");
}
