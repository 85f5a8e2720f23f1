// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Do x86 hardware breakpoints set through ptrace fire on this machine?
 *
 * criu stops a task at the end of its parasite code and of its restorer with
 * a debug-register breakpoint (compel's ptrace_set_breakpoint: DR0 = the
 * address, DR7 = 1, then PTRACE_CONT and wait for SIGTRAP). Where the
 * hypervisor does not deliver debug-register traps to the guest (seen on a
 * Firecracker VM with kernel 6.18.44), the write to the debug registers
 * succeeds, the trap never comes and criu waits forever. CRIU_FAULT=130
 * (FI_NO_BREAKPOINTS, criu/include/fault-injection.h) makes criu step over
 * syscalls instead; scripts/setup.sh sets it when this probe says no.
 *
 * Exit status: 0 the breakpoint fired, 1 it did not (or the debug registers
 * cannot be set), 2 the probe itself failed.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noinline)) static void probe_target(void)
{
	__asm__ volatile("" ::: "memory");
}

int main(void)
{
	void (*volatile target)(void) = probe_target;
	int status;
	pid_t child;

	alarm(10); /* a probe that hangs must not hang setup */
	child = fork();
	if (child < 0) {
		perror("breakpoint probe: fork");
		return 2;
	}
	if (child == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			_exit(3);
		raise(SIGSTOP);
		target();
		_exit(0);
	}
	if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
		fprintf(stderr, "breakpoint probe: the child did not stop\n");
		return 2;
	}
	/* DR0: the address; DR7 bit 0: local enable, R/W0 = 00 (execute), LEN0 = 00. */
	if (ptrace(PTRACE_POKEUSER, child, offsetof(struct user, u_debugreg[0]), (void *)target) ||
	    ptrace(PTRACE_POKEUSER, child, offsetof(struct user, u_debugreg[7]), (void *)1L)) {
		perror("breakpoint probe: setting the debug registers");
		kill(child, SIGKILL);
		return 1;
	}
	if (ptrace(PTRACE_CONT, child, NULL, NULL)) {
		perror("breakpoint probe: PTRACE_CONT");
		kill(child, SIGKILL);
		return 2;
	}
	if (waitpid(child, &status, 0) != child) {
		perror("breakpoint probe: waitpid");
		return 2;
	}
	if (WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		printf("hardware breakpoints fire\n");
		return 0;
	}
	if (WIFSTOPPED(status))
		kill(child, SIGKILL);
	printf("hardware breakpoints do not fire (the task ran past one)\n");
	return 1;
}
