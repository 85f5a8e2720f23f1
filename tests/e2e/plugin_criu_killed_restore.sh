#!/bin/bash
# EXPECT: criu killed in the middle of a restore never leaves a half-restored
# workload hanging: within seconds the plugin's restore guard kills every
# task of that restore and exits, saying so in criu's log; the image is left
# as it was, and the same restore run again ends with the digest of an
# uninterrupted run (that criu runs attached and is killed after the restore
# completed, which the guard, gone by then, must leave alone). criu dies (1) while it waits at RESUME_DEVICES_LATE for
# the BO contents its own process streams back (the tasks' queues never
# resumed) and (2) while the tasks are still in criu's restore code,
# streaming their contents themselves (VRAMSTREAM_RESTORE_OVERLAP=0).
# Argument KILL: SIGKILL both times. Argument TERM: criu blocks SIGTERM while
# it restores (criu/cr-restore.c: criu_signals_setup blocks all but
# SIGCHLD), so (1) a SIGTERM alone must let the restore finish, the guard
# leaving the workload alone to its digest, and (2) SIGTERM then SIGKILL a
# second later (a runtime's stop: systemd, `timeout -k`) must end as with KILL.
# Restores are slowed by the plugin's own VRAMSTREAM_IO_RATE.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
sig=${1:-KILL}
steps=40
args=(--steps $steps --vram $((24 << 20)) --gtt $((1 << 20)) --host $((256 << 10)))
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 2 --vram 64M
ref=$(plugin_reference "$emu" "${args[@]}")
plugin_use_emu "$emu"

out="$E2E_TMP/workload.out"
img="$E2E_TMP/img"
plugin_workload "$out" "${args[@]}" --delay-ms 20
plugin_wait_step "$out" 5
plugin_dump_gone "$img"
# The image's file names, sizes, modes and bytes, but criu's logs and statistics.
sum_image() {
	(cd "$img" && find . ! -name '*.log' ! -name 'stats-*' -printf '%P %y %s %m\n' | sort &&
		find . -type f ! -name '*.log' ! -name 'stats-*' | sort | xargs -r cat | md5sum)
}
image_before=$(sum_image)

# slow_restore OVERLAP MARK: plugin_slow_restore of the image with
# VRAMSTREAM_RESTORE_OVERLAP=OVERLAP, until its log shows MARK; sets RR,
# CRIU_PID and GUARD.
slow_restore() {
	local overlap=$1 mark=$2
	plugin_truncate_to_dump "$out"
	rm -f "$img/restore.log" "$E2E_TMP/restored.pid"
	VRAMSTREAM_RESTORE_OVERLAP=$overlap plugin_slow_restore "$img" restore.log \
		"$E2E_TMP/restored.pid" "$mark"
	GUARD=$(sed -n 's/^.*vramstream: restore guard \([0-9]*\) kills .*$/\1/p' "$img/restore.log" | head -n 1)
	[ -n "$GUARD" ] || e2e_fail "the restore log names no guard"
}

# killed_restore OVERLAP MARK DELAY SIGNAL...: criu is sent each SIGNAL, a
# second apart, DELAY seconds after MARK; then no task of it may be left.
killed_restore() {
	local overlap=$1 mark=$2 delay=$3 log="$E2E_TMP/restore-killed-$1.log" s t0
	shift 3
	slow_restore "$overlap" "$mark"
	sleep "$delay"
	for s in "$@"; do
		[ "$s" = "${1}" ] || sleep 1
		kill -"$s" "$CRIU_PID" 2>/dev/null || true
	done
	t0=$SECONDS
	if ! e2e_wait_until 15 e2e_gone "$WL_PID"; then
		cp "$img/restore.log" "$log"
		grep -E 'State|TracerPid|PPid' "/proc/$WL_PID/status" >&2 || true
		kill -9 "$WL_PID" 2>/dev/null || true
		e2e_fail "criu killed by SIG$* mid-restore (overlap $overlap): the half-restored pid $WL_PID still exists after 15 s"
	fi
	echo "  the half-restored workload was gone $((SECONDS - t0)) s after criu died"
	wait "$RR" 2>/dev/null && e2e_fail "criu restore succeeded although killed by SIG$*"
	cp "$img/restore.log" "$log"
	e2e_wait_until 5 e2e_gone "$GUARD" || e2e_fail "the restore guard $GUARD stays behind"
	grep -q "vramstream: criu (pid $CRIU_PID) died during the restore; the guard killed the 1 task(s) it had restored part way (pids $WL_PID)" "$log" ||
		e2e_fail "the restore log does not say that the guard killed the restore's task"
	grep -q "vramstream: criu (pid $CRIU_PID) died during the restore" "$E2E_TMP/criu-stderr.out" ||
		e2e_fail "criu's stderr does not say that the guard killed the restore's task"
	[ "$(sum_image)" = "$image_before" ] ||
		e2e_fail "the killed restore changed the image: $(diff <(echo "$image_before") <(sum_image))"
	echo "ok: criu killed by SIG$* mid-restore (overlap $overlap): no task left, no guard left"
}

