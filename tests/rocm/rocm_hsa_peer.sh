#!/bin/bash
# Peer access between two emulated GPUs as ROCr sees it (rocm_hsa_peer.c:
# Debian's ROCr 5.2, public HSA API), for one machine of:
#   p2p            large-BAR GPUs, no link configured: the kernel's p2p_links
#                  (CONFIG_HSA_AMD_P2P) join them over PCIe
#   xgmi           GPUs 0-1 in an XGMI hive (link.0.1 xgmi) with 3 XGMI SDMA
#                  engines each, as MI200s have
#   xgmi-noengine  the hive without XGMI SDMA engines (Vega20's case)
#   pcie           a PCIe link between them (link.0.1 pcie)
#   smallbar-xgmi  small-BAR GPUs (FB_PRIVATE VRAM) in an XGMI hive
#   smallbar       small-BAR GPUs, no link between them
#   nop2p          large-BAR GPUs without PCIe P2P (pcie_p2p 0), no link
# EXPECT (p2p, xgmi, pcie, smallbar-xgmi): each GPU's access to the other's VRAM
# pool is DISALLOWED_BY_DEFAULT at one hop; once allowed (KFD maps the BO
# into the peer's VM) the peer copies, GPU 0's engine writing GPU 1's VRAM
# and back, end with the CPU's digest and no queue fault; ROCr copies in the
# hive on an XGMI SDMA queue when the GPU has XGMI engines, else (and
# between hives) on a PCIe one (amd_gpu_agent.cpp: GetBlitObject); then (xgmi) a
# copy into GPU 1's VRAM that GPU 0's VM does not map faults GPU 0's SDMA
# queue ("not mapped" in the daemon log) and never completes.
# EXPECT (smallbar, nop2p): ROCr reports NEVER_ALLOWED (the kernel writes no
# p2p link, and libhsakmt 5.2, seeing the p2p_links_count property, makes no
# indirect one) and allowing access fails (kfd_mem_attach refuses a peer
# outside the hive unless amdgpu_device_is_peer_accessible).
# Usage: rocm_hsa_peer.sh PROGRAM CASE. Environment: EMU_LAUNCHER.
set -euo pipefail
prog=$1
case=$2
dir=$(mktemp -d /tmp/vramstream-rocm-peer.XXXXXX)
trap '"$EMU_LAUNCHER" stop --dir "$dir" || true; rm -rf "$dir"' EXIT
fail() {
	echo "FAIL: $*" >&2
	cat "$dir/out" "$dir/daemon.log" >&2 || true
	exit 1
}

expect=disallowed
case $case in
p2p) : >"$dir/machine.conf" ;;
nop2p)
	echo "pcie_p2p 0" >"$dir/machine.conf"
	expect=never
	;;
xgmi) printf 'link.0.1 xgmi\ngpu.0.num_sdma_xgmi_engines 3\ngpu.1.num_sdma_xgmi_engines 3\n' >"$dir/machine.conf" ;;
xgmi-noengine) echo "link.0.1 xgmi" >"$dir/machine.conf" ;;
pcie) echo "link.0.1 pcie" >"$dir/machine.conf" ;;
smallbar-xgmi) printf 'gpu.0.vram_public 0\ngpu.1.vram_public 0\nlink.0.1 xgmi\n' >"$dir/machine.conf" ;;
smallbar)
	printf 'gpu.0.vram_public 0\ngpu.1.vram_public 0\n' >"$dir/machine.conf"
	expect=never
	;;
*) fail "unknown case $case" ;;
esac

"$EMU_LAUNCHER" start --dir "$dir" --gpus 2 --vram 64M --config "$dir/machine.conf" >/dev/null
run() {
	"$EMU_LAUNCHER" run --dir "$dir" -- timeout 120 "$prog" --expect $expect "$@" \
		>"$dir/out" 2>&1 || fail "rocm_hsa_peer $* exited with $?"
}
run --steps 6 --size 262144
for d in '0->1' '1->0'; do
	grep -qx "access $d $expect hops $([ $expect = never ] && echo 0 || echo 1)" "$dir/out" ||
		fail "ROCr does not report $expect access $d at the expected hops"
done
if [ $expect = never ]; then
	grep -q '^allow_access refused' "$dir/out" || fail "allowing access to a peer's VRAM succeeded"
	echo "PASS: $case: peer VRAM never allowed, allow_access refused"
	exit 0
fi
grep -qx 'step 6' "$dir/out" || fail "the peer copy loop did not reach step 6"
grep -qx 'verify ok' "$dir/out" || fail "the peer copies left wrong data"
! grep -q 'stopped' "$dir/daemon.log" || fail "an SDMA queue stopped on a fault"
if [ "$case" = xgmi ]; then
	grep -q ' SDMA_XGMI queue .* on GPU 0$' "$dir/daemon.log" &&
		grep -q ' SDMA_XGMI queue .* on GPU 1$' "$dir/daemon.log" ||
		fail "ROCr did not copy in the hive on XGMI SDMA queues"
elif grep -q ' SDMA_XGMI queue' "$dir/daemon.log"; then
	fail "an XGMI SDMA queue without XGMI SDMA engines in the hive"
fi
echo "ok: $case: $(grep '^digest' "$dir/out"), verified"
[ "$case" = xgmi ] || exit 0

run --steps 1 --size 65536 --fault
grep -qx 'unmapped peer copy did not complete' "$dir/out" || fail "no fault run"
grep -q 'stopped.*not mapped\|not mapped.*stopped' "$dir/daemon.log" ||
	fail "no SDMA fault on the unmapped peer VRAM in the daemon log"
echo "PASS: $case: peer copies verified, a copy into unmapped peer VRAM faulted"
