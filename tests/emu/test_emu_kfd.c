// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * KFD rules on the emulator, without criu (runs under the shim with its own
 * daemon: emu_with_daemon.sh). Each case says what it expects.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/kfd_ioctl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emu_client.h"
#include "emu_packet.h"
#include "test_common.h"

#define T_REGION      ((void *)0x3f0000000000ULL)
#define T_REGION_SIZE (64u << 10)
#define T_VRAM_VA     0x210000000000ULL
#define T_VRAM_SIZE   (1u << 20)

struct t_ctl {
	volatile uint64_t wptr, rptr, signal;
};

static int kfd = -1;
static uint32_t gpu_ids[2];
static uint32_t minors[2];
static uint8_t *region;
static uint64_t vram_handle, host_handle;

static int t_prop(unsigned int node, const char *file, const char *key, uint32_t *out)
{
	char path[128], line[128], k[64];
	unsigned long long v;
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/sys/class/kfd/kfd/topology/nodes/%u/%s", node, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		if (!key)
			found = sscanf(line, "%llu", &v) == 1;
		else
			found = sscanf(line, "%63s %llu", k, &v) == 2 && strcmp(k, key) == 0;
	}
	fclose(f);
	if (found)
		*out = (uint32_t)v;
	return found ? 0 : -1;
}

static int t_criu(int fd, struct kfd_ioctl_criu_args *a)
{
	return ioctl(fd, AMDKFD_IOC_CRIU_OP, a) == 0 ? 0 : -errno;
}

static int t_acquire(int fd, unsigned int i)
{
	char path[64];
	struct kfd_ioctl_acquire_vm_args a = { .gpu_id = gpu_ids[i] };
	int drm, r;

	snprintf(path, sizeof(path), "/dev/dri/renderD%u", minors[i]);
	drm = open(path, O_RDWR);
	if (drm < 0)
		return -errno;
	a.drm_fd = (uint32_t)drm;
	r = ioctl(fd, AMDKFD_IOC_ACQUIRE_VM, &a) == 0 ? 0 : -errno;
	close(drm);
	return r;
}

static int t_alloc(int fd, uint64_t va, uint64_t size, uint32_t flags, uint64_t user,
		   uint64_t *handle)
{
	struct kfd_ioctl_alloc_memory_of_gpu_args a = {
		.va_addr = va,
		.size = size,
		.gpu_id = gpu_ids[0],
		.flags = flags,
		.mmap_offset = user,
	};
	struct kfd_ioctl_map_memory_to_gpu_args m = { .n_devices = 1 };

	if (ioctl(fd, AMDKFD_IOC_ALLOC_MEMORY_OF_GPU, &a) != 0)
		return -errno;
	*handle = a.handle;
	m.handle = a.handle;
	m.device_ids_array_ptr = (uint64_t)(uintptr_t)&gpu_ids[0];
	return ioctl(fd, AMDKFD_IOC_MAP_MEMORY_TO_GPU, &m) == 0 ? 0 : -errno;
}

static int t_stats(struct emu_stats *st)
{
	struct emu_call c = { .req = { .op = EMU_OP_STATS } };

	c.rep_buf = st;
	c.rep_cap = sizeof(*st);
	return emu_client_call(&c);
}

static void t_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* EXPECT: /dev/kfd and render nodes report the emulated numbers; the topology has 2 GPUs. */
static void t_devices(void)
{
	struct stat st;

	CHECK(stat("/dev/kfd", &st) == 0 && S_ISCHR(st.st_mode));
	CHECK(major(st.st_rdev) != 10);
	CHECK(fstat(kfd, &st) == 0 && major(st.st_rdev) != 10 && minor(st.st_rdev) == 0);
	CHECK(t_prop(1, "gpu_id", NULL, &gpu_ids[0]) == 0 && gpu_ids[0] != 0);
	CHECK(t_prop(2, "gpu_id", NULL, &gpu_ids[1]) == 0 && gpu_ids[1] != 0);
	CHECK(t_prop(1, "properties", "drm_render_minor", &minors[0]) == 0);
	CHECK(t_prop(2, "properties", "drm_render_minor", &minors[1]) == 0);
	CHECK(stat("/dev/dri/renderD128", &st) == 0 && major(st.st_rdev) == 226 &&
	      minor(st.st_rdev) == 128);
}

