#!/bin/bash
# EXPECT: a workload holding its own files at fds 600..605 (where the plugin
# once put the render nodes it opens in the restored task) is dumped and
# restored by real criu with the plugin: criu restores those fds over nothing
# of the plugin's, they name the same files afterwards, and the workload
# finishes with the digest of an uninterrupted run.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
steps=30
args=(--steps $steps --vram $((1 << 20)) --gtt $((256 << 10)) --host $((64 << 10)))
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 2 --vram 64M
ref=$(plugin_reference "$emu" "${args[@]}")
echo "uninterrupted: $ref"

files="$E2E_TMP/files"
mkdir -p "$files"
plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
setsid "$HOLD_FDS" "$files" 600 605 "$EMU_WORKLOAD" "${args[@]}" --delay-ms 30 \
	</dev/null >"$out" 2>&1 &
WL_PID=$!
e2e_track "$WL_PID"
plugin_wait_step "$out" 5
for n in $(seq 600 605); do
	[ "$(readlink "/proc/$WL_PID/fd/$n")" = "$files/fd-$n" ] ||
		e2e_fail "workload does not hold $files/fd-$n at fd $n before the dump"
done
plugin_dump_gone "$E2E_TMP/img"

e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid"
for n in $(seq 600 605); do
	got=$(readlink "/proc/$WL_PID/fd/$n") || e2e_fail "restored workload has no fd $n"
	[ "$got" = "$files/fd-$n" ] || e2e_fail "restored fd $n names '$got', not $files/fd-$n"
done
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: fds 600..605 kept their files; restored workload ended with $ref"
