// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Runtimes' checkpoints as they come (img_runtime.h), as checkpointctl reads
 * them for the CPU state. Layouts:
 * - runc: `runc checkpoint --image-path DIR` writes CRIU's images into DIR.
 * - Podman: `podman container checkpoint --export FILE` writes a tar (gzip
 *   or zstd with --compress) holding checkpoint/ (CRIU's images), config.dump,
 *   spec.dump and rootfs-diff.tar (the container's file changes); CRI-O
 *   writes the same for the kubelet checkpoint API. Only checkpoint/ is
 *   unpacked here: rootfs-diff.tar may be large and is not GPU state.
 * GNU tar recognises the compression of a file it reads by its first bytes.
 */
#include <errno.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "img_runtime.h"

extern char **environ;

static int has_inventory(const char *dir)
{
	char p[PATH_MAX + 16];
	struct stat st;

	snprintf(p, sizeof(p), "%s/inventory.img", dir);
	return !stat(p, &st) && S_ISREG(st.st_mode);
}

/* @dir itself, or its checkpoint/ folder, when it holds CRIU's inventory. */
static int find_images(const char *dir, struct img_runtime *rt)
{
	if (has_inventory(dir)) {
		snprintf(rt->dir, sizeof(rt->dir), "%s", dir);
		return 0;
	}
	if (snprintf(rt->dir, sizeof(rt->dir), "%s/checkpoint", dir) >= (int)sizeof(rt->dir))
		return -ENAMETOOLONG;
	return has_inventory(rt->dir) ? 0 : -ENOENT;
}

/* tar -xf @archive -C @into checkpoint; 0, or -EINVAL when tar fails. */
static int unpack(const char *archive, const char *into, char *err, size_t err_len)
{
	char *argv[] = { "tar",		"-xf",		 (char *)archive, "-C", (char *)into,
			 "--wildcards", "--no-anchored", "checkpoint/*",  NULL };
	pid_t pid;
	int r, status;

	r = posix_spawnp(&pid, "tar", NULL, NULL, argv, environ);
	if (r) {
		snprintf(err, err_len, "%s: cannot run tar to unpack it: %s", archive, strerror(r));
		return -r;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(err, err_len,
			 "%s: tar could not unpack a checkpoint/ folder from it (not a runtime's "
			 "checkpoint archive?)",
			 archive);
		return -EINVAL;
	}
	return 0;
}

int img_runtime_open(const char *path, struct img_runtime *rt, char *err, size_t err_len)
{
	const char *tmpdir = getenv("TMPDIR");
	struct stat st;
	int r;

	memset(rt, 0, sizeof(*rt));
	if (stat(path, &st)) {
		r = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(-r));
		return r;
	}
	if (S_ISDIR(st.st_mode)) {
		/* A folder without CRIU's images is still read as it is: img_dir_open says what it
		 * lacks. */
		if (find_images(path, rt))
			snprintf(rt->dir, sizeof(rt->dir), "%s", path);
		return 0;
	}
	snprintf(rt->tmp, sizeof(rt->tmp), "%s/vramstream-img.XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(rt->tmp)) {
		r = -errno;
		snprintf(err, err_len, "cannot make a folder to unpack %s into: %s", path,
			 strerror(-r));
		rt->tmp[0] = '\0';
		return r;
	}
	r = unpack(path, rt->tmp, err, err_len);
	if (!r && find_images(rt->tmp, rt)) {
		snprintf(err, err_len, "%s: its checkpoint/ folder holds no CRIU inventory.img",
			 path);
		r = -ENOENT;
	}
	if (r)
		img_runtime_close(rt);
	return r;
}

static int remove_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(p) ? -1 : 0;
}

void img_runtime_close(struct img_runtime *rt)
{
	if (rt->tmp[0])
		nftw(rt->tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	rt->tmp[0] = '\0';
}
