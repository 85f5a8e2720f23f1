// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common_err.h"
#include "plugin_topology.h"

#define TOPOLOGY_DIR "/sys/class/kfd/kfd/topology/nodes"

/* Heap types of mem_banks/M/properties (kfd_crat.h: HSA_MEM_HEAP_TYPE_*). */
#define HEAP_TYPE_FB_PUBLIC  1
#define HEAP_TYPE_FB_PRIVATE 2

/* io_links/L/properties "type" (kfd_crat.h: CRAT_IOLINK_TYPE_*), and
 * "node_to". Links to a node without a gpu_id go to a CPU, links to a GPU
 * node are kept in topo_gpu.links, links to a hidden GPU are dropped. */

/*
 * What a topology node is to us. A GPU the reader's device cgroup denies
 * keeps its node folder, but its gpu_id, properties and the rest read -EPERM
 * (kfd_topology.c: node_show and co., kfd_devcgroup_check_permission): the
 * task cannot use it, so it is no GPU of this machine for us, and links to it
 * are not links (upstream's plugin does the same:
 * amdgpu_plugin_topology.c: topology_parse, topology_determine_iolinks).
 */
enum node_kind { NODE_CPU, NODE_GPU, NODE_HIDDEN };

/* Reads "name value" lines (kfd_topology.c: sysfs_show_64bit_prop and co.). */
static int read_props(const char *path, struct topo_prop *props, unsigned int max, unsigned int *n,
		      char *err, size_t err_len)
{
	FILE *f = fopen(path, "re");
	char line[256];
	int lineno = 0;

	*n = 0;
	if (!f) {
		int e = errno;

		common_errf(err, err_len, "cannot read %s: %s", path, strerror(e));
		return -e;
	}
	while (fgets(line, sizeof(line), f)) {
		char name[TOPO_PROP_NAME];
		unsigned long long v;

		lineno++;
		if (sscanf(line, "%47s %llu", name, &v) != 2) {
			common_errf(err, err_len, "%s line %d is not \"name value\": %.60s", path,
				    lineno, line);
			fclose(f);
			return -EINVAL;
		}
		if (*n == max) {
			common_errf(err, err_len, "%s has more than %u properties", path, max);
			fclose(f);
			return -E2BIG;
		}
		snprintf(props[*n].name, sizeof(props[*n].name), "%s", name);
		props[*n].value = v;
		(*n)++;
	}
	fclose(f);
	return 0;
}

static uint64_t prop_or(const struct topo_prop *props, unsigned int n, const char *name,
			uint64_t dflt)
{
	for (unsigned int i = 0; i < n; i++)
		if (!strcmp(props[i].name, name))
			return props[i].value;
	return dflt;
}

