# Helpers for the vramstream-img tests (sourced, bash). Environment from meson:
# IMG_TOOL (vramstream-img), IMG_MKIMAGE (the test image writer).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/img_funcs.sh"

IMG_TMP=$(mktemp -d /tmp/vramstream-img.XXXXXX)
IMG_PIDS=()
img_cleanup() {
	local pid
	for pid in "${IMG_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
	done
	rm -rf "$IMG_TMP"
}
trap img_cleanup EXIT
