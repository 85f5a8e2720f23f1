#!/bin/bash
# EXPECT: a workload holding a BO it made through the render node
# (AMDGPU_GEM_CREATE), mapped to the CPU and into the GPU VM, is dumped (the
# plugin lists the render file's handles, Linux 6.18's LIST_HANDLES, and saves
# the BO), killed and restored: the BO is back at its handle with the bytes the
# steps wrote, the task's CPU mapping shows it, GEM_MMAP's new offset maps it,
# its VA mapping is there, and the run ends with the uninterrupted digest.
# EXPECT: on an emulated kernel without those ioctls (config drm_gem_criu 0)
# the dump fails, naming the kernel version needed, and writes no image.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
steps=30
args=(--steps $steps --vram $((1 << 20)) --gtt $((256 << 10)) --host $((256 << 10)) --gem-bo)
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 1 --vram 32M
VRAMSTREAM_EMU_DIR=$emu LD_PRELOAD=$EMU_SHIM "$EMU_WORKLOAD" "${args[@]}" >"$E2E_TMP/ref.out" ||
	{ cat "$E2E_TMP/ref.out" >&2; e2e_fail "uninterrupted workload run failed"; }
ref=$(grep '^digest ' "$E2E_TMP/ref.out")
grep -q '^gem-bo ok' "$E2E_TMP/ref.out" || e2e_fail "the uninterrupted run's GEM BO check failed"
echo "uninterrupted: $ref"

plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 30
plugin_wait_step "$out" 6
plugin_fd_table "$WL_PID" >"$E2E_TMP/fds.dumped"
plugin_dump_gone "$E2E_TMP/img"
at=$(grep -c '^step ' "$out")
echo "dumped at step $at"
grep -q 'vramstream: render node renderD128 (file [0-9]*) belongs to GPU 0x[0-9a-f]*, 1 GEM BO(s)' \
	"$E2E_TMP/dump.log" || e2e_fail "the dump log does not say the render file's GEM BO was saved"

e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid"
plugin_check_fd_table "$E2E_TMP/fds.dumped" "$WL_PID" "the restored task"
grep -q "vramstream: restore of pid $WL_PID: renderD128: 1 GEM BO(s) back at their handles" \
	"$E2E_TMP/restore.log" || e2e_fail "the restore log does not say the GEM BO was restored"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
grep -q '^gem-bo ok' "$out" || { tail -5 "$out" >&2; e2e_fail "the restored workload's GEM BO check failed"; }
echo "ok: the GEM BO came back (contents, CPU mapping, handle, VA), ended with $ref"
[ -n "$(ls "$E2E_TMP/img"/vramstream-render-*.vrs)" ] || e2e_fail "the GEM BO's bytes are in no stream file"

# EXPECT: a GEM BO made with AMDGPU_GEM_CREATE_VM_ALWAYS_VALID, which the kernel
# does not export as a dma-buf (amdgpu_gem_prime_export), has its bytes kept in
# the render file's metadata through a CPU mapping instead, and comes back so.
av=("${args[@]}" --gem-always-valid)
ref_av=$(plugin_reference "$emu" "${av[@]}")
out_av="$E2E_TMP/workload-av.out"
plugin_workload "$out_av" "${av[@]}" --delay-ms 30
plugin_wait_step "$out_av" 6
e2e_dump "$WL_PID" "$E2E_TMP/img-av"
wait "$WL_PID" 2>/dev/null || true
ls "$E2E_TMP/img-av"/vramstream-render-*.vrs >/dev/null 2>&1 && e2e_fail "a VM_ALWAYS_VALID BO went to a stream"
[ "$(stat -c %s "$E2E_TMP/img-av"/vramstream-render-*.img)" -gt 65536 ] ||
	e2e_fail "the VM_ALWAYS_VALID BO's bytes are not in the render-node metadata"
e2e_restore "$E2E_TMP/img-av" "$E2E_TMP/restored-av.pid"
plugin_check_finish "$out_av" "$WL_PID" "$ref_av" "$steps"
grep -q '^gem-bo ok' "$out_av" || { tail -5 "$out_av" >&2; e2e_fail "the restored VM_ALWAYS_VALID GEM BO's check failed"; }
echo "ok: a VM_ALWAYS_VALID GEM BO came back through the metadata, ended with $ref_av"

