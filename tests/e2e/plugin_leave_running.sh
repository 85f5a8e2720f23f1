#!/bin/bash
# EXPECT: `criu dump --leave-running` checkpoints the workload and leaves it
# running: it finishes with the digest of an uninterrupted run. The image it
# left is then restored (after the original is gone) and also finishes with
# that digest.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
steps=40
args=(--steps $steps --vram $((4 << 20)) --gtt $((1 << 20)) --host $((256 << 10)))
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 2 --vram 64M
ref=$(plugin_reference "$emu" "${args[@]}")

plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 30
plugin_wait_step "$out" 8
e2e_dump "$WL_PID" "$E2E_TMP/img" --leave-running
at=$(grep -c '^step ' "$out")
echo "dumped at step $at, left running"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: the workload left running finished with $ref"

# The image holds the state at step $at: restored, it runs the rest again.
wait "$WL_PID" 2>/dev/null || true
plugin_truncate_to_dump "$out"
[ "$(grep -c '^step ' "$out")" -le "$at" ] || e2e_fail "output not cut back to the dump"
e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: its image restored finished with $ref too"
