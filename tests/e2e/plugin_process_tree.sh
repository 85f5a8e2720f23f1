#!/bin/bash
# EXPECT: a process tree in which two processes hold KFD state (a shell and
# two workloads of different sizes on both GPUs) is dumped
# from its root, killed and restored; each workload gets its own images and
# finishes with the digest of its own uninterrupted run, and a plugin loaded
# after vramstream gets RESUME_DEVICES_LATE of the shell only. Before that, a
# restore whose criu is killed at RESUME_DEVICES_LATE leaves none of the
# three tasks behind (the plugin's restore guard kills the tree).
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
steps=30
a=(--steps $steps --vram $((2 << 20)) --gtt $((1 << 20)) --host $((256 << 10)) --delay-ms 40)
b=(--steps $steps --vram $((4 << 20)) --gtt $((1 << 20)) --host $((512 << 10)) --delay-ms 40)
emu="$E2E_TMP/emu"
plugin_emu_start "$emu" --gpus 2 --vram 64M
ref_a=$(plugin_reference "$emu" "${a[@]}")
ref_b=$(plugin_reference "$emu" "${b[@]}")

plugin_use_emu "$emu"
out_a="$E2E_TMP/a.out"
out_b="$E2E_TMP/b.out"
# The root shell holds no GPU state; its two children do. reap_run above it
# reaps the tree once criu has killed it, so the pids are free for restore.
"$REAP_RUN" setsid bash -c '"$0" "${@:1:10}" >"'"$out_a"'" 2>&1 & "$0" "${@:11}" >"'"$out_b"'" 2>&1 & wait' \
	"$EMU_WORKLOAD" "${a[@]}" "${b[@]}" </dev/null >/dev/null 2>&1 &
reaper=$!
e2e_track "$reaper"
plugin_wait_step "$out_a" 5
plugin_wait_step "$out_b" 5
root=$(pgrep -P "$reaper")
e2e_track "$root"
kids=$(pgrep -P "$root" | tr '\n' ' ')
[ "$(echo $kids | wc -w)" = 2 ] || e2e_fail "expected two workloads under $root, found: $kids"
for k in $kids; do e2e_track "$k"; done

e2e_dump "$root" "$E2E_TMP/img"
wait "$reaper" 2>/dev/null || true
for k in $kids; do
	e2e_gone "$k" || e2e_fail "workload $k still runs after the dump"
	ls "$E2E_TMP/img"/vramstream-kfd-"$k"-*.img >/dev/null || e2e_fail "no KFD image for $k"
done

size_a=$(stat -c %s "$out_a")
size_b=$(stat -c %s "$out_b")

# criu killed at RESUME_DEVICES_LATE of a restore slowed to 2 MB/s per GPU:
# the plugin's restore guard kills the whole tree, the root shell included.
plugin_slow_restore "$E2E_TMP/img" restore-killed.log "$E2E_TMP/killed.pid" \
	'Run late stage hook'
rr=$RR criu=$CRIU_PID
kill -KILL "$criu"
for p in $root $kids; do
	e2e_wait_until 15 e2e_gone "$p" || e2e_fail "criu killed mid-restore: task $p of the tree stays"
done
wait "$rr" 2>/dev/null || true
grep -q "vramstream: criu (pid $criu) died during the restore; the guard killed the 3 task(s)" \
	"$E2E_TMP/img/restore-killed.log" || e2e_fail "the guard does not say it killed the tree's 3 tasks"
echo "ok: criu killed mid-restore; its guard killed the tree ($root $kids)"
truncate -s "$size_a" "$out_a"
truncate -s "$size_b" "$out_b"

# Restored with a second plugin loaded after vramstream (criu loads a
# folder's plugins in readdir order; ls -U shows it): the root shell holds
# no GPU state, so vramstream must decline its RESUME_DEVICES_LATE
# (-ENOTSUP, as upstream's amdgpu plugin does) and let the next plugin see it.
libs="$E2E_TMP/libs"
for i in $(seq 1 40); do
	rm -rf "$libs"
	mkdir "$libs"
	if ((i % 2)); then
		ln -s "$PLUGIN_DIR/vramstream.so" "$libs/"
		ln -s "$RESUME_RECORDER" "$libs/recorder-$i.so"
	else
		ln -s "$RESUME_RECORDER" "$libs/recorder-$i.so"
		ln -s "$PLUGIN_DIR/vramstream.so" "$libs/"
	fi
	[ "$(ls -U "$libs" | head -n 1)" = vramstream.so ] && break
done
[ "$(ls -U "$libs" | head -n 1)" = vramstream.so ] || e2e_fail "cannot put vramstream first in $libs"
export RESUME_RECORDER_OUT="$E2E_TMP/recorded"
PLUGIN_DIR=$libs e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid"
grep -qx "$root" "$RESUME_RECORDER_OUT" ||
	{
		grep -E 'Plugin "|late stage' "$E2E_TMP/restore.log" >&2
		e2e_fail "the plugin loaded after vramstream never saw RESUME_DEVICES_LATE of the root shell $root"
	}
for k in $kids; do
	! grep -qx "$k" "$RESUME_RECORDER_OUT" ||
		e2e_fail "RESUME_DEVICES_LATE of workload $k went past vramstream"
done
for k in $kids; do
	grep -q "vramstream: resume of pid $k: GPU queues running" "$E2E_TMP/restore.log" ||
		e2e_fail "no RESUME for $k"
	# Trees too: each task's contents went to criu's process, waited for by pid.
	grep -q "restore of pid $k: BO contents restored by criu's process" \
		"$E2E_TMP/restore.log" || e2e_fail "contents of $k were not restored by criu's process"
done
for k in $kids; do
	e2e_wait_until 120 e2e_gone "$k" || e2e_fail "workload $k did not finish"
done
got_a=$(grep '^digest ' "$out_a") || e2e_fail "workload a printed no digest"
got_b=$(grep '^digest ' "$out_b") || e2e_fail "workload b printed no digest"
[ "$got_a" = "$ref_a" ] || e2e_fail "workload a ended with '$got_a', uninterrupted '$ref_a'"
[ "$got_b" = "$ref_b" ] || e2e_fail "workload b ended with '$got_b', uninterrupted '$ref_b'"
grep -q '^verify ok' "$out_a" && grep -q '^verify ok' "$out_b" || e2e_fail "a workload failed its own verification"
echo "ok: both workloads of the tree finished as uninterrupted ($ref_a, $ref_b)"
