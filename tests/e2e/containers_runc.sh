#!/bin/bash
# GPU workloads in runc containers (Debian's runc, the host's criu >= 4 found
# on runc's PATH, the plugin found where criu loads plugins by default).
# Usage: containers_runc.sh PROGRAM CASE, PROGRAM the emulator's workload or
# the HSA program (tests/rocm/rocm_hsa_copy.c, on ROCr), CASE one of:
#   kill           EXPECT: `runc checkpoint` dumps the container mid-run and
#                  stops it; `runc restore` brings it back (criu re-creates its
#                  pid, mount and network namespaces; pid 1 gets a new host
#                  pid); it finishes with the digest of an uninterrupted run.
#   leave-running  EXPECT: checkpointed with --leave-running, the container
#                  finishes with that digest; its image, restored after it
#                  has gone, finishes with it too.
#   minor          EXPECT: restored on a machine where the GPUs' render nodes
#                  have other minors (renderD136, 137): the plugin maps GPUs
#                  by topology and opens the new nodes; same digest.
#   gpu-subset     EXPECT: a container whose device cgroup allows GPU 0's render
#                  node alone (the whole KFD topology visible, GPU 1's node
#                  reading EPERM) runs on GPU 0 only; its image holds GPU 0
#                  alone; restored into a container allowed GPU 1 only, the
#                  plugin maps it onto GPU 1 and its render node; it ends with
#                  the digest of an uninterrupted run in a one-GPU container
#                  (criu issues #2723, #2888).
source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/plugin_lib.sh"
source "$(dirname "$0")/containers_lib.sh"
e2e_require_criu
prog=$1
case=$2
EMU_WORKLOAD=$prog # what plugin_reference runs
steps=40
case ${prog##*/} in
rocm_hsa_copy)
	args=(--steps $steps --size $((256 << 10)))
	delay=60
	# libhsakmt maps a POSIX semaphore whose name glibc unlinked: criu needs
	# --link-remap, which runc has no flag for; criu reads it from the file
	# CRIU_CONFIG_FILE names (criu/config.c), as it would from runc's
	# /etc/criu/runc.conf.
	echo link-remap >"$E2E_TMP/criu.conf"
	export CRIU_CONFIG_FILE=$E2E_TMP/criu.conf
	;;
*)
	args=(--steps $steps --vram $((4 << 20)) --gtt $((1 << 20)) --host $((256 << 10)))
	delay=50
	;;
esac

emu_opts=(--gpus 2 --vram 64M)
ctr_emu_start "${emu_opts[@]}"
ref=$(plugin_reference "$CTR_EMU" "${args[@]}")
echo "uninterrupted: $ref"

# runc keeps containers by id machine-wide (/run/runc): one of our own per run,
# as meson runs the cases side by side.
ctr=vramstream-${E2E_TMP##*.}
if [ "$case" = gpu-subset ]; then
	# The uninterrupted run, in a container that may use GPU 0 alone.
	CTR_RENDER_MINORS=128 ctr_bundle "$E2E_TMP/bundle-ref" "$CTR_SHARE/ref.out" "$prog" "${args[@]}"
	ctr_run "$ctr-ref" "$E2E_TMP/bundle-ref"
	e2e_wait_until 60 e2e_gone "$CTR_PID" || e2e_fail "the reference container did not finish"
	ref=$(grep '^digest ' "$CTR_SHARE/ref.out") || e2e_fail "reference: $(cat "$CTR_SHARE/ref.out")"
	grep -q ', 1 GPU(s),' "$CTR_SHARE/ref.out" ||
		e2e_fail "a container allowed renderD128 alone used: $(grep 'GPU(s)' "$CTR_SHARE/ref.out")"
	echo "uninterrupted on GPU 0 alone: $ref"
	export CTR_RENDER_MINORS=128
fi
out=$CTR_SHARE/workload.out
ctr_bundle "$E2E_TMP/bundle" "$out" "$prog" "${args[@]}" --delay-ms $delay
ctr_run "$ctr" "$E2E_TMP/bundle"
first=$CTR_PID
plugin_wait_step "$out" 8

case $case in
kill|minor|gpu-subset)
	ctr_checkpoint "$ctr" "$E2E_TMP/img"
	e2e_wait_until 10 e2e_gone "$first" || e2e_fail "container still runs after runc checkpoint"
	echo "checkpointed at step $(grep -c '^step ' "$out"), container stopped"
	runc state "$ctr" >/dev/null 2>&1 && e2e_fail "runc kept the checkpointed container"
	;;
leave-running)
	ctr_checkpoint "$ctr" "$E2E_TMP/img" --leave-running
	at=$(grep -c '^step ' "$out")
	echo "checkpointed at step $at, left running"
	plugin_check_finish "$out" "$first" "$ref" "$steps"
	echo "ok: the container left running finished with $ref"
	runc delete "$ctr"
	plugin_truncate_to_dump "$out"
	;;
*) e2e_fail "unknown case $case" ;;
esac
ls "$E2E_TMP/img"/vramstream-kfd-1-*.img >/dev/null ||
	e2e_fail "no KFD image of the container's pid 1 in runc's image folder"

