#!/bin/bash
# EXPECT: a stream file with one flipped byte makes restore fail, the log
# naming the stream file and the damaged chunk, with no half-restored
# process left running; a missing stream file fails the same way. Both
# ways of restoring contents are tried: from criu's process while criu
# restores the rest (the default; the task is killed at RESUME_DEVICES_LATE,
# which criu 4.1 would otherwise ignore) and inside the task
# (VRAMSTREAM_RESTORE_OVERLAP=0; the task's file restore fails).
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
args=(--steps 0 --vram $((4 << 20)) --gtt $((1 << 20)) --host $((256 << 10)))
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 1 --vram 64M
plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 30
plugin_wait_step "$out" 4
e2e_dump "$WL_PID" "$E2E_TMP/img"
wait "$WL_PID" 2>/dev/null || true

stream=$(ls "$E2E_TMP/img"/*.vrs)
[ "$(stat -c %s "$stream")" -gt 16384 ] || e2e_fail "stream file unexpectedly small"
cp "$stream" "$E2E_TMP/good.vrs"

# restore_fails WHAT PATTERN [OVERLAP [EARLY]]: EARLY, the restore stops
# before the task's KFD state is made (the image is checked first).
restore_fails() {
	local overlap=${3:-1} early=${4:-}
	rm -f "$E2E_TMP/bad.pid"
	if VRAMSTREAM_RESTORE_OVERLAP=$overlap "$REAP_RUN" "$CRIU" restore -D "$E2E_TMP/img" -o restore-bad.log -v4 --lib "$PLUGIN_DIR" -d \
		--pidfile "$E2E_TMP/bad.pid" >/dev/null 2>&1; then
		e2e_track "$(cat "$E2E_TMP/bad.pid")"
		e2e_fail "restore from a $1 succeeded"
	fi
	cp "$E2E_TMP/img/restore-bad.log" "$E2E_TMP/restore-bad.log"
	grep -q "$2" "$E2E_TMP/restore-bad.log" || e2e_fail "restore log does not say: $2"
	# criu killed the task itself: the restore guard leaves, saying nothing.
	guard=$(sed -n 's/^.*vramstream: restore guard \([0-9]*\) kills .*$/\1/p' "$E2E_TMP/restore-bad.log")
	[ -z "$guard" ] || e2e_wait_until 5 e2e_gone "$guard" || e2e_fail "the restore guard stays after a failed restore"
	! grep -q "died during the restore\|restore guard[ 0-9]*:" "$E2E_TMP/restore-bad.log" ||
		e2e_fail "the restore guard spoke up after a restore criu failed itself"
	if [ -n "$early" ]; then
		! grep -q "KFD state and" "$E2E_TMP/restore-bad.log" ||
			e2e_fail "a $1 was found only after the KFD state was restored"
	elif [ "$overlap" = 1 ]; then
		grep -q "handed to criu's process" "$E2E_TMP/restore-bad.log" ||
			e2e_fail "contents were not handed to criu's process"
		grep -q "killed, its GPU state was not restored" "$E2E_TMP/restore-bad.log" ||
			e2e_fail "the task was not killed at resume"
	fi
	sleep 0.3
	e2e_gone "$WL_PID" || e2e_fail "a half-restored workload is left running after a $1"
	echo "ok: $1 refused (overlap=$overlap): $(grep -o "vramstream: restore of pid.*$2.*" "$E2E_TMP/restore-bad.log" | head -n 1 | cut -c1-240)"
}

# One flipped byte inside the first stored chunk (stored bytes start at 4096).
printf '\xff' | dd of="$stream" bs=1 seek=4103 conv=notrunc status=none
cmp -s "$stream" "$E2E_TMP/good.vrs" && printf '\x00' | dd of="$stream" bs=1 seek=4103 conv=notrunc status=none
restore_fails "damaged stream" "chunk [0-9]* (tag"
restore_fails "damaged stream" "chunk [0-9]* (tag" 0

# A missing stream is found when the image's files are checked, before
# anything is restored (the streams are listed as files references may name).
rm "$stream"
restore_fails "missing stream" "$(basename "$stream")" 1 early
restore_fails "missing stream" "$(basename "$stream")" 0 early
