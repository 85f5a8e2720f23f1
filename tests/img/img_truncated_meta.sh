#!/bin/bash
# EXPECT: info and verify on metadata cut at many lengths, and with single bytes flipped, never
# crash (exit status 0 or 1, never a signal or a usage error); verify fails on every cut,
# naming the metadata file or what it no longer covers.
source "$(dirname "$0")/img_lib.sh"
T=$IMG_TOOL
img=$IMG_TMP/img
"$IMG_MKIMAGE" "$img" --gpus 2 --bos 1 --mib 1
meta=vramstream-kfd-4242-1.img
cp "$img/$meta" "$IMG_TMP/meta.good"
len=$(stat -c %s "$IMG_TMP/meta.good")
step=$(( len / 48 > 0 ? len / 48 : 1 ))

# rc_ok CMD...: exit status 0 or 1 (anything else is a crash or a usage error)
rc_of() {
	local rc=0
	"$@" >"$IMG_TMP/out.txt" 2>&1 || rc=$?
	echo "$rc"
}

runs=0
for ((cut = 0; cut < len; cut += step)); do
	head -c "$cut" "$IMG_TMP/meta.good" >"$img/$meta"
	rc=$(rc_of "$T" --workers 1 info "$img")
	[ "$rc" = 0 ] || [ "$rc" = 1 ] || img_fail "info on metadata cut to $cut bytes exited $rc: $(cat "$IMG_TMP/out.txt")"
	rc=$(rc_of "$T" --workers 1 verify --all "$img")
	[ "$rc" = 1 ] || img_fail "verify on metadata cut to $cut of $len bytes exited $rc: $(cat "$IMG_TMP/out.txt")"
	grep -q "^$meta: \|no BO names" "$IMG_TMP/out.txt" ||
		img_fail "verify on a $cut-byte cut does not name $meta: $(cat "$IMG_TMP/out.txt")"
	runs=$((runs + 1))
done

# Single flipped bytes: any outcome but a crash.
for i in $(seq 1 40); do
	cp "$IMG_TMP/meta.good" "$img/$meta"
	img_flip "$img/$meta" $(( (i * 7919) % len ))
	for cmd in info verify; do
		rc=$(rc_of "$T" --workers 1 "$cmd" "$img")
		[ "$rc" = 0 ] || [ "$rc" = 1 ] || img_fail "$cmd with byte $(( (i * 7919) % len )) flipped exited $rc"
	done
	runs=$((runs + 1))
done
cp "$IMG_TMP/meta.good" "$img/$meta"
img_expect_status 0 "$T" verify "$img" >/dev/null
echo "ok: $runs damaged metadata files, no crash, every cut refused by verify"
