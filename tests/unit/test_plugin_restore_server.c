// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * EXPECT: the overlapped-restore server takes a request from another process
 * (a fork made after it started, as criu's tasks are) over its socket, with
 * more BOs than one message carries, and writes every BO back byte for byte
 * from the stream files while the caller has already gone on, the waiter
 * seeing progress meanwhile; waiting for a pid that handed nothing over says
 * so; a second request from the same task is refused; three tasks at once all come back, and two
 * sharing a GPU never run at the same time; a task in another network namespace is told it cannot
 * reach the server; stopping after a failed restore cuts a copy under way short; a stream file that
 * is not there fails that request with the file named, and the failure reaches the waiter.
 *
 * The DMA stage is the memcpy engine of tests/unit/memdma.c; the server,
 * its wire protocol and the transfer pipeline are the plugin's own.
 */
#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memdma.h"
#include "plugin_restore_server.h"
#include "plugin_transfer.h"
#include "test_common.h"

#define N0 200 /* more than one message's worth of BOs (128) */
#define N1 40

static struct plugin_config cfg;

static uint64_t bo_size(unsigned int i)
{
	return 4096 * (i % 5) + 17 * (i % 3) + 1;
}

/* Fills @jobs with BOs of kind @kind and dumps @src's contents to @dir. */
static void make_jobs(const char *dir, struct transfer_job *jobs, struct transfer_bo *b0,
		      struct transfer_bo *b1, unsigned int kind)
{
	struct transfer_bo *bos[2] = { b0, b1 };
	const unsigned int n[2] = { N0, N1 };

	memset(jobs, 0, 2 * sizeof(*jobs));
	for (unsigned int g = 0; g < 2; g++) {
		for (unsigned int i = 0; i < n[g]; i++)
			bos[g][i] =
				(struct transfer_bo){ bo_size(i),
						      make_bo(bo_size(i), kind ? 1 : i % 3, i + g),
						      1000 * g + i };
		jobs[g].gpu_id = 0x500 + g;
		jobs[g].bos = bos[g];
		jobs[g].n_bos = n[g];
		jobs[g].n_parts = g + 1;
		snprintf(jobs[g].stream_path, sizeof(jobs[g].stream_path), "%s/gpu%u.vrs", dir, g);
	}
}

/*
 * In a child: hands @jobs over (twice when @twice) and exits with the result.
 * With @gate, the child first waits until the parent closes gate[1], so that
 * several children can be forked while the server is idle and then let go at
 * once: a fork while the server's threads allocate can leave the child with
 * the allocator's lock held for good (ASan's allocator is not fork-safe).
 */
static pid_t submit_in_child(const struct restore_server *s, const struct transfer_job *jobs,
			     unsigned int n_jobs, bool twice, const int *gate)
{
	pid_t pid = fork();

	if (pid == 0) {
		char err[512] = "", c;
		int r;

		if (gate) {
			close(gate[1]);
			while (read(gate[0], &c, 1) < 0 && errno == EINTR)
				;
		}
		r = restore_server_submit(s, jobs, n_jobs, err, sizeof(err));

		if (r) {
			fprintf(stderr, "child: submit: %s\n", err);
			_exit(1);
		}
		if (twice) {
			r = restore_server_submit(s, jobs, n_jobs, err, sizeof(err));
			if (r != -EEXIST || !strstr(err, "already handed a request over")) {
				fprintf(stderr, "child: second submit gave %d: %s\n", r, err);
				_exit(3);
			}
		}
		_exit(0);
	}
	return pid;
}

static int child_status(pid_t pid)
{
	int st = 0;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void test_round_trip(const char *dir)
{
	static struct transfer_bo src0[N0], src1[N1], dst0[N0], dst1[N1];
	struct seen seen = { 0 };
	struct transfer_progress tp = { on_progress, &seen, 0.005 };
	struct transfer_job jobs[2], into[2];
	struct restore_server_done done;
	struct restore_server *s;
	char err[512];
	pid_t child;

	make_jobs(dir, jobs, src0, src1, 0);
	CHECK_EQ_INT(transfer_dump(&cfg, &memdma, jobs, 2), 0);
	make_jobs(dir, into, dst0, dst1, 1);
	into[0].n_parts = jobs[0].n_parts;
	into[1].n_parts = jobs[1].n_parts;

	CHECK_EQ_INT(restore_server_start(&cfg, &memdma, dir, &s, err, sizeof(err)), 0);
	copy_delay_us = 1000; /* long enough for progress calls while waiting */
	child = submit_in_child(s, into, 2, true, NULL);
	CHECK_EQ_INT(child_status(child), 0);
	/* The child is gone; the server holds its own references to the BOs. */
	CHECK_EQ_INT(restore_server_wait(s, child + 100000, NULL, &done), 0);
	CHECK_EQ_INT(restore_server_wait(s, child, &tp, &done), 1);
	copy_delay_us = 0;
	CHECK(seen.calls > 0);
	CHECK(!seen.backwards);
	CHECK_EQ_INT(done.status, 0);
	CHECK_EQ_INT(done.n_jobs, 2);
	CHECK(done.finished >= done.started && done.started >= done.submitted);
	for (unsigned int g = 0; g < done.n_jobs; g++) {
		if (done.jobs[g].status)
			fprintf(stderr, "job %u: %s\n", g, done.jobs[g].err);
		CHECK_EQ_INT(done.jobs[g].status, 0);
		CHECK_EQ_INT(done.jobs[g].n_bos, g ? N1 : N0);
	}
	for (unsigned int i = 0; i < N0; i++)
		CHECK(same_contents(src0[i].dmabuf_fd, dst0[i].dmabuf_fd, bo_size(i)));
	for (unsigned int i = 0; i < N1; i++)
		CHECK(same_contents(src1[i].dmabuf_fd, dst1[i].dmabuf_fd, bo_size(i)));
	/* Waited for once: the same pid has nothing left. */
	CHECK_EQ_INT(restore_server_wait(s, child, NULL, &done), 0);
	restore_server_stop(s, false);

	for (unsigned int i = 0; i < N0; i++) {
		close(src0[i].dmabuf_fd);
		close(dst0[i].dmabuf_fd);
	}
	for (unsigned int i = 0; i < N1; i++) {
		close(src1[i].dmabuf_fd);
		close(dst1[i].dmabuf_fd);
	}
}

/*
 * Three tasks at once: A on GPUs 128 and 129, B on 129, C on 130. Every BO
 * comes back; A and B, which share a GPU, never run at the same time.
 */
static void test_three_tasks(const char *dir)
{
	static const uint32_t minors[3][2] = { { 128, 129 }, { 129, 0 }, { 130, 0 } };
	static const unsigned int n_jobs[3] = { 2, 1, 1 };
	struct transfer_bo src[3][2][4], dst[3][2][4];
	struct transfer_job jobs[3][2];
	struct restore_server_done done[3];
	struct restore_server *s;
	char err[512];
	pid_t child[3];
	int gate[2];

	memset(jobs, 0, sizeof(jobs));
	for (unsigned int t = 0; t < 3; t++) {
		for (unsigned int g = 0; g < n_jobs[t]; g++) {
			struct transfer_job *job = &jobs[t][g];

			for (unsigned int i = 0; i < 4; i++) {
				uint64_t size = (256 << 10) + 4096 * i;

				src[t][g][i] = (struct transfer_bo){
					size, make_bo(size, i % 3, 10 * t + g + i), i
				};
				dst[t][g][i] = (struct transfer_bo){ size, make_bo(size, 1, 0), i };
			}
			job->gpu_id = minors[t][g];
			job->render_minor = minors[t][g];
			job->bos = src[t][g];
			job->n_bos = 4;
			job->n_parts = 1;
			snprintf(job->stream_path, sizeof(job->stream_path), "%s/t%u-g%u.vrs", dir,
				 t, g);
		}
		CHECK_EQ_INT(transfer_dump(&cfg, &memdma, jobs[t], n_jobs[t]), 0);
		for (unsigned int g = 0; g < n_jobs[t]; g++)
			jobs[t][g].bos = dst[t][g];
	}
	CHECK_EQ_INT(restore_server_start(&cfg, &memdma, dir, &s, err, sizeof(err)), 0);
	CHECK_EQ_INT(pipe(gate), 0);
	for (unsigned int t = 0; t < 3; t++)
		child[t] = submit_in_child(s, jobs[t], n_jobs[t], false, gate);
	close(gate[0]);
	close(gate[1]); /* all three submit at once */
	for (unsigned int t = 0; t < 3; t++) {
		CHECK_EQ_INT(child_status(child[t]), 0);
		CHECK_EQ_INT(restore_server_wait(s, child[t], NULL, &done[t]), 1);
		CHECK_EQ_INT(done[t].status, 0);
		for (unsigned int g = 0; g < n_jobs[t]; g++)
			for (unsigned int i = 0; i < 4; i++)
				CHECK(same_contents(src[t][g][i].dmabuf_fd, dst[t][g][i].dmabuf_fd,
						    src[t][g][i].size));
	}
	CHECK(done[1].started >= done[0].finished || done[0].started >= done[1].finished);
	restore_server_stop(s, false);
	for (unsigned int t = 0; t < 3; t++)
		for (unsigned int g = 0; g < n_jobs[t]; g++)
			for (unsigned int i = 0; i < 4; i++) {
				close(src[t][g][i].dmabuf_fd);
				close(dst[t][g][i].dmabuf_fd);
			}
}

/* A task in another network namespace cannot reach the abstract socket: the
 * submit fails with the reason, so the caller restores in the task. */
static void test_other_netns(const char *dir)
{
	struct transfer_bo bo = { 8192, make_bo(8192, 1, 0), 5 };
	struct transfer_job job = { .gpu_id = 0x700, .bos = &bo, .n_bos = 1, .n_parts = 1 };
	struct restore_server *s;
	char err[512];
	int st = 0;
	pid_t pid;

	snprintf(job.stream_path, sizeof(job.stream_path), "%s/x.vrs", dir);
	CHECK_EQ_INT(restore_server_start(&cfg, &memdma, dir, &s, err, sizeof(err)), 0);
	pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWNET))
			_exit(77); /* not root: nothing to show */
		int r = restore_server_submit(s, &job, 1, err, sizeof(err));

		_exit(r != 0 && strstr(err, "cannot reach criu's restore thread") ? 0 : 1);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		printf("not root: the network-namespace case is skipped\n");
	else
		CHECK_EQ_INT(WEXITSTATUS(st), 0);
	restore_server_stop(s, false);
	close(bo.dmabuf_fd);
}

