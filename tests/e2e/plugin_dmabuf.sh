#!/bin/bash
# EXPECT: a workload on 2 GPUs holding a dma-buf fd of GPU 0's VRAM BO
# (AMDKFD_IOC_EXPORT_DMABUF, as ROCr's IPC and interop hold them) is dumped
# (criu hands the dma-buf, a file of no type, to the plugin, which finds its
# BO among the KFD file's), killed and restored; the restored fd is a dma-buf
# of the restored BO: the workload maps it at the end and its contents are
# the GPU's own of that BO, equal to an uninterrupted run's, and the run ends
# with the uninterrupted digest.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
steps=30
args=(--steps $steps --vram $((2 << 20)) --gtt $((256 << 10)) --host $((256 << 10)) --dmabuf)
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 2 --vram 32M
VRAMSTREAM_EMU_DIR=$emu LD_PRELOAD=$EMU_SHIM "$EMU_WORKLOAD" "${args[@]}" >"$E2E_TMP/ref.out" ||
	{ cat "$E2E_TMP/ref.out" >&2; e2e_fail "uninterrupted workload run failed"; }
ref=$(grep '^digest ' "$E2E_TMP/ref.out")
ref_dmabuf=$(grep '^dmabuf ok ' "$E2E_TMP/ref.out") || e2e_fail "the uninterrupted run's dma-buf check failed"
echo "uninterrupted: $ref; $ref_dmabuf"

plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 30
plugin_wait_step "$out" 6
plugin_fd_table "$WL_PID" >"$E2E_TMP/fds.dumped"
plugin_dump_gone "$E2E_TMP/img"
echo "dumped at step $(grep -c '^step ' "$out")"
grep -q 'vramstream: dma-buf file [0-9]* is BO [0-9]* (GPU 0x[0-9a-f]*, 2097152 bytes) of KFD file' \
	"$E2E_TMP/dump.log" || e2e_fail "the dump log names no dma-buf of the 2 MiB VRAM BO"
[ "$(ls "$E2E_TMP/img"/vramstream-dmabuf-*.img | wc -l)" = 1 ] || e2e_fail "expected one dma-buf file in the image"

e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid"
plugin_check_fd_table "$E2E_TMP/fds.dumped" "$WL_PID" "the restored task"
grep -q "vramstream: restore of pid $WL_PID: dma-buf file [0-9]* is BO [0-9]* of KFD file [0-9]* again" \
	"$E2E_TMP/restore.log" || e2e_fail "the restore log does not say the dma-buf was restored"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
got=$(grep '^dmabuf ' "$out") || e2e_fail "the restored workload printed no dma-buf line"
[ "$got" = "$ref_dmabuf" ] || e2e_fail "the restored workload's dma-buf: '$got', uninterrupted: '$ref_dmabuf'"
echo "ok: the restored dma-buf fd is the restored BO ($got), ended with $ref"
