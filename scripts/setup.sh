#!/bin/bash
# Installs what vramstream needs to build and test on Debian 12 (or newer),
# and provides a CRIU of version 4.0 or newer. Idempotent; run as root.
#
# CRIU: the system criu is used when it is >= 4.0, `criu check` passes and its
# criu-plugin.h is installed. Otherwise (Debian 12's criu 3.17 fails
# `criu check` on recent kernels) a Debian 13 userland holding criu and
# libcriu-dev is bootstrapped into the cache folder, and a wrapper runs that
# criu through the userland's own dynamic loader. The result is written to
# $VRAMSTREAM_CACHE/criu.env (CRIU=..., CRIU_INCLUDE=...), which the build
# scripts read so the plugin is built against the criu-plugin.h of the CRIU
# it will run under.
#
# Environment: VRAMSTREAM_CACHE (default: <repo>/.cache),
#              VRAMSTREAM_DEBIAN_MIRROR (default: http://deb.debian.org/debian).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${VRAMSTREAM_CACHE:-$repo/.cache}
mirror=${VRAMSTREAM_DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, debootstrap and criu need it)"

packages=(
	build-essential meson ninja-build pkg-config
	protobuf-c-compiler libprotobuf-c-dev
	liburing-dev libzstd-dev libxxhash-dev libdrm-dev
	clang clang-format
	debootstrap
	iproute2 util-linux procps
	runc iptables
	rocminfo libhsa-runtime-dev libhsakmt-dev
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi

mkdir -p "$cache"

# criu_usable CRIU: version >= 4.0 and `criu check` passes.
criu_usable() {
	local v major
	v=$("$1" --version 2>/dev/null | sed -n 's/^Version: *//p')
	major=${v%%.*}
	[ -n "$major" ] && [ "$major" -ge 4 ] 2>/dev/null || return 1
	"$1" check >/dev/null 2>&1
}

# write_wrapper EXEC_LINE: $cache/bin/criu, which runs criu as EXEC_LINE says,
# without debug-register breakpoints where they do not fire (below).
write_wrapper() {
	mkdir -p "$cache/bin"
	{
		echo '#!/bin/sh'
		echo "# Runs criu for vramstream's tests and demo (made by scripts/setup.sh)."
		if [ -n "$no_breakpoints" ]; then
			echo '# Debug-register breakpoints do not fire on this machine (scripts/breakpoint_probe.c):'
			echo '# CRIU_FAULT=130 (FI_NO_BREAKPOINTS) makes criu step over syscalls instead.'
			echo 'CRIU_FAULT=${CRIU_FAULT-130}'
			echo 'export CRIU_FAULT'
		fi
		echo "$1"
	} >"$wrapper.tmp"
	chmod +x "$wrapper.tmp"
	mv "$wrapper.tmp" "$wrapper"
}

# criu stops tasks at the end of its parasite and restorer code with x86
# debug-register breakpoints. Where a hypervisor does not deliver their traps
# (a Firecracker VM here), criu dump and restore hang, while `criu check`
# still passes; the probe tells, and the wrapper then turns them off.
no_breakpoints=""
probe=$cache/breakpoint-probe
cc -O2 -o "$probe" "$repo/scripts/breakpoint_probe.c" || die "cannot build scripts/breakpoint_probe.c"
if ! probe_out=$("$probe" 2>&1); then
	no_breakpoints=1
	say "${probe_out:-the breakpoint probe failed}: criu will run with CRIU_FAULT=130 (no breakpoints)"
fi

criu=""
criu_include=""
wrapper=$cache/bin/criu
if command -v criu >/dev/null && [ -f /usr/include/criu/criu-plugin.h ] &&
	criu_usable "$(command -v criu)"; then
	criu=$(command -v criu)
	criu_include=/usr/include/criu
	say "using the system criu ($("$criu" --version | head -n 1))"
	if [ -n "$no_breakpoints" ]; then
		write_wrapper "exec '$criu' \"\$@\""
		criu=$wrapper
	fi
else
	root=$cache/criu-root
	if [ ! -x "$root/usr/sbin/criu" ] || [ ! -f "$root/usr/include/criu/criu-plugin.h" ]; then
		say "the system has no usable CRIU >= 4.0; bootstrapping Debian 13's criu into $root (about a minute)"
		rm -rf "$root.tmp"
		debootstrap --variant=minbase --include=criu,libcriu-dev trixie "$root.tmp" "$mirror" \
			>"$cache/debootstrap.log" 2>&1 ||
			die "debootstrap of Debian 13 failed (see $cache/debootstrap.log); check that $mirror is reachable"
		rm -rf "$root"
		mv "$root.tmp" "$root"
	fi
	# The userland's own loader and libraries run its criu on this system's
	# kernel; /proc, /sys and every path criu touches stay the host's.
	write_wrapper "R='$root'
exec \"\$R/lib64/ld-linux-x86-64.so.2\" --library-path \"\$R/usr/lib/x86_64-linux-gnu:\$R/lib/x86_64-linux-gnu\" \"\$R/usr/sbin/criu\" \"\$@\""
	criu_usable "$wrapper" || {
		"$wrapper" check >&2 || true
		die "the bootstrapped criu ($wrapper) does not pass 'criu check' on this kernel"
	}
	criu=$wrapper
	criu_include=$root/usr/include/criu
	say "using $("$criu" --version | head -n 1 | tr -d '\n') from $root"
fi

cat >"$cache/criu.env.tmp" <<ENV
CRIU=$criu
CRIU_INCLUDE=$criu_include
ENV
mv "$cache/criu.env.tmp" "$cache/criu.env"
