// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's access to the memory of processes under the emulator: what the
 * GPU reaches through userptr BOs and queue rings is read and written with
 * process_vm_readv/writev(2), so an address that is not mapped in the process
 * faults here as it would in the GPU's page tables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "emu_daemon_internal.h"

static int emu_mem_proc_io(pid_t pid, uint64_t addr, void *buf, size_t len, bool write)
{
	while (len) {
		struct iovec local = { .iov_base = buf, .iov_len = len };
		struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
		ssize_t n;

		n = write ? process_vm_writev(pid, &local, 1, &remote, 1, 0)
			  : process_vm_readv(pid, &local, 1, &remote, 1, 0);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EFAULT;
		buf = (char *)buf + n;
		addr += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int emu_mem_proc_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	return emu_mem_proc_io(pid, addr, buf, len, false);
}

int emu_mem_proc_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	return emu_mem_proc_io(pid, addr, (void *)buf, len, true);
}

/* The whole range is mapped and readable in pid. */
int emu_mem_proc_check(pid_t pid, uint64_t addr, uint64_t len)
{
	static char scratch[1 << 20];
	int err = 0;

	while (len && !err) {
		size_t n = len < sizeof(scratch) ? (size_t)len : sizeof(scratch);

		err = emu_mem_proc_read(pid, addr, scratch, n);
		addr += n;
		len -= n;
	}
	return err == -ESRCH ? -ESRCH : err ? -EFAULT : 0;
}

static int emu_mem_proc_stat_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * A process stopped by a tracer (criu freezes its tasks with ptrace) or by a
 * signal. The executor holds its queues back then; see emu/README.md.
 */
bool emu_mem_proc_stopped(pid_t pid)
{
	int s = emu_mem_proc_stat_state(pid);

	return s == 't' || s == 'T';
}

pid_t emu_mem_tracer(pid_t pid)
{
	char path[64], line[256];
	pid_t tracer = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		int t;

		if (sscanf(line, "TracerPid: %d", &t) == 1) {
			tracer = t;
			break;
		}
	}
	fclose(f);
	return tracer;
}

/*
 * capable(CAP_CHECKPOINT_RESTORE) || capable(CAP_SYS_ADMIN) for @pid, read
 * from its effective set (CapEff, fs/proc/array.c: render_cap_t); false when
 * unreadable.
 */
bool emu_mem_capable_criu(pid_t pid)
{
	char path[64], line[256];
	unsigned long long eff = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &eff) == 1;
	fclose(f);
	/* include/uapi/linux/capability.h: CAP_SYS_ADMIN 21, CAP_CHECKPOINT_RESTORE 40 */
	return found && (eff & ((1ULL << 21) | (1ULL << 40)));
}
