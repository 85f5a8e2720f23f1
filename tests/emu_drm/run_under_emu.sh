#!/bin/bash
# Runs a test program under the emulator: starts a daemon in a fresh directory, writes the
# render nodes' sysfs files, runs the program with the shim (and the render-node class) preloaded.
# Usage: run_under_emu.sh DAEMON SHIM DRM_LIB POPULATE GPUS PROGRAM [ARGS...]
set -euo pipefail
daemon=$1 shim=$2 drmlib=$3 populate=$4 gpus=$5
shift 5
dir=$(mktemp -d /tmp/vramstream-emu-drm.XXXXXX)
cleanup() {
	if [ -n "${dpid:-}" ]; then kill "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT
"$daemon" "$dir" --gpus "$gpus" --vram 64M &
dpid=$!
for _ in $(seq 1 200); do
	[ -f "$dir/daemon.pid" ] && break
	kill -0 "$dpid" 2>/dev/null || { echo "run_under_emu: daemon died" >&2; exit 1; }
	sleep 0.05
done
[ -f "$dir/daemon.pid" ] || { echo "run_under_emu: daemon did not start" >&2; exit 1; }
"$populate" "$dir"
VRAMSTREAM_EMU_DIR=$dir LD_PRELOAD="$shim${drmlib:+ $drmlib}" "$@"
