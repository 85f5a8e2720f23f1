#!/bin/bash
# EXPECT: the workload started as pid 1 of a new pid and mount namespace (as
# in a container) is dumped by real criu from the host (-t its host pid),
# killed, restored (criu recreates both namespaces, the task is pid 1 again
# under a new host pid) and finishes with the digest of an uninterrupted run;
# before that, a restore whose criu is killed at RESUME_DEVICES_LATE leaves
# no task behind (the plugin's restore guard kills pid 1 of the namespace).
# KFD names the process by its pid in its own namespace (1) while criu's
# RESUME_DEVICES_LATE gets the host pid: the plugin must still find the
# task's image and issue KFD RESUME with the host pid, or the queues stay
# paused and the workload never finishes although criu reports success.
#
# What criu needs here: the task is the session leader of its namespace
# (setsid inside it; "A session leader of P(1) is outside of its pid
# namespace" otherwise) and holds no file opened outside the new mount
# namespace (criu cannot look such a file's mount up: "Can't lookup
# mount=N"), so pid 1 closes what it inherited and opens its stdio itself.
# Restoring a mount namespace needs --root (the new namespace's root; / here,
# so /tmp and the emulator's folder and socket under it are the host's own,
# which the daemon keeps serving; a /tmp on a mount of its own would be
# restored as a copy instead). For the same reason the GPUs' memory files
# (the emulator's apertures, by default in /dev/shm, a mount of its own that
# criu would restore as a copy) go to a folder on the root filesystem: on
# hardware the render nodes of a container are the host's devices, and a
# runtime marks such mounts external. The namespace gets a /dev/shm of its
# own, as a container does.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
command -v unshare >/dev/null || e2e_fail "no unshare (util-linux)"
steps=40
args=(--steps $steps --vram $((4 << 20)) --gtt $((1 << 20)) --host $((256 << 10)))
emu="$E2E_TMP/emu"
mkdir "$E2E_TMP/aperture"
plugin_emu_start "$emu" --gpus 2 --vram 64M --aperture-in "$E2E_TMP/aperture"
ref=$(plugin_reference "$emu" "${args[@]}")
echo "uninterrupted: $ref"

plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
# The shim's environment (VRAMSTREAM_EMU_DIR, LD_PRELOAD) passes through unshare.
unshare --pid --mount --fork --mount-proc setsid bash -c '
	out=$1
	shift
	# A /dev/shm of its own, as a container has: criu saves the contents of
	# every tmpfs mount of the namespace (overmounted ones too), and the host
	# /dev/shm holds files that other programs change while criu reads them.
	umount -l /dev/shm && mount -t tmpfs -o size=16M tmpfs /dev/shm || exit 1
	for f in /proc/self/fd/*; do
		f=${f##*/}
		[ "$f" -gt 2 ] 2>/dev/null && eval "exec $f>&-"
	done
	exec "$@" </dev/null >"$out" 2>&1' pidns-init "$out" "$EMU_WORKLOAD" "${args[@]}" \
	--delay-ms 30 </dev/null >/dev/null 2>&1 &
outer=$!
e2e_track "$outer"
e2e_wait_until 10 pgrep -P "$outer" >/dev/null || e2e_fail "no process in the new namespaces"
init=$(pgrep -P "$outer")
e2e_track "$init"
plugin_wait_step "$out" 8
nspid=$(sed -n 's/^NSpid:\s*//p' "/proc/$init/status")
[ "$nspid" = "$init	1" ] || e2e_fail "workload's NSpid is '$nspid', expected '$init<TAB>1'"
grep -q '^workload: pid 1,' "$out" || e2e_fail "the workload does not see itself as pid 1"
plugin_fd_table "$init" >"$E2E_TMP/fds.dumped"

e2e_dump "$init" "$E2E_TMP/img"
wait "$outer" 2>/dev/null || true
e2e_gone "$init" || e2e_fail "workload still runs after criu dump"
echo "dumped at step $(grep -c '^step ' "$out")"
# PROCESS_INFO names the process as it knows itself.
ls "$E2E_TMP/img"/vramstream-kfd-1-*.img >/dev/null ||
	e2e_fail "no KFD image for pid 1: $(ls "$E2E_TMP/img" | grep vramstream-kfd || true)"

# criu killed mid-restore (at RESUME_DEVICES_LATE, its process still
# streaming the BO contents back): the plugin's restore guard finds the task
# as pid 1 of the namespace criu made and kills it (plugin_restore_guard.h).
plugin_slow_restore "$E2E_TMP/img" restore-killed.log "$E2E_TMP/killed.pid" \
	'Run late stage hook' --root /
rr=$RR criu=$CRIU_PID
killed=$(cat "$E2E_TMP/killed.pid")
kill -KILL "$criu"
e2e_wait_until 15 e2e_gone "$killed" ||
	{ kill -9 "$killed"; e2e_fail "criu killed mid-restore: the half-restored pid 1 (host $killed) stays"; }
wait "$rr" 2>/dev/null || true
grep -q "vramstream: restore guard [0-9]* kills this restore's tasks (root pid 1)" \
	"$E2E_TMP/img/restore-killed.log" || e2e_fail "no restore guard for root pid 1 in the log"
grep -q "vramstream: criu (pid $criu) died during the restore; the guard killed the 1 task(s) it had restored part way (pids $killed)" \
	"$E2E_TMP/img/restore-killed.log" || e2e_fail "the guard does not say it killed host pid $killed"
echo "ok: criu killed mid-restore; its guard killed pid 1 of the new namespace (host pid $killed)"
plugin_truncate_to_dump "$out"

e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid" --root /
host=$(cat "$E2E_TMP/restored.pid")
echo "restored as host pid $host"
nspid=$(sed -n 's/^NSpid:\s*//p' "/proc/$host/status" 2>/dev/null || true)
[ "$nspid" = "$host	1" ] || e2e_fail "restored NSpid is '$nspid', expected '$host<TAB>1'"
# The plugin found the task's mm image by its own pid and closed its files.
plugin_check_fd_table "$E2E_TMP/fds.dumped" "$host" "the restored task"
# Without RESUME the queues stay paused: no step would ever come.
e2e_wait_until 20 grep -q "^step $steps\$" "$out" ||
	e2e_fail "restored workload made no progress to step $steps (queues never resumed?)"
grep -q "vramstream: resume of pid $host (pid 1 in its namespace): GPU queues running" \
	"$E2E_TMP/restore.log" || e2e_fail "no RESUME naming both pids in the restore log"
grep -q "restore of pid $host (pid 1 in its namespace): BO contents restored by criu's process" \
	"$E2E_TMP/restore.log" || e2e_fail "BO contents were not restored by criu's process"
plugin_check_finish "$out" "$host" "$ref" "$steps"
! grep -q "restore guard[ 0-9]*:" "$E2E_TMP/restore.log" || e2e_fail "the restore guard complained (or did not find pid 1)"
echo "ok: workload restored as pid 1 of its namespaces (host pid $host) ended with $ref"
