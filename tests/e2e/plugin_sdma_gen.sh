#!/bin/bash
# EXPECT: on a machine whose GPUs are the given chip (gfx target, hence SDMA IP
# version), the emulator reports that SDMA version in its config and the
# render node's AMDGPU_INFO_HW_IP_INFO, and the workload (16 MiB of VRAM per
# GPU, so the plugin's 8 MiB chunks are single COPY_LINEAR packets where the
# generation counts 30 bits) is dumped by real criu with the plugin, killed,
# restored on the same machine (the plugin matches gfx_target_version) and
# finishes with an uninterrupted run's digest. The emulator executes every
# packet by that generation's rules, so a packet the generation cannot encode
# fails the dump or the restore.
# Usage: plugin_sdma_gen.sh GFX_TARGET_VERSION SDMA_IP (e.g. 100300 0x050200)
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
gfx=$1
sdma_ip=$2
gpus=2
steps=30
args=(--steps $steps --vram $((16 << 20)) --gtt $((1 << 20)) --host $((256 << 10)))
emu="$E2E_TMP/emu"
printf 'gpu.0.gfx_target_version %s\ngpu.1.gfx_target_version %s\n' "$gfx" "$gfx" \
	>"$E2E_TMP/machine.conf"
plugin_emu_start "$emu" --gpus "$gpus" --vram 96M --config "$E2E_TMP/machine.conf"
for i in 0 1; do
	grep -qx "gpu.$i.sdma_ip_version $sdma_ip" "$emu/config" ||
		e2e_fail "GPU $i of gfx target $gfx does not report SDMA IP $sdma_ip: $(grep "gpu.$i" "$emu/config")"
done
ref=$(plugin_reference "$emu" "${args[@]}")
echo "uninterrupted: $ref"

plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 30
plugin_wait_step "$out" 6
plugin_dump_gone "$E2E_TMP/img"
n=$(grep -c 'vramstream: dump of pid .*, GPU 0x.*GB/s' "$E2E_TMP/dump.log" || true)
[ "$n" = "$gpus" ] || e2e_fail "dump log reports $n GPU transfers, expected $gpus"

e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid"
grep -q "vramstream: resume of pid $WL_PID: GPU queues running" "$E2E_TMP/restore.log" ||
	e2e_fail "no RESUME from RESUME_DEVICES_LATE in the restore log"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
! grep -q 'failed:\|rejected:' "$emu/daemon.log" ||
	e2e_fail "the emulator refused an SDMA packet: $(grep 'failed:\|rejected:' "$emu/daemon.log")"
echo "ok: gfx target $gfx (SDMA IP $sdma_ip): restored workload ended with $ref"
