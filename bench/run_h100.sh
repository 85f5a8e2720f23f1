#!/bin/bash
# The real-GPU run of `vramstream-bench e2e` (bench/RESULTS.md, issue 21): on
# the lent NVIDIA H100 machine (device tool), the plugin's transfer pipeline
# moves real device memory through the GPU's copy engines (CUDA, loaded at
# run time), zstd workers and io_uring into a tmpfs, restores it into fresh
# device memory and verifies every byte. Each run prints, measured in the
# same run, the link both ways, the folder's write() and read() ceilings,
# the pipeline's dump and restore as a share of the slowest of them, and
# where each direction's time went per kind of thread.
#
# The standard set (issue 21's targets): 16 GiB of random data, compression
# off, into a huge-page tmpfs (restore >= 85% of host->device, dump >= 85%
# of device->host) and into the stock /dev/shm (dump >= 90% of its write());
# mixed data at zstd level 1 into both (>= 90% of the slower of the link and
# zstd on all cores). Where .devrun/vramstream-bench.base exists (the build
# the branch started from, bench/pack_devrun.sh BASE_BUILD), the raw runs are
# repeated with it, alternated, so a change is told from the machine's
# spread. Fits one device call: about 10-15 s per 16 GiB run; runs past
# the time budget are skipped and say so.
#
# That machine has no liburing, libdrm, libxxhash or a matching libzstd and cannot
# install packages, so the caller builds here and carries the binaries with
# their libraries (bench/pack_devrun.sh makes .devrun/).
# Usage (on the device): bash bench/run_h100.sh [SIZE_PER_RUN] [BUDGET_S]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
run=$repo/.devrun
out=${OUT:-/tmp/vramstream-h100}
size=${1:-16G}
budget=${2:-500}
mkdir -p "$out"
exec > >(tee "$out/run.log") 2>&1
export LD_LIBRARY_PATH=$run/lib
bench=$run/vramstream-bench
base=$run/vramstream-bench.base
start=$SECONDS
[ -x "$bench" ] || { echo "no $bench: run bench/pack_devrun.sh first"; exit 1; }
[ -x "$base" ] || base=

echo "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,pcie.link.gen.current,pcie.link.width.current \
	--format=csv,noheader || true
echo "cores: $(nproc), memory: $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r)"
lscpu | grep -E 'Model name|NUMA node' || true
df -h /dev/shm | sed 1d
uptime

huge=/mnt/vramstream-huge
mkdir -p "$huge"
hugeok=0
if mountpoint -q "$huge" || mount -t tmpfs -o size=40G,huge=within_size tmpfs "$huge"; then
	hugeok=1
else
	echo "no huge-page tmpfs: its runs are skipped"
fi
cleanup() {
	rm -rf /dev/shm/vramstream-e2e
	if [ "$hugeok" = 1 ]; then
		rm -rf "$huge/vramstream-e2e"
		umount "$huge" || true
	fi
}
trap cleanup EXIT

# variant NAME BINARY FOLDER ARGS...: one e2e run; its output shown and kept,
# its JSON line in NAME.json. A failed run is reported and the set goes on.
variant() {
	local name=$1 bin=$2 dir=$3 rc=0
	shift 3
	if [ -z "$bin" ] || { [ "$dir" = huge ] && [ "$hugeok" != 1 ]; }; then
		return 0
	fi
	if ((SECONDS - start > budget)); then
		echo "== $name: skipped, past the time budget of ${budget} s"
		return 0
	fi
	[ "$dir" = huge ] && dir=$huge/vramstream-e2e || dir=/dev/shm/vramstream-e2e
	echo "== $name ($(basename "$bin")): e2e --size $size $* --dir $dir  [t=$((SECONDS - start)) s]"
	timeout 240 "$bin" e2e --dma cuda --size "$size" --bo-size 512M --json --dir "$dir" "$@" \
		>"$out/$name.txt" 2>&1 || rc=$?
	grep -v '^{' "$out/$name.txt" || true
	grep '^{' "$out/$name.txt" >"$out/$name.json" || true
	echo "exit $rc"
	rm -rf "$dir"
}