if [ "$case" = kill ]; then
	# EXPECT: vramstream-img reads runc's image folder as runc wrote it, and
	# an archive in the layout of `podman container checkpoint --export`
	# (checkpoint/ with CRIU's images beside config.dump, spec.dump and
	# rootfs-diff.tar; gzip), without unpacking it first.
	"$IMG_TOOL" info "$E2E_TMP/img" >"$E2E_TMP/info.out" ||
		e2e_fail "vramstream-img info of runc's folder: $(cat "$E2E_TMP/info.out")"
	"$IMG_TOOL" verify "$E2E_TMP/img" || e2e_fail "vramstream-img verify of runc's folder"
	mkdir "$E2E_TMP/export"
	cp -r "$E2E_TMP/img" "$E2E_TMP/export/checkpoint"
	cp "$E2E_TMP/bundle/config.json" "$E2E_TMP/export/spec.dump"
	echo '{}' >"$E2E_TMP/export/config.dump"
	tar -cf "$E2E_TMP/export/rootfs-diff.tar" -T /dev/null
	tar -czf "$E2E_TMP/export.tar.gz" -C "$E2E_TMP/export" .
	"$IMG_TOOL" info "$E2E_TMP/export.tar.gz" >"$E2E_TMP/info-archive.out" ||
		e2e_fail "vramstream-img info of the archive: $(cat "$E2E_TMP/info-archive.out")"
	"$IMG_TOOL" verify "$E2E_TMP/export.tar.gz" ||
		e2e_fail "vramstream-img verify of the archive"
	diff <(grep -v "$E2E_TMP" "$E2E_TMP/info.out") <(grep -v /tmp/vramstream-img "$E2E_TMP/info-archive.out") ||
		e2e_fail "info of the archive differs from info of the folder"
	echo "ok: vramstream-img info and verify read runc's folder and the export archive"
fi

if [ "$case" = minor ]; then
	# Another machine: same GPUs, render nodes numbered from 136.
	printf 'gpu.0.render_minor 136\ngpu.1.render_minor 137\n' >"$E2E_TMP/minors.conf"
	"$EMU_LAUNCHER" stop --dir "$CTR_EMU"
	rm -rf "$CTR_SHARE/aperture"/*
	plugin_emu_start "$CTR_EMU" --aperture-in "$CTR_SHARE/aperture" "${emu_opts[@]}" \
		--config "$E2E_TMP/minors.conf"
	ls "$CTR_SHARE"/aperture/*/renderD136 >/dev/null || e2e_fail "the emulator has no renderD136"
fi

bundle=$E2E_TMP/bundle
if [ "$case" = gpu-subset ]; then
	bundle=$E2E_TMP/bundle-gpu1
	CTR_RENDER_MINORS=129 ctr_bundle "$bundle" "$out" "$prog" "${args[@]}" --delay-ms $delay
fi
ctr_restore "$ctr-r" "$bundle" "$E2E_TMP/img"
echo "restored as host pid $CTR_PID"
if [ "$case" = gpu-subset ]; then
	# The image's one GPU (node 1) went to GPU 1 (node 2), the only one
	# the restored container may use.
	maps=$(grep -o 'GPU 0x[0-9a-f]* (node [0-9]*) -> 0x[0-9a-f]* (node [0-9]*)' "$E2E_TMP/restore.log" |
		sort -u)
	[ "$(echo "$maps" | grep -c .)" = 1 ] && echo "$maps" | grep -q '(node 1) -> .*(node 2)$' ||
		e2e_fail "restore mapped the image's GPUs as: ${maps:-nothing}"
	echo "restore mapped $maps"
fi
grep -q "vramstream: resume of pid $CTR_PID (pid 1 in its namespace): GPU queues running" \
	"$E2E_TMP/restore.log" || e2e_fail "no RESUME of the container's pid 1 in the restore log"
# In the container, its own pid names its mm image: the plugin's files in it were closed.
grep -q "vramstream: restore of pid 1: last device VMA given to criu; closed the plugin's [0-9]* file(s)" \
	"$E2E_TMP/restore.log" || e2e_fail "the plugin did not close its files in the container's pid 1"
# runc's criu restores the container's pid 1 as runc's child (--restore-sibling,
# criu traces it): the plugin's restore guard found it there and left.
grep -q "vramstream: restore guard [0-9]* kills this restore's tasks (root pid 1)" "$E2E_TMP/restore.log" ||
	e2e_fail "no restore guard for the container's pid 1"
! grep "restore guard[ 0-9]*:" "$E2E_TMP/restore.log" || e2e_fail "the restore guard complained (or did not find the container's tasks)"
plugin_check_finish "$out" "$CTR_PID" "$ref" "$steps"
if grep -q 'stopped' "$CTR_EMU/daemon.log"; then
	e2e_fail "a GPU queue stopped on a fault: $(grep stopped "$CTR_EMU/daemon.log")"
fi
echo "ok: ${prog##*/} in a runc container ($case) ended with $ref"
