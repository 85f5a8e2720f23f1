# Helpers for the plugin's end-to-end tests: the real vramstream plugin, real
# criu, the emulator (sourced after e2e_lib.sh).
# Environment from meson: EMU_LAUNCHER, EMU_SHIM, EMU_WORKLOAD, CRIU, PLUGIN_DIR.

# plugin_emu_start DIR [launcher options]: a daemon of the test's own.
plugin_emu_start() {
	local dir=$1
	shift
	"$EMU_LAUNCHER" start --dir "$dir" "$@" >/dev/null || e2e_fail "emulator did not start in $dir"
	PLUGIN_EMU_DIRS+=("$dir")
}

PLUGIN_EMU_DIRS=()
plugin_cleanup() {
	local d
	# Daemons first: stopping one needs its folder, which e2e_cleanup removes.
	for d in "${PLUGIN_EMU_DIRS[@]}"; do
		"$EMU_LAUNCHER" stop --dir "$d" || true
	done
	e2e_cleanup
}
trap plugin_cleanup EXIT

# plugin_use_emu DIR: later criu runs and workloads see the emulator in DIR.
plugin_use_emu() {
	export VRAMSTREAM_EMU_DIR=$1 LD_PRELOAD=$EMU_SHIM
}

# plugin_workload OUT [workload args]: start the workload detached; sets WL_PID.
plugin_workload() {
	local out=$1
	shift
	setsid "$EMU_WORKLOAD" "$@" </dev/null >"$out" 2>&1 &
	WL_PID=$!
	e2e_track "$WL_PID"
}

# plugin_dump_gone DIR: criu dumps the workload ($WL_PID) into DIR, which
# kills it; fails unless it is gone afterwards.
plugin_dump_gone() {
	e2e_dump "$WL_PID" "$1"
	wait "$WL_PID" 2>/dev/null || true
	e2e_gone "$WL_PID" || e2e_fail "workload still runs after criu dump"
}

# plugin_reference DIR OUT [workload args]: an uninterrupted run's digest.
plugin_reference() {
	local dir=$1
	shift
	VRAMSTREAM_EMU_DIR=$dir LD_PRELOAD=$EMU_SHIM "$EMU_WORKLOAD" "$@" | grep '^digest ' ||
		e2e_fail "uninterrupted workload run failed"
}

# plugin_wait_step OUT N: the workload has printed step N.
plugin_wait_step() {
	e2e_wait_until 30 grep -q "^step $2\$" "$1" || { cat "$1" >&2; e2e_fail "workload did not reach step $2"; }
}

# plugin_fd_table PID: the task's open files, one "fd target" a line, in fd
# order (targets as /proc/PID/fd's links name them). Files the task holds
# only for a moment (the emulator's shim holds a socket to its daemon for
# each emulated ioctl, emu/README.md) make two reads differ: it reads until
# two in a row agree.
plugin_fd_table() {
	local pid=$1 prev="" cur try
	for try in $(seq 20); do
		cur=$(plugin_fd_table_once "$pid")
		[ "$try" -gt 1 ] && [ "$cur" = "$prev" ] && break
		prev=$cur
		sleep 0.02
	done
	echo "$cur"
}
# An fd closed between ls and readlink is left out; the function must not
# fail then (set -e: the caller's assignment would end the test silently).
plugin_fd_table_once() {
	local pid=$1 fd target
	for fd in $(ls "/proc/$pid/fd" | sort -n); do
		if target=$(readlink "/proc/$pid/fd/$fd"); then
			echo "$fd $target"
		fi
	done
}

# plugin_check_fd_table WANT PID WHAT: the task's fd table (plugin_fd_table)
# is WANT, the file holding the dumped task's: criu restores a task's fds at
# their numbers and nothing else (criu/files.c: prepare_fds), so a file any
# more, less or elsewhere is left from the restore (the plugin's own files).
plugin_check_fd_table() {
	local want=$1 pid=$2 what=$3 got
	got=$(plugin_fd_table "$pid")
	[ "$got" = "$(cat "$want")" ] ||
		e2e_fail "$what's fd table differs from the dumped task's:
$(diff <(cat "$want") <(echo "$got"))"
}

# plugin_slow_restore IMG LOG PIDFILE MARK [criu args...]: starts `criu
# restore` of IMG slowed to 2 MB/s per GPU (the plugin's own
# VRAMSTREAM_IO_RATE) under reap_run, its log in IMG/LOG and its stderr in
# $E2E_TMP/criu-stderr.out, and waits until the log shows MARK. Sets RR
# (reap_run's pid) and CRIU_PID: reap_run's child other than the restore
# guard (forked twice from criu, a child of reap_run too, named
# vramstream-rgd before criu logs it).
plugin_slow_restore() {
	local img=$1 log=$2 pidfile=$3 mark=$4
	shift 4
	VRAMSTREAM_IO_RATE=2M "$REAP_RUN" -t 20 "$CRIU" restore -D "$img" -o "$log" -v4 \
		--lib "$PLUGIN_DIR" -d --pidfile "$pidfile" "$@" >"$E2E_TMP/criu-stderr.out" 2>&1 &
	RR=$!
	e2e_wait_until 30 grep -qs "$mark" "$img/$log" ||
		{ cp "$img/$log" "$E2E_TMP/restore.log"; e2e_fail "the restore log never showed '$mark'"; }
	CRIU_PID=$(pgrep -P "$RR" | while read -r p; do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = vramstream-rgd ] || echo "$p"
	done)
	[ -n "$CRIU_PID" ] && [ "$(wc -w <<<"$CRIU_PID")" = 1 ] || e2e_fail "cannot tell criu's pid: '$CRIU_PID'"
}

# plugin_check_finish OUT PID REF STEPS: the workload ran to the end with the
# reference digest, its own verification, and every step once.
plugin_check_finish() {
	local out=$1 pid=$2 ref=$3 steps=$4 got
	e2e_wait_until 120 e2e_gone "$pid" || e2e_fail "workload $pid did not finish"
	got=$(grep '^digest ' "$out") || e2e_fail "workload printed no digest (see $out)"
	[ "$got" = "$ref" ] || e2e_fail "digest '$got' differs from the uninterrupted '$ref'"
	grep -q '^verify ok' "$out" || e2e_fail "workload failed its own verification"
	[ "$(grep -c '^step ' "$out")" = "$steps" ] || e2e_fail "steps missing or repeated"
}

# plugin_truncate_to_dump OUT: cut the workload's output file back to the size
# it had when criu dumped it (criu checks a restored file's size), taken from
# the position criu logged for the workload's stdout.
plugin_truncate_to_dump() {
	local pos
	pos=$(sed -n 's/^.* fdinfo 1: pos: *\(0x[0-9a-f]*\) .*$/\1/p' "$E2E_TMP/dump.log" | head -n 1)
	[ -n "$pos" ] || e2e_fail "no stdout position in the dump log"
	truncate -s $((pos)) "$1"
}
