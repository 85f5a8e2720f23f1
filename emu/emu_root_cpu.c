// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CPU cache folders for hosts whose sysfs has none.
 *
 * libhsakmt builds the CPU node's caches from
 * /sys/devices/system/node/nodeN/cpuM/cache/indexK (or, without NUMA,
 * /sys/devices/system/cpu/cpuM/cache), and fails the whole topology, so
 * ROCr sees no agent at all, when a node yields none (ROCT-Thunk-Interface
 * 5.2, src/topology.c: topology_get_cpu_cache_props, "Fail to get cache
 * info for node"). Bare metal always has them; some VMs hide the CPUID cache
 * leaves and the kernel then creates no cache folder (seen on a Firecracker
 * VM with an AMD EPYC CPU). There the daemon writes a plain cache hierarchy
 * for the host's CPUs into the fake root and the shim redirects those paths
 * (emu_shim.c: emu_shim_is_emulated_path); on any other host nothing here
 * runs and the host's own folders are read.
 *
 * File formats: drivers/base/cacheinfo.c (level, type, size "%uK",
 * coherency_line_size, ways_of_associativity, physical_line_partition,
 * number_of_sets, shared_cpu_map "%*pb", shared_cpu_list "%*pbl").
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "emu_root.h"

#define EMU_CPU_MAX   4096
#define EMU_CPU_WORDS (EMU_CPU_MAX / 32)

struct emu_cpu_cache {
	unsigned int level;
	const char *type;
	unsigned int size_kib, ways;
	int shared; /* by every CPU of the group (L3), else private to the CPU */
};

/* A common x86 server core: 32 KiB L1 data and instruction, 1 MiB L2, a shared L3. */
static const struct emu_cpu_cache emu_cpu_caches[] = {
	{ 1, "Data", 32, 8, 0 },
	{ 1, "Instruction", 32, 8, 0 },
	{ 2, "Unified", 1024, 16, 0 },
	{ 3, "Unified", 32768, 16, 1 },
};

/* Parses a kernel CPU list ("0-3,8,10-11") into mask; 0 or -EINVAL. */
static int emu_cpu_list_parse(const char *s, uint32_t *mask)
{
	memset(mask, 0, EMU_CPU_WORDS * sizeof(*mask));
	while (*s && *s != '\n') {
		unsigned int a, b;
		int n = 0;

		if (sscanf(s, "%u-%u%n", &a, &b, &n) != 2 || n == 0) {
			n = 0;
			if (sscanf(s, "%u%n", &a, &n) != 1 || n == 0)
				return -EINVAL;
			b = a;
		}
		if (a > b || b >= EMU_CPU_MAX)
			return -EINVAL;
		for (unsigned int c = a; c <= b; c++)
			mask[c / 32] |= 1u << (c % 32);
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}

/* The kernel's "%*pb" of mask: 32-bit hex groups, highest first, comma-separated. */
static void emu_cpu_map_format(const uint32_t *mask, unsigned int ncpus, char *out, size_t cap)
{
	unsigned int words = (ncpus + 31) / 32;
	size_t len = 0;

	out[0] = '\0';
	for (unsigned int w = words; w-- > 0 && len < cap;)
		len += (size_t)snprintf(out + len, cap - len, "%08x%s", mask[w], w ? "," : "\n");
}

/* The kernel's "%*pbl" of mask. */
static void emu_cpu_list_format(const uint32_t *mask, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (unsigned int c = 0; c < EMU_CPU_MAX && len < cap; c++) {
		unsigned int e = c;

		if (!(mask[c / 32] & (1u << (c % 32))))
			continue;
		while (e + 1 < EMU_CPU_MAX && (mask[(e + 1) / 32] & (1u << ((e + 1) % 32))))
			e++;
		len += (size_t)snprintf(out + len, cap - len, "%s%u", len ? "," : "", c);
		if (e > c && len < cap)
			len += (size_t)snprintf(out + len, cap - len, "-%u", e);
		c = e;
	}
	if (len < cap)
		snprintf(out + len, cap - len, "\n");
}

/* Writes dir/name with printf-style contents; 0 or -errno. */
__attribute__((format(printf, 3, 4))) static int emu_cpu_file(const char *dir, const char *name,
							      const char *fmt, ...)
{
	char path[PATH_MAX], text[EMU_CPU_MAX / 2];
	va_list ap;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return emu_root_write_file(path, text);
}

/* root/sys/devices/system/cpu/cpuCPU/cache for one CPU of a group sharing the L3. */
static int emu_cpu_write(const char *root, unsigned int cpu, const uint32_t *group,
			 unsigned int ncpus)
{
	uint32_t own[EMU_CPU_WORDS] = { 0 };
	char dir[PATH_MAX], map[EMU_CPU_MAX / 2], list[EMU_CPU_MAX / 2];
	int err = 0;

	own[cpu / 32] = 1u << (cpu % 32);
	for (unsigned int i = 0; !err && i < sizeof(emu_cpu_caches) / sizeof(emu_cpu_caches[0]);
	     i++) {
		const struct emu_cpu_cache *c = &emu_cpu_caches[i];
		const uint32_t *shared = c->shared ? group : own;
		unsigned int sets = c->size_kib * 1024 / 64 / c->ways; /* 64-byte lines */

		snprintf(dir, sizeof(dir), "%s/sys/devices/system/cpu/cpu%u/cache/index%u", root,
			 cpu, i);
		emu_cpu_map_format(shared, ncpus, map, sizeof(map));
		emu_cpu_list_format(shared, list, sizeof(list));
		err = emu_root_mkdirs(dir);
		err = err ?: emu_cpu_file(dir, "level", "%u\n", c->level);
		err = err ?: emu_cpu_file(dir, "type", "%s\n", c->type);
		err = err ?: emu_cpu_file(dir, "size", "%uK\n", c->size_kib);
		err = err ?: emu_cpu_file(dir, "coherency_line_size", "64\n");
		err = err ?: emu_cpu_file(dir, "ways_of_associativity", "%u\n", c->ways);
		err = err ?: emu_cpu_file(dir, "physical_line_partition", "1\n");
		err = err ?: emu_cpu_file(dir, "number_of_sets", "%u\n", sets);
		err = err ?: emu_cpu_file(dir, "shared_cpu_map", "%s", map);
		err = err ?: emu_cpu_file(dir, "shared_cpu_list", "%s", list);
	}
	return err;
}

/* Reads a one-line sysfs file into buf; 0 or -errno. */
static int emu_cpu_read_line(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	int err = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)cap, f))
		err = -EIO;
	fclose(f);
	return err;
}

