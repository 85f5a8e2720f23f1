#!/bin/bash
# EXPECT: real criu, with the shim loaded, dumps the emulated workload (2 GPUs)
# mid-run through the emulator's test plugin (PROCESS_INFO, CHECKPOINT,
# UNPAUSE), the workload is gone and the daemon has freed its state; criu
# restores it (RESTORE in RESTORE_EXT_FILE, RESUME in RESUME_DEVICES_LATE)
# and it finishes with the digest of an uninterrupted run, verified against
# its CPU recomputation. Then the same dump restored with the plugin variant
# that issues RESUME from RESTORE_EXT_FILE fails: the userptr VMAs are not
# in place yet.
# Usage: emu_criu_workload.sh PLUGIN_DIR_LATE PLUGIN_DIR_EARLY
source "$(dirname "$0")/../e2e/e2e_lib.sh"
e2e_require_criu
late=$1
early=$2
emu="$E2E_TMP/emu"
steps=60
wl_args=(--steps "$steps" --vram 2097152 --host 262144)
trap '"$EMU_LAUNCHER" stop --dir "$emu" || true; e2e_cleanup' EXIT
"$EMU_LAUNCHER" start --dir "$emu" --gpus 2 --vram 64M >/dev/null

ref=$("$EMU_LAUNCHER" run --dir "$emu" -- "$EMU_WORKLOAD" "${wl_args[@]}" | grep '^digest ') ||
	e2e_fail "uninterrupted run failed"
echo "uninterrupted: $ref"

out="$E2E_TMP/workload.log"
setsid "$EMU_LAUNCHER" run --dir "$emu" -- "$EMU_WORKLOAD" "${wl_args[@]}" --delay-ms 50 \
	</dev/null >"$out" 2>&1 &
pid=$!
e2e_track "$pid"
e2e_wait_until 20 grep -q '^step 10$' "$out" || e2e_fail "workload did not start"

export LD_PRELOAD=$EMU_SHIM VRAMSTREAM_EMU_DIR=$emu
PLUGIN_DIR=$late
img="$E2E_TMP/img"
e2e_dump "$pid" "$img"
wait "$pid" 2>/dev/null || true
e2e_gone "$pid" || e2e_fail "workload $pid still runs after dump"
at=$(grep -c '^step ' "$out")
echo "dumped at step $at"
grep -q "dumped KFD state of pid $pid" "$E2E_TMP/dump.log" || e2e_fail "plugin did not dump KFD state"

# The daemon frees the dead process's KFD state (BOs and VRAM).
gone_state() { ! [ -e "$emu/root/run/kfd/$pid" ]; }
e2e_wait_until 10 gone_state || e2e_fail "daemon kept the KFD state of dead pid $pid"

e2e_restore "$img" "$E2E_TMP/restored.pid"
rpid=$(cat "$E2E_TMP/restored.pid")
[ "$rpid" = "$pid" ] || e2e_fail "restored pid $rpid is not $pid"
grep -q "resumed pid $pid" "$E2E_TMP/restore.log" || e2e_fail "no RESUME in RESUME_DEVICES_LATE"
e2e_wait_until 60 e2e_gone "$rpid" || e2e_fail "restored workload did not finish"
got=$(grep '^digest ' "$out") || e2e_fail "restored workload printed no digest"
[ "$got" = "$ref" ] || e2e_fail "digest after restore '$got' differs from uninterrupted '$ref'"
grep -q '^verify ok' "$out" || e2e_fail "restored workload failed its own verification"
[ "$(grep -c '^step ' "$out")" = "$steps" ] || e2e_fail "steps missing or repeated in the output"
echo "ok: restored workload ended with $got"

# RESUME from RESTORE_EXT_FILE (before the VMAs are back) must fail the restore.
# A second workload, since the first one's pid may linger as a zombie.
out2="$E2E_TMP/workload2.log"
setsid "$EMU_LAUNCHER" run --dir "$emu" -- "$EMU_WORKLOAD" "${wl_args[@]}" --delay-ms 50 \
	</dev/null >"$out2" 2>&1 &
pid2=$!
e2e_track "$pid2"
e2e_wait_until 20 grep -q '^step 5$' "$out2" || e2e_fail "second workload did not start"
e2e_dump "$pid2" "$E2E_TMP/img-early"
wait "$pid2" 2>/dev/null || true
rm -f "$E2E_TMP/early.pid"
if "$CRIU" restore -D "$E2E_TMP/img-early" -o restore.log -v4 --lib "$early" -d \
	--pidfile "$E2E_TMP/early.pid" >/dev/null 2>&1; then
	e2e_track "$(cat "$E2E_TMP/early.pid")"
	e2e_fail "restore with RESUME in RESTORE_EXT_FILE succeeded"
fi
cp "$E2E_TMP/img-early/restore.log" "$E2E_TMP/restore-early.log"
grep -q "early RESUME of pid $pid2 refused: Bad address" "$E2E_TMP/restore-early.log" ||
	e2e_fail "the early restore failed, but not because RESUME was refused"
sleep 0.5
e2e_gone "$pid2" || e2e_fail "a half-restored workload $pid2 is left running"
echo "ok: early RESUME refused, restore failed"
