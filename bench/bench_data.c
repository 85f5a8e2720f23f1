/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Synthetic VRAM contents and process counters for the benchmarks.
 *
 * bf16: weights drawn from N(0, 0.02) (a common initialisation scale for
 * transformer weights) rounded to bfloat16 (the upper 16 bits of an IEEE
 * float, round to nearest even). mixed: a VRAM-like layout of runs of 64 KiB
 * to 8 MiB: 40% untouched zero pages, 40% bf16 weights, 20% random bytes
 * (already compressed or encrypted data, RNG state).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "common_io.h"

static uint64_t bench_rng(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint16_t bench_bf16(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	u += 0x7fff + ((u >> 16) & 1); /* round to nearest even */
	return (uint16_t)(u >> 16);
}

static void fill_random(uint8_t *p, size_t len, uint64_t *s)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = bench_rng(s);

		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)bench_rng(s);
}

static void fill_bf16(uint8_t *p, size_t len, uint64_t *s)
{
	size_t i;

	/* Box-Muller: two normal values per pair of uniforms */
	for (i = 0; i + 4 <= len; i += 4) {
		uint64_t r = bench_rng(s);
		double u1 = ((double)(r >> 40) + 1.0) / 16777217.0;
		double u2 = (double)(r & 0xffffff) / 16777216.0;
		double m = sqrt(-2.0 * log(u1)) * 0.02;
		uint16_t a = bench_bf16((float)(m * cos(2 * M_PI * u2)));
		uint16_t b = bench_bf16((float)(m * sin(2 * M_PI * u2)));

		memcpy(p + i, &a, 2);
		memcpy(p + i + 2, &b, 2);
	}
	for (; i < len; i++)
		p[i] = 0;
}

void bench_data_fill(enum bench_kind kind, uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed;

	switch (kind) {
	case BENCH_ZEROS:
		memset(buf, 0, len);
		break;
	case BENCH_RANDOM:
		fill_random(buf, len, &s);
		break;
	case BENCH_BF16:
		fill_bf16(buf, len, &s);
		break;
	default:
		for (size_t pos = 0; pos < len;) {
			size_t n = (size_t)(64 << 10) * (1 + bench_rng(&s) % 128);
			unsigned int pick = (unsigned int)(bench_rng(&s) % 10);

			if (n > len - pos)
				n = len - pos;
			if (pick < 4)
				memset(buf + pos, 0, n);
			else if (pick < 8)
				fill_bf16(buf + pos, n, &s);
			else
				fill_random(buf + pos, n, &s);
			pos += n;
		}
		break;
	}
}

static const char *const bench_kind_names[] = { "zeros", "random", "bf16", "mixed" };

int bench_kind_parse(const char *s, enum bench_kind *kind)
{
	for (int i = 0; i < BENCH_KINDS; i++)
		if (!strcmp(s, bench_kind_names[i])) {
			*kind = i;
			return 0;
		}
	return -EINVAL;
}

const char *bench_kind_name(enum bench_kind kind)
{
	return bench_kind_names[kind];
}

static double bench_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void bench_usage_start(struct bench_clock *c)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	/* "5" resets the peak RSS (VmHWM), Documentation/filesystems/proc.rst */
	if (f) {
		fputs("5", f);
		fclose(f);
	}
	c->wall0 = common_now_s();
	c->cpu0 = bench_cpu();
}

void bench_usage_stop(const struct bench_clock *c, struct bench_usage *u)
{
	char line[256];
	FILE *f;

	u->wall_s = common_now_s() - c->wall0;
	u->cpu_s = bench_cpu() - c->cpu0;
	u->peak_rss = 0;
	f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			u->peak_rss = strtoull(line + 6, NULL, 10) * 1024;
	if (f)
		fclose(f);
}

int bench_write_all(int fd, const void *buf, size_t len)
{
	return common_write_all(fd, buf, len, COMMON_IO_POS);
}

int bench_read_all(int fd, void *buf, size_t len)
{
	int r = common_read_all(fd, buf, len, COMMON_IO_POS);

	return r == -ENODATA ? -EIO : r;
}

/*
 * Between a dump and its restore (outside the timed parts): writes the file
 * back and drops it from the page cache, so that on a disk every restore
 * reads from the disk, not one from the cache (the pipeline reads with
 * O_DIRECT). A no-op on tmpfs.
 */
void bench_drop_cached(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}
