/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libhsakmt's shared memory: the file /dev/shm/hsakmt_shared_mem and the
 * POSIX semaphore /dev/shm/sem.hsakmt_semaphore guarding it (ROCT-Thunk-
 * Interface src/perfctr.c: init_shared_region, init_perf_shared_table).
 * Every process that opened KFD through libhsakmt keeps the file open and
 * mapped, and maps the semaphore. criu saves processes, not the tmpfs: at
 * restore it reopens the file by its name (criu/files-reg.c: open_path,
 * which also checks its size and mode), so a target where the file is gone
 * (the last ROCm process exited and destroy_shared_region removed it, a
 * reboot, another machine) fails the restore. The dump keeps what the file
 * held; the restore, inside the restored task and so in its mount namespace,
 * creates the file and the semaphore where they are missing, before criu
 * opens them. Upstream criu's amdgpu plugin does the same
 * (check_hsakmt_shared_mem, restore_hsakmt_shared_mem) with the size and
 * magic only.
 *
 * Nothing here logs: each call says why it failed in @why.
 */
#ifndef VRAMSTREAM_PLUGIN_HSAKMT_SHM_H
#define VRAMSTREAM_PLUGIN_HSAKMT_SHM_H

#include <stddef.h>
#include <sys/types.h>

#include "vramstream.pb-c.h"

/* Relative to a root: the task's ("/proc/<pid>/root") or "" for our own. */
#define HSAKMT_SHM_PATH "/dev/shm/hsakmt_shared_mem"	/* shm_open("/hsakmt_shared_mem") */
#define HSAKMT_SEM_PATH "/dev/shm/sem.hsakmt_semaphore" /* sem_open("hsakmt_semaphore") */

/* Contents kept whole up to this size; libhsakmt's table is 8 bytes. */
#define HSAKMT_SHM_CONTENTS_MAX (64u << 10)

/*
 * Reads the shared memory as @root shows it into @out (initialised here;
 * free its contents with hsakmt_shm_release()). Returns 1 when the file is
 * there, 0 when it is not (nothing to keep), or -errno with @why.
 */
int hsakmt_shm_save(const char *root, Vramstream__HsakmtShm *out, char *why, size_t why_len);
void hsakmt_shm_release(Vramstream__HsakmtShm *s);

enum {
	HSAKMT_SHM_MADE_FILE = 1,
	HSAKMT_SHM_MADE_SEM = 2,
};

/*
 * Creates, under @root, the file and the semaphore @s describes where they
 * are missing, with their saved size, contents, mode and (where allowed)
 * owner; what exists is left alone, as another ROCm process may use it.
 * Returns a mask of HSAKMT_SHM_MADE_* (0: both were there) or -errno with
 * @why.
 */
int hsakmt_shm_restore(const char *root, const Vramstream__HsakmtShm *s, char *why, size_t why_len);

#endif
