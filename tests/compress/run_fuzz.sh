#!/bin/bash
# Runs the stream reader's libFuzzer target for a bounded time.
# Usage: run_fuzz.sh [SECONDS=60] [BUILDDIR=build-fuzz]
# Builds only the fuzz target, with clang, ASan and UBSan, and coverage
# instrumentation on compress/ (-fsanitize=fuzzer-no-link; metadata checksums
# are not enforced in this build, see compress_meta_sum_ok()), then fuzzes from a
# copy of tests/compress/fuzz_corpus. A crash leaves its input as
# BUILDDIR/fuzz-crash-*; copy it into fuzz_corpus/ once fixed, so the
# replay test (suite fuzz) keeps it. Exit status is non-zero on any finding.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${1:-60}
builddir=${2:-$repo/build-fuzz}
cache=${VRAMSTREAM_CACHE:-$repo/.cache}
command -v clang >/dev/null || { echo "run_fuzz: clang not found" >&2; exit 1; }
[ -f "$cache/criu.env" ] || { echo "run_fuzz: run scripts/setup.sh first" >&2; exit 1; }
# shellcheck source=/dev/null
source "$cache/criu.env"

opts=(-Dcriu="$CRIU" -Dcriu_include="$CRIU_INCLUDE" -Dfuzzing=true
      -Db_sanitize=address,undefined -Db_lundef=false "-Dc_args=-fsanitize=fuzzer-no-link -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION")
if [ -f "$builddir/build.ninja" ]; then
	meson configure "$builddir" "${opts[@]}" >/dev/null
else
	CC=clang meson setup "$builddir" "$repo" "${opts[@]}" >/dev/null
fi
ninja -C "$builddir" tests/compress/fuzz_compress_reader >/dev/null

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp "$repo"/tests/compress/fuzz_corpus/* "$corpus"/
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	"$builddir/tests/compress/fuzz_compress_reader" -max_total_time="$secs" -max_len=65536 \
	-rss_limit_mb=4096 -timeout=20 -print_final_stats=1 \
	-artifact_prefix="$builddir/fuzz-" "$corpus"
