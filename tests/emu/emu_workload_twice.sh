#!/bin/bash
# EXPECT: two runs of the workload on 2 emulated GPUs print the same digest,
# each verified against the CPU recomputation of the whole run.
set -euo pipefail
dir=$(mktemp -d /tmp/vramstream-emu-test.XXXXXX)
trap '"$EMU_LAUNCHER" stop --dir "$dir" || true; rm -rf "$dir"' EXIT
"$EMU_LAUNCHER" start --dir "$dir" --gpus 2 --vram 64M >/dev/null
run() { "$EMU_LAUNCHER" run --dir "$dir" -- "$EMU_WORKLOAD" --steps 40 --vram 2097152; }
a=$(run) || { echo "FAIL: first run: $a"; exit 1; }
b=$(run) || { echo "FAIL: second run: $b"; exit 1; }
da=$(grep '^digest ' <<<"$a"); db=$(grep '^digest ' <<<"$b")
grep -q '^verify ok' <<<"$a" || { echo "FAIL: first run not verified"; exit 1; }
grep -q '^verify ok' <<<"$b" || { echo "FAIL: second run not verified"; exit 1; }
[ -n "$da" ] && [ "$da" = "$db" ] || { echo "FAIL: digests differ: '$da' vs '$db'"; exit 1; }
# A different step count gives a different digest (the digest depends on the work done).
c=$("$EMU_LAUNCHER" run --dir "$dir" -- "$EMU_WORKLOAD" --steps 41 --vram 2097152 --no-verify)
[ "$(grep '^digest ' <<<"$c")" != "$da" ] || { echo "FAIL: digest ignores the steps"; exit 1; }
echo "ok: $da"
