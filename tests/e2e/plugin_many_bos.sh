#!/bin/bash
# EXPECT: a workload holding 16,000 small BOs (4 KiB, VRAM and GTT in turn;
# MANY_BOS=N for another count) is dumped and restored by real criu running
# with a soft RLIMIT_NOFILE of 1024 under a hard limit that holds the BOs (as
# in containers, where criu cannot raise its hard limit). KFD's CHECKPOINT and
# RESTORE hand out one dma-buf fd per VRAM/GTT BO in one call and fail with
# EMFILE past the soft limit (kfd_chardev.c: criu_get_prime_handle ->
# get_unused_fd_flags), so the plugin must raise its soft limit to the hard one
# for that call and keep the fds its transfer holds bounded. The restored
# workload finishes with the digest of an uninterrupted run, and both
# transfers finish well within the test's time.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
bos=${MANY_BOS:-16000}
soft=${MANY_BOS_SOFT_NOFILE:-1024}
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -gt $((bos + 256)) ] ||
	e2e_fail "this test needs a hard RLIMIT_NOFILE above $((bos + 256)) (it is $hard)"
steps=30
args=(--steps $steps --vram $((1 << 20)) --gtt $((256 << 10)) --host $((64 << 10)) --small-bos "$bos")
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 1 --vram 512M
ref=$(plugin_reference "$emu" "${args[@]}")
echo "uninterrupted: $ref"

plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 100
plugin_wait_step "$out" 3
t0=$SECONDS
(ulimit -Sn "$soft" && e2e_dump "$WL_PID" "$E2E_TMP/img") || exit 1
echo "dump of $bos small BOs with a soft RLIMIT_NOFILE of $soft: $((SECONDS - t0)) s"
wait "$WL_PID" 2>/dev/null || true
e2e_gone "$WL_PID" || e2e_fail "workload still runs after criu dump"
n=$(grep -o 'dump of pid [0-9]*, GPU 0x[0-9a-f]*: [0-9]* BO(s)' "$E2E_TMP/dump.log" | awk '{print $7}')
[ "$n" = $((bos + 2)) ] || e2e_fail "dump moved '$n' BOs, expected $((bos + 2))"

t0=$SECONDS
(ulimit -Sn "$soft" && e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid") || exit 1
echo "restore of $bos small BOs with a soft RLIMIT_NOFILE of $soft: $((SECONDS - t0)) s"
WL_PID=$(cat "$E2E_TMP/restored.pid")
e2e_track "$WL_PID"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: $bos small BOs restored, workload ended with $ref"