int topology_prop(const struct topo_gpu *gpu, const char *name, uint64_t *value)
{
	for (unsigned int i = 0; i < gpu->n_props; i++) {
		if (!strcmp(gpu->props[i].name, name)) {
			*value = gpu->props[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

static int numeric_entries(const char *dir, int **ids, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int cap = 0;

	*ids = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long id = strtol(de->d_name, &end, 10);

		if (end == de->d_name || *end || id < 0)
			continue;
		if (*n == cap) {
			int *p = realloc(*ids, sizeof(int) * (cap = cap ? cap * 2 : 16));

			if (!p) {
				closedir(d);
				free(*ids);
				*ids = NULL;
				return -ENOMEM;
			}
			*ids = p;
		}
		(*ids)[(*n)++] = (int)id;
	}
	closedir(d);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* -EPERM when the read itself fails so: a GPU the device cgroup denies (node_show). */
static int read_u32_file(const char *path, uint32_t *out)
{
	FILE *f = fopen(path, "re");
	unsigned long v;
	int ok, e;

	if (!f)
		return -errno;
	errno = 0;
	ok = fscanf(f, "%lu", &v) == 1 && v <= UINT32_MAX;
	e = ferror(f) ? (errno ? errno : EIO) : EINVAL;
	fclose(f);
	if (!ok)
		return -e;
	*out = (uint32_t)v;
	return 0;
}

/*
 * Sums VRAM heaps of a node (kfd_topology.c: mem_banks, "size_in_bytes"),
 * and tells whether all of it is CPU-visible: kfd_crat.c gives a large-BAR
 * GPU one FB_PUBLIC heap, a small-BAR one an FB_PRIVATE heap too.
 */
static int read_vram(const char *node_dir, struct topo_gpu *g, char *err, size_t err_len)
{
	char dir[512], path[600];
	struct topo_prop props[16];
	bool public = false, private = false;
	unsigned int n;
	int *ids, count, r;
	uint64_t *vram = &g->vram_size;

	*vram = 0;
	if (snprintf(dir, sizeof(dir), "%s/mem_banks", node_dir) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	r = numeric_entries(dir, &ids, &count);
	if (r == -ENOENT)
		return 0;
	if (r) {
		common_errf(err, err_len, "cannot list %s: %s", dir, strerror(-r));
		return r;
	}
	for (int i = 0; i < count; i++) {
		uint64_t heap;

		snprintf(path, sizeof(path), "%s/%d/properties", dir, ids[i]);
		r = read_props(path, props, 16, &n, err, err_len);
		if (r)
			break;
		heap = prop_or(props, n, "heap_type", 0);
		if (heap == HEAP_TYPE_FB_PUBLIC || heap == HEAP_TYPE_FB_PRIVATE)
			*vram += prop_or(props, n, "size_in_bytes", 0);
		public |= heap == HEAP_TYPE_FB_PUBLIC;
		private |= heap == HEAP_TYPE_FB_PRIVATE;
	}
	g->vram_public = public && !private;
	free(ids);
	return r;
}

/*
 * A GPU's links in @sub ("io_links" or "p2p_links"): from io_links, the CPU node it
 * links to first (its NUMA placement); from both, its links to other GPUs
 * (L/properties "node_to", "type", "weight"). p2p links to CPUs
 * (kfd_create_indirect_link_prop: CPUs of other NUMA nodes) are left out.
 */
static int read_links(const char *node_dir, const char *sub, const unsigned char *kind,
		      int max_node, struct topo_gpu *g, char *err, size_t err_len)
{
	bool p2p = strcmp(sub, "p2p_links") == 0;
	char dir[512], path[600];
	struct topo_prop props[32];
	unsigned int n;
	int *ids, count, r;

	if (snprintf(dir, sizeof(dir), "%s/%s", node_dir, sub) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	r = numeric_entries(dir, &ids, &count);
	if (r == -ENOENT)
		return 0;
	if (r) {
		common_errf(err, err_len, "cannot list %s: %s", dir, strerror(-r));
		return r;
	}
	qsort(ids, count, sizeof(int), cmp_int);
	for (int i = 0; i < count; i++) {
		uint64_t to;

		snprintf(path, sizeof(path), "%s/%d/properties", dir, ids[i]);
		r = read_props(path, props, 32, &n, err, err_len);
		if (r)
			break;
		to = prop_or(props, n, "node_to", UINT64_MAX);
		if (to >= (uint64_t)max_node || kind[to] == NODE_HIDDEN)
			continue;
		if (kind[to] == NODE_CPU) {
			if (!p2p && g->cpu_node < 0)
				g->cpu_node = (int32_t)to;
			continue;
		}
		if (g->n_links == TOPO_MAX_LINKS) {
			common_errf(err, err_len, "%s lists more than %d links to GPUs", dir,
				    TOPO_MAX_LINKS);
			r = -E2BIG;
			break;
		}
		g->links[g->n_links++] = (struct topo_link){
			.node_to = (uint32_t)to,
			.type = (uint32_t)prop_or(props, n, "type", 0),
			.weight = (uint32_t)prop_or(props, n, "weight", 0),
			.p2p = p2p,
		};
	}
	free(ids);
	return r;
}

int topology_read(const char *sysfs_root, struct topo_system *sys, char *err, size_t err_len)
{
	char nodes_dir[400], node_dir[512], path[600];
	unsigned char *kind = NULL;
	int *ids = NULL, count, max_node = 0, r;

	memset(sys, 0, sizeof(*sys));
	snprintf(nodes_dir, sizeof(nodes_dir), "%s" TOPOLOGY_DIR, sysfs_root ? sysfs_root : "");
	r = numeric_entries(nodes_dir, &ids, &count);
	if (r) {
		common_errf(err, err_len,
			    "cannot list KFD topology %s: %s (is the amdgpu driver loaded?)",
			    nodes_dir, strerror(-r));
		return r;
	}
	qsort(ids, count, sizeof(int), cmp_int);
	if (count)
		max_node = ids[count - 1] + 1;
	kind = calloc(max_node ? max_node : 1, 1);
	if (!kind) {
		r = -ENOMEM;
		goto out;
	}

	/* First pass: which nodes are GPUs, so links can tell CPUs apart. */
	for (int i = 0; i < count; i++) {
		uint32_t gpu_id = 0;

		snprintf(path, sizeof(path), "%s/%d/gpu_id", nodes_dir, ids[i]);
		r = read_u32_file(path, &gpu_id);
		if (r == -EPERM) {
			kind[ids[i]] = NODE_HIDDEN;
			continue;
		}
		if (r) {
			common_errf(err, err_len, "cannot read %s: %s", path, strerror(-r));
			goto out;
		}
		kind[ids[i]] = gpu_id ? NODE_GPU : NODE_CPU;
	}
	r = 0;

	for (int i = 0; i < count; i++) {
		struct topo_gpu *g;

		if (kind[ids[i]] != NODE_GPU)
			continue;
		if (sys->n_gpus == TOPO_MAX_GPUS) {
			common_errf(err, err_len, "%s lists more than %d GPUs", nodes_dir,
				    TOPO_MAX_GPUS);
			r = -E2BIG;
			goto out;
		}
		g = &sys->gpus[sys->n_gpus];
		g->node_id = (uint32_t)ids[i];
		snprintf(node_dir, sizeof(node_dir), "%s/%d", nodes_dir, ids[i]);
		snprintf(path, sizeof(path), "%s/gpu_id", node_dir);
		r = read_u32_file(path, &g->gpu_id);
		if (!r) {
			snprintf(path, sizeof(path), "%s/properties", node_dir);
			r = read_props(path, g->props, TOPO_MAX_PROPS, &g->n_props, err, err_len);
		}
		if (!r)
			r = read_vram(node_dir, g, err, err_len);
		g->cpu_node = -1;
		if (!r)
			r = read_links(node_dir, "io_links", kind, max_node, g, err, err_len);
		if (!r)
			r = read_links(node_dir, "p2p_links", kind, max_node, g, err, err_len);
		g->have_links = true;
		g->have_p2p = true;
		if (r)
			goto out;
		sys->n_gpus++;
	}
out:
	free(kind);
	free(ids);
	return r;
}

/*
 * Compatibility rules. Equal properties describe the same ASIC and
 * configuration; "at least" ones may grow on the target. The list follows
 * what the upstream CRIU amdgpu plugin compares
 * (plugins/amdgpu/amdgpu_plugin_topology.c: device_properties_match), plus
 * gfx_target_version, which decides which code objects the queues run.
 */
enum rule { RULE_EQUAL, RULE_AT_LEAST };

struct prop_rule {
	const char *name;
	enum rule rule;
	/* offset of the relaxing switch in struct plugin_checks, or -1 */
	int check;
	const char *setting;
};

#define CHECK_OF(f) ((int)offsetof(struct plugin_checks, f))

static const struct prop_rule rules[] = {
	{ "vendor_id", RULE_EQUAL, -1, NULL },
	{ "device_id", RULE_EQUAL, -1, NULL },
	{ "gfx_target_version", RULE_EQUAL, -1, NULL },
	{ "simd_count", RULE_EQUAL, -1, NULL },
	{ "mem_banks_count", RULE_EQUAL, -1, NULL },
	{ "io_links_count", RULE_EQUAL, -1, NULL },
	{ "max_waves_per_simd", RULE_EQUAL, -1, NULL },
	{ "lds_size_in_kb", RULE_EQUAL, -1, NULL },
	{ "wave_front_size", RULE_EQUAL, -1, NULL },
	{ "array_count", RULE_EQUAL, -1, NULL },
	{ "simd_arrays_per_engine", RULE_EQUAL, -1, NULL },
	{ "cu_per_simd_array", RULE_EQUAL, -1, NULL },
	{ "simd_per_cu", RULE_EQUAL, -1, NULL },
	{ "max_slots_scratch_cu", RULE_EQUAL, -1, NULL },
	{ "num_sdma_engines", RULE_EQUAL, -1, NULL },
	{ "num_sdma_xgmi_engines", RULE_EQUAL, -1, NULL },
	{ "num_sdma_queues_per_engine", RULE_EQUAL, -1, NULL },
	{ "num_cp_queues", RULE_EQUAL, -1, NULL },
	{ "capability", RULE_EQUAL, CHECK_OF(capability), "VRAMSTREAM_CHECK_CAPABILITY" },
	{ "num_gws", RULE_AT_LEAST, CHECK_OF(num_gws), "VRAMSTREAM_CHECK_GWS" },
	{ "caches_count", RULE_AT_LEAST, CHECK_OF(caches_count), "VRAMSTREAM_CHECK_CACHES" },
	{ "fw_version", RULE_AT_LEAST, CHECK_OF(fw_version), "VRAMSTREAM_CHECK_FW" },
	{ "sdma_fw_version", RULE_AT_LEAST, CHECK_OF(sdma_fw_version), "VRAMSTREAM_CHECK_SDMA_FW" },
};

static bool check_on(const struct plugin_checks *checks, int off)
{
	return off < 0 || *(const bool *)((const char *)checks + off);
}

/* Appends to @buf (at most @len) why @d cannot stand in for @s; returns the
 * number of differences (0 = compatible as far as properties go). */
static int gpu_differences(const struct topo_gpu *s, const struct topo_gpu *d,
			   const struct plugin_checks *checks, char *buf, size_t len)
{
	size_t used = buf ? strlen(buf) : 0;
	int diffs = 0;

#define APPEND(...)                                                                                \
	do {                                                                                       \
		if (buf && used < len)                                                             \
			used += snprintf(buf + used, len - used, __VA_ARGS__);                     \
	} while (0)

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct prop_rule *pr = &rules[i];
		uint64_t sv = 0, dv = 0;
		int shave = topology_prop(s, pr->name, &sv);
		int dhave = topology_prop(d, pr->name, &dv);
		bool ok;

		if (!check_on(checks, pr->check))
			continue;
		if (shave && dhave)
			continue;
		if (shave || dhave) {
			ok = false;
		} else {
			ok = pr->rule == RULE_EQUAL ? sv == dv : sv <= dv;
		}
		if (ok)
			continue;
		diffs++;
		if (shave || dhave)
			APPEND("%s%s only on the %s", diffs > 1 ? "; " : "", pr->name,
			       shave ? "target" : "source");
		else
			APPEND("%s%s %" PRIu64 " %s %" PRIu64 "%s%s%s", diffs > 1 ? "; " : "",
			       pr->name, sv, pr->rule == RULE_EQUAL ? "!=" : ">", dv,
			       pr->setting ? " (relax with " : "", pr->setting ? pr->setting : "",
			       pr->setting ? "=0)" : "");
	}
	/* amdgpu_plugin_topology.c: device_properties_match compares vram_public */
	if (s->have_links && d->have_links && s->vram_public != d->vram_public) {
		diffs++;
		APPEND("%sVRAM %s CPU-visible on the source, %s here", diffs > 1 ? "; " : "",
		       s->vram_public ? "all" : "not all", d->vram_public ? "all" : "not all");
	}
	if (checks->vram_size && s->vram_size > d->vram_size) {
		diffs++;
		APPEND("%sVRAM %" PRIu64 " MiB > %" PRIu64 " MiB (relax with "
		       "VRAMSTREAM_CHECK_VRAM_SIZE=0)",
		       diffs > 1 ? "; " : "", s->vram_size >> 20, d->vram_size >> 20);
	}
#undef APPEND
	return diffs;
}

struct match_state {
	const struct topo_system *src, *dst;
	const struct plugin_checks *checks;
	unsigned int *map;
	bool used[TOPO_MAX_GPUS];
	/* NUMA: source CPU node -> target CPU node, -1 unassigned. Indexed by
	 * node id, which KFD keeps small. */
	int32_t cpu_map[TOPO_MAX_GPUS * 2];
};

static bool numa_compatible(struct match_state *st, const struct topo_gpu *s,
			    const struct topo_gpu *d, int32_t *assigned)
{
	*assigned = -1;
	if (!st->checks->numa || s->cpu_node < 0)
		return true;
	if (d->cpu_node < 0 || s->cpu_node >= (int32_t)(sizeof(st->cpu_map) / sizeof(int32_t)))
		return false;
	if (st->cpu_map[s->cpu_node] >= 0)
		return st->cpu_map[s->cpu_node] == d->cpu_node;
	/* The target CPU node must not already stand for another source node. */
	for (size_t i = 0; i < sizeof(st->cpu_map) / sizeof(int32_t); i++)
		if (st->cpu_map[i] == d->cpu_node)
			return false;
	*assigned = s->cpu_node;
	st->cpu_map[s->cpu_node] = d->cpu_node;
	return true;
}

/* The io_link (@p2p false) or p2p link from @g to the GPU at node @to, or NULL. */
static const struct topo_link *link_to(const struct topo_gpu *g, uint32_t to, bool p2p)
{
	for (unsigned int i = 0; i < g->n_links; i++)
		if (g->links[i].node_to == to && g->links[i].p2p == p2p)
			return &g->links[i];
	return NULL;
}

static bool same_link(const struct topo_link *a, const struct topo_link *b)
{
	if (!a || !b)
		return !a && !b;
	return a->type == b->type && a->weight == b->weight;
}

/*
 * @d, standing for source GPU @i, keeps the links between GPUs: for every source GPU
 * already placed, the links between it and @s (both directions) are those
 * between its target and @d. So the GPUs of an XGMI hive land on a hive,
 * in pairs as linked as before (kfd_crat.c: kfd_fill_gpu_xgmi_link_to_gpu
 * gives each GPU of a hive an XGMI link to every other).
 */
static bool links_compatible(const struct match_state *st, unsigned int i, const struct topo_gpu *d)
{
	const struct topo_gpu *s = &st->src->gpus[i];

	if (!s->have_links)
		return true;
	for (unsigned int k = 0; k < i; k++) {
		const struct topo_gpu *sk = &st->src->gpus[k], *dk = &st->dst->gpus[st->map[k]];

		if (!same_link(link_to(s, sk->node_id, false), link_to(d, dk->node_id, false)) ||
		    !same_link(link_to(sk, s->node_id, false), link_to(dk, d->node_id, false)))
			return false;
		/*
		 * PCIe peers keep being peers: a BO of one mapped on the other comes back only
		 * where kfd_mem_attach allows it (criu_restore_bo fails otherwise), as
		 * upstream's README asks ("Same connectivity and P2P memory support").
		 */
		if (s->have_p2p && d->have_p2p && sk->have_p2p &&
		    (!same_link(link_to(s, sk->node_id, true), link_to(d, dk->node_id, true)) ||
		     !same_link(link_to(sk, s->node_id, true), link_to(dk, d->node_id, true))))
			return false;
	}
	return true;
}

static const char *link_name(uint32_t type)
{
	return type == TOPO_LINK_XGMI ? "XGMI" : type == TOPO_LINK_PCIE ? "PCIe" : "other";
}

/* Appends "0xA-0xB XGMI weight W, ..." for the links between @sys's GPUs. */
static void describe_links(const struct topo_system *sys, char *buf, size_t len)
{
	size_t used = strlen(buf);
	bool any = false;

	for (unsigned int i = 0; i < sys->n_gpus; i++) {
		const struct topo_gpu *g = &sys->gpus[i];

		for (unsigned int l = 0; l < g->n_links; l++) {
			const struct topo_link *k = &g->links[l];
			uint32_t peer = 0;

			for (unsigned int j = 0; j < sys->n_gpus; j++)
				if (sys->gpus[j].node_id == k->node_to)
					peer = sys->gpus[j].gpu_id;
			if (used < len)
				used += snprintf(buf + used, len - used,
						 "%s0x%x->0x%x %s%s weight %u", any ? ", " : "",
						 g->gpu_id, peer, link_name(k->type),
						 k->p2p ? " p2p" : "", k->weight);
			any = true;
		}
	}
	if (!any && used < len)
		snprintf(buf + used, len - used, "none");
}

/* Backtracking assignment; GPU counts are small. */
static bool match_from(struct match_state *st, unsigned int i)
{
	const struct topo_gpu *s;

	if (i == st->src->n_gpus)
		return true;
	s = &st->src->gpus[i];
	for (unsigned int j = 0; j < st->dst->n_gpus; j++) {
		const struct topo_gpu *d = &st->dst->gpus[j];
		int32_t assigned;

		if (st->used[j] || gpu_differences(s, d, st->checks, NULL, 0))
			continue;
		if (!links_compatible(st, i, d))
			continue;
		if (!numa_compatible(st, s, d, &assigned))
			continue;
		st->used[j] = true;
		st->map[i] = j;
		if (match_from(st, i + 1))
			return true;
		st->used[j] = false;
		if (assigned >= 0)
			st->cpu_map[assigned] = -1;
	}
	return false;
}

int topology_match(const struct topo_system *src, const struct topo_system *dst,
		   const struct plugin_checks *checks, unsigned int map[TOPO_MAX_GPUS], char *why,
		   size_t why_len)
{
	struct match_state st = { .src = src, .dst = dst, .checks = checks, .map = map };
	size_t used;

	for (size_t i = 0; i < sizeof(st.cpu_map) / sizeof(int32_t); i++)
		st.cpu_map[i] = -1;
	if (src->n_gpus != dst->n_gpus) {
		common_errf(why, why_len,
			    "the image was dumped with %u GPU(s), this machine has %u", src->n_gpus,
			    dst->n_gpus);
		return -ENODEV;
	}
	if (match_from(&st, 0))
		return 0;

	/* Explain: for each source GPU, what differs on every candidate. */
	common_errf(why, why_len, "no assignment of this machine's GPUs fits the image:");
	for (unsigned int i = 0; i < src->n_gpus; i++) {
		const struct topo_gpu *s = &src->gpus[i];

		for (unsigned int j = 0; j < dst->n_gpus; j++) {
			const struct topo_gpu *d = &dst->gpus[j];

			used = strlen(why);
			if (used + 1 >= why_len)
				return -ENODEV;
			snprintf(why + used, why_len - used,
				 " [gpu 0x%x (node %u) vs 0x%x (node %u): ", s->gpu_id, s->node_id,
				 d->gpu_id, d->node_id);
			if (!gpu_differences(s, d, checks, why, why_len)) {
				used = strlen(why);
				snprintf(why + used, why_len - used,
					 checks->numa ? "properties match; links to other GPUs or "
							"NUMA placement conflict (relax NUMA with "
							"VRAMSTREAM_CHECK_NUMA=0)"
						      : "properties match; links to other GPUs "
							"conflict");
			}
			used = strlen(why);
			snprintf(why + used, why_len - used, "]");
		}
	}
	used = strlen(why);
	snprintf(why + used, why_len - used, "; links between the image's GPUs: ");
	describe_links(src, why, why_len);
	used = strlen(why);
	snprintf(why + used, why_len - used, "; between this machine's: ");
	describe_links(dst, why, why_len);
	return -ENODEV;
}
