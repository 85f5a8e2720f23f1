#!/bin/bash
# Configures (once) and builds a build folder against the CRIU that
# scripts/setup.sh provided. Usage: build.sh BUILDDIR [meson options...]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${VRAMSTREAM_CACHE:-$repo/.cache}
[ -f "$cache/criu.env" ] || { echo "build: run scripts/setup.sh first" >&2; exit 1; }
# shellcheck source=/dev/null
source "$cache/criu.env"

builddir=$1
shift
opts=(-Dcriu="$CRIU" -Dcriu_include="$CRIU_INCLUDE" "$@")
if [ -f "$builddir/build.ninja" ]; then
	meson setup --reconfigure "$builddir" "$repo" "${opts[@]}" >/dev/null
else
	meson setup "$builddir" "$repo" "${opts[@]}" >/dev/null
fi
meson compile -C "$builddir" >/dev/null || meson compile -C "$builddir"
