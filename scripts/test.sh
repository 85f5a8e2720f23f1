#!/bin/bash
# The whole test suite, from nothing: installs what is needed, builds twice
# (a plain build for every suite, an ASan/UBSan build for the unit suite),
# checks the C files' format, runs meson test, then compiles the tree with
# clang too and fuzzes the image parsers. Exit status is non-zero
# on any failure. Run as root.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

scripts/setup.sh
scripts/build.sh build
scripts/build.sh build-san -Db_sanitize=address,undefined -Db_lundef=false

status=0
echo "== format (scripts/format_check.sh: .clang-format, clang-format 14)"
scripts/format_check.sh || status=1
echo "== unit tests under ASan/UBSan (build-san)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-san --suite unit --print-errorlogs || status=1
echo "== all suites (build)"
meson test -C build --print-errorlogs || status=1
if command -v clang >/dev/null; then
	echo "== the whole tree with clang, warnings as errors (build-clang, compiled only)"
	CC=clang scripts/build.sh build-clang || status=1
	echo "== fuzzing the stream reader for 60 s (clang, libFuzzer; tests/compress/run_fuzz.sh)"
	tests/compress/run_fuzz.sh 60 build-fuzz || status=1
	echo "== fuzzing the plugin's metadata parsers for 30 s (tests/unit/run_fuzz_plugin_image.sh)"
	tests/unit/run_fuzz_plugin_image.sh 30 build-fuzz || status=1
fi
exit $status
