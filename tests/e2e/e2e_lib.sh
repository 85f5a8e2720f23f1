# Shared helpers for end-to-end tests with real criu (sourced, bash).
# Environment from meson: CRIU (criu executable), PLUGIN_DIR (folder with
# vramstream.so). Every process a test starts is killed on exit.

set -euo pipefail

E2E_PIDS=()
E2E_TMP=$(mktemp -d /tmp/vramstream-e2e.XXXXXX)

e2e_fail() {
	echo "FAIL: $*" >&2
	for log in "$E2E_TMP"/*.log; do
		[ -f "$log" ] || continue
		echo "---- last lines of $log" >&2
		tail -n 30 "$log" >&2
	done
	exit 1
}

e2e_cleanup() {
	local pid
	for pid in "${E2E_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
	done
	rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT

e2e_require_criu() {
	# A missing criu is a failure, not a skip: these tests exist to run it.
	[ -n "${CRIU:-}" ] && [ -x "$CRIU" ] ||
		e2e_fail "no criu executable (CRIU='${CRIU:-}'): run scripts/setup.sh and configure with -Dcriu=PATH"
}

e2e_track() {
	E2E_PIDS+=("$1")
}

# e2e_wait_until SECONDS COMMAND...: poll until COMMAND succeeds.
e2e_wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

# e2e_gone PID: the process no longer runs (absent, or a zombie not yet reaped).
e2e_gone() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$state" ] || [ "$state" = Z ]
}

# e2e_dump PID IMGDIR [criu args...]
e2e_dump() {
	local pid=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	"$CRIU" dump -t "$pid" -D "$dir" -o dump.log -v4 --lib "$PLUGIN_DIR" "$@" ||
		{ cp "$dir/dump.log" "$E2E_TMP/dump.log" 2>/dev/null; e2e_fail "criu dump of $pid failed"; }
	cp "$dir/dump.log" "$E2E_TMP/dump.log"
}

# e2e_restore IMGDIR PIDFILE [criu args...]: restore detached.
e2e_restore() {
	local dir=$1 pidfile=$2
	shift 2
	"$CRIU" restore -D "$dir" -o restore.log -v4 --lib "$PLUGIN_DIR" -d --pidfile "$pidfile" "$@" ||
		{ cp "$dir/restore.log" "$E2E_TMP/restore.log" 2>/dev/null; e2e_fail "criu restore from $dir failed"; }
	cp "$dir/restore.log" "$E2E_TMP/restore.log"
	e2e_track "$(cat "$pidfile")"
}