/* EXPECT: allocation needs a VM first (-ENODEV); CRIU ops out of order fail with EINVAL/ESRCH. */
static void t_state_machine(void)
{
	struct kfd_ioctl_alloc_memory_of_gpu_args al = {
		.va_addr = T_VRAM_VA,
		.size = 4096,
		.gpu_id = gpu_ids[0],
		.flags = KFD_IOC_ALLOC_MEM_FLAGS_VRAM,
	};
	struct kfd_ioctl_criu_args a;
	uint64_t dummy[64];

	CHECK(ioctl(kfd, AMDKFD_IOC_ALLOC_MEMORY_OF_GPU, &al) != 0 && errno == ENODEV);
	CHECK_EQ_INT(t_acquire(kfd, 0), 0);
	CHECK_EQ_INT(t_acquire(kfd, 1), 0);
	/* criu_checkpoint: "Cannot dump process when queues are not in evicted state" */
	memset(&a, 0, sizeof(a));
	a.op = KFD_CRIU_OP_CHECKPOINT;
	a.devices = a.bos = a.priv_data = (uint64_t)(uintptr_t)dummy;
	CHECK_EQ_INT(t_criu(kfd, &a), -EINVAL);
	/* criu_unpause without a pause */
	memset(&a, 0, sizeof(a));
	a.op = KFD_CRIU_OP_UNPAUSE;
	CHECK_EQ_INT(t_criu(kfd, &a), -EINVAL);
	/* amdgpu_amdkfd_criu_resume without RESTORE */
	a.op = KFD_CRIU_OP_RESUME;
	a.pid = (uint32_t)getpid();
	CHECK_EQ_INT(t_criu(kfd, &a), -EINVAL);
	a.pid = 0x7ffffff0;
	CHECK_EQ_INT(t_criu(kfd, &a), -ESRCH);
}

