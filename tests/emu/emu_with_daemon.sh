#!/bin/bash
# Runs a test program under the shim with a daemon of its own (2 GPUs).
# Usage: emu_with_daemon.sh PROGRAM [ARGS...]
set -euo pipefail
dir=$(mktemp -d /tmp/vramstream-emu-test.XXXXXX)
trap '"$EMU_LAUNCHER" stop --dir "$dir" || true; rm -rf "$dir"' EXIT
"$EMU_LAUNCHER" start --dir "$dir" --gpus 2 --vram 64M >/dev/null
"$EMU_LAUNCHER" run --dir "$dir" -- "$@"
