#!/bin/bash
# EXPECT: periodic checkpoints with parent images (README.md, "Periodic
# checkpoints"). A workload is dumped three times while it runs
# (--leave-running): in full, then against the first image
# (VRAMSTREAM_PARENT), then against the second. The later images store a fraction of the first's bytes and refer to
# the rest; restored from the third (a chain of depth 2), the workload
# finishes with the digest of an uninterrupted run. With the first image
# gone, restoring the third fails naming the missing file, and no process
# is left. vramstream-img shows the chain, verifies it, and writes a
# flattened copy that restores without any parent. Then, with identical
# memory on 2 GPUs (--same-gpus), one dump
# stores the second GPU's chunks as references to the first's.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
steps=60
args=(--steps $steps --vram $((16 << 20)) --gtt $((1 << 20)) --host $((256 << 10)))
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 2 --vram 64M
ref=$(plugin_reference "$emu" "${args[@]}")
# Small chunks, so a step's changes touch few of them.
export VRAMSTREAM_CHUNK_SIZE=64K VRAMSTREAM_LEVEL=1

# stored_bytes DIR: bytes of the plugin's stream files in an image folder.
stored_bytes() {
	du -cb "$1"/vramstream-*.vrs | tail -n 1 | cut -f 1
}

plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 40
plugin_wait_step "$out" 5
e2e_dump "$WL_PID" "$E2E_TMP/img1" --leave-running
full=$(stored_bytes "$E2E_TMP/img1")
at1=$(grep -c '^step ' "$out")

plugin_wait_step "$out" $((at1 + 2))
VRAMSTREAM_PARENT=../img1 e2e_dump "$WL_PID" "$E2E_TMP/img2" --leave-running
grep -q "incremental against parent ../img1" "$E2E_TMP/dump.log" ||
	e2e_fail "the second dump did not use its parent"
inc2=$(stored_bytes "$E2E_TMP/img2")

at2=$(grep -c '^step ' "$out")
plugin_wait_step "$out" $((at2 + 2))
# (criu's own "parent" link cannot be tried here: criu dump uses it for its
# memory pages too, which needs the soft-dirty tracking this kernel lacks;
# tests/unit/test_image.c follows such a link.)
VRAMSTREAM_PARENT=../img2 e2e_dump "$WL_PID" "$E2E_TMP/img3" --leave-running
grep -q "incremental against parent ../img2" "$E2E_TMP/dump.log" ||
	e2e_fail "the third dump did not use its parent"
cp "$E2E_TMP/dump.log" "$E2E_TMP/dump3.log"
inc3=$(stored_bytes "$E2E_TMP/img3")
echo "stream bytes: full $full, second $inc2, third $inc3"
# EXPECT: a few steps change a small part of VRAM; the incremental images
# store well under half of the full one (the first image holds every chunk).
[ $((inc2 * 2)) -lt "$full" ] || e2e_fail "second image stores $inc2 of $full bytes"
[ $((inc3 * 2)) -lt "$full" ] || e2e_fail "third image stores $inc3 of $full bytes"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
wait "$WL_PID" 2>/dev/null || true

# Restore from the third image: chunks come from all three folders.
cp "$E2E_TMP/dump3.log" "$E2E_TMP/dump.log"
plugin_truncate_to_dump "$out"
e2e_restore "$E2E_TMP/img3" "$E2E_TMP/restored.pid"
grep -q "incremental image" "$E2E_TMP/restore.log" || e2e_fail "restore did not see the chain"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: restored from a chain of three images, finished with $ref"
# The same with the contents restored inside the task, not by criu's process.
e2e_wait_until 10 test ! -e "/proc/$WL_PID" || e2e_fail "the finished workload was never reaped"
plugin_truncate_to_dump "$out"
VRAMSTREAM_RESTORE_OVERLAP=0 e2e_restore "$E2E_TMP/img3" "$E2E_TMP/restored-inline.pid"
grep -q "restore_overlap=0" "$E2E_TMP/restore.log" || e2e_fail "the restore did not run inside the task"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: restored from the chain inside the task too"

# EXPECT: the image tool shows the chain and where the bytes are, and
# verify reads every chunk the third image needs, in all three folders.
"$IMG_TOOL" info "$E2E_TMP/img3" >"$E2E_TMP/info3.out" || e2e_fail "info of the third image failed"
grep -q "incremental: parent chain ../img2 <- ../img2/../img1$" "$E2E_TMP/info3.out" ||
	{ cat "$E2E_TMP/info3.out" >&2; e2e_fail "info does not show the chain"; }
grep -q "referred to in parent images" "$E2E_TMP/info3.out" || e2e_fail "info does not show references"
"$IMG_TOOL" verify "$E2E_TMP/img3" >"$E2E_TMP/verify3.out" ||
	{ cat "$E2E_TMP/verify3.out" >&2; e2e_fail "verify of the chain failed"; }
