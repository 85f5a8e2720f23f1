#!/bin/bash
# Debian's rocminfo (ROCm 5.2: libhsakmt + ROCr, unpatched) on the emulator.
# EXPECT: rocminfo runs to completion and lists one CPU agent and one GPU agent
# per emulated GPU, each with the properties the daemon's config declares:
# gfx name and ISA (from gfx_target_version), chip id, BDF, KFD node, compute
# units (simd_count / simd_per_cu of the topology), unique id, VRAM pool size;
# and the CPU agent's cores and system memory pool.
# Usage: rocm_rocminfo.sh NUM_GPUS. Environment: EMU_LAUNCHER, ROCMINFO (optional).
set -euo pipefail
gpus=${1:-2}
rocminfo=${ROCMINFO:-$(command -v rocminfo || true)}
[ -x "$rocminfo" ] || { echo "SKIP: rocminfo not installed (scripts/setup.sh installs it)"; exit 77; }

dir=$(mktemp -d /tmp/vramstream-rocm-test.XXXXXX)
trap '"$EMU_LAUNCHER" stop --dir "$dir" || true; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# GPUs that differ from each other, so a value taken from the wrong node shows.
cfg=$dir/machine.cfg
: >"$cfg"
for ((i = 1; i < gpus; i++)); do
	cat >>"$cfg" <<CFG
gpu.$i.vram_size $(((256 + 128 * i) << 20))
gpu.$i.bus $((3 + 6 * i))
gpu.$i.device $((i % 4))
gpu.$i.pci_device_id $((0x7408 + i))
CFG
done
echo "cpu_cores 6" >>"$cfg"
"$EMU_LAUNCHER" start --dir "$dir" --gpus "$gpus" --vram 256M --config "$cfg" >/dev/null
out=$dir/rocminfo.out
"$EMU_LAUNCHER" run --dir "$dir" -- timeout 60 "$rocminfo" >"$out" 2>"$dir/rocminfo.err" ||
	{ cat "$dir/rocminfo.err" "$out" >&2; fail "rocminfo exited with $?"; }
grep -q '^\*\*\* Done \*\*\*' "$out" || fail "rocminfo did not finish its listing"
grep -q 'ROCk module is loaded' "$dir/rocminfo.err" "$out" || fail "rocminfo did not see amdgpu"

conf() { sed -n "s/^$1 //p" "$dir/config"; }

# agent_field N FIELD: FIELD's value in the Nth agent block (1-based), first match.
agent_field() {
	awk -v n="$1" -v f="$2" '
		/^Agent [0-9]+/ { a = $2 + 0 }
		a == n && index($0, "  " f ":") == 1 {
			sub("^  " f ": *", ""); sub(" *$", ""); print; exit
		}' "$out"
}
# agent_pools N: "SEGMENT|SIZE_KB" lines of the Nth agent's pools.
agent_pools() {
	awk -v n="$1" '
		/^Agent [0-9]+/ { a = $2 + 0 }
		a == n && /^      Segment:/ { sub("^ *Segment: *", ""); sub(" *$", ""); seg = $0 }
		a == n && /^      Size:/ { print seg "|" $2 }' "$out"
}
expect() { # expect WHAT GOT WANT
	[ "$2" = "$3" ] || fail "$1: rocminfo shows '$2', the emulated topology declares '$3'"
}

nagents=$(grep -c '^Agent [0-9]' "$out")
expect "agent count" "$nagents" "$((gpus + 1))"
expect "CPU agent type" "$(agent_field 1 'Device Type')" CPU
expect "CPU cores" "$(agent_field 1 'Compute Unit')" "$(conf cpu_cores)"
sys_kb=$(($(conf system_mem_size) / 1024))
agent_pools 1 | grep -q "^GLOBAL; FLAGS: FINE GRAINED|$sys_kb(" ||
	fail "CPU agent has no fine-grained system pool of $sys_kb KB"

for ((i = 0; i < gpus; i++)); do
	a=$((i + 2))
	gfxv=$(conf "gpu.$i.gfx_target_version")
	# kfd_topology.c prints gfx_target_version as major*10000 + minor*100 + stepping;
	# the gfx name writes them as %d%d%x (ROCr's isa.cpp).
	gfx=$(printf 'gfx%d%d%x' $((gfxv / 10000)) $((gfxv / 100 % 100)) $((gfxv % 100)))
	expect "GPU $i type" "$(agent_field $a 'Device Type')" GPU
	expect "GPU $i name" "$(agent_field $a Name)" "$gfx"
	expect "GPU $i node" "$(agent_field $a Node)" "$(conf "gpu.$i.node_id")"
	dev=$(conf "gpu.$i.pci_device_id")
	expect "GPU $i chip id" "$(agent_field $a 'Chip ID')" "$dev($(printf '0x%x' "$dev"))"
	bdf=$(($(conf "gpu.$i.bus") << 8 | $(conf "gpu.$i.device") << 3 | $(conf "gpu.$i.function")))
	expect "GPU $i BDFID" "$(agent_field $a BDFID)" "$bdf"
	expect "GPU $i compute units" "$(agent_field $a 'Compute Unit')" 104
	expect "GPU $i uuid" "$(agent_field $a Uuid)" \
		"$(printf 'GPU-5a1e%012x' "$(conf "gpu.$i.gpu_id")")"
	vram_kb=$(($(conf "gpu.$i.vram_size") / 1024))
	pools=$(agent_pools $a)
	grep -q "^GLOBAL; FLAGS: COARSE GRAINED|$vram_kb(" <<<"$pools" ||
		fail "GPU $i has no coarse-grained VRAM pool of $vram_kb KB: $pools"
	awk -v n="$a" '/^Agent [0-9]+/ { a = $2 + 0 } a == n' "$out" |
		grep -q "Name: *amdgcn-amd-amdhsa--$gfx:" || fail "GPU $i has no $gfx ISA"
	echo "GPU $i: $gfx node $(conf "gpu.$i.node_id") chip $dev bdf $bdf vram ${vram_kb}KB ok"
done
echo "PASS: rocminfo lists $gpus emulated GPU(s) as declared"
