# Helpers for the containers suite: GPU workloads in runc containers,
# checkpointed by `runc checkpoint` and brought back by `runc restore`, with
# the emulator (sourced after e2e_lib.sh and plugin_lib.sh).
# Environment from meson: CRIU, PLUGIN_DIR, PLUGIN_INSTALL_DIR, BUILD_ROOT,
# EMU_LAUNCHER, EMU_SHIM, EMU_WORKLOAD.
#
# runc starts criu itself, from its PATH, with runc's environment and none of
# the caller's settings: the plugin must be where criu looks by default. The
# suite checks that `meson install` puts it there (criu's -L default), then
# points criu at a folder holding the built plugin the same way (CRIU_LIBS_DIR,
# criu's variable for that folder; criu/plugin.c: cr_plugin_init), so
# nothing is installed on the machine running the tests. The emulator needs
# its two variables in criu and in the container's process, as real GPUs need
# their driver: a `criu` wrapper on runc's PATH exports them, config.json
# passes them to the container (test scaffolding, not the plugin's settings).

command -v runc >/dev/null || e2e_fail "no runc (scripts/setup.sh installs Debian's)"
command -v iptables-restore >/dev/null ||
	e2e_fail "no iptables-restore: criu locks a container's network with it"

CTR_IDS=()
ctr_cleanup() {
	local id
	for id in "${CTR_IDS[@]}"; do
		runc delete -f "$id" >/dev/null 2>&1 || true
	done
	plugin_cleanup
}
trap ctr_cleanup EXIT

# The folder shared with every container, at the same path inside: the
# emulator's folder, its GPU memory files, the workloads' output.
CTR_SHARE=$E2E_TMP/share
mkdir -p "$CTR_SHARE/aperture" "$E2E_TMP/bin" "$E2E_TMP/criu-lib"

# Item 1 of the install: meson installs the plugin into criu's default folder.
ctr_check_install_dir() {
	local default
	default=$("$CRIU" --help 2>&1 | sed -n 's/.*-L|--libdir.*(by default \(.*\))$/\1/p')
	[ -n "$default" ] || e2e_fail "criu --help names no default plugin folder"
	[ "${default%/}" = "${PLUGIN_INSTALL_DIR%/}" ] ||
		e2e_fail "meson installs the plugin into $PLUGIN_INSTALL_DIR, criu loads from $default"
	echo "criu's default plugin folder $default is where meson installs vramstream.so"
}
ctr_check_install_dir
ln -s "$PLUGIN_DIR/vramstream.so" "$E2E_TMP/criu-lib/vramstream.so"

# ctr_emu_start [launcher options]: the emulator every container of the test uses.
ctr_emu_start() {
	CTR_EMU=$CTR_SHARE/emu
	plugin_emu_start "$CTR_EMU" --aperture-in "$CTR_SHARE/aperture" "$@"
	cat >"$E2E_TMP/bin/criu" <<SCRIPT
#!/bin/sh
# The criu runc starts: the host's criu (scripts/setup.sh), on the emulator.
export VRAMSTREAM_EMU_DIR='$CTR_EMU' LD_PRELOAD='$EMU_SHIM' CRIU_LIBS_DIR='$E2E_TMP/criu-lib'
exec '$CRIU' "\$@"
SCRIPT
	chmod +x "$E2E_TMP/bin/criu"
	PATH=$E2E_TMP/bin:$PATH
}

