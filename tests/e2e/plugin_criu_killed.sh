#!/bin/bash
# EXPECT: criu killed in the middle of a dump (argument: TERM or KILL) never
# leaves the workload with paused GPU queues. Killed alone, the plugin's
# guard unpauses the queues by itself and removes the partial stream files;
# killed together with the guard (as a container runtime that kills
# everything would), the queues stay paused until `vramstream-img unpause
# PID`, and `vramstream-img info` names the files left behind. Either way the
# workload finishes with the digest of an uninterrupted run.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
sig=${1:-KILL}
steps=60
args=(--steps $steps --vram $((24 << 20)) --gtt $((1 << 20)) --host $((256 << 10)))
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 2 --vram 64M
ref=$(plugin_reference "$emu" "${args[@]}")
plugin_use_emu "$emu"

# killed_dump OUT IMG: starts a dump slowed to a few MB/s, kills criu with
# SIG once the stream files are being written; sets CRIU_PID and AT (the
# workload's last step before the dump).
killed_dump() {
	local out=$1 img=$2
	mkdir -p "$img"
	plugin_wait_step "$out" 5
	VRAMSTREAM_IO_RATE=4M "$CRIU" dump -t "$WL_PID" -D "$img" -o dump.log -v4 \
		--lib "$PLUGIN_DIR" >"$E2E_TMP/criu-stderr.log" 2>&1 &
	CRIU_PID=$!
	e2e_wait_until 30 compgen -G "$img/*.partial-*" >/dev/null ||
		{ cp "$img/dump.log" "$E2E_TMP/dump.log" 2>/dev/null; e2e_fail "the dump wrote no stream file"; }
	AT=$(grep -c '^step ' "$out")
}

# progresses OUT FROM SECONDS: the workload prints a step after FROM within SECONDS.
steps_after() {
	[ "$(grep -c '^step ' "$1")" -gt "$2" ]
}
progresses() {
	e2e_wait_until "$3" steps_after "$1" "$2"
}

diag() {
	grep -E 'State|TracerPid|SigPnd|ShdPnd|SigBlk|SigCgt' /proc/$WL_PID/status || true
	cat /proc/$WL_PID/wchan || true; echo
	tail -3 "$out" || true
	tail -5 "$emu/daemon.log" || true
}

# 1. criu alone is killed: the guard unpauses and cleans up.
out="$E2E_TMP/workload1.out"
img="$E2E_TMP/img1"
plugin_workload "$out" "${args[@]}" --delay-ms 20
killed_dump "$out" "$img"
kill -"$sig" "$CRIU_PID"
wait "$CRIU_PID" 2>/dev/null && e2e_fail "criu survived SIG$sig"
cp "$img/dump.log" "$E2E_TMP/dump.log"
progresses "$out" "$AT" 20 || { diag; e2e_fail "criu killed by SIG$sig: the workload stays paused at step $AT"; }
e2e_wait_until 10 bash -c "! compgen -G '$img/*.partial-*' >/dev/null" ||
	e2e_fail "partial stream files left: $(ls "$img")"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: criu killed by SIG$sig mid-dump; the guard unpaused the workload, which finished with $ref"

# 2. criu and its guard are killed: one command unpauses the workload.
out="$E2E_TMP/workload2.out"
img="$E2E_TMP/img2"
plugin_workload "$out" "${args[@]}" --delay-ms 20
killed_dump "$out" "$img"
guard=$(sed -n 's/^.*vramstream: pid [0-9]*: guard \([0-9]*\) unpauses .*$/\1/p' "$img/dump.log" | head -n 1)
[ -n "$guard" ] || { cp "$img/dump.log" "$E2E_TMP/dump.log"; e2e_fail "the dump log names no guard"; }
kill -KILL "$guard"
kill -"$sig" "$CRIU_PID"
wait "$CRIU_PID" 2>/dev/null && e2e_fail "criu survived SIG$sig"
cp "$img/dump.log" "$E2E_TMP/dump.log"
# The kernel leaves the queues paused (nothing unpauses them when criu exits).
progresses "$out" "$AT" 3 && e2e_fail "the workload ran on with its queues paused"
"$IMG_TOOL" info "$img" >"$E2E_TMP/info.out" 2>&1 || true
grep -A3 "temporary files of an interrupted write" "$E2E_TMP/info.out" | grep -q 'partial-' ||
	{ cat "$E2E_TMP/info.out" >&2; e2e_fail "vramstream-img info does not name the partial files"; }
"$IMG_TOOL" unpause "$WL_PID" || e2e_fail "vramstream-img unpause $WL_PID failed"
progresses "$out" "$AT" 20 || { diag; e2e_fail "the workload stays paused after vramstream-img unpause"; }
"$IMG_TOOL" unpause "$WL_PID" | grep -q 'were not paused' || e2e_fail "a second unpause did not say the queues run"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: criu and its guard killed; vramstream-img unpause let the workload finish with $ref"

# 3. criu and its guard killed, then the job dumped again without an unpause:
# that dump finds the queues paused, unpauses them first, and leaves the
# job running to the end.
out="$E2E_TMP/workload3.out"
img="$E2E_TMP/img3"
plugin_workload "$out" "${args[@]}" --delay-ms 20
killed_dump "$out" "$img"
guard=$(sed -n 's/^.*vramstream: pid [0-9]*: guard \([0-9]*\) unpauses .*$/\1/p' "$img/dump.log" | head -n 1)
kill -KILL "$guard"
kill -"$sig" "$CRIU_PID"
wait "$CRIU_PID" 2>/dev/null && e2e_fail "criu survived SIG$sig"
e2e_dump "$WL_PID" "$E2E_TMP/img3b" --leave-running
grep -q "were still paused by an earlier dump" "$E2E_TMP/dump.log" ||
	e2e_fail "the second dump did not find the queues paused"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: a second dump of a job left paused unpaused it first; it finished with $ref"
