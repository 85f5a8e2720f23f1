// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sdma_host_pages_alloc(): the memory of every pinned pool. EXPECT: it is
 * faulted in whole, starts on a 2 MiB boundary, is writable and zero, and
 * carries the NUMA preference asked for (as /proc/self/numa_maps shows it);
 * sdma_numa_node_of_fd() gives -1 for what is no device with a node.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sdma_engine.h"
#include "test_common.h"

/* The policy word (up to 31 characters) of the numa_maps line of the mapping
 * starting at @p. */
static bool numa_policy(const void *p, char *policy)
{
	char line[512], want[32];
	FILE *f = fopen("/proc/self/numa_maps", "re");
	bool found = false;

	if (!f)
		return false;
	snprintf(want, sizeof(want), "%lx ", (unsigned long)(uintptr_t)p);
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, strlen(want)))
			continue;
		found = sscanf(line + strlen(want), "%31s", policy) == 1;
	}
	fclose(f);
	return found;
}

static void check_pages(uint64_t size, int node, const char *want_policy)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *p = sdma_host_pages_alloc(size, node);
	unsigned char *vec = malloc(size / (uint64_t)page);
	char policy[32] = "";
	bool resident = true, zero = true;

	CHECK(p != NULL);
	if (!p || !vec) {
		free(vec);
		return;
	}
	CHECK((uintptr_t)p % (2u << 20) == 0);
	/* faulted in at allocation, not on first use */
	CHECK_EQ_INT(mincore(p, size, vec), 0);
	for (uint64_t i = 0; i < size / (uint64_t)page; i++)
		resident &= vec[i] & 1;
	CHECK(resident);
	for (uint64_t i = 0; i < size; i += 4096)
		zero &= p[i] == 0;
	CHECK(zero);
	memset(p, 0xa5, size); /* writable to the last byte */
	CHECK(p[size - 1] == 0xa5);
	if (numa_policy(p, policy)) {
		printf("%llu bytes, node %d: policy %s\n", (unsigned long long)size, node, policy);
		CHECK(strcmp(policy, want_policy) == 0);
	} else {
		printf("no NUMA policy shown for %p (kernel without NUMA?)\n", (void *)p);
	}
	munmap(p, size);
	free(vec);
}

int main(void)
{
	int fd;

	check_pages(4u << 20, -1, "default");
	check_pages((4u << 20) + 4096, 0, "prefer:0"); /* node 0 exists on every machine */
	/* faulted in by several threads (a range per CPU, of 32 MiB and up): all of it */
	check_pages((96u << 20) + 4096, 0, "prefer:0");
	/* EXPECT: bad sizes are refused, not rounded */
	CHECK(sdma_host_pages_alloc(0, -1) == NULL);
	CHECK(sdma_host_pages_alloc(4097, -1) == NULL);

	/* EXPECT: no node for a character device without a sysfs device, nor for a file */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK_EQ_INT(sdma_numa_node_of_fd(fd), -1);
	close(fd);
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	CHECK_EQ_INT(sdma_numa_node_of_fd(fd), -1);
	close(fd);
	return test_finish("sdma_host_pages");
}
