#!/bin/bash
# The real-GPU run of `vramstream-bench e2e` (bench/RESULTS.md): on the lent
# NVIDIA H100 machine (device tool), the plugin's transfer pipeline moves real
# device memory through the GPU's copy engines (CUDA, loaded at run time),
# zstd workers and io_uring, into /dev/shm and onto the disk, restores it
# into fresh device memory and verifies every byte, against the copy-wait-
# write baseline and the machine's raw pinned copy bandwidth measured in the
# same run.
#
# That machine has no liburing, libdrm, libxxhash or a matching libzstd and cannot
# install packages, so the caller builds here and carries the binary with its
# libraries (bench/pack_devrun.sh makes .devrun/).
# Usage (on the device): bash bench/run_h100.sh [SIZE_PER_RUN]
set -u
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
run=$repo/.devrun
out=${OUT:-/tmp/vramstream-h100}
size=${1:-8G}
mkdir -p "$out"
export LD_LIBRARY_PATH=$run/lib
bench=$run/vramstream-bench

{
	echo "== machine"
	nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
	echo "cores: $(nproc), memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
	df -h /dev/shm /var/tmp | sed 1d
} 2>&1 | tee "$out/machine.txt"

# variant NAME ARGS...: one e2e run, its table on stdout, its JSON kept.
variant() {
	local name=$1
	shift
	echo "== $name: $*"
	"$bench" e2e --dma cuda --size "$size" --bo-size 512M --json "$@" >"$out/$name.txt" 2>&1
	echo "exit $?" >>"$out/$name.txt"
	grep -v '^{' "$out/$name.txt"
	grep '^{' "$out/$name.txt" >"$out/$name.json"
}

variant shm-random-off --kind random --level off --dir /dev/shm/vramstream-e2e
variant shm-mixed-off --kind mixed --level off --dir /dev/shm/vramstream-e2e
variant shm-mixed-zstd1 --kind mixed --level 1 --dir /dev/shm/vramstream-e2e
variant shm-mixed-zstd-1 --kind mixed --level -1 --dir /dev/shm/vramstream-e2e
variant disk-mixed-zstd1 --kind mixed --level 1 --dir /var/tmp/vramstream-e2e
# A tmpfs on huge pages takes write() faster than the stock /dev/shm (RESULTS.md, session 5).
huge=/mnt/vramstream-huge
if mkdir -p "$huge" && mount -t tmpfs -o size=40G,huge=within_size tmpfs "$huge"; then
	variant hugetmpfs-random-off --kind random --level off --dir "$huge/vramstream-e2e" --no-baseline
	umount "$huge"
fi
rm -rf /dev/shm/vramstream-e2e /var/tmp/vramstream-e2e
