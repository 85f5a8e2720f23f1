#!/bin/bash
# criu's resident memory during a dump and a restore of more VRAM than the
# plugin's pinned pool, split into the emulator's share and the rest:
#  - emulator: pages of the GPUs' apertures the emulator's shim maps into
#    criu to execute SDMA packets (mappings of /dev/shm/vramstream-emu-*
#    files and their dma-buf views); on hardware this memory is VRAM, not
#    criu's;
#  - pinned: the plugin's pinned host buffers (anonymous memory registered
#    as userptr BOs), bounded by VRAMSTREAM_PINNED_MAX per GPU;
#  - rest: criu itself, the plugin's code, heap, zstd contexts, io_uring.
# Peaks over samples of /proc/PID/smaps every 20 ms; the dump is criu's
# process, the restore criu's process too (it copies the BO contents while
# criu restores the rest, VRAMSTREAM_RESTORE_OVERLAP=1).
#
# Usage: bench/memory_split.sh [--vram-used SIZE] [--pinned SIZE]
# Needs root, scripts/setup.sh and a build in build/.
set -euo pipefail
[ -n "${MEMSPLIT_TRACE:-}" ] && set -x
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=/dev/null
source "${VRAMSTREAM_CACHE:-$repo/.cache}/criu.env"
used=512M pinned=64M
while [ $# -gt 0 ]; do
	case $1 in
	--vram-used) used=$2; shift 2 ;;
	--pinned) pinned=$2; shift 2 ;;
	*) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
usedb=$(numfmt --from=iec "$used")
work=$(mktemp -d /tmp/vramstream-memsplit.XXXXXX)
emu=$work/emu
wl=
cleanup() {
	[ -n "$wl" ] && kill -9 "$wl" 2>/dev/null
	build/emu/vramstream-emu stop --dir "$emu" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
build/emu/vramstream-emu start --dir "$emu" --gpus 1 --vram $((usedb + (64 << 20))) >/dev/null
export VRAMSTREAM_EMU_DIR=$emu LD_PRELOAD=$PWD/build/emu/libvramstream-emu-shim.so
export VRAMSTREAM_PINNED_MAX=$pinned VRAMSTREAM_LEVEL=1

# sample PID OUT: peak KiB of (emulator, pinned-ish anon, rest) until PID exits.
sample() {
	awk -v pid="$1" 'BEGIN {
		pe = 0; pr = 0; pt = 0
		while (1) {
			f = "/proc/" pid "/smaps"; e = 0; t = 0; name = ""
			# empty while criu execs and once it is a zombie (we wait for it after)
			if ((getline line < f) <= 0) {
				close(f)
				if (++empty > 25) break
				system("sleep 0.02")
				continue
			}
			empty = 0
			do {
				n = split(line, w, " ")
				if (w[1] ~ /^[0-9a-f]+-[0-9a-f]+$/) name = (n >= 6) ? w[6] : ""
				else if (w[1] == "Rss:") { t += w[2]; if (name ~ /vramstream-emu-|dmabuf/) e += w[2] }
			} while ((getline line < f) > 0)
			close(f)
			if (e > pe) pe = e
			if (t - e > pr) pr = t - e
			if (t > pt) pt = t
			system("sleep 0.02")
		}
		printf "%d %d %d\n", pe, pr, pt
	}'
}

setsid build/emu/vramstream-emu-workload --steps 0 --vram "$usedb" --vram-used "$usedb" --gtt 1M \
	--host 1M --delay-ms 20 </dev/null >"$work/wl.out" 2>&1 &
wl=$!
until grep -q '^step 3$' "$work/wl.out"; do sleep 0.1; done
mkdir -p "$work/img"
t0=$(date +%s.%N)
"$CRIU" dump -t "$wl" -D "$work/img" -o dump.log -v4 --lib "$PWD/build/plugin" &
cpid=$!
read -r de dr dt < <(sample "$cpid")
wait "$cpid" || { grep -E 'Error|vramstream' "$work/img/dump.log" | tail -n 20 >&2; exit 1; }
t1=$(date +%s.%N)
wl=
"$CRIU" restore -D "$work/img" -o restore.log -v4 --lib "$PWD/build/plugin" -d \
	--pidfile "$work/pid" &
cpid=$!
read -r re rr rt < <(sample "$cpid")
wait "$cpid" || { grep -E 'Error|vramstream' "$work/img/restore.log" | tail -n 20 >&2; exit 1; }
t2=$(date +%s.%N)
wl=$(cat "$work/pid")
grep -q '^step' "$work/wl.out"
echo "VRAM used $used on 1 GPU, VRAMSTREAM_PINNED_MAX=$pinned; criu's peak RSS in MiB (emulator's share / criu + plugin / total):"
printf "  dump:    %6.1f / %6.1f / %6.1f   (%.2f s)\n" "$(echo "$de/1024" | bc -l)" "$(echo "$dr/1024" | bc -l)" "$(echo "$dt/1024" | bc -l)" "$(echo "$t1-$t0" | bc -l)"
printf "  restore: %6.1f / %6.1f / %6.1f   (%.2f s)\n" "$(echo "$re/1024" | bc -l)" "$(echo "$rr/1024" | bc -l)" "$(echo "$rt/1024" | bc -l)" "$(echo "$t2-$t1" | bc -l)"
