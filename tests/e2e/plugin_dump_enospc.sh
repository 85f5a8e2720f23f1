#!/bin/bash
# EXPECT: a dump whose image folder fills up (a 6 MiB tmpfs, 16 MiB of
# incompressible VRAM) fails with the cause in the log, leaves no stream
# file behind, and the workload keeps running and finishes with the digest
# of an uninterrupted run.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
steps=30
args=(--steps $steps --vram $((16 << 20)) --gtt $((1 << 20)) --host $((256 << 10)))
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 1 --vram 64M
ref=$(plugin_reference "$emu" "${args[@]}")

small="$E2E_TMP/small"
mkdir -p "$small"
mount -t tmpfs -o size=6m vramstream-enospc "$small" || e2e_fail "cannot mount a tmpfs (run as root)"
trap 'umount "$small" 2>/dev/null; plugin_cleanup' EXIT

plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 30
plugin_wait_step "$out" 5
mkdir -p "$small/img"
if "$CRIU" dump -t "$WL_PID" -D "$small/img" -o dump.log -v4 --lib "$PLUGIN_DIR" >/dev/null 2>&1; then
	e2e_fail "dump into a full filesystem succeeded"
fi
cp "$small/img/dump.log" "$E2E_TMP/dump.log" 2>/dev/null || true
grep -q "vramstream: dump of pid $WL_PID, GPU 0x[0-9a-f]*: .*No space left" "$E2E_TMP/dump.log" ||
	e2e_fail "dump log does not report ENOSPC from the plugin"
ls "$small/img"/*.vrs 2>/dev/null && e2e_fail "a stream file was left behind"
ls -a "$small/img" | grep -q 'vrs' && e2e_fail "a temporary stream file was left behind"
echo "ok: $(grep -o "vramstream: dump of pid.*No space left.*" "$E2E_TMP/dump.log" | head -n 1 | cut -c1-200)"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: the workload went on and finished with $ref"