late='Run late stage hook from criu master'
in_task="vramstream: restore of pid $WL_PID: GPU 0x[0-9a-f]* .* -> 0x"
if [ "$sig" = KILL ]; then
	# 1. criu waits at RESUME_DEVICES_LATE for the contents its own process streams.
	killed_restore 1 "$late" 0 KILL
	# 2. The tasks stream their contents themselves, inside criu's restore code.
	killed_restore 0 "$in_task" 0.5 KILL
else
	# 1. SIGTERM alone: criu restores on, and the guard leaves the workload alone.
	slow_restore 1 "$late"
	kill -TERM "$CRIU_PID"
	wait "$RR" || { cp "$img/restore.log" "$E2E_TMP/restore.log"; e2e_fail "criu restore failed after SIGTERM"; }
	cp "$img/restore.log" "$E2E_TMP/restore.log"
	e2e_wait_until 5 e2e_gone "$GUARD" || e2e_fail "the guard of a restore that finished stays"
	! grep -q "vramstream: criu (pid $CRIU_PID) died\|restore guard[ 0-9]*:" "$E2E_TMP/restore.log" ||
		e2e_fail "the guard of a restore that finished said something"
	plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
	echo "ok: SIGTERM mid-restore: criu finished the restore, the guard left, the workload ended with $ref"
	# 2. SIGTERM, then SIGKILL a second later, inside criu's restore code.
	killed_restore 0 "$in_task" 0.5 TERM KILL
fi

# 3. The same image restores and the workload runs to the end; criu runs
# attached (no -d: it waits for the restored tree) and is killed once the
# restore is complete, which the guard, gone by then, must not act on.
plugin_truncate_to_dump "$out"
rm -f "$img/restore.log" "$E2E_TMP/restored.pid"
"$REAP_RUN" "$CRIU" restore -D "$img" -o restore.log -v4 --lib "$PLUGIN_DIR" \
	--pidfile "$E2E_TMP/restored.pid" >"$E2E_TMP/criu-stderr.out" 2>&1 &
RR=$!
e2e_wait_until 30 grep -qs 'Restore finished successfully' "$img/restore.log" ||
	{ cp "$img/restore.log" "$E2E_TMP/restore.log"; e2e_fail "the restore after the killed ones failed"; }
cp "$img/restore.log" "$E2E_TMP/restore.log"
e2e_track "$(cat "$E2E_TMP/restored.pid")"
GUARD=$(sed -n 's/^.*vramstream: restore guard \([0-9]*\) kills .*$/\1/p' "$E2E_TMP/restore.log" | head -n 1)
[ -n "$GUARD" ] || e2e_fail "the restore log names no guard"
e2e_wait_until 5 e2e_gone "$GUARD" || e2e_fail "the guard of a successful restore stays"
pkill -KILL -P "$RR" || e2e_fail "criu restore (attached) was not running any more"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
! grep -q "died during the restore\|restore guard[ 0-9]*:" "$img/restore.log" "$E2E_TMP/criu-stderr.out" ||
	e2e_fail "the guard of a complete restore acted on criu's death, or complained"
echo "ok: after criu was killed mid-restore, the same image restored to $ref (criu killed after it, too)"
