#!/bin/bash
# EXPECT: the plugin .so exports CR_PLUGIN_DESC and nothing else (libdrm and
# libinput keep the same test), and leaves print_on_level to criu.
set -euo pipefail
so=$1
exports=$(nm -D --defined-only "$so" | awk '{print $3}' | sort)
if [ "$exports" != "CR_PLUGIN_DESC" ]; then
	echo "FAIL: $so exports more than CR_PLUGIN_DESC:" >&2
	echo "$exports" >&2
	exit 1
fi
undefined=$(nm -D --undefined-only "$so")
grep -q ' print_on_level$' <<<"$undefined" || {
	echo "FAIL: $so does not take print_on_level from criu" >&2
	exit 1
}
echo "ok: $so exports only CR_PLUGIN_DESC"
