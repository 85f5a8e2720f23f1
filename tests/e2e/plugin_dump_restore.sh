#!/bin/bash
# EXPECT: the emulated workload on N GPUs is dumped mid-run by real criu with
# the vramstream plugin (BO contents through SDMA and stream files), killed,
# restored, and finishes with the digest of an uninterrupted run, every step
# once, and the restored task dumped and restored once more does too. The
# dump log reports per GPU bytes moved, image bytes and GB/s.
# The workload maps its VRAM and GTT BOs through the render node and its
# doorbells through /dev/kfd (as libhsakmt does) and reads and writes VRAM and
# GTT through those mappings every step: criu's dump takes them as device VMAs
# (HANDLE_DEVICE_VMA accepted), its restore re-creates them where
# UPDATE_VMA_MAP says ("New mmap"), and with 2 GPUs both hand out the same DRM
# offsets, so a mapping re-created at the wrong offset or GPU changes the digest.
# Each restored task holds the fds the dumped one held and no file of the
# plugin's (it closes its own after criu's last UPDATE_VMA_MAP in the task).
# Usage: plugin_dump_restore.sh GPUS  (VRAMSTREAM_STREAMS=N: stripe each stream;
# VRAMSTREAM_RESTORE_OVERLAP=0: contents restored inside the task, not by
# criu's process while it restores the rest)
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
gpus=$1
steps=40
args=(--steps $steps --vram $((4 << 20)) --gtt $((1 << 20)) --host $((256 << 10)))
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus "$gpus" --vram 64M
ref=$(plugin_reference "$emu" "${args[@]}")
echo "uninterrupted: $ref"

plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 30
plugin_wait_step "$out" 8
plugin_fd_table "$WL_PID" >"$E2E_TMP/fds.dumped"
plugin_dump_gone "$E2E_TMP/img"
echo "dumped at step $(grep -c '^step ' "$out")"

n=$(grep -c 'vramstream: dump of pid .*, GPU 0x.*GB/s' "$E2E_TMP/dump.log" || true)
[ "$n" = "$gpus" ] || e2e_fail "dump log reports $n GPU transfers, expected $gpus"
ls "$E2E_TMP/img"/vramstream-kfd-"$WL_PID"-*.img >/dev/null || e2e_fail "no KFD image written"
# One stream per GPU, striped over VRAMSTREAM_STREAMS files when that is set.
parts=${VRAMSTREAM_STREAMS:-1}
[ "$(ls "$E2E_TMP/img"/*.vrs | wc -l)" = $((gpus * parts)) ] ||
	e2e_fail "expected $((gpus * parts)) stream files, found: $(ls "$E2E_TMP/img"/*.vrs)"

# Three device VMAs per GPU: VRAM and GTT through renderD*, doorbells through
# /dev/kfd; criu asks the plugin about each new file (a VMA of the same file
# right after another "borrows" the answer) and fails the dump if it refuses.
n=$(grep -c 'smaps entry: .*\(/renderD12[0-9]\|/run/kfd/[0-9]*\)$' "$E2E_TMP/dump.log" || true)
[ "$n" = $((3 * gpus)) ] || e2e_fail "criu found $n device VMAs, expected $((3 * gpus))"
grep -q 'Found device file mapping, plugin is available' "$E2E_TMP/dump.log" ||
	e2e_fail "criu never asked the plugin about a device VMA"
# DRM offsets are per device: with 2 GPUs the same offsets are mapped on both nodes.
if [ "$gpus" -ge 2 ]; then
	offs() { sed -n "s/^.*smaps entry: [0-9a-f]*-[0-9a-f]* [rwxsp-]* \([0-9a-f]*\) .*\/renderD$1\$/\1/p" \
		"$E2E_TMP/dump.log" | sort -u; }
	[ -n "$(comm -12 <(offs 128) <(offs 129))" ] ||
		e2e_fail "the two GPUs' BO mappings have no offset in common (offs 128: $(offs 128))"
fi
for dev in /dev/kfd /dev/dri/renderD128; do
	grep -q "Dumping path for -3 fd via self [0-9]* \[$dev\]" "$E2E_TMP/dump.log" ||
		e2e_fail "no device mapping of $dev in the dump log"
done

e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid"
plugin_check_fd_table "$E2E_TMP/fds.dumped" "$WL_PID" "the restored task"
grep -q "vramstream: restore of pid $WL_PID: last device VMA given to criu; closed the plugin's $((gpus + 1)) file(s)" \
	"$E2E_TMP/restore.log" || e2e_fail "the restore log does not say the plugin closed its $((gpus + 1)) files"
n=$(grep -c 'New mmap .*->' "$E2E_TMP/restore.log" || true)
[ "$n" = $((3 * gpus)) ] || e2e_fail "criu re-created $n device VMAs at new offsets, expected $((3 * gpus))"
grep -q "vramstream: resume of pid $WL_PID: GPU queues running" "$E2E_TMP/restore.log" ||
	e2e_fail "no RESUME from RESUME_DEVICES_LATE in the restore log"
if [ "${VRAMSTREAM_RESTORE_OVERLAP:-1}" = 1 ]; then
	grep -q "restore of pid $WL_PID: BO contents restored by criu's process" \
		"$E2E_TMP/restore.log" || e2e_fail "BO contents were not restored by criu's process"
else
	! grep -q "handed to criu's process" "$E2E_TMP/restore.log" ||
		e2e_fail "contents went to criu's process with VRAMSTREAM_RESTORE_OVERLAP=0"
fi
# A restored job is checkpointed again (periodic checkpoints of a migrated
# job): the restored task dumps and restores once more and still ends with
# the uninterrupted digest.
sleep 0.3
e2e_dump "$WL_PID" "$E2E_TMP/img2"
e2e_gone "$WL_PID" || e2e_fail "restored workload still runs after the second dump"
e2e_wait_until 10 test ! -e "/proc/$WL_PID" || e2e_fail "the dumped restored workload was never reaped"
e2e_restore "$E2E_TMP/img2" "$E2E_TMP/restored2.pid"
plugin_check_fd_table "$E2E_TMP/fds.dumped" "$WL_PID" "the task restored twice"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
grep 'vramstream: \(dump\|restore\) of pid .*GB/s' "$E2E_TMP/dump.log" "$E2E_TMP/restore.log" |
	sed 's/^.*vramstream: /  /'
echo "ok: restored workload on $gpus GPU(s) ended with $ref"
