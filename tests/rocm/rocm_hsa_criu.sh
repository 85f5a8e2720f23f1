#!/bin/bash
# The HSA test program (rocm_hsa_copy: Debian's ROCr 5.2, public HSA API)
# under real criu with the vramstream plugin, on the emulator.
# EXPECT (kill): dumped mid-loop, killed, restored; it finishes with the
# digest of an uninterrupted run, its own CPU check, and every step once.
# EXPECT (leave-running): dumped with --leave-running, it finishes with that
# digest; its image, restored after it is gone, finishes with it too.
# libhsakmt maps a POSIX semaphore whose temporary name glibc's sem_open
# unlinked (perfctr.c: init_shared_region), so criu needs --link-remap; that
# is criu's business, not the GPU's: for the restore after the original has
# finished, the test keeps criu's link remaps from the dump. libhsakmt also
# keeps /dev/shm/hsakmt_shared_mem open and removes it and the semaphore when
# its last user exits; those the plugin creates again at restore.
# PROGRAM is rocm_hsa_copy or rocm_hsa_peer (peer copies between two GPUs'
# VRAM, each BO mapped on both GPUs: after the restore KFD must map them on
# both again, or the source GPU's SDMA engine faults on the peer's VRAM).
# Further arguments are emulator config lines, KEY=VALUE for "KEY VALUE".
# Usage: rocm_hsa_criu.sh PROGRAM MODE GPUS [KEY=VALUE...]
# Environment: CRIU, PLUGIN_DIR, EMU_LAUNCHER, EMU_SHIM.
EMU_WORKLOAD=$1
mode=$2
gpus=$3
shift 3
source "$(dirname "$0")/../e2e/e2e_lib.sh"
source "$(dirname "$0")/../e2e/plugin_lib.sh"
e2e_require_criu

# criu names link remaps by file id (/dev/shm/link_remap.N) and removes them
# only when a restore succeeds: one left by a failed run would make the next
# dump fail ("File exists"). Remove those this test made.
shm_before=" $(cd /dev/shm && echo link_remap.*) "
rocm_cleanup() {
	local f
	plugin_cleanup
	for f in /dev/shm/link_remap.*; do
		[ -e "$f" ] || continue
		case $shm_before in *" ${f##*/} "*) ;; *) rm -f "$f" ;; esac
	done
}
trap rocm_cleanup EXIT
# rocm_dump PID IMGDIR [criu args]: e2e_dump, tried again (up to 5 times)
# only when criu refused because the process was frozen while one of its
# threads talked to the emulator's daemon: every emulated ioctl holds a unix
# socket to the daemon while it lasts, and ROCr keeps a thread in
# WAIT_EVENTS at all times, so about one dump in four finds such a socket
# ("External socket is used"). On hardware the ioctl sleeps in the kernel
# and the freeze interrupts it; see emu/README.md. A refused dump leaves the
# process running, and the digest it ends with is checked all the same.
rocm_dump() {
	local pid=$1 dir=$2 try
	shift 2
	for try in 1 2 3 4 5; do
		rm -rf "$dir"
		mkdir -p "$dir"
		if "$CRIU" dump -t "$pid" -D "$dir" -o dump.log -v4 --lib "$PLUGIN_DIR" "$@"; then
			cp "$dir/dump.log" "$E2E_TMP/dump.log"
			return 0
		fi
		cp "$dir/dump.log" "$E2E_TMP/dump.log" 2>/dev/null || true
		grep -q 'External socket is used' "$dir/dump.log" && ! e2e_gone "$pid" ||
			e2e_fail "criu dump of $pid failed"
		echo "dump attempt $try found the process inside an emulated ioctl; again"
		sleep 0.0$((RANDOM % 10))
	done
	e2e_fail "criu dump of $pid found an emulated ioctl in flight 5 times"
}

steps=30
args=(--steps $steps --size $((256 << 10)))
emu="$E2E_TMP/emu"
: >"$E2E_TMP/machine.conf"
for l in "$@"; do
	echo "${l%%=*} ${l#*=}" >>"$E2E_TMP/machine.conf"
