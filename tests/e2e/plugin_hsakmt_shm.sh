#!/bin/bash
# EXPECT: a workload holding libhsakmt's shared memory (/dev/shm/hsakmt_shared_mem
# open and mapped, the semaphore sem.hsakmt_semaphore mapped) is dumped, killed,
# and both files are removed, as a reboot or the last ROCm process's exit
# removes them; the restore creates them again from the image before criu
# reopens them, and the workload finishes with the digest of an uninterrupted
# run and reads the same table (magic and the counter slots it holds).
# The test runs in a mount namespace of its own with a private /dev/shm, so
# removing libhsakmt's files touches no other ROCm process on the machine.
if [ -z "${PLUGIN_HSAKMT_PRIVATE_SHM:-}" ]; then
	export PLUGIN_HSAKMT_PRIVATE_SHM=1
	exec unshare --mount --propagation private "$0" "$@"
fi
mount -t tmpfs -o mode=1777 vramstream-hsakmt-shm /dev/shm || { echo "FAIL: no private /dev/shm" >&2; exit 1; }
umask 022
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
shm=/dev/shm/hsakmt_shared_mem
sem=/dev/shm/sem.hsakmt_semaphore
steps=30
args=(--steps $steps --vram $((1 << 20)) --gtt $((256 << 10)) --host $((256 << 10)) --hsakmt-shm)
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 1 --vram 32M
VRAMSTREAM_EMU_DIR=$emu LD_PRELOAD=$EMU_SHIM "$EMU_WORKLOAD" "${args[@]}" >"$E2E_TMP/ref.out" ||
	e2e_fail "uninterrupted workload run failed"
ref=$(grep '^digest ' "$E2E_TMP/ref.out")
ref_shm=$(grep '^hsakmt-shm ' "$E2E_TMP/ref.out") || e2e_fail "the workload printed no hsakmt-shm line"
echo "uninterrupted: $ref; $ref_shm"
[ ! -e $shm ] && [ ! -e $sem ] || e2e_fail "the workload left libhsakmt's files behind"

plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 30
plugin_wait_step "$out" 6
[ -f $shm ] && [ -f $sem ] || e2e_fail "the workload did not create libhsakmt's files"
# sem_open maps a file it created under a temporary name and unlinked: --link-remap.
e2e_dump "$WL_PID" "$E2E_TMP/img" --link-remap
wait "$WL_PID" 2>/dev/null || true
e2e_gone "$WL_PID" || e2e_fail "workload still runs after criu dump"
echo "dumped at step $(grep -c '^step ' "$out")"
rm -f $shm $sem

e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid"
grep -q "vramstream: restore of pid $WL_PID: $shm was missing; created it" "$E2E_TMP/restore.log" ||
	e2e_fail "the restore log does not say $shm was created"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
got=$(grep '^hsakmt-shm ' "$out") || e2e_fail "the restored workload printed no hsakmt-shm line"
[ "$got" = "$ref_shm" ] || e2e_fail "the restored workload read '$got', the uninterrupted one '$ref_shm'"
echo "ok: restored without libhsakmt's files on the target, ended with $ref; $got"