raw=(--kind random --level off --no-baseline)
mixed=(--kind mixed --level 1 --no-baseline)
# Targets first, each alternated with the base build, then the second pairs.
variant huge-random-off "$bench" huge "${raw[@]}"
variant huge-random-off.base "$base" huge "${raw[@]}"
variant shm-random-off "$bench" shm "${raw[@]}"
variant shm-random-off.base "$base" shm "${raw[@]}"
variant huge-mixed-zstd1 "$bench" huge "${mixed[@]}"
variant huge-mixed-zstd1.base "$base" huge "${mixed[@]}"
variant shm-mixed-zstd1 "$bench" shm "${mixed[@]}"
variant shm-mixed-zstd1.base "$base" shm "${mixed[@]}"
# Diagnostics: twice the workers (two per stream file) and so 72 pinned
# buffers instead of 40: do more threads or buffers in flight help?
variant huge-random-off.w32 "$bench" huge "${raw[@]}" --workers 32
variant huge-mixed-zstd1.w32 "$bench" huge "${mixed[@]}" --workers 32
variant huge-random-off.2 "$bench" huge "${raw[@]}"
variant huge-random-off.base.2 "$base" huge "${raw[@]}"
variant shm-random-off.2 "$bench" shm "${raw[@]}"
variant shm-random-off.base.2 "$base" shm "${raw[@]}"
# Periodic checkpoints (issue 20): a second dump of unchanged VRAM and one
# after 10% of the chunks changed, against a full one, and their restores.
variant huge-incremental-random "$bench" huge --incremental --kind random --level off
variant shm-incremental-mixed "$bench" shm --incremental --kind mixed --level 1
variant huge-mixed-zstd1.2 "$bench" huge "${mixed[@]}"
variant huge-mixed-zstd1.base.2 "$base" huge "${mixed[@]}"
# Restore blocking on the oldest copy, as the CUDA stand-in did before.
variant huge-random-off.nopoll "$bench" huge "${raw[@]}" --no-poll
# Against the upstream plugin's copy-wait-write design, last (the slowest run).
variant shm-random-off.baseline "$bench" shm --kind random --level off

echo "== summary (GB/s; share of the slowest limit measured in the same run)  [t=$((SECONDS - start)) s]"
if command -v python3 >/dev/null; then
	python3 - "$out" <<'PY' || true
import glob, json, os, sys
print("%-26s %7s %7s %7s %7s %6s %6s  %-8s %-8s %5s %5s %6s %6s" % ("run", "dump", "restore",
      "d2h", "h2d", "dump%", "rest%", "dump lim", "rest lim", "cpu d", "cpu r", "shr d%",
      "shr r%"))
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    try:
        doc = json.loads(open(f).read().strip().splitlines()[-1])
    except Exception:
        continue
    if "pipeline" not in doc:
        continue  # --incremental runs: their own table above
    p, c, lim = doc["pipeline"], doc["config"], doc.get("limits", {})
    shared = lim.get("shared_gbps", [0, 0])
    shr = ["%6.0f" % (100 * r / s) if s else "     -" for r, s in
           ((p["dump_gbps"], shared[0]), (p["restore_gbps"], shared[1]))]
    print("%-26s %7.2f %7.2f %7.2f %7.2f %6.0f %6.0f  %-8s %-8s %5.2f %5.2f %s %s" % (
        os.path.basename(f)[:-5], p["dump_gbps"], p["restore_gbps"], c["raw_d2h_gbps"],
        c["raw_h2d_gbps"], 100 * lim.get("dump_share", 0), 100 * lim.get("restore_share", 0),
        lim.get("dump_slowest", "-")[:8], lim.get("restore_slowest", "-")[:8],
        p["dump_cpu_s_per_gb"], p["restore_cpu_s_per_gb"], shr[0], shr[1]))
PY
fi
echo "done in $((SECONDS - start)) s; results in $out"
