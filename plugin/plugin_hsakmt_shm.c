// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common_io.h"
#include "plugin_hsakmt_shm.h"

/* The first bytes of libhsakmt's table: magic4cc (perfctr.c, struct perf_shared_table). */
#define HSAKMT_SHM_MAGIC_BYTES 4

static int save_semaphore(const char *root, Vramstream__HsakmtShm *out)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s" HSAKMT_SEM_PATH, root);
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISREG(st.st_mode))
		return 0;
	out->has_semaphore = out->semaphore = 1;
	out->has_sem_mode = 1;
	out->sem_mode = st.st_mode & 07777;
	out->has_sem_uid = out->has_sem_gid = 1;
	out->sem_uid = st.st_uid;
	out->sem_gid = st.st_gid;
	return 0;
}

int hsakmt_shm_save(const char *root, Vramstream__HsakmtShm *out, char *why, size_t why_len)
{
	char path[PATH_MAX];
	struct stat st;
	uint8_t *buf = NULL;
	size_t n;
	int fd, r;

	vramstream__hsakmt_shm__init(out);
	snprintf(path, sizeof(path), "%s" HSAKMT_SHM_PATH, root);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		snprintf(why, why_len, "cannot open %s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st)) {
		r = -errno;
		snprintf(why, why_len, "cannot stat %s: %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(why, why_len, "%s is not a regular file", path);
		goto out;
	}
	out->size = (uint64_t)st.st_size;
	out->mode = st.st_mode & 07777;
	out->has_uid = out->has_gid = 1;
	out->uid = st.st_uid;
	out->gid = st.st_gid;
	n = out->size <= HSAKMT_SHM_CONTENTS_MAX ? (size_t)out->size : HSAKMT_SHM_MAGIC_BYTES;
	buf = malloc(n ? n : 1);
	if (!buf) {
		r = -ENOMEM;
		snprintf(why, why_len, "out of memory for %zu bytes of %s", n, path);
		goto out;
	}
	r = common_read_all(fd, buf, n, 0);
	if (r) {
		snprintf(why, why_len, "cannot read %s: %s", path, strerror(-r));
		goto out;
	}
	out->has_contents = 1;
	out->contents.len = n;
	out->contents.data = buf;
	buf = NULL;
	r = save_semaphore(root, out);
	if (r)
		snprintf(why, why_len, "cannot stat %s" HSAKMT_SEM_PATH ": %s", root, strerror(-r));
out:
	free(buf);
	close(fd);
	if (r) {
		hsakmt_shm_release(out);
		return r;
	}
	return 1;
}

void hsakmt_shm_release(Vramstream__HsakmtShm *s)
{
	free(s->contents.data);
	s->contents.data = NULL;
	s->contents.len = 0;
	s->has_contents = 0;
}

/* The shared table: its size, then its saved bytes. */
static int fill_table(int fd, const Vramstream__HsakmtShm *s)
{
	size_t n = s->has_contents ? s->contents.len : 0;

	if (n > s->size)
		return -EINVAL; /* a damaged image could not have been checksummed right */
	if (ftruncate(fd, (off_t)s->size))
		return -errno;
	return common_write_all(fd, s->contents.data, n, 0);
}

/* A pshared semaphore of value 1, as sem_open(O_CREAT, mode, 1) initialises one (glibc
 * sem_open.c: the file holds the sem_t itself). */
static int fill_semaphore(int fd, const Vramstream__HsakmtShm *s)
{
	sem_t *sem;
	int r = 0;

	(void)s;
	if (ftruncate(fd, sizeof(sem_t)))
		return -errno;
	sem = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sem == MAP_FAILED)
		return -errno;
	if (sem_init(sem, 1, 1))
		r = -errno;
	munmap(sem, sizeof(sem_t));
	return r;
}

/*
 * Creates @path whole or not at all: a temporary file beside it, filled,
 * given @mode and the owner, then linked to its name (glibc's sem_open does
 * the same, so no process ever opens a half-made file). Another process that
 * created @path meanwhile wins: returns 0 then, 1 when we made it.
 */
static int make_whole(const char *path, uint32_t mode, bool has_owner, uint32_t uid, uint32_t gid,
		      int (*fill)(int fd, const Vramstream__HsakmtShm *s),
		      const Vramstream__HsakmtShm *s, char *why, size_t why_len)
{
	char tmp[PATH_MAX];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.vramstream-XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(why, why_len, "cannot create %s: %s", tmp, strerror(-r));
		return r;
	}
	r = fill(fd, s);
	if (r) {
		snprintf(why, why_len, "cannot fill %s: %s", tmp, strerror(-r));
		goto out;
	}
	/* criu compares the reopened file's mode with the saved one (open_path). */
	if (fchmod(fd, mode & 07777)) {
		r = -errno;
		snprintf(why, why_len, "cannot chmod %s: %s", tmp, strerror(-r));
		goto out;
	}
	/* Only root may give a file away; anyone may use it at libhsakmt's 0666. */
	if (has_owner && fchown(fd, uid, gid) && errno != EPERM) {
		r = -errno;
		snprintf(why, why_len, "cannot chown %s: %s", tmp, strerror(-r));
		goto out;
	}
	if (link(tmp, path)) {
		r = errno == EEXIST ? 0 : -errno;
		if (r)
			snprintf(why, why_len, "cannot create %s: %s", path, strerror(-r));
		goto out;
	}
	r = 1;
out:
	unlink(tmp);
	close(fd);
	return r;
}

int hsakmt_shm_restore(const char *root, const Vramstream__HsakmtShm *s, char *why, size_t why_len)
{
	char path[PATH_MAX];
	int made = 0, r;

	snprintf(path, sizeof(path), "%s" HSAKMT_SHM_PATH, root);
	if (access(path, F_OK)) {
		r = make_whole(path, s->mode, s->has_uid && s->has_gid, s->uid, s->gid, fill_table,
			       s, why, why_len);
		if (r < 0)
			return r;
		if (r)
			made |= HSAKMT_SHM_MADE_FILE;
	}
	snprintf(path, sizeof(path), "%s" HSAKMT_SEM_PATH, root);
	if (s->has_semaphore && s->semaphore && access(path, F_OK)) {
		r = make_whole(path, s->has_sem_mode ? s->sem_mode : 0666,
			       s->has_sem_uid && s->has_sem_gid, s->sem_uid, s->sem_gid,
			       fill_semaphore, s, why, why_len);
		if (r < 0)
			return r;
		if (r)
			made |= HSAKMT_SHM_MADE_SEM;
	}
	return made;
}
