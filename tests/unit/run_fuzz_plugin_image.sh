#!/bin/bash
# Runs the plugin metadata parsers' libFuzzer target for a bounded time, in
# the fuzz build that tests/compress/run_fuzz.sh sets up (clang, ASan, UBSan).
# Usage: run_fuzz_plugin_image.sh [SECONDS=30] [BUILDDIR=build-fuzz]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${1:-30}
builddir=${2:-$repo/build-fuzz}
[ -f "$builddir/build.ninja" ] || { echo "run_fuzz_plugin_image: run tests/compress/run_fuzz.sh first" >&2; exit 1; }
ninja -C "$builddir" tests/fuzz_plugin_image >/dev/null
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp "$repo"/tests/unit/fuzz_plugin_image_corpus/* "$corpus"/
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	"$builddir/tests/fuzz_plugin_image" -max_total_time="$secs" -max_len=4096 \
	-rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
	-artifact_prefix="$builddir/fuzz-plugin-image-" "$corpus"
