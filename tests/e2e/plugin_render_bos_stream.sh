#!/bin/bash
# EXPECT: a workload holding render-node GEM BOs beyond what the metadata took
# (a 144 MiB VRAM BO made with AMDGPU_GEM_CREATE_NO_CPU_ACCESS, written only by
# SDMA submissions on the render node; a small BO mapped to the CPU) and a
# dma-buf fd of each (DRM_IOCTL_PRIME_HANDLE_TO_FD) is dumped: the BOs'
# contents go through the transfer pipeline into the render file's own stream
# file, compressed and with equal chunks stored once, and vramstream-img info
# and verify account for it; each dma-buf file names its GEM BO. Killed and
# restored: every BO is back with the bytes the steps wrote, the held dma-buf
# fds are dma-bufs of the restored BOs (same size, import to the BO's handle,
# the CPU-mapped one's bytes), and the run ends with the uninterrupted digest.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
steps=40
args=(--steps $steps --vram $((1 << 20)) --gtt $((256 << 10)) --host $((256 << 10)) --gem-bo
	--gem-big 144M --gem-dmabuf)
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 1 --vram 32M
VRAMSTREAM_EMU_DIR=$emu LD_PRELOAD=$EMU_SHIM "$EMU_WORKLOAD" "${args[@]}" >"$E2E_TMP/ref.out" ||
	{ cat "$E2E_TMP/ref.out" >&2; e2e_fail "uninterrupted workload run failed"; }
ref=$(grep '^digest ' "$E2E_TMP/ref.out")
checks=(gem-bo gem-big gem-dmabuf)
for c in "${checks[@]}"; do
	grep -q "^$c ok" "$E2E_TMP/ref.out" || e2e_fail "the uninterrupted run's $c check failed"
done
echo "uninterrupted: $ref"

plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 30
plugin_wait_step "$out" 6
plugin_dump_gone "$E2E_TMP/img"
echo "dumped at step $(grep -c '^step ' "$out")"
grep -q 'vramstream: dump of render node renderD128 (file [0-9]*): 4 GEM BO(s) in [0-9]* stream file(s)' \
	"$E2E_TMP/dump.log" || { grep vramstream "$E2E_TMP/dump.log" | tail -5 >&2; e2e_fail "the dump log does not say the GEM BOs went to a stream"; }
# The big BO's untouched 8 MiB chunks are equal: stored once, the others references.
grep -q 'vramstream: dump of render node renderD128 .* chunks zero/raw/zstd/ref [0-9]*/[0-9]*/[0-9]*/[1-9]' \
	"$E2E_TMP/dump.log" || e2e_fail "no chunk of the render stream was stored once for several places (dedup)"
for size in 65536 150994944; do
	grep -q "vramstream: dma-buf file [0-9]* is GEM BO [0-9]* (GPU 0x[0-9a-f]*, $size bytes) of render-node file" \
		"$E2E_TMP/dump.log" || e2e_fail "the dump log names no dma-buf of the $size-byte GEM BO"
done
stream=$(ls "$E2E_TMP/img"/vramstream-render-*.vrs) || e2e_fail "no render-node stream file in the image"
meta=$(ls "$E2E_TMP/img"/vramstream-render-*.img)
[ "$(stat -c %s "$meta")" -lt 65536 ] || e2e_fail "the render-node metadata holds the BOs' bytes ($(stat -c %s "$meta") bytes)"
# The big BO's chunks start equal and compress: far less is stored than 145 MiB.
[ "$(stat -c %s "$stream")" -lt $((48 << 20)) ] || e2e_fail "the render stream stores $(stat -c %s "$stream") bytes"

"$IMG_TOOL" verify "$E2E_TMP/img" >"$E2E_TMP/verify.out" 2>&1 ||
	{ cat "$E2E_TMP/verify.out" >&2; e2e_fail "vramstream-img verify failed on the image"; }
grep -q '^ok: .* 2 stream file(s)' "$E2E_TMP/verify.out" ||
	{ cat "$E2E_TMP/verify.out" >&2; e2e_fail "verify did not read the render stream"; }
"$IMG_TOOL" info "$E2E_TMP/img" >"$E2E_TMP/info.out" 2>&1 || { cat "$E2E_TMP/info.out" >&2; e2e_fail "vramstream-img info failed"; }
grep -q 'vramstream-render-[0-9]*\.vrs' "$E2E_TMP/info.out" ||
	{ cat "$E2E_TMP/info.out" >&2; e2e_fail "info does not list the render stream"; }
grep -Eq '^ +0x[0-9a-f]+ +GEM +4 +145 MiB' "$E2E_TMP/info.out" ||
	{ cat "$E2E_TMP/info.out" >&2; e2e_fail "info does not account for the GEM BOs"; }

e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid"
grep -q "vramstream: restore of pid $WL_PID: renderD128: 4 GEM BO(s), 0.152 GB moved" \
	"$E2E_TMP/restore.log" || { grep vramstream "$E2E_TMP/restore.log" | tail -5 >&2; e2e_fail "the restore log does not say the GEM BOs' stream was restored"; }
[ "$(grep -c "vramstream: restore of pid $WL_PID: dma-buf file [0-9]* is GEM BO [0-9]* of render-node file [0-9]* again" \
	"$E2E_TMP/restore.log")" = 2 ] || e2e_fail "the restore log does not say both GEM dma-bufs were restored"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
for c in "${checks[@]}"; do
	grep -q "^$c ok" "$out" || { tail -5 "$out" >&2; e2e_fail "the restored workload's $c check failed"; }
done
echo "ok: GEM BOs (144 MiB NO_CPU_ACCESS, CPU-mapped) and their dma-buf fds came back, ended with $ref"