done
plugin_emu_start "$emu" --gpus "$gpus" --vram 64M --config "$E2E_TMP/machine.conf"
ref=$(plugin_reference "$emu" "${args[@]}")
echo "uninterrupted: $ref"

plugin_use_emu "$emu"
out="$E2E_TMP/hsa.out"
plugin_workload "$out" "${args[@]}" --delay-ms 40
plugin_wait_step "$out" 6
grep -qx "gpus $gpus" "$out" || e2e_fail "ROCr did not report $gpus GPU agent(s)"
# ROCr's files (/dev/kfd, a render node per GPU, libhsakmt's shared memory):
# the restored task holds those and no file of the plugin's.
plugin_fd_table "$WL_PID" >"$E2E_TMP/fds.dumped"
case $mode in
kill)
	rocm_dump "$WL_PID" "$E2E_TMP/img" --link-remap
	wait "$WL_PID" 2>/dev/null || true
	e2e_gone "$WL_PID" || e2e_fail "the HSA program still runs after criu dump"
	echo "dumped at step $(grep -c '^step ' "$out")"
	;;
leave-running)
	# criu drops its link remaps when the task stays alive: keep them from
	# its post-dump action (libhsakmt's shared file is the plugin's job).
	mkdir "$E2E_TMP/shm"
	cat >"$E2E_TMP/keep-shm.sh" <<SCRIPT
#!/bin/sh
[ "\$CRTOOLS_SCRIPT_ACTION" = post-dump ] || exit 0
cp -p /dev/shm/link_remap.* "$E2E_TMP/shm/" 2>/dev/null
exit 0
SCRIPT
	chmod +x "$E2E_TMP/keep-shm.sh"
	rocm_dump "$WL_PID" "$E2E_TMP/img" --link-remap --leave-running \
		--action-script "$E2E_TMP/keep-shm.sh"
	at=$(grep -c '^step ' "$out")
	echo "dumped at step $at, left running"
	ls "$E2E_TMP"/shm/link_remap.* >/dev/null 2>&1 || e2e_fail "no link remap kept from the dump"
	plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
	echo "ok: the HSA program left running finished with $ref"
	wait "$WL_PID" 2>/dev/null || true
	plugin_truncate_to_dump "$out"
	[ "$(grep -c '^step ' "$out")" -le "$at" ] || e2e_fail "output not cut back to the dump"
	for f in "$E2E_TMP"/shm/*; do
		[ -e "/dev/shm/${f##*/}" ] || cp -p "$f" /dev/shm/
	done
	;;
*) e2e_fail "unknown mode $mode" ;;
esac
n=$(grep -c 'vramstream: dump of pid .*, GPU 0x.*GB/s' "$E2E_TMP/dump.log" || true)
[ "$n" = "$gpus" ] || e2e_fail "dump log reports $n GPU transfers, expected $gpus"

e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid"
plugin_check_fd_table "$E2E_TMP/fds.dumped" "$WL_PID" "the restored HSA program"
grep -q "vramstream: resume of pid $WL_PID: GPU queues running" "$E2E_TMP/restore.log" ||
	e2e_fail "no RESUME in the restore log"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
case " $* " in
*num_sdma_xgmi_engines*)
	# In a hive with XGMI SDMA engines ROCr copies peer to peer on XGMI SDMA queues.
	[ "$(grep -c ' SDMA_XGMI queue' "$emu/daemon.log")" -ge 2 ] ||
		e2e_fail "ROCr ran no XGMI SDMA queue on both GPUs"
	;;
esac
if grep -q 'stopped' "$emu/daemon.log"; then
	e2e_fail "an SDMA queue stopped on a fault: $(grep stopped "$emu/daemon.log")"
fi
echo "ok: restored $(basename "$EMU_WORKLOAD") ($mode, $gpus GPU(s)${1:+, $*}) ended with $ref"