# ctr_bundle DIR OUT PROGRAM [ARGS...]: an OCI bundle whose process runs
# PROGRAM with its output in OUT (a file under $CTR_SHARE). The root
# filesystem is an empty folder with the host's /usr and the build tree
# mounted read-only; stdio is /dev/null of the container (criu cannot dump
# a file of the host). Mounts in $CTR_MOUNTS (JSON objects) are added.
# GPUs: KFD lets a process use the GPUs whose render nodes its device cgroup
# lets it read and write (kfd_priv.h: kfd_devcgroup_check_permission), so
# the container may use every render node (c 226:* rw, as a runtime's
# device rule for all GPUs does), or, with $CTR_RENDER_MINORS set, those
# render nodes alone, which runc also creates in its /dev/dri.
ctr_bundle() {
	local dir=$1 out=$2 args="" a m devs="" rules='{"allow": true, "type": "c", "major": 226, "access": "rw"}'
	shift 2
	for a in "$@" ; do
		args+=", \"$a\""
	done
	if [ -n "${CTR_RENDER_MINORS:-}" ]; then
		rules=""
		for m in $CTR_RENDER_MINORS; do
			devs+="${devs:+, }{\"path\": \"/dev/dri/renderD$m\", \"type\": \"c\", \"major\": 226, \"minor\": $m}"
			rules+="${rules:+, }{\"allow\": true, \"type\": \"c\", \"major\": 226, \"minor\": $m, \"access\": \"rw\"}"
		done
	fi
	mkdir -p "$dir/rootfs"
	(cd "$dir/rootfs" && mkdir -p usr proc dev sys tmp "./$BUILD_ROOT" "./$CTR_SHARE" &&
		ln -s usr/bin bin && ln -s usr/lib lib && ln -s usr/lib64 lib64 && ln -s usr/sbin sbin)
	cat >"$dir/config.json" <<JSON
{"ociVersion": "1.0.2-dev",
 "root": {"path": "rootfs", "readonly": true},
 "hostname": "gpu",
 "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "cwd": "/",
  "args": ["/bin/sh", "-c", "exec \"\$0\" \"\$@\" </dev/null >$out 2>&1"$args],
  "env": ["PATH=/usr/bin:/bin", "VRAMSTREAM_EMU_DIR=$CTR_EMU", "LD_PRELOAD=$EMU_SHIM"],
  "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
  "noNewPrivileges": true},
 "mounts": [
  {"destination": "/proc", "type": "proc", "source": "proc"},
  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=65536k"]},
  {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
  {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]},
  {"destination": "$BUILD_ROOT", "type": "bind", "source": "$BUILD_ROOT", "options": ["rbind", "ro"]},
  {"destination": "$CTR_SHARE", "type": "bind", "source": "$CTR_SHARE", "options": ["rbind", "rw"]}
  ${CTR_MOUNTS:-}],
 "linux": {
  "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
  "devices": [$devs],
  "resources": {"devices": [{"allow": false, "access": "rwm"}, $rules]}}}
JSON
}

# ctr_run ID BUNDLE: start the container detached; sets CTR_PID (its pid 1 on the host).
ctr_run() {
	CTR_IDS+=("$1")
	(cd "$2" && runc run -d "$1" </dev/null >"$E2E_TMP/runc-run.out" 2>&1) ||
		e2e_fail "runc run $1: $(cat "$E2E_TMP/runc-run.out")"
	ctr_pid "$1"
}

# ctr_pid ID: CTR_PID, the host pid of the container's process.
ctr_pid() {
	CTR_PID=$(runc state "$1" | sed -n 's/^ *"pid": *\([0-9]*\),$/\1/p')
	[ -n "$CTR_PID" ] && [ "$CTR_PID" != 0 ] || e2e_fail "container $1 has no process"
	e2e_track "$CTR_PID"
}

# ctr_checkpoint ID IMG [runc checkpoint options]: criu's log goes to $E2E_TMP/dump.log.
# A dump refused because a thread was inside an emulated ioctl is tried again
# (see tests/rocm/rocm_hsa_criu.sh: rocm_dump); runc leaves the container running then.
ctr_checkpoint() {
	local id=$1 img=$2 try
	shift 2
	for try in 1 2 3 4 5; do
		rm -rf "$img" "$E2E_TMP/work-dump"
		if runc checkpoint --image-path "$img" --work-path "$E2E_TMP/work-dump" "$@" "$id" \
			>"$E2E_TMP/runc-checkpoint.out" 2>&1; then
			cp "$E2E_TMP/work-dump/dump.log" "$E2E_TMP/dump.log"
			return 0
		fi
		cp "$E2E_TMP/work-dump/dump.log" "$E2E_TMP/dump.log" 2>/dev/null || true
		grep -q 'External socket is used' "$E2E_TMP/dump.log" ||
			e2e_fail "runc checkpoint $id: $(cat "$E2E_TMP/runc-checkpoint.out")"
		echo "checkpoint attempt $try found the process inside an emulated ioctl; again"
		sleep 0.0$((RANDOM % 10))
	done
	e2e_fail "runc checkpoint $id found an emulated ioctl in flight 5 times"
}

# ctr_restore ID BUNDLE IMG: restore detached into a container named ID from
# BUNDLE's config; criu's log goes to $E2E_TMP/restore.log. Sets CTR_PID.
ctr_restore() {
	local id=$1 bundle=$2 img=$3
	CTR_IDS+=("$id")
	rm -rf "$E2E_TMP/work-restore"
	(cd "$bundle" && runc restore -d --image-path "$img" --work-path "$E2E_TMP/work-restore" "$id" \
		</dev/null >"$E2E_TMP/runc-restore.out" 2>&1) || {
		cp "$E2E_TMP/work-restore/restore.log" "$E2E_TMP/restore.log" 2>/dev/null || true
		grep -h 'Error\|vramstream: .*\(cannot\|fail\)' "$E2E_TMP/restore.log" >&2 || true
		e2e_fail "runc restore $id: $(grep 'level=error' "$E2E_TMP/runc-restore.out")"
	}
	cp "$E2E_TMP/work-restore/restore.log" "$E2E_TMP/restore.log"
	ctr_pid "$id"
}
