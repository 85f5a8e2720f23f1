#!/bin/bash
# EXPECT: on an image the plugin wrote under real criu (the emulated workload on 2 GPUs, each
# GPU's stream striped over 2 files):
# info shows both GPUs, BOs by kind and the streams; verify passes, and fails on a flipped
# byte naming the stream file, the chunk, the BO and its offset; a recompress killed once its
# temporary file exists leaves the image as it was, and criu restores it to the digest of an
# uninterrupted run; a completed recompress (level, filter and chunk size changed) verifies
# and restores to the same digest.
source "$(dirname "$0")/../e2e/e2e_lib.sh"
source "$(dirname "$0")/../e2e/plugin_lib.sh"
source "$(dirname "$0")/img_funcs.sh"
e2e_require_criu
# The tool runs without the emulator's preload shim.
T() { env -u LD_PRELOAD "$IMG_TOOL" "$@"; }
steps=40
args=(--steps $steps --vram $((8 << 20)) --gtt $((1 << 20)) --host $((256 << 10)))
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 2 --vram 64M
ref=$(plugin_reference "$emu" "${args[@]}")
echo "uninterrupted: $ref"

plugin_use_emu "$emu"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 30
plugin_wait_step "$out" 8
img="$E2E_TMP/img"
VRAMSTREAM_STREAMS=2 e2e_dump "$WL_PID" "$img"
wait "$WL_PID" 2>/dev/null || true
e2e_gone "$WL_PID" || e2e_fail "workload still runs after criu dump"

# restore_and_finish DIR: criu restores DIR under a subreaper that reaps the workload once it
# has finished (so that its pid is free for the next restore), then checks the run.
restore_and_finish() {
	plugin_truncate_to_dump "$out"
	"$REAP_RUN" bash -c '
		"$CRIU" restore -D "$1" -o restore.log -v4 --lib "$PLUGIN_DIR" -d --pidfile "$1/restored.pid" ||
			exit 1
		pid=$(cat "$1/restored.pid")
		for _ in $(seq 1 2400); do
			state=$(awk "{print \$3}" "/proc/$pid/stat" 2>/dev/null) || exit 0
			[ "$state" = Z ] && exit 0
			sleep 0.05
		done
		exit 3' _ "$1" || {
		cp "$1/restore.log" "$E2E_TMP/restore.log" 2>/dev/null
		e2e_fail "criu restore from $1 failed, or the restored workload did not finish"
	}
	cp "$1/restore.log" "$E2E_TMP/restore.log"
	grep -q "vramstream: resume of pid $WL_PID: GPU queues running" "$E2E_TMP/restore.log" ||
		e2e_fail "no RESUME in the restore log of $1"
	plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
}

# info
T info "$img" >"$E2E_TMP/info.txt"
cat "$E2E_TMP/info.txt"
grep -q "^process $WL_PID (vramstream-kfd-$WL_PID-" "$E2E_TMP/info.txt" || e2e_fail "info does not name process $WL_PID"
T --json info --chunks "$img" >"$E2E_TMP/info.json"
[ "$(img_json "$E2E_TMP/info.json" '[len(p["gpus"]) for p in j["processes"]]')" = "[2]" ] || e2e_fail "info: not 2 GPUs"
[ "$(img_json "$E2E_TMP/info.json" '[g["bos_by_kind"]["VRAM"]["bytes"] for g in j["processes"][0]["gpus"]]')" = "[$((8 << 20)), $((8 << 20))]" ] ||
	e2e_fail "info: VRAM bytes per GPU"
[ "$(img_json "$E2E_TMP/info.json" '[g["bos_by_kind"]["GTT"]["stored_bytes"] for g in j["processes"][0]["gpus"]]')" != "[0, 0]" ] ||
	e2e_fail "info: no stored GTT bytes"
[ "$(img_json "$E2E_TMP/info.json" '[s["parts"] for s in j["streams"]]')" = "[2, 2, 2, 2]" ] ||
	e2e_fail "info: not 2 GPUs x 2 stream parts"
img_expect_status 0 T verify "$img" >"$E2E_TMP/v.txt"
cat "$E2E_TMP/v.txt"
for c in A B C; do cp -a "$img" "$E2E_TMP/img$c"; done

# A flipped byte: verify names file, chunk, BO and offset.
read -r sname chunk bo off fo < <(img_json "$E2E_TMP/info.json" \
	'" ".join(str(x) for x in [[s["file"], c["index"], c["bo"], c["offset"], c["file_offset"]] for s in j["streams"][1:] for c in s["chunks"] if c["codec"] != "zero"][-1])')
img_flip "$E2E_TMP/imgC/$sname" $((fo + 4000))
img_expect_status 1 T verify "$E2E_TMP/imgC" >"$E2E_TMP/v.txt"
cat "$E2E_TMP/v.txt"
grep -q "^$sname: chunk $chunk of BO $bo ([A-Z]*, GPU 0x[0-9a-f]*), BO offset $off, file offset $fo" "$E2E_TMP/v.txt" ||
	e2e_fail "verify did not name $sname chunk $chunk, BO $bo, offset $off"

# Recompress killed midway: nothing changes, criu restores the image.
before=$(img_sums "$E2E_TMP/imgA")
T recompress "$E2E_TMP/imgA" --level 3 --rate-limit 2M >/dev/null 2>&1 &
rc_pid=$!
e2e_track "$rc_pid"
e2e_wait_until 20 bash -c "ls '$E2E_TMP/imgA'/.*.recompress.partial-* >/dev/null 2>&1" ||
	e2e_fail "recompress wrote no temporary file"
kill -9 "$rc_pid"
wait "$rc_pid" 2>/dev/null || true
echo "killed recompress; left: $(cd "$E2E_TMP/imgA" && ls -A | grep recompress | tr '\n' ' ')"
[ "$(img_sums "$E2E_TMP/imgA")" = "$before" ] || e2e_fail "a killed recompress changed the image"
img_expect_status 0 T verify "$E2E_TMP/imgA" >/dev/null
restore_and_finish "$E2E_TMP/imgA"
echo "ok: image of a killed recompress restored to $ref"

# A completed recompress restores to the same digest.
T recompress "$E2E_TMP/imgB" --level 3 --filter bytegroup2 --chunk-size 1M
img_expect_status 0 T verify "$E2E_TMP/imgB" >/dev/null
T --json info "$E2E_TMP/imgB" >"$E2E_TMP/infoB.json"
[ "$(img_json "$E2E_TMP/infoB.json" 'sorted(set((s["level"], s["filter"], s["chunk_size"]) for s in j["streams"]))')" = \
	"[('3', 'bytegroup2', 1048576)]" ] || e2e_fail "recompressed streams do not carry the new settings"
restore_and_finish "$E2E_TMP/imgB"
echo "ok: recompressed image restored to $ref"
