#!/bin/bash
# What a folder takes from plain write(): WRITERS dd processes at once, each
# writing its own file of MIB MiB in 8 MiB blocks, and the GB/s of all of
# them together (wall time from the first start to the last exit). This is
# the ceiling for a dump that stores raw chunks there (bench/RESULTS.md).
# Usage: bash bench/tmpfs_ceiling.sh DIR [WRITERS] [MIB]
set -eu
dir=$1
writers=${2:-16}
mib=${3:-1024}
mkdir -p "$dir/ceiling"
t0=$(date +%s.%N)
for i in $(seq "$writers"); do
	dd if=/dev/zero of="$dir/ceiling/f$i" bs=8M count=$((mib / 8)) status=none &
done
wait
t1=$(date +%s.%N)
rm -rf "$dir/ceiling"
awk -v d="$dir" -v w="$writers" -v m="$mib" -v a="$t0" -v b="$t1" \
	'BEGIN { printf "%s: %d writers x %d MiB: %.2f GB/s\n", d, w, m, w * m * 1048576 / (b - a) / 1e9 }'
