#!/bin/bash
# The main job: start a workload, checkpoint it with real criu and the
# vramstream plugin, kill it, restore it and show it continuing, with what
# the image cost. Installs and builds what it needs first. Run as root.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scripts/setup.sh
scripts/build.sh build
# shellcheck source=/dev/null
source "${VRAMSTREAM_CACHE:-$repo/.cache}/criu.env"

work=$(mktemp -d /tmp/vramstream-demo.XXXXXX)
pid=""
cleanup() { [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "== starting a counting workload"
build/tests/e2e_counter 100 </dev/null >>"$work/out" 2>&1 &
pid=$!
disown "$pid"
sleep 1
echo "   pid $pid has counted to $(tail -n 1 "$work/out")"

echo "== criu dump (the process stops and is gone)"
mkdir -p "$work/img"
t0=$(date +%s.%N)
"$CRIU" dump -t "$pid" -D "$work/img" -o dump.log -v4 --lib "$repo/build/plugin"
t1=$(date +%s.%N)
echo "   dumped at count $(tail -n 1 "$work/out") in $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s;" \
	"image: $(du -sh "$work/img" | cut -f1) in $(ls "$work/img" | wc -l) files"
grep -h 'vramstream:' "$work/img/dump.log" | sed 's/^/   criu log: /'

saved=$(tail -n 1 "$work/out")
echo "== criu restore"
"$CRIU" restore -D "$work/img" -o restore.log -v4 --lib "$repo/build/plugin" -d --pidfile "$work/pid"
pid=$(cat "$work/pid")
sleep 1
echo "   restored pid $pid went on from $saved to $(tail -n 1 "$work/out")"
grep -h 'vramstream:' "$work/img/restore.log" | sed 's/^/   criu log: /'
