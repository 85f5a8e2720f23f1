// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * plugin_hsakmt_shm on a folder standing in for a task's root: what a dump
 * keeps of libhsakmt's shared memory, and what a restore creates from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin_hsakmt_shm.h"
#include "test_common.h"

static char root[128]; /* short, so every path below fits */

static void path_of(const char *rel, char *out, size_t len)
{
	snprintf(out, len, "%s%s", root, rel);
}

static void write_file(const char *rel, const void *buf, size_t len, mode_t mode)
{
	char p[PATH_MAX];
	int fd;

	path_of(rel, p, sizeof(p));
	fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, buf, len) == (ssize_t)len);
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

static void test_absent(void)
{
	Vramstream__HsakmtShm s;
	char why[256];

	/* EXPECT: no file, nothing to keep */
	CHECK_EQ_INT(hsakmt_shm_save(root, &s, why, sizeof(why)), 0);
}

static void test_round_trip(void)
{
	const uint32_t table[2] = { 0x54415348, 6 }; /* magic4cc, slots left */
	Vramstream__HsakmtShm s, again;
	char p[PATH_MAX], why[256];
	struct stat st;
	uint32_t back[2];
	sem_t *sem;
	int fd;

	write_file(HSAKMT_SHM_PATH, table, sizeof(table), 0644);
	write_file(HSAKMT_SEM_PATH, "x", 1, 0640);
	/* EXPECT: the dump keeps size, mode, bytes, and that the semaphore existed */
	CHECK_EQ_INT(hsakmt_shm_save(root, &s, why, sizeof(why)), 1);
	CHECK_EQ_INT(s.size, sizeof(table));
	CHECK_EQ_INT(s.mode, 0644);
	CHECK_EQ_INT(s.contents.len, sizeof(table));
	CHECK(s.has_semaphore && s.semaphore);
	CHECK_EQ_INT(s.sem_mode, 0640);

	/* EXPECT: both present: the restore leaves them alone */
	CHECK_EQ_INT(hsakmt_shm_restore(root, &s, why, sizeof(why)), 0);

	/* EXPECT: both gone: both made, with the saved mode, size and bytes */
	path_of(HSAKMT_SHM_PATH, p, sizeof(p));
	unlink(p);
	path_of(HSAKMT_SEM_PATH, p, sizeof(p));
	unlink(p);
	CHECK_EQ_INT(hsakmt_shm_restore(root, &s, why, sizeof(why)),
		     HSAKMT_SHM_MADE_FILE | HSAKMT_SHM_MADE_SEM);
	path_of(HSAKMT_SHM_PATH, p, sizeof(p));
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0644 && st.st_size == sizeof(table));
	fd = open(p, O_RDONLY);
	CHECK(fd >= 0 && read(fd, back, sizeof(back)) == sizeof(back));
	close(fd);
	CHECK(!memcmp(back, table, sizeof(table)));
	/* EXPECT: the semaphore is a pshared sem_t of value 1, as sem_open made it */
	path_of(HSAKMT_SEM_PATH, p, sizeof(p));
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0640 && st.st_size == sizeof(sem_t));
	fd = open(p, O_RDWR);
	sem = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(sem != MAP_FAILED);
	if (sem != MAP_FAILED) {
		int v = -1;

		CHECK(sem_getvalue(sem, &v) == 0 && v == 1);
		CHECK(sem_trywait(sem) == 0 && sem_trywait(sem) == -1 && errno == EAGAIN);
		munmap(sem, sizeof(sem_t));
	}
	close(fd);
	/* EXPECT: what it made reads back as what was saved */
	CHECK_EQ_INT(hsakmt_shm_save(root, &again, why, sizeof(why)), 1);
	CHECK_EQ_INT(again.size, s.size);
	CHECK_EQ_INT(again.mode, s.mode);
	CHECK(again.contents.len == s.contents.len &&
	      !memcmp(again.contents.data, s.contents.data, s.contents.len));
	hsakmt_shm_release(&again);

	/* EXPECT: contents longer than the size come from a damaged image: refused */
	s.size = 2;
	path_of(HSAKMT_SHM_PATH, p, sizeof(p));
	unlink(p);
	CHECK_EQ_INT(hsakmt_shm_restore(root, &s, why, sizeof(why)), -EINVAL);
	CHECK(access(p, F_OK) != 0);
	hsakmt_shm_release(&s);
}

int main(void)
{
	char cmd[256];

	snprintf(root, sizeof(root), "/tmp/vramstream-hsakmt-XXXXXX");
	if (!mkdtemp(root))
		return 1;
	snprintf(cmd, sizeof(cmd), "%s/dev", root);
	mkdir(cmd, 0755);
	snprintf(cmd, sizeof(cmd), "%s/dev/shm", root);
	mkdir(cmd, 01777);
	test_absent();
	test_round_trip();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", root);
	return test_finish("plugin_hsakmt_shm");
}
