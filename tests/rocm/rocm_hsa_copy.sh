#!/bin/bash
# The HSA test program (rocm_hsa_copy.c: public HSA API only, on Debian's ROCr
# 5.2) on the emulator: ROCr's async copies run on SDMA queues it creates
# through KFD, which the emulator executes.
# EXPECT: every step runs and the digest read back from VRAM equals the same
# computation on the CPU ("verify ok"), on NUM_GPUS GPUs (GPU-to-GPU copies
# when there are two or more).
# Usage: rocm_hsa_copy.sh PROGRAM NUM_GPUS. Environment: EMU_LAUNCHER.
set -euo pipefail
prog=$1
gpus=$2
steps=12
dir=$(mktemp -d /tmp/vramstream-rocm-test.XXXXXX)
trap '"$EMU_LAUNCHER" stop --dir "$dir" || true; rm -rf "$dir"' EXIT
fail() {
	echo "FAIL: $*" >&2
	cat "$dir/out" "$dir/daemon.log" >&2 || true
	exit 1
}

"$EMU_LAUNCHER" start --dir "$dir" --gpus "$gpus" --vram 128M >/dev/null
"$EMU_LAUNCHER" run --dir "$dir" -- timeout 120 "$prog" --steps $steps --size 262144 \
	>"$dir/out" 2>&1 || fail "rocm_hsa_copy exited with $?"
grep -qx "gpus $gpus" "$dir/out" || fail "ROCr did not report $gpus GPU agent(s)"
grep -qx "step $steps" "$dir/out" || fail "the loop did not reach step $steps"
grep -q '^digest [0-9a-f]\{16\}$' "$dir/out" || fail "no digest"
grep -qx 'verify ok' "$dir/out" || fail "the data read back from VRAM is wrong"
if grep -q 'stopped' "$dir/daemon.log"; then
	fail "an SDMA queue stopped on a fault"
fi
echo "PASS: $(grep '^digest' "$dir/out"), verified on $gpus GPU(s)"
