#!/bin/bash
# Packs build/bench/vramstream-bench and the shared libraries it needs that
# the device machine lacks into .devrun/ (ignored by git; carried by the
# device tool's `carry`), for bench/run_h100.sh. With BASE_BUILD (another
# build folder, e.g. of the commit a branch started from), its bench goes
# beside as .devrun/vramstream-bench.base, which run_h100.sh alternates with.
# Usage: bash bench/pack_devrun.sh [BASE_BUILD]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
run=$repo/.devrun
rm -rf "$run"
mkdir -p "$run/lib"
cp "$repo/build/bench/vramstream-bench" "$run/"
if [ $# -gt 0 ]; then
	cp "$1/bench/vramstream-bench" "$run/vramstream-bench.base"
fi
for bin in "$run"/vramstream-bench*; do
	ldd "$bin" | awk '$3 ~ /^\// {print $3}' | grep -E 'libzstd|liburing|libdrm|libprotobuf-c|libxxhash'
done | sort -u | while read -r lib; do
	cp -L "$lib" "$run/lib/"
done
ls -l "$run" "$run/lib"
du -sh "$run"
