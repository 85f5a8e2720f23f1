#!/bin/bash
# Whole `criu restore` wall time with BO contents restored from criu's own
# process while criu restores the rest (VRAMSTREAM_RESTORE_OVERLAP=1, the
# default) against the order without overlap (=0: inside each task's file
# restore, criu waiting). One image, restored alternately both ways (ABBA
# order), on the emulator unless this machine has /dev/kfd.
#
# The workload has GPU memory (--vram-used per GPU) and plain process memory
# (--cpu-mem) for criu's own work; each restored run finishes its last steps
# and must print the uninterrupted digest with its CPU memory intact, so every
# timed restore is also checked. The time is criu's own: the timestamp of its
# "Restore finished successfully" log line.
#
# Usage: bench/restore_overlap.sh [--gpus N] [--vram-used SIZE] [--cpu-mem SIZE]
#        [--runs K] [--tree] [--sdma-rate BYTES_PER_S]
#   --tree: two workloads under one parent (a process tree), each with the sizes
#   --sdma-rate: cap each emulated SDMA ring (models a PCIe link; 0 = none)
# Needs root, scripts/setup.sh and a build in build/.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=/dev/null
source "${VRAMSTREAM_CACHE:-$repo/.cache}/criu.env"

gpus=2 used=256M cpu=1G runs=3 tree=0 rate=0
while [ $# -gt 0 ]; do
	case $1 in
	--gpus) gpus=$2; shift 2 ;;
	--vram-used) used=$2; shift 2 ;;
	--cpu-mem) cpu=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--tree) tree=1; shift ;;
	--sdma-rate) rate=$2; shift 2 ;;
	*) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
used=$(numfmt --from=iec "$used")
cpu=$(numfmt --from=iec "$cpu")
host=$((1 << 20))
vram=$(((used + host - 1) / host * host))
for b in build/emu/vramstream-emu build/plugin/vramstream.so build/tests/reap_run; do
	[ -e "$b" ] || { echo "restore_overlap: $b missing: run scripts/build.sh build" >&2; exit 1; }
done

work=$(mktemp -d /tmp/vramstream-overlap.XXXXXX)
emu=$work/emu
cleanup() {
	pkill -9 -f "$work/" 2>/dev/null || true
	build/emu/vramstream-emu stop --dir "$emu" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

if [ ! -e /dev/kfd ]; then
	cfgargs=()
	if [ "$rate" != 0 ]; then
		for ((g = 0; g < gpus; g++)); do echo "gpu.$g.sdma_bytes_per_sec $rate"; done >"$work/emu.cfg"
		cfgargs=(--config "$work/emu.cfg")
	fi
	build/emu/vramstream-emu start --dir "$emu" --gpus "$gpus" --vram $(((tree + 1) * vram + (64 << 20))) \
		"${cfgargs[@]}" >/dev/null
	export VRAMSTREAM_EMU_DIR=$emu LD_PRELOAD=$repo/build/emu/libvramstream-emu-shim.so
fi

steps=8
wl=(build/emu/vramstream-emu-workload --steps $steps --vram "$vram" --vram-used "$used"
	--gtt "$host" --host "$host" --cpu-mem "$cpu")
echo "== reference run ($gpus GPU(s), $((used >> 20)) MiB VRAM used per GPU, $((cpu >> 20)) MiB CPU memory)"
ref=$("${wl[@]}" --no-verify | grep '^digest ')
echo "   $ref"

# The workloads to checkpoint: one, or two children of one parent (--tree).
cp "${wl[0]}" "$work/workload"
wl[0]=$work/workload
if [ "$tree" = 1 ]; then
	# Under a subreaper, so the children criu kills at dump do not linger as
	# zombies holding their pids.
	build/tests/reap_run setsid bash -c \
		"\"\$@\" --delay-ms 400 >$work/a.out 2>&1 & \"\$@\" --delay-ms 400 >$work/b.out 2>&1 & wait" \
		tree "${wl[@]}" --no-verify </dev/null >/dev/null 2>&1 &
	reaper=$!
	outs=("$work/a.out" "$work/b.out")
else
	setsid "${wl[@]}" --no-verify --delay-ms 400 </dev/null >"$work/a.out" 2>&1 &
	outs=("$work/a.out")
fi
root=$!
if [ "$tree" = 1 ]; then
	until root=$(pgrep -P "$reaper"); do sleep 0.05; done
fi
for o in "${outs[@]}"; do
	for ((i = 0; i < 600; i++)); do grep -q '^step 2$' "$o" 2>/dev/null && break; sleep 0.1; done
	grep -q '^step 2$' "$o" || { echo "workload did not start: $(cat "$o")" >&2; exit 1; }
done
mkdir "$work/img"
exec 3>&2 2>/dev/null # not bash's "Killed" report when the dumped workload ends
"$CRIU" dump -t "$root" -D "$work/img" -o dump.log -v4 --lib "$repo/build/plugin" ||
	{ exec 2>&3; echo "criu dump failed:" >&2; grep -E "Error|vramstream" "$work/img/dump.log" | tail -n 20 >&2; exit 1; }
wait "${reaper:-$root}" || true
exec 2>&3 3>&-
echo "== dumped at step $(grep -c '^step ' "${outs[0]}"): $(du -sh "$work/img" | cut -f1) of images"
for o in "${outs[@]}"; do cp "$o" "$o.dumped"; done

# restore_once OVERLAP RUN: prints criu's restore time in seconds.
restore_once() {
	local log=restore-$1-$2.log o
	for o in "${outs[@]}"; do cp "$o.dumped" "$o"; done
	VRAMSTREAM_RESTORE_OVERLAP=$1 build/tests/reap_run "$CRIU" restore -D "$work/img" -o "$log" \
		-v4 --lib "$repo/build/plugin" >/dev/null 2>&1 ||
		{ echo "restore (overlap=$1) failed: $work/img/$log" >&2; tail -n 20 "$work/img/$log" >&2; exit 1; }
	for o in "${outs[@]}"; do
		grep -q "^$ref" "$o" && grep -q '^cpu-mem ok' "$o" ||
			{ echo "restored run (overlap=$1) did not finish as the reference:" >&2; tail -n 3 "$o" >&2; exit 1; }
	done
	sed -n 's/^(\s*\([0-9.]*\)).*Restore finished successfully.*/\1/p' "$work/img/$log"
}

declare -A total=([0]=0 [1]=0)
echo "== criu restore, whole wall time (s), each restore checked"
printf '   %-4s %-10s %-10s\n' run overlap=1 overlap=0
for ((r = 1; r <= runs; r++)); do
	if ((r % 2)); then order="1 0"; else order="0 1"; fi
	declare -A t=()
	for m in $order; do t[$m]=$(restore_once "$m" "$r"); done
	printf '   %-4s %-10s %-10s\n' "$r" "${t[1]}" "${t[0]}"
	total[1]=$(awk "BEGIN { print ${total[1]} + ${t[1]} }")
	total[0]=$(awk "BEGIN { print ${total[0]} + ${t[0]} }")
done
awk -v a="${total[1]}" -v b="${total[0]}" -v n="$runs" 'BEGIN {
	printf "   mean: overlap %.3f s, without %.3f s: %.2fx faster (%.0f%% less)\n",
		a / n, b / n, b / a, 100 * (b - a) / b }'
echo "== the plugin's account of the last overlapped restore"
grep -h "vramstream: restore of pid .*\(criu's process in\|GB/s\)" "$work/img/restore-1-$runs.log" |
	sed 's/^.*vramstream: /   /'