/* A restore that failed elsewhere stops a copy under way: stop(discard)
 * leaves the rest of the BO unwritten instead of finishing it first. */
static void test_cancel(const char *dir)
{
	const uint64_t size = 4 << 20; /* 64 chunks of 64 KiB, 20 ms each: 1.3 s */
	struct transfer_bo src = { size, make_bo(size, 0, 21), 9 };
	struct transfer_bo dst = { size, make_bo(size, 1, 0), 9 };
	struct transfer_job job = { .gpu_id = 0x800, .bos = &src, .n_bos = 1, .n_parts = 1 };
	struct restore_server *s;
	char err[512];
	uint8_t *tail;
	pid_t child;

	snprintf(job.stream_path, sizeof(job.stream_path), "%s/cancel.vrs", dir);
	CHECK_EQ_INT(transfer_dump(&cfg, &memdma, &job, 1), 0);
	job.bos = &dst;
	CHECK_EQ_INT(restore_server_start(&cfg, &memdma, dir, &s, err, sizeof(err)), 0);
	copy_delay_us = 20000;
	child = submit_in_child(s, &job, 1, false, NULL);
	CHECK_EQ_INT(child_status(child), 0);
	usleep(100 * 1000);
	restore_server_stop(s, true);
	copy_delay_us = 0;
	tail = mmap(NULL, size, PROT_READ, MAP_SHARED, dst.dmabuf_fd, 0);
	CHECK(tail != MAP_FAILED);
	if (tail != MAP_FAILED) {
		bool zero = true;

		for (uint64_t i = size - 65536; i < size; i++)
			zero &= tail[i] == 0;
		CHECK(zero); /* the last chunk was never copied */
		munmap(tail, size);
	}
	close(src.dmabuf_fd);
	close(dst.dmabuf_fd);
}

