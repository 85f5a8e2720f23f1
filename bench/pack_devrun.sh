#!/bin/bash
# Packs build/bench/vramstream-bench and the shared libraries it needs that
# the device machine lacks into .devrun/ (ignored by git; carried by the
# device tool's `carry`), for bench/run_h100.sh.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
run=$repo/.devrun
rm -rf "$run"
mkdir -p "$run/lib"
cp "$repo/build/bench/vramstream-bench" "$run/"
ldd "$run/vramstream-bench" | awk '$3 ~ /^\// {print $3}' |
	grep -E 'libzstd|liburing|libdrm|libprotobuf-c|libxxhash' | while read -r lib; do
	cp -L "$lib" "$run/lib/"
done
ls -l "$run" "$run/lib"
