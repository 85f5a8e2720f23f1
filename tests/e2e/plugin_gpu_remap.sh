#!/bin/bash
# EXPECT: an image of the 2-GPU workload restores onto an emulated machine
# whose GPUs have other gpu_ids (the plugin matches GPUs by properties and
# translates the ids) and finishes with the uninterrupted digest; restoring
# it onto a machine with fewer GPUs, or GPUs with less VRAM, fails before
# anything runs, the log saying what differs, and leaves no process behind.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
steps=30
args=(--steps $steps --vram $((2 << 20)) --gtt $((1 << 20)) --host $((256 << 10)))
src="$E2E_TMP/emu-src"
plugin_emu_start "$src" --gpus 2 --vram 64M --gpu-ids 0x1111,0x2222
ref=$(plugin_reference "$src" "${args[@]}")

plugin_use_emu "$src"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 30
plugin_wait_step "$out" 6
plugin_fd_table "$WL_PID" >"$E2E_TMP/fds.dumped"
e2e_dump "$WL_PID" "$E2E_TMP/img"
wait "$WL_PID" 2>/dev/null || true

# restore_fails EMU_DIR WHY: restore onto that machine fails, logging WHY.
restore_fails() {
	local dir=$1 why=$2
	plugin_use_emu "$dir"
	rm -f "$E2E_TMP/bad.pid"
	if "$REAP_RUN" "$CRIU" restore -D "$E2E_TMP/img" -o restore-bad.log -v4 --lib "$PLUGIN_DIR" -d \
		--pidfile "$E2E_TMP/bad.pid" >/dev/null 2>&1; then
		e2e_track "$(cat "$E2E_TMP/bad.pid")"
		e2e_fail "restore onto $dir succeeded"
	fi
	grep -q "$why" "$E2E_TMP/img/restore-bad.log" ||
		{ cp "$E2E_TMP/img/restore-bad.log" "$E2E_TMP/restore-bad.log"; e2e_fail "restore log does not say: $why"; }
	sleep 0.3
	e2e_gone "$WL_PID" || e2e_fail "a half-restored workload is left running"
	echo "ok: refused: $(grep -o "vramstream: .*$why.*" "$E2E_TMP/img/restore-bad.log" | head -n 1 | cut -c1-200)"
}

one="$E2E_TMP/emu-one"
plugin_emu_start "$one" --gpus 1 --vram 64M
restore_fails "$one" "dumped with 2 GPU(s), this machine has 1"

small="$E2E_TMP/emu-small"
plugin_emu_start "$small" --gpus 2 --vram 32M
restore_fails "$small" "VRAM 64 MiB > 32 MiB"

other="$E2E_TMP/emu-other"
plugin_emu_start "$other" --gpus 2 --vram 64M --gpu-ids 0x7777,0x8888
plugin_use_emu "$other"
e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid"
plugin_check_fd_table "$E2E_TMP/fds.dumped" "$WL_PID" "the restored task"
grep -q "GPU 0x1111 (node 1) -> 0x7777" "$E2E_TMP/restore.log" || e2e_fail "no gpu_id translation logged"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: restored onto gpu_ids 0x7777,0x8888 and finished with $ref"
