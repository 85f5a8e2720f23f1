#!/bin/bash
# A tiny run of `vramstream-bench e2e` on the emulator (2 GPUs, 16 MiB each,
# 4 MiB BOs, every byte verified after each variant's restore): the
# benchmark keeps building and running through the plugin's transfer code,
# its --json keeps the fields BENCHMARKING.md promises, and the storage
# ceiling measures the folder and leaves nothing behind there.
# Usage: bench_e2e_tiny.sh BENCH (EMU_LAUNCHER, EMU_SHIM in the environment)
set -euo pipefail
bench=$1
dir=$(mktemp -d /tmp/vramstream-bench-e2e.XXXXXX)
trap '"$EMU_LAUNCHER" stop --dir "$dir/emu" || true; rm -rf "$dir"' EXIT
"$EMU_LAUNCHER" start --dir "$dir/emu" --gpus 2 --vram 64M >/dev/null
mkdir "$dir/img"
for level in 1 off; do
	VRAMSTREAM_EMU_DIR=$dir/emu LD_PRELOAD=$EMU_SHIM "$bench" e2e --size 16M --bo-size 4M \
		--chunk-size 1M --buffer-size 1M --level "$level" --dir "$dir/img" --json >"$dir/out"
	python3 - "$dir/out" "$level" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
doc = json.loads(lines[-1])
for v in ("pipeline", "baseline"):
    for k in ("dump_gbps", "restore_gbps", "image_ratio"):
        assert doc[v][k] > 0, (v, k, doc[v])
    assert doc[v]["bytes"] == 2 * 16 << 20, doc[v]
cfg = doc["config"]
assert cfg["gpus"] == 2 and cfg["storage_write_gbps"] > 0 and cfg["storage_read_gbps"] > 0, cfg
assert any("every byte verified after restore" in l for l in lines), lines
# where the time went, per direction, and the shares of the limits measured
for d in ("dump", "restore"):
    a = doc["account"][d]
    assert a["gpu_wall_s"] > 0 and a["workers"] > 0 and a["io_bytes"] > 0, (d, a)
assert doc["limits"]["folder_gbps"][0] > 0 and doc["limits"]["dump_share"] > 0, doc["limits"]
assert any(l.startswith("pipeline restore ") and "of the slowest" in l for l in lines), lines
assert any(l.startswith("storage ceiling in ") for l in lines), lines
print("level", sys.argv[2], "ok: ratio", round(doc["pipeline"]["image_ratio"], 3),
      "storage write", cfg["storage_write_gbps"], "GB/s")
PY
done
# Neither variant nor the ceiling may leave files in the image folder.
[ -z "$(ls -A "$dir/img")" ] || { ls -l "$dir/img"; exit 1; }