static void test_missing_stream(const char *dir)
{
	struct transfer_bo bo = { 8192, make_bo(8192, 1, 0), 5 };
	struct transfer_job job = { .gpu_id = 0x600, .bos = &bo, .n_bos = 1, .n_parts = 1 };
	struct restore_server_done done;
	struct restore_server *s;
	char err[512];
	pid_t child;

	snprintf(job.stream_path, sizeof(job.stream_path), "/elsewhere/not-there.vrs");
	CHECK_EQ_INT(restore_server_start(&cfg, &memdma, dir, &s, err, sizeof(err)), 0);
	child = submit_in_child(s, &job, 1, false, NULL);
	CHECK_EQ_INT(child_status(child), 0);
	CHECK_EQ_INT(restore_server_wait(s, child, NULL, &done), 1);
	CHECK(done.status != 0);
	CHECK(done.jobs[0].status != 0);
	/* Looked up by its name in the server's folder, not the caller's path. */
	CHECK(strstr(done.jobs[0].err, dir) != NULL);
	CHECK(strstr(done.jobs[0].err, "not-there.vrs") != NULL);
	restore_server_stop(s, true);
	close(bo.dmabuf_fd);
}

int main(void)
{
	char dir[] = "/tmp/vramstream-rserver-XXXXXX";
	char cmd[PATH_MAX + 16];

	if (!mkdtemp(dir))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	plugin_config_defaults(&cfg);
	cfg.chunk_size = cfg.buffer_size = 64 << 10;
	cfg.pinned_max = 256 << 10;
	cfg.workers = 2;
	cfg.direct_io = false;

	test_round_trip(dir);
	test_three_tasks(dir);
	test_other_netns(dir);
	test_cancel(dir);
	test_missing_stream(dir);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 2;
	return test_finish("plugin_restore_server");
}