/* EXPECT: a queue does not run while paused by PROCESS_INFO and runs after UNPAUSE. */
static void t_queue_pause(void)
{
	struct kfd_ioctl_create_queue_args q = { 0 };
	struct kfd_ioctl_criu_args a = { .op = KFD_CRIU_OP_PROCESS_INFO };
	struct emu_packet *ring;
	struct t_ctl *ctl;
	uint64_t slots = 16384 / 64;
	unsigned int i;

	region = mmap(T_REGION, T_REGION_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(region == T_REGION);
	if (region != T_REGION)
		return;
	ring = (struct emu_packet *)region;
	ctl = (struct t_ctl *)(region + 16384);
	CHECK_EQ_INT(t_alloc(kfd, T_VRAM_VA, T_VRAM_SIZE,
			     KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_WRITABLE, 0,
			     &vram_handle),
		     0);
	CHECK_EQ_INT(t_alloc(kfd, (uint64_t)(uintptr_t)region, T_REGION_SIZE,
			     KFD_IOC_ALLOC_MEM_FLAGS_USERPTR, (uint64_t)(uintptr_t)region,
			     &host_handle),
		     0);
	q.gpu_id = gpu_ids[0];
	q.queue_type = KFD_IOC_QUEUE_TYPE_COMPUTE_AQL;
	q.ring_base_address = (uint64_t)(uintptr_t)ring;
	q.ring_size = 16384;
	q.write_pointer_address = (uint64_t)(uintptr_t)&ctl->wptr;
	q.read_pointer_address = (uint64_t)(uintptr_t)&ctl->rptr;
	CHECK(ioctl(kfd, AMDKFD_IOC_CREATE_QUEUE, &q) == 0);
	CHECK_EQ_INT(t_criu(kfd, &a), 0);
	CHECK_EQ_INT(a.pid, getpid());
	CHECK_EQ_INT(a.num_devices, 2);
	CHECK_EQ_INT(a.num_bos, 2);
	CHECK_EQ_INT(a.num_objects, 1);

	ring[ctl->wptr % slots] =
		(struct emu_packet){ .opcode = EMU_PKT_FILL,
				     .dst = T_VRAM_VA,
				     .size = T_VRAM_SIZE,
				     .arg = 42,
				     .signal_addr = (uint64_t)(uintptr_t)&ctl->signal,
				     .signal_value = 7 };
	__atomic_thread_fence(__ATOMIC_RELEASE);
	ctl->wptr++;
	t_sleep_ms(150);
	CHECK_EQ_INT(ctl->signal, 0);
	CHECK_EQ_INT(ctl->rptr, 0);
	a.op = KFD_CRIU_OP_UNPAUSE;
	CHECK_EQ_INT(t_criu(kfd, &a), 0);
	for (i = 0; i < 200 && ctl->signal != 7; i++)
		t_sleep_ms(10);
	CHECK_EQ_INT(ctl->signal, 7);
	CHECK_EQ_INT(ctl->rptr, 1);
	CHECK_EQ_INT(t_criu(kfd, &a), -EINVAL); /* UNPAUSE twice */
}

struct t_ckpt {
	struct kfd_ioctl_criu_args a;
	struct kfd_criu_device_bucket devs[2];
	struct kfd_criu_bo_bucket bos[4];
	uint8_t priv[4096];
};

/* EXPECT: CHECKPOINT checks counts and exports VRAM contents as a dmabuf fd. */
static void t_checkpoint(struct t_ckpt *c)
{
	uint64_t word = 0, *map;
	unsigned int i, found = 0;

	memset(c, 0, sizeof(*c));
	c->a.op = KFD_CRIU_OP_PROCESS_INFO;
	CHECK_EQ_INT(t_criu(kfd, &c->a), 0);
	CHECK(c->a.priv_data_size <= sizeof(c->priv));
	c->a.op = KFD_CRIU_OP_CHECKPOINT;
	c->a.devices = (uint64_t)(uintptr_t)c->devs;
	c->a.bos = (uint64_t)(uintptr_t)c->bos;
	c->a.priv_data = (uint64_t)(uintptr_t)c->priv;
	c->a.num_bos++;
	CHECK_EQ_INT(t_criu(kfd, &c->a), -EINVAL); /* counts must match PROCESS_INFO */
	c->a.num_bos--;
	CHECK_EQ_INT(t_criu(kfd, &c->a), 0);
	CHECK_EQ_INT(c->devs[0].actual_gpu_id, gpu_ids[0]);
	for (i = 0; i < c->a.num_bos; i++) {
		if (c->bos[i].alloc_flags & KFD_IOC_ALLOC_MEM_FLAGS_VRAM) {
			found++;
			CHECK(c->bos[i].dmabuf_fd != KFD_INVALID_FD);
			/* Without close-on-exec, as the kernel hands them out
			 * (kfd_chardev.c: criu_get_prime_handle(..., DRM_RDWR, ...)). */
			CHECK_EQ_INT(fcntl((int)c->bos[i].dmabuf_fd, F_GETFD) & FD_CLOEXEC, 0);
			/* A dma-buf is read by mapping it (dma_buf_fops has no read). */
			map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, (int)c->bos[i].dmabuf_fd, 0);
			CHECK(map != MAP_FAILED);
			if (map != MAP_FAILED) {
				word = map[1];
				munmap(map, 4096);
			}
			CHECK(word == emu_fill_word(42, 1));
			CHECK_EQ_INT(c->bos[i].addr, T_VRAM_VA);
			close((int)c->bos[i].dmabuf_fd);
		} else {
			CHECK(c->bos[i].dmabuf_fd == KFD_INVALID_FD);
		}
	}
	CHECK_EQ_INT(found, 1);
	c->a.op = KFD_CRIU_OP_UNPAUSE;
	CHECK_EQ_INT(t_criu(kfd, &c->a), 0);
}

/*
 * EXPECT (in a child, a fresh KFD process): RESTORE recreates BOs with new
 * offsets and dmabuf fds; RESUME fails with EFAULT while the userptr range is
 * unmapped and succeeds once it is mapped again; a second RESUME is EINVAL.
 */
