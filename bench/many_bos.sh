#!/bin/bash
# criu dump and restore time against the number of small BOs: one workload per
# count with N BOs of 4 KiB on one emulated GPU (--small-bos, VRAM and GTT in
# turn), dumped mid-run and restored by real criu with the plugin; each restored
# run must finish with the digest of an uninterrupted one. Times are criu's own
# (the timestamps of its "Dumping finished" and "Restore finished" lines), so
# they hold the KFD calls, the plugin's transfer and criu's own work. A count
# the hard RLIMIT_NOFILE cannot hold (KFD hands out one fd per BO at once) is
# reported, not run.
#
# Usage: bench/many_bos.sh [COUNT...]   (default 1000 4000 16000 64000)
# Needs root, scripts/setup.sh and a build in build/.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=/dev/null
source "${VRAMSTREAM_CACHE:-$repo/.cache}/criu.env"
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1000 4000 16000 64000)
work=$(mktemp -d /tmp/vramstream-manybos.XXXXXX)
emu=$work/emu
pid=
cleanup() {
	[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
	build/emu/vramstream-emu stop --dir "$emu" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
hard=$(ulimit -Hn)
args=(--vram 1M --gtt 256K --host 64K)
steps=8
build/emu/vramstream-emu start --dir "$emu" --gpus 1 --vram 1G >/dev/null
export VRAMSTREAM_EMU_DIR=$emu LD_PRELOAD=$repo/build/emu/libvramstream-emu-shim.so
stamp() { sed -n "s/^(\s*\([0-9.]*\)).*$2.*/\1/p" "$1" | tail -n 1; }

echo "hard RLIMIT_NOFILE $hard; soft limit of criu: 1024; 1 GPU, BOs of 4 KiB"
printf '%8s %9s %11s %16s %19s\n' BOS DUMP_S RESTORE_S DUMP_MS_PER_1K RESTORE_MS_PER_1K
for n in "${counts[@]}"; do
	if [ "$hard" != unlimited ] && [ $((n + 512)) -gt "$hard" ]; then
		printf '%8s  needs a hard RLIMIT_NOFILE above %s (ulimit -Hn is %s): not run\n' \
			"$n" $((n + 512)) "$hard"
		continue
	fi
	ref=$(build/emu/vramstream-emu-workload --steps $steps "${args[@]}" --small-bos "$n" |
		grep '^digest ')
	out=$work/wl-$n.out img=$work/img-$n
	mkdir -p "$img"
	rm -f /dev/shm/link_remap.*
	setsid build/emu/vramstream-emu-workload --steps $steps "${args[@]}" --small-bos "$n" \
		--delay-ms 300 </dev/null >"$out" 2>&1 &
	pid=$!
	until grep -q '^step 2$' "$out"; do sleep 0.05; done
	(ulimit -Sn 1024 && exec "$CRIU" dump -t "$pid" -D "$img" -o dump.log -v4 \
		--lib "$repo/build/plugin") 2>/dev/null ||
		{ grep -E "Error|vramstream" "$img/dump.log" | tail -n 8 >&2; exit 1; }
	wait "$pid" 2>/dev/null || true
	(ulimit -Sn 1024 && exec "$CRIU" restore -D "$img" -o restore.log -v4 \
		--lib "$repo/build/plugin" -d --pidfile "$img/pid") ||
		{ grep -E "Error|vramstream" "$img/restore.log" | tail -n 8 >&2; exit 1; }
	pid=$(cat "$img/pid")
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	pid=
	[ "$(grep '^digest ' "$out")" = "$ref" ] || { echo "BOs $n: restored run ended with" \
		"'$(grep '^digest ' "$out")', not '$ref'" >&2; exit 1; }
	d=$(stamp "$img/dump.log" "Dumping finished successfully")
	r=$(stamp "$img/restore.log" "Restore finished successfully")
	awk -v n="$n" -v d="$d" -v r="$r" \
		'BEGIN { printf "%8d %9.2f %11.2f %16.1f %19.1f\n", n, d, r, d * 1e6 / n, r * 1e6 / n }'
done
