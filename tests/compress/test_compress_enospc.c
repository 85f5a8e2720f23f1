/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A real full filesystem: mounts a 1 MiB tmpfs (needs root; skipped, exit 77,
 * without), streams 4 MiB of random data into it with and without O_DIRECT
 * and preallocation, and expects -ENOSPC with a message naming the file and
 * no file left behind. 512 KiB of random data, which fit although a whole
 * preallocation step does not, succeed; so do 64 MiB of zeros (an index).
 * The writer never preallocates on tmpfs, so the same runs go on a 2 MiB
 * ext4 on a loop device too, where it does (skipped, with a note, where
 * mkfs.ext4 or loop devices are missing).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include "compress.h"
#include "test_common.h"
#include "test_compress_data.h"

static void done(void *cookie, int status)
{
	(*(unsigned int *)cookie)++;
}

static unsigned int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	unsigned int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.' && strcmp(de->d_name, "lost+found") != 0;
	if (d)
		closedir(d);
	return n;
}

static int stream(const char *path, const uint8_t *data, uint64_t len, int mode,
		  struct compress_err *err)
{
	struct compress_writer_opts o;
	struct compress_writer *w;
	unsigned int returned = 0, pushed = 0;
	int ret;

	compress_writer_opts_default(&o);
	o.direct_io = mode & 1;
	o.prealloc_off = mode & 2;
	o.chunk_size = 256 << 10;
	o.fsync = true;
	o.workers = 2;
	o.queue_depth = 3;
	ret = compress_writer_new(path, &o, &w, err);
	if (ret < 0)
		return ret;
	/* EXPECT: a new writer has room for its whole queue: workers + staging */
	CHECK_EQ_INT(compress_writer_room(w), 5);
	for (uint64_t pos = 0; pos < len; pos += 1 << 20) {
		pushed++;
		if (compress_writer_push(w, data + pos, 1 << 20, 3, pos, done, &returned) < 0)
			break;
	}
	ret = compress_writer_finish(w, NULL, err);
	/* EXPECT: a failed stream offers no room, so no caller waits on it */
	if (ret < 0)
		CHECK_EQ_INT(compress_writer_room(w), 0);
	compress_writer_free(w);
	CHECK_EQ_INT(returned, pushed);
	return ret;
}

/* The whole sequence on the full filesystem mounted at dir. */
static void full_fs(const char *dir, uint8_t *data, uint8_t *out)
{
	struct compress_err err;
	struct compress_reader *r;
	char path[300];

	printf("== %s\n", dir);
	snprintf(path, sizeof(path), "%s/full.vrs", dir);
	td_fill(TD_RANDOM, data, 4 << 20, 1);
	for (int mode = 0; mode < 4; mode++) {
		int ret = stream(path, data, 4 << 20, mode, &err);

		/* EXPECT: ENOSPC, the file named, nothing left in the folder */
		printf("mode %d: %d %s\n", mode, ret, err.msg);
		CHECK_EQ_INT(ret, -ENOSPC);
		CHECK(strstr(err.msg, path) != NULL);
		CHECK(strstr(err.msg, "No space left") != NULL);
		CHECK_EQ_INT(count_entries(dir), 0);
	}
	/* EXPECT: 512 KiB of random data fit, with preallocation on, although one
	 * preallocation step (64 MiB) does not: the writer stops asking ahead
	 * instead of failing a stream that fits. Read back byte for byte. */
	for (int mode = 0; mode < 2; mode++) {
		struct compress_writer_opts o;
		struct compress_writer *w;
		unsigned int returned = 0;
		uint8_t *back = malloc(512 << 10);

		compress_writer_opts_default(&o);
		o.direct_io = mode & 1;
		o.chunk_size = 256 << 10;
		int ret = compress_writer_new(path, &o, &w, &err);

		if (!ret) {
			ret = compress_writer_push(w, data, 512 << 10, 9, 0, done, &returned);
			ret = compress_writer_finish(w, NULL, &err) ?: ret;
			compress_writer_free(w);
		}
		printf("fits, mode %d: %d %s\n", mode, ret, ret ? err.msg : "");
		CHECK_EQ_INT(ret, 0);
		if (!ret && !compress_reader_open(path, NULL, &r, &err)) {
			CHECK_EQ_INT(compress_reader_read_sync(r, 0, back, 256 << 10, &err), 0);
			CHECK_EQ_INT(compress_reader_read_sync(r, 1, back + (256 << 10), 256 << 10,
							       &err),
				     0);
			CHECK(memcmp(back, data, 512 << 10) == 0);
			compress_reader_free(r);
		} else {
			CHECK(!"the stream that fits reads back");
		}
		unlink(path);
		free(back);
	}
	/* EXPECT: zeros take no room, so 64 MiB of them fit in 1 MiB and read back as zeros */
	memset(data, 0, 64 << 20);
	CHECK_EQ_INT(stream(path, data, 64 << 20, 1, &err), 0);
	CHECK_EQ_INT(compress_reader_open(path, NULL, &r, &err), 0);
	CHECK_EQ_INT(compress_reader_chunk_count(r), 256);
	memset(out, 0xa5, 256 << 10);
	CHECK_EQ_INT(compress_reader_read_sync(r, 255, out, 256 << 10, &err), 0);
	CHECK(out[0] == 0 && out[(256 << 10) - 1] == 0);
	compress_reader_free(r);
	unlink(path);
}

int main(void)
{
	char dir[] = "/tmp/compress-enospc-XXXXXX", cmd[512];
	uint8_t *data = malloc(64 << 20);
	uint8_t *out = malloc(256 << 10);

	if (!mkdtemp(dir))
		return 1;
	if (mount("compress-enospc", dir, "tmpfs", 0, "size=1m,mode=0700")) {
		fprintf(stderr, "cannot mount a tmpfs (%s): skipped\n", strerror(errno));
		rmdir(dir);
		return 77;
	}
	full_fs(dir, data, out);
	CHECK_EQ_INT(umount(dir), 0);

	/* ext4 without a journal, so almost all of its 2 MiB hold data */
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 2M %s.img && mkfs.ext4 -q -F -O ^has_journal %s.img && "
		 "mount -o loop %s.img %s",
		 dir, dir, dir, dir);
	if (system(cmd) == 0) {
		full_fs(dir, data, out);
		CHECK_EQ_INT(umount(dir), 0);
	} else {
		printf("no ext4 on a loop device here: the preallocating runs were skipped\n");
	}
	snprintf(cmd, sizeof(cmd), "%s.img", dir);
	unlink(cmd);
	rmdir(dir);
	free(data);
	free(out);
	return test_finish("compress_enospc");
}