/*
 * One group of CPUs (a NUMA node, or all CPUs without NUMA): their cache
 * folders, and with a node, root/.../node/nodeN/cpuM linking to them as the
 * kernel's node folders link to the CPUs.
 */
static int emu_cpu_group(const char *root, const char *list, int node, unsigned int ncpus)
{
	uint32_t group[EMU_CPU_WORDS];
	char path[PATH_MAX], target[PATH_MAX];
	int err = emu_cpu_list_parse(list, group);

	for (unsigned int cpu = 0; !err && cpu < EMU_CPU_MAX; cpu++) {
		if (!(group[cpu / 32] & (1u << (cpu % 32))))
			continue;
		err = emu_cpu_write(root, cpu, group, ncpus);
		if (err || node < 0)
			continue;
		snprintf(path, sizeof(path), "%s/sys/devices/system/node/node%d", root, node);
		err = emu_root_mkdirs(path);
		snprintf(path, sizeof(path), "%s/sys/devices/system/node/node%d/cpu%u", root, node,
			 cpu);
		snprintf(target, sizeof(target), "../../cpu/cpu%u", cpu);
		if (!err && symlink(target, path) != 0 && errno != EEXIST)
			err = -errno;
	}
	return err;
}

int emu_root_cpu_caches(const char *root)
{
	char list[4096];
	unsigned int ncpus;
	struct dirent *d;
	DIR *nodes;
	int err = 0;

	if (access("/sys/devices/system/cpu/cpu0/cache", F_OK) == 0)
		return 0; /* the host describes its caches: nothing to add */
	ncpus = (unsigned int)sysconf(_SC_NPROCESSORS_CONF);
	if (ncpus == 0 || ncpus > EMU_CPU_MAX)
		return -ERANGE;
	nodes = opendir("/sys/devices/system/node");
	if (!nodes) {
		/* No NUMA: libhsakmt falls back to /sys/devices/system/cpu. */
		err = emu_cpu_read_line("/sys/devices/system/cpu/online", list, sizeof(list));
		return err ? err : emu_cpu_group(root, list, -1, ncpus);
	}
	while (!err && (d = readdir(nodes))) {
		char path[PATH_MAX];
		int node;

		if (sscanf(d->d_name, "node%d", &node) != 1)
			continue;
		snprintf(path, sizeof(path), "/sys/devices/system/node/%s/cpulist", d->d_name);
		err = emu_cpu_read_line(path, list, sizeof(list));
		if (!err && list[0] != '\n')
			err = emu_cpu_group(root, list, node, ncpus);
	}
	closedir(nodes);
	return err;
}
