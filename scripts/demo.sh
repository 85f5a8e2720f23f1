#!/bin/bash
# The main job: start a GPU workload (on the emulated AMD GPUs when this
# machine has none), checkpoint it with real criu and the vramstream plugin,
# kill it, restore it, show it continuing to the same result as an
# uninterrupted run, and print what the dump and restore cost.
# Installs and builds what it needs first. Run as root.
#
# Environment: DEMO_GPUS (2), DEMO_VRAM (256M per GPU), DEMO_VRAM_USED (96M),
# DEMO_STEPS (300); VRAMSTREAM_* settings reach the plugin (README.md).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scripts/setup.sh
scripts/build.sh build
# shellcheck source=/dev/null
source "${VRAMSTREAM_CACHE:-$repo/.cache}/criu.env"

gpus=${DEMO_GPUS:-2}
vram=$(numfmt --from=iec "${DEMO_VRAM:-256M}")
used=$(numfmt --from=iec "${DEMO_VRAM_USED:-96M}")
steps=${DEMO_STEPS:-300}
work=$(mktemp -d /tmp/vramstream-demo.XXXXXX)
emu=$work/emu
pid=""
cleanup() {
	[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
	build/emu/vramstream-emu stop --dir "$emu" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
secs() { awk "BEGIN { printf \"%.2f\", $2 - $1 }"; }

wl=(build/emu/vramstream-emu-workload --steps "$steps" --vram "$vram" --vram-used "$used"
	--gtt $((16 << 20)) --host $((1 << 20)))
if [ -e /dev/kfd ]; then
	echo "== using this machine's AMD GPUs"
else
	echo "== no AMD GPU here: starting the emulator ($gpus GPUs, emu/README.md)"
	build/emu/vramstream-emu start --dir "$emu" --gpus "$gpus" --vram 1G >/dev/null
	export VRAMSTREAM_EMU_DIR=$emu LD_PRELOAD=$repo/build/emu/libvramstream-emu-shim.so
fi

echo "== reference: the workload run uninterrupted ($steps steps, $((vram >> 20)) MiB VRAM per GPU)"
ref=$("${wl[@]}" | grep '^digest ')
echo "   $ref"

echo "== the same workload, to be checkpointed"
setsid "${wl[@]}" --delay-ms 20 </dev/null >"$work/out" 2>&1 &
pid=$!
until grep -q '^step 60$' "$work/out"; do sleep 0.1; done
echo "   pid $pid is at $(tail -n 1 "$work/out")"

echo "== criu dump (the process is checkpointed and killed)"
mkdir -p "$work/img"
t0=$(date +%s.%N)
exec 3>&2 2>/dev/null # not bash's own "Killed" line for the checkpointed process
"$CRIU" dump -t "$pid" -D "$work/img" -o dump.log -v4 --lib "$repo/build/plugin" ||
	{ exec 2>&3; echo "criu dump failed: $work/img/dump.log" >&2; tail -n 20 "$work/img/dump.log" >&2; exit 1; }
t1=$(date +%s.%N)
wait "$pid" || true
exec 2>&3 3>&-
at=$(grep -c '^step ' "$work/out")
echo "   dumped at step $at in $(secs "$t0" "$t1") s"
grep -h 'vramstream: dump of pid .*GB/s' "$work/img/dump.log" | sed 's/^.*vramstream: /   /'

echo "== criu restore"
t0=$(date +%s.%N)
"$CRIU" restore -D "$work/img" -o restore.log -v4 --lib "$repo/build/plugin" -d --pidfile "$work/pid"
t1=$(date +%s.%N)
pid=$(cat "$work/pid")
echo "   restored pid $pid in $(secs "$t0" "$t1") s"
grep -h "vramstream: restore of pid .*\(GB/s\|criu's process in\)" "$work/img/restore.log" | sed 's/^.*vramstream: /   /'
sleep 1
echo "   it goes on: $(tail -n 1 "$work/out")"
while kill -0 "$pid" 2>/dev/null && ! grep -q '^digest ' "$work/out"; do sleep 0.2; done
sleep 0.2
got=$(grep '^digest ' "$work/out" || echo "no digest")
pid=""
echo "   finished: $got"

echo "== what the image cost"
gpu_bytes=$(grep -h 'vramstream: dump of pid .*GB moved' "$work/img/dump.log" |
	sed 's/.* \([0-9.]*\) GB moved, \([0-9.]*\) GB stored.*/\1 \2/' |
	awk '{ m += $1; s += $2 } END { printf "%.3f GB of GPU memory -> %.3f GB of streams (ratio %.2f)", m, s, s ? m / s : 0 }')
echo "   $gpu_bytes"
echo "   image folder: $(du -sh "$work/img" | cut -f1) in $(ls "$work/img" | wc -l) files" \
	"($(ls "$work/img"/*.vrs | wc -l) GPU stream files)"
if [ "$got" = "$ref" ] && grep -q '^verify ok' "$work/out"; then
	echo "== OK: the restored workload ended exactly as the uninterrupted run ($ref)"
else
	echo "== FAILED: restored run ended with '$got', uninterrupted with '$ref'" >&2
	exit 1
fi
