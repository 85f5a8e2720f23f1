#!/bin/bash
# EXPECT: a setting outside the limits of the module that uses it, read from
# the config file, fails criu dump when the plugin loads, before any KFD
# call, the log naming the file, the line and the setting; the workload goes
# on untouched. Then a misspelt VRAMSTREAM_* variable is named in the log
# with the closest setting while the dump succeeds with the file's settings;
# the emulator's VRAMSTREAM_EMU_DIR is not named.
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 1 --vram 64M
plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" --steps 0 --vram 4M --gtt 1M --host 256K --delay-ms 30
plugin_wait_step "$out" 4

conf="$E2E_TMP/vramstream.conf"
printf '# chunks\nVRAMSTREAM_LEVEL=3\nVRAMSTREAM_CHUNK_SIZE=300M\n' >"$conf"
mkdir -p "$E2E_TMP/img"
if VRAMSTREAM_CONFIG=$conf "$CRIU" dump -t "$WL_PID" -D "$E2E_TMP/img" -o dump-bad.log -v4 \
	--lib "$PLUGIN_DIR" --leave-running >/dev/null 2>&1; then
	e2e_fail "dump with VRAMSTREAM_CHUNK_SIZE=300M succeeded"
fi
log="$E2E_TMP/img/dump-bad.log"
grep -q "cannot start: $conf:3: VRAMSTREAM_CHUNK_SIZE=\"300M\" is not valid" "$log" ||
	e2e_fail "dump log does not name the file, line and setting"
grep -qE "GPU queues (paused|unpaused)|KFD" "$log" && e2e_fail "the plugin reached KFD"
step=$(grep -c '^step ' "$out")
plugin_wait_step "$out" $((step + 2))
echo "ok: $(grep -o 'vramstream: cannot start.*' "$log" | cut -c1-160)"

printf 'VRAMSTREAM_LEVEL=3\nVRAMSTREAM_CHUNK_SIZE=1M\n' >"$conf"
VRAMSTREAM_CONFIG=$conf VRAMSTREAM_CHUNKSIZE=2M e2e_dump "$WL_PID" "$E2E_TMP/img2"
grep -q "unknown setting VRAMSTREAM_CHUNKSIZE in the environment is ignored; did you mean VRAMSTREAM_CHUNK_SIZE?" \
	"$E2E_TMP/dump.log" || e2e_fail "dump log does not name the misspelt setting"
grep -q "settings: level=3 .*chunk=1024K" "$E2E_TMP/dump.log" || e2e_fail "the file's settings were not used"
grep -q "unknown setting VRAMSTREAM_EMU" "$E2E_TMP/dump.log" && e2e_fail "the emulator's variable was named"
wait "$WL_PID" 2>/dev/null || true
echo "ok: $(grep -o 'unknown setting VRAMSTREAM_CHUNKSIZE.*' "$E2E_TMP/dump.log")"
