#!/bin/bash
# EXPECT: real criu dumps a counting process with the vramstream plugin
# loaded, the process is gone, criu restores it, and it counts on from the
# number it had reached (the whole output is 1, 2, 3, ... without a reset or
# a gap); both criu logs show our plugin was initialised.
# Usage: criu_counter.sh COUNTER_BINARY
source "$(dirname "$0")/e2e_lib.sh"
e2e_require_criu
counter=$1
out="$E2E_TMP/counter.out"
img="$E2E_TMP/img"

"$counter" 10 </dev/null >>"$out" 2>&1 &
pid=$!
e2e_track "$pid"

lines() { wc -l <"$out"; }
has_lines() { [ "$(lines)" -ge "$1" ]; }
e2e_wait_until 10 has_lines 20 || e2e_fail "counter did not start"

e2e_dump "$pid" "$img"
e2e_gone "$pid" || e2e_fail "process $pid still runs after criu dump"
wait "$pid" 2>/dev/null || true
saved=$(tail -n 1 "$out")
echo "dumped at count $saved"

e2e_restore "$img" "$E2E_TMP/restored.pid"
rpid=$(cat "$E2E_TMP/restored.pid")
[ "$rpid" = "$pid" ] || e2e_fail "restored pid $rpid is not the dumped pid $pid"
e2e_wait_until 10 has_lines $((saved + 20)) || e2e_fail "restored process does not count"
kill -9 "$rpid"

# The restored process went on from its saved count: the file is exactly
# 1..N, so there was neither a restart from 1 nor a jump.
n=$(lines)
seq 1 "$n" | cmp -s - "$out" || e2e_fail "output is not 1..$n: the count restarted or jumped"
[ "$(sed -n "$((saved + 1))p" "$out")" = "$((saved + 1))" ] || e2e_fail "no count after $saved"

grep -q 'vramstream: plugin initialised for dump' "$E2E_TMP/dump.log" ||
	e2e_fail "criu dump log does not show the vramstream plugin"
grep -q 'vramstream: plugin initialised for restore' "$E2E_TMP/restore.log" ||
	e2e_fail "criu restore log does not show the vramstream plugin"
echo "ok: restored process went on from $saved to $n"
