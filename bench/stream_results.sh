#!/bin/bash
# Runs `vramstream-bench stream` for every data kind and prints a Markdown
# table for bench/RESULTS.md, with the load average before each run and the
# issue's targets checked. Usage: stream_results.sh BENCH [SIZE=2G] [DIR=/dev/shm]
set -euo pipefail
bench=$1
size=${2:-2G}
dir=${3:-/dev/shm}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# "CPU-bound" = threads / CPU s per GB: the rate if the process had its threads' cores to
# itself (pipeline: its workers; baselines: one thread). Derived, not measured: on a
# loaded machine wall time mostly measures the scheduler's share.
threads=$(nproc)
echo "| kind | level | load | variant | write GB/s | read GB/s | ratio | write CPU s/GB | read CPU s/GB | CPU-bound write / read GB/s | peak RSS MiB (w/r) |"
echo "|------|-------|------|---------|-----------:|----------:|------:|---------------:|--------------:|----------------------------:|-------------------:|"
for run in "zeros 1" "random 1" "bf16 1" "mixed 1"; do
	set -- $run
	load=$(cut -d' ' -f1 /proc/loadavg)
	"$bench" stream --kind "$1" --level "$2" --size "$size" --dir "$dir" --json | tail -1 >"$out"
	python3 - "$out" "$1" "$2" "$load" "$threads" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
kind, level, load, threads = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
for v in ("pipeline", "raw", "zstd1t"):
    e = d[v]
    t = threads if v == "pipeline" else 1
    print(f"| {kind} | {level if v == 'pipeline' else ('3' if v == 'zstd1t' else '-')} | {load} | {v} | "
          f"{e['write_gbps']:.2f} | {e['read_gbps']:.2f} | {e['image_ratio']:.3f} | "
          f"{e['write_cpu_s_per_gb']:.3f} | {e['read_cpu_s_per_gb']:.3f} | "
          f"{t / e['write_cpu_s_per_gb']:.2f} / {t / e['read_cpu_s_per_gb']:.2f} | "
          f"{e['write_peak_rss_bytes'] / 2**20:.0f} / {e['read_peak_rss_bytes'] / 2**20:.0f} |")
p, raw, z = d["pipeline"], d["raw"], d["zstd1t"]
checks = {
    "zeros": [("write >= 5x raw", p["write_gbps"] / raw["write_gbps"], 5)],
    "random": [("write >= 0.85x raw", p["write_gbps"] / raw["write_gbps"], 0.85),
               ("read >= 0.85x raw", p["read_gbps"] / raw["read_gbps"], 0.85)],
    "mixed": [("write >= 1.5x zstd1t", p["write_gbps"] / z["write_gbps"], 1.5),
              ("image <= zstd1t's (ratio)", p["image_ratio"] / z["image_ratio"], 1.0),
              ("read > zstd1t", p["read_gbps"] / z["read_gbps"], 1.0)],
}.get(kind, [])
for name, got, want in checks:
    print(f"|   | target | | {name} | {got:.2f}x | {'met' if got >= want else 'MISSED'} | | | | | |")
PY
done