# EXPECT: a render file holding an imported BO (PRIME import of a KFD BO's
# dma-buf) fails the dump, naming the BO as imported and the KFD BO it imports
# (re-exported, an import gives back its source's dma-buf: drm_prime.c), writes
# no render-node image, and leaves the workload running.
out_imp="$E2E_TMP/workload-import.out"
plugin_workload "$out_imp" "${args[@]}" --gem-import --steps 0 --delay-ms 30
plugin_wait_step "$out_imp" 3
mkdir -p "$E2E_TMP/img-import"
if "$CRIU" dump -t "$WL_PID" -D "$E2E_TMP/img-import" -o dump.log -v4 --lib "$PLUGIN_DIR"; then
	e2e_fail "criu dump succeeded with an imported render-node BO"
fi
grep -q 'dump of render node renderD128 (file [0-9]*): BO [0-9]* ([0-9]* bytes) is imported from a dma-buf of BO [0-9]* (GPU 0x[0-9a-f]*, [0-9]* bytes) of KFD file [0-9]* of pid [0-9]*; imported render-node BOs are not saved yet' \
	"$E2E_TMP/img-import/dump.log" || { grep vramstream "$E2E_TMP/img-import/dump.log" | tail -5 >&2; e2e_fail "the failed dump does not name the imported BO"; }
ls "$E2E_TMP/img-import"/vramstream-render-*.img >/dev/null 2>&1 && e2e_fail "a render-node image was written anyway"
steps_past() { [ "$(grep -c '^step ' "$1")" -gt "$2" ]; }
e2e_wait_until 10 steps_past "$out_imp" "$(grep -c '^step ' "$out_imp")" ||
	e2e_fail "the workload stopped after the refused dump"
kill "$WL_PID" 2>/dev/null || true
wait "$WL_PID" 2>/dev/null || true
echo "ok: an imported render-node BO fails the dump, naming it; the workload runs on"

# An older kernel: no LIST_HANDLES. The dump must fail and say which kernel is needed.
old="$E2E_TMP/emu-old"
echo "drm_gem_criu 0" >"$E2E_TMP/old.conf"
plugin_emu_start "$old" --gpus 1 --vram 32M --config "$E2E_TMP/old.conf"
plugin_use_emu "$old"
out2="$E2E_TMP/workload-old.out"
plugin_workload "$out2" "${args[@]}" --steps 0 --delay-ms 30
plugin_wait_step "$out2" 3
mkdir -p "$E2E_TMP/img-old"
if "$CRIU" dump -t "$WL_PID" -D "$E2E_TMP/img-old" -o dump.log -v4 --lib "$PLUGIN_DIR"; then
	e2e_fail "criu dump succeeded on a kernel without the GEM checkpoint ioctls"
fi
grep -q 'dump of render node renderD128 (file [0-9]*): the kernel has no DRM_IOCTL_AMDGPU_GEM_LIST_HANDLES: saving render-node BOs needs Linux 6.18 or later' \
	"$E2E_TMP/img-old/dump.log" || { grep vramstream "$E2E_TMP/img-old/dump.log" | tail -5 >&2; e2e_fail "the failed dump does not name the kernel version needed"; }
ls "$E2E_TMP/img-old"/vramstream-render-*.img >/dev/null 2>&1 && e2e_fail "a render-node image was written anyway"
kill "$WL_PID" 2>/dev/null || true
echo "ok: on an older kernel the dump fails naming Linux 6.18"

# EXPECT: there, a process that makes no BO through its render node (ROCm
# compute alone) is dumped with VRAMSTREAM_RENDER_BOS_OPTIONAL=1, with a
# warning, and restores to the uninterrupted digest.
wait "$WL_PID" 2>/dev/null || true
plain=(--steps $steps --vram $((1 << 20)) --gtt $((256 << 10)) --host $((256 << 10)))
ref3=$(plugin_reference "$old" "${plain[@]}")
out3="$E2E_TMP/workload-plain.out"
plugin_workload "$out3" "${plain[@]}" --delay-ms 30
plugin_wait_step "$out3" 5
VRAMSTREAM_RENDER_BOS_OPTIONAL=1 e2e_dump "$WL_PID" "$E2E_TMP/img-plain"
grep -q "saved without BOs (VRAMSTREAM_RENDER_BOS_OPTIONAL=1)" "$E2E_TMP/dump.log" ||
	e2e_fail "the dump did not warn that render-node BOs were not saved"
wait "$WL_PID" 2>/dev/null || true
plugin_truncate_to_dump "$out3"
e2e_restore "$E2E_TMP/img-plain" "$E2E_TMP/restored-plain.pid"
plugin_check_finish "$out3" "$WL_PID" "$ref3" "$steps"
echo "ok: with VRAMSTREAM_RENDER_BOS_OPTIONAL=1 a process without render-node BOs is dumped there, restored with $ref3"
