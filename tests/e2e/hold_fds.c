// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hold_fds DIR FIRST LAST PROGRAM [ARGS...]: opens DIR/fd-N for each N in
 * FIRST..LAST at fd number N (inherited across exec), then execs PROGRAM, so
 * that a workload holds fds at numbers a plugin might pick for itself.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int first, last;

	if (argc < 5) {
		fprintf(stderr, "usage: %s DIR FIRST LAST PROGRAM [ARGS...]\n", argv[0]);
		return 2;
	}
	first = atoi(argv[2]);
	last = atoi(argv[3]);
	for (int n = first; n <= last; n++) {
		char path[4096];
		int fd;

		snprintf(path, sizeof(path), "%s/fd-%d", argv[1], n);
		fd = open(path, O_RDWR | O_CREAT, 0600);
		if (fd < 0 || dup2(fd, n) != n) {
			perror(path);
			return 1;
		}
		close(fd);
	}
	execvp(argv[4], argv + 4);
	perror(argv[4]);
	return 1;
}
