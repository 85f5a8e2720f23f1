#!/bin/bash
# EXPECT: the workload on 4 GPUs joined as two XGMI pairs (emulator links
# 0-1 and 2-3) is dumped; restored onto a machine whose XGMI pairs are 0-3
# and 1-2 (other gpu_ids) it lands pair on pair and finishes with the
# uninterrupted digest; restoring it onto a machine whose pairs are PCIe
# peers is refused before anything runs, the log naming the links of both,
# and so is restoring it onto the same hives without PCIe P2P between them
# (the kernel's p2p links differ).
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
e2e_require_criu
steps=24
args=(--steps $steps --vram $((1 << 20)) --gtt $((256 << 10)) --host $((256 << 10)))

# machine NAME IDS LINK...: an emulated 4-GPU machine with those links
# (A.B=TYPE), or other config lines (KEY=VALUE).
machine() {
	local dir="$E2E_TMP/emu-$1" ids=$2 l
	shift 2
	: >"$E2E_TMP/$(basename "$dir").conf"
	for l in "$@"; do
		case ${l%%=*} in
		*.*) echo "link.${l%%=*} ${l#*=}" ;;
		*) echo "${l%%=*} ${l#*=}" ;;
		esac >>"$E2E_TMP/$(basename "$dir").conf"
	done
	plugin_emu_start "$dir" --gpus 4 --vram 16M --gpu-ids "$ids" \
		--config "$E2E_TMP/$(basename "$dir").conf"
}

machine src 0x1111,0x2222,0x3333,0x4444 0.1=xgmi 2.3=xgmi
ref=$(plugin_reference "$E2E_TMP/emu-src" "${args[@]}")
grep -q '^type 11$' "$E2E_TMP/emu-src/root/sys/class/kfd/kfd/topology/nodes/1/io_links/1/properties" ||
	e2e_fail "the emulator wrote no XGMI io_link"

plugin_use_emu "$E2E_TMP/emu-src"
out="$E2E_TMP/workload.out"
plugin_workload "$out" "${args[@]}" --delay-ms 30
plugin_wait_step "$out" 5
e2e_dump "$WL_PID" "$E2E_TMP/img"
wait "$WL_PID" 2>/dev/null || true

# Pairs as PCIe peers: refused, both machines' links named.
machine pcie 0x7777,0x8888,0x9999,0xaaaa 0.1=pcie:15 2.3=pcie:15
plugin_use_emu "$E2E_TMP/emu-pcie"
if "$REAP_RUN" "$CRIU" restore -D "$E2E_TMP/img" -o restore-bad.log -v4 --lib "$PLUGIN_DIR" -d \
	--pidfile "$E2E_TMP/bad.pid" >/dev/null 2>&1; then
	e2e_track "$(cat "$E2E_TMP/bad.pid")"
	e2e_fail "restore onto PCIe peers succeeded"
fi
log="$E2E_TMP/img/restore-bad.log"
grep -q "links between the image's GPUs: 0x1111->0x2222 XGMI weight 15" "$log" ||
	e2e_fail "the refusal does not name the image's XGMI links"
grep -q "between this machine's: 0x7777->0x8888 PCIe weight 15" "$log" ||
	e2e_fail "the refusal does not name this machine's PCIe links"
sleep 0.3
e2e_gone "$WL_PID" || e2e_fail "a half-restored workload is left running"
echo "ok: refused on PCIe peers"

# The same hives on a machine without PCIe P2P: the GPUs of one hive are no
# peers of the other's (no p2p links, kfd_mem_attach would refuse their
# mappings): refused, the source's p2p links named.
machine nop2p 0x9191,0x9292,0x9393,0x9494 0.1=xgmi 2.3=xgmi pcie_p2p=0
plugin_use_emu "$E2E_TMP/emu-nop2p"
if "$REAP_RUN" "$CRIU" restore -D "$E2E_TMP/img" -o restore-nop2p.log -v4 --lib "$PLUGIN_DIR" -d \
	--pidfile "$E2E_TMP/bad.pid" >/dev/null 2>&1; then
	e2e_track "$(cat "$E2E_TMP/bad.pid")"
	e2e_fail "restore onto GPUs without PCIe P2P succeeded"
fi
grep -q "0x1111->0x3333 PCIe p2p weight 40" "$E2E_TMP/img/restore-nop2p.log" ||
	e2e_fail "the refusal does not name the image's p2p links"
sleep 0.3
e2e_gone "$WL_PID" || e2e_fail "a half-restored workload is left running"
echo "ok: refused without PCIe P2P"

# Pairs 0-3 and 1-2: each source pair on one of them.
machine hive 0x5555,0x6666,0x7777,0x8888 0.3=xgmi 1.2=xgmi
plugin_use_emu "$E2E_TMP/emu-hive"
e2e_restore "$E2E_TMP/img" "$E2E_TMP/restored.pid"
to() { sed -n "s/^.*GPU $1 (node [0-9]*) -> \(0x[0-9a-f]*\) .*$/\1/p" "$E2E_TMP/restore.log" | head -n 1; }
pair() { # the target gpu_ids $1 and $2 are an XGMI pair there
	case "$1,$2" in 0x5555,0x8888 | 0x8888,0x5555 | 0x6666,0x7777 | 0x7777,0x6666) return 0 ;; esac
	return 1
}
pair "$(to 0x1111)" "$(to 0x2222)" && pair "$(to 0x3333)" "$(to 0x4444)" ||
	e2e_fail "pairs not kept: 0x1111->$(to 0x1111) 0x2222->$(to 0x2222) 0x3333->$(to 0x3333) 0x4444->$(to 0x4444)"
plugin_check_finish "$out" "$WL_PID" "$ref" "$steps"
echo "ok: XGMI pairs restored onto pairs in another order ($(to 0x1111) $(to 0x2222) $(to 0x3333) $(to 0x4444)), finished with $ref"