grep -E "incremental|referred|REF|gpu" "$E2E_TMP/info3.out" || true
cat "$E2E_TMP/verify3.out"
# A self-contained copy of the third image, for after the parents are gone.
"$IMG_TOOL" recompress "$E2E_TMP/img3" --level 1 --flatten --out "$E2E_TMP/flat3" --quiet \
	>/dev/null || e2e_fail "recompress --flatten failed"
# --out without --flatten would leave references a copy cannot follow.
! "$IMG_TOOL" recompress "$E2E_TMP/img3" --level 1 --out "$E2E_TMP/bad3" >/dev/null 2>&1 ||
	e2e_fail "recompress --out of an incremental image without --flatten succeeded"

# EXPECT: the first image gone, the restore fails naming the file, and no
# workload is left behind; verify says the same.
mv "$E2E_TMP/img1" "$E2E_TMP/img1.gone"
plugin_truncate_to_dump "$out"
# The finished workload's pid must be free again (its zombie reaped).
e2e_wait_until 10 test ! -e "/proc/$WL_PID" || e2e_fail "the finished workload was never reaped"
if "$REAP_RUN" "$CRIU" restore -D "$E2E_TMP/img3" -o restore-gone.log -v4 --lib "$PLUGIN_DIR" -d \
	--pidfile "$E2E_TMP/gone.pid" 2>/dev/null; then
	e2e_track "$(cat "$E2E_TMP/gone.pid")"
	e2e_fail "restore succeeded without its parent's parent"
fi
grep -E "\.\./img2/\.\./img1/vramstream-kfd-[0-9]+-[0-9]+-gpu[0-9]+\.vrs \(missing\), needed by chunk [0-9]+ of vramstream-kfd-" \
	"$E2E_TMP/img3/restore-gone.log" || {
	grep -i "error\|vramstream" "$E2E_TMP/img3/restore-gone.log" | tail -n 20 >&2
	e2e_fail "the failed restore did not name the missing parent file and chunk"
}
# By pid (criu restores the dumped one): other runs on the machine may have workloads of their own.
test ! -e "/proc/$WL_PID" || e2e_fail "a workload process is left after the failed restore"
! "$IMG_TOOL" verify "$E2E_TMP/img3" >"$E2E_TMP/verify-gone.out" 2>&1 ||
	e2e_fail "verify passed an image whose parent's parent is gone"
grep -q "img1/vramstream-kfd-.*(missing)" "$E2E_TMP/verify-gone.out" ||
	{ cat "$E2E_TMP/verify-gone.out" >&2; e2e_fail "verify did not name the missing file"; }
echo "ok: without its parent's parent the restore fails, naming the file"

# EXPECT: the flattened copy needs no parent: with the first two images
# gone, it restores and finishes with the digest.
mv "$E2E_TMP/img2" "$E2E_TMP/img2.gone"
"$IMG_TOOL" info "$E2E_TMP/flat3" >"$E2E_TMP/info-flat.out" || e2e_fail "info of the flat image failed"
! grep -q "parent chain" "$E2E_TMP/info-flat.out" || e2e_fail "the flattened image still names a parent"
"$IMG_TOOL" verify "$E2E_TMP/flat3" >/dev/null || e2e_fail "verify of the flattened image failed"
plugin_truncate_to_dump "$out"
e2e_restore "$E2E_TMP/flat3" "$E2E_TMP/restored-flat.pid"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
e2e_wait_until 10 test ! -e "/proc/$WL_PID" || e2e_fail "the finished workload was never reaped"
echo "ok: the flattened image restored without its parents, finished with $ref"

# Replicated memory: the second GPU stores references to the first's chunks.
args+=(--same-gpus)
ref=$(plugin_reference "$emu" "${args[@]}")
: >"$out"
plugin_workload "$out" "${args[@]}" --delay-ms 40
plugin_wait_step "$out" 5
e2e_dump "$WL_PID" "$E2E_TMP/img4"
mapfile -t refd < <(sed -n 's/.*GB stored (ratio [0-9.]*), \([0-9.]*\) GB referred to.*/\1/p' \
	"$E2E_TMP/dump.log")
echo "GB referred to per GPU: ${refd[*]}"
[ "${#refd[@]}" = 2 ] || e2e_fail "no per-GPU dump lines in the log"
# EXPECT: one GPU's 17 MiB (16 MiB VRAM + 1 MiB GTT) are all references.
awk -v a="${refd[0]}" -v b="${refd[1]}" 'BEGIN { exit !(a + b >= 0.017) }' ||
	e2e_fail "identical GPUs were stored twice"
wait "$WL_PID" 2>/dev/null || true
e2e_restore "$E2E_TMP/img4" "$E2E_TMP/restored4.pid"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: 2 identical GPUs stored once, restored with $ref"