static int t_restore_child(struct t_ckpt *c)
{
	struct kfd_ioctl_criu_args r = c->a;
	int fd, drm[2], i, bad = 0;

	munmap(region, T_REGION_SIZE);
	fd = open("/dev/kfd", O_RDWR);
	if (fd < 0)
		return 10;
	for (i = 0; i < 2; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/dev/dri/renderD%u", minors[i]);
		drm[i] = open(path, O_RDWR);
		c->devs[i].drm_fd = (uint32_t)drm[i];
	}
	r.op = KFD_CRIU_OP_RESTORE;
	if (t_criu(fd, &r) != 0)
		return 11;
	for (i = 0; i < (int)r.num_bos; i++) {
		if (c->bos[i].alloc_flags & KFD_IOC_ALLOC_MEM_FLAGS_VRAM) {
			if (c->bos[i].dmabuf_fd == KFD_INVALID_FD || !c->bos[i].restored_offset)
				bad = 12;
			else if (fcntl((int)c->bos[i].dmabuf_fd, F_GETFD) & FD_CLOEXEC)
				bad = 13; /* the kernel's have no close-on-exec (DRM_RDWR) */
			close((int)c->bos[i].dmabuf_fd);
		}
	}
	r.op = KFD_CRIU_OP_RESUME;
	r.pid = (uint32_t)getpid();
	if (t_criu(fd, &r) != -EFAULT)
		return 13;
	if (mmap(T_REGION, T_REGION_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != T_REGION)
		return 14;
	if (t_criu(fd, &r) != 0)
		return 15;
	if (t_criu(fd, &r) != -EINVAL)
		return 16;
	return bad;
}

static void t_restore(void)
{
	static struct t_ckpt c;
	int status = -1;
	pid_t pid;

	t_checkpoint(&c);
	pid = fork();
	if (pid == 0)
		_exit(t_restore_child(&c));
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

/* EXPECT: another process (not a tracer) using our KFD fd gets EBADF (kfd_ioctl). */
static void t_wrong_process(void)
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		struct kfd_ioctl_get_version_args v;

		_exit(ioctl(kfd, AMDKFD_IOC_GET_VERSION, &v) != 0 && errno == EBADF ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Sets or clears CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE in our effective set. */
static int t_criu_caps(int on)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (on) {
		d[0].effective = d[0].permitted;
		d[1].effective = d[1].permitted;
	} else {
		d[0].effective &= ~(1u << CAP_SYS_ADMIN);
		d[1].effective &= ~(1u << (CAP_CHECKPOINT_RESTORE - 32));
	}
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/* The child's half of t_tracer_unpause; the exit status is the failed step. */
static int t_tracer_child(void)
{
	struct kfd_ioctl_criu_args a = { .op = KFD_CRIU_OP_UNPAUSE };
	struct kfd_ioctl_get_version_args v;

	if (t_criu(kfd, &a) != -EBADF)
		return 1; /* not the opener, not its tracer */
	if (ptrace(PTRACE_SEIZE, getppid(), NULL, NULL))
		return 2;
	if (ioctl(kfd, AMDKFD_IOC_GET_VERSION, &v) == 0 || errno != EBADF)
		return 3; /* the tracer gets CRIU ops only */
	if (t_criu_caps(0) || t_criu(kfd, &a) != -EACCES || t_criu_caps(1))
		return 4;
	if (t_criu(kfd, &a) != 0)
		return 5; /* the tracer unpauses */
	if (t_criu(kfd, &a) != -EINVAL)
		return 6; /* once */
	return 0;
}

/*
 * EXPECT: queues paused by PROCESS_INFO can be unpaused by a process that is
 * neither their opener nor criu once it traces the opener (kfd_ioctl:
 * ptrace_parent(process->lead_thread) == current), and only with
 * CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE (-EACCES); before it traces, -EBADF.
 */
static void t_tracer_unpause(void)
{
	struct kfd_ioctl_criu_args a = { .op = KFD_CRIU_OP_PROCESS_INFO };
	int status = -1;
	pid_t pid;

	CHECK_EQ_INT(t_criu(kfd, &a), 0);
	pid = fork();
	if (pid == 0)
		_exit(t_tracer_child());
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
	memset(&a, 0, sizeof(a));
	a.op = KFD_CRIU_OP_UNPAUSE;
	CHECK_EQ_INT(t_criu(kfd, &a), -EINVAL); /* the child did it */
}

/* EXPECT: the daemon frees a dead process's KFD state and its VRAM. */
static void t_exit_cleanup(void)
{
	struct emu_stats before, during, after;
	int status, i, p[2];
	pid_t pid;

	CHECK_EQ_INT(t_stats(&before), 0);
	CHECK(pipe(p) == 0);
	pid = fork();
	if (pid == 0) {
		uint64_t h;
		char x = 0;
		int fd = open("/dev/kfd", O_RDWR);

		close(p[0]);
		if (fd < 0 || t_acquire(fd, 0) ||
		    t_alloc(fd, T_VRAM_VA + (1ULL << 30), 4u << 20, KFD_IOC_ALLOC_MEM_FLAGS_VRAM, 0,
			    &h))
			_exit(1);
		if (write(p[1], &x, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	{
		char x;

		CHECK(read(p[0], &x, 1) == 1);
	}
	close(p[0]);
	CHECK_EQ_INT(t_stats(&during), 0);
	CHECK_EQ_INT(during.num_processes, before.num_processes + 1);
	CHECK_EQ_INT(during.vram_used[0], before.vram_used[0] + (4u << 20));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	for (i = 0; i < 100; i++) {
		CHECK_EQ_INT(t_stats(&after), 0);
		if (after.num_processes == before.num_processes)
			break;
		t_sleep_ms(20);
	}
	CHECK_EQ_INT(after.num_processes, before.num_processes);
	CHECK_EQ_INT(after.vram_used[0], before.vram_used[0]);
	CHECK_EQ_INT(after.num_bos, before.num_bos);
}

/*
 * In pid 1 of a new pid namespace, under a helper that stays in the host's.
 * Returns the failed checks; the helper releases it through @go.
 */
static int t_pid_ns_init(int ready, int go)
{
	struct kfd_ioctl_criu_args a = { .op = KFD_CRIU_OP_PROCESS_INFO };
	int fd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	char x = 0;

	CHECK_EQ_INT(getpid(), 1);
	CHECK(fd >= 0);
	CHECK_EQ_INT(t_acquire(fd, 0), 0);
	CHECK_EQ_INT(t_criu(fd, &a), 0);
	/* criu_process_info: the pid in the process's own namespace */
	CHECK_EQ_INT(a.pid, 1);
	/* criu_resume: find_vpid in the caller's namespace finds us (not restored: EINVAL) */
	memset(&a, 0, sizeof(a));
	a.op = KFD_CRIU_OP_RESUME;
	a.pid = 1;
	CHECK_EQ_INT(t_criu(fd, &a), -EINVAL);
	if (write(ready, &x, 1) != 1 || read(go, &x, 1) != 1)
		test_failures++;
	return test_failures;
}

/* The helper, in the host's namespace: RESUME takes host pids from it. */
static int t_pid_ns_helper(void)
{
	struct kfd_ioctl_criu_args a = { .op = KFD_CRIU_OP_RESUME };
	int ready[2], go[2], status = -1, fd;
	pid_t init;
	char x = 0;

	if (pipe(ready) || pipe(go) || unshare(CLONE_NEWPID))
		return 1;
	init = fork();
	if (init == 0)
		_exit(t_pid_ns_init(ready[1], go[0]) ? 1 : 0);
	CHECK(init > 1);
	CHECK(read(ready[0], &x, 1) == 1);
	fd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	a.pid = (uint32_t)init;
	CHECK_EQ_INT(t_criu(fd, &a), -EINVAL); /* found by its host pid */
	a.pid = 1;
	CHECK_EQ_INT(t_criu(fd, &a), -ESRCH); /* host pid 1 holds no KFD state */
	CHECK(write(go[1], &x, 1) == 1);
	CHECK(waitpid(init, &status, 0) == init);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return test_failures;
}

/*
 * EXPECT: pids follow kfd_chardev.c in a pid namespace: PROCESS_INFO reports
 * the process's own pid (1), RESUME looks its pid up in the caller's namespace.
 */
static void t_pid_ns(void)
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0)
		_exit(t_pid_ns_helper() ? 1 : 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	CHECK(kfd >= 0);
	if (kfd < 0)
		return test_finish("test_emu_kfd");
	t_devices();
	t_state_machine();
	t_queue_pause();
	t_restore();
	t_wrong_process();
	t_tracer_unpause();
	t_exit_cleanup();
	t_pid_ns();
	return test_finish("test_emu_kfd");
}
