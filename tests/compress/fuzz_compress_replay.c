/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Replays fuzz inputs through LLVMFuzzerTestOneInput without libFuzzer, so the
 * corpus runs under meson test with any compiler (as zstd's tests/fuzz do).
 * Arguments: files or folders of inputs. Each input is also replayed truncated
 * at a few lengths and with a few deterministic single-bit flips.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned int inputs;

static void replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (!f) {
		perror(path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(len ? (size_t)len : 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "%s: read failed\n", path);
		exit(1);
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	for (long cut = len - 1; cut > 0; cut = cut * 2 / 3)
		LLVMFuzzerTestOneInput(buf, (size_t)cut);
	for (long bit = 0; len && bit < len * 8; bit += 8 * 97 + 3) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		LLVMFuzzerTestOneInput(buf, (size_t)len);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	free(buf);
	inputs++;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct stat st;
		struct dirent **names;
		int n;

		if (stat(argv[i], &st) || !S_ISDIR(st.st_mode)) {
			replay_file(argv[i]);
			continue;
		}
		n = scandir(argv[i], &names, NULL, alphasort);
		for (int k = 0; k < n; k++) {
			char path[4096];

			if (names[k]->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
				replay_file(path);
			}
			free(names[k]);
		}
		free(names);
	}
	printf("replayed %u inputs\n", inputs);
	return inputs ? 0 : 1;
}
