// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * reap_run [-t SECONDS] CMD [ARGS...]: runs CMD as a child subreaper and,
 * once it has exited, reaps the orphans of its tree that have died by then
 * (half a second), or with -t until none is left or SECONDS have passed.
 *
 * A failed `criu restore -d` kills the tasks it had started, but they are
 * reparented and may linger as zombies whose pids a second restore of the
 * same image then cannot take ("Can't fork for PID: File exists"). Tests
 * that restore one image several times run criu through this. Live orphans
 * (a successful detached restore) are left alone. With -t, reap_run also
 * tells a test when every orphan of a killed criu is gone: it exits then.
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	int status = 0, ticks = 25;
	bool until_none = false;
	pid_t child;

	if (argc > 2 && !strcmp(argv[1], "-t")) {
		ticks = atoi(argv[2]) * 50;
		until_none = true;
		argv += 2;
		argc -= 2;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: reap_run [-t SECONDS] CMD [ARGS...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		perror("reap_run: PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	child = fork();
	if (child < 0) {
		perror("reap_run: fork");
		return 2;
	}
	if (!child) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	/* Collect orphans that are dead or dying now (or, -t, until none is left). */
	for (int i = 0; i < ticks; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (until_none && waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			break;
		nanosleep(&tick, NULL);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
