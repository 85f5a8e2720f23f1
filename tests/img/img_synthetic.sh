#!/bin/bash
# EXPECT: on an image written by the stream writer (2 GPUs, zero, bf16-like and noise data):
# info reports GPUs, BOs by kind and the codec mix; verify passes; one flipped byte fails
# verify naming the file, the chunk, the BO and both offsets (text and JSON), --all lists
# every damaged chunk; truncated and missing stream files are named; recompress with other
# level, filter and chunk size keeps every byte; --out leaves the source untouched; a
# recompress of a damaged image refuses, naming the chunk, and changes nothing.
source "$(dirname "$0")/img_lib.sh"
T=$IMG_TOOL
gen=(--gpus 2 --bos 2 --mib 4)
img=$IMG_TMP/img
"$IMG_MKIMAGE" "$img" "${gen[@]}"
"$IMG_MKIMAGE" --check "$img" "${gen[@]}" >/dev/null || img_fail "fresh image does not check"

# info, text and JSON
"$T" info "$img" >"$IMG_TMP/info.txt"
grep -Eq '^ +0x1000 +VRAM +2 +7\.99 MiB' "$IMG_TMP/info.txt" || img_fail "info: no VRAM line for GPU 0x1000"
grep -Eq '^ +0x1001 +USERPTR +1 .*criu pages' "$IMG_TMP/info.txt" || img_fail "info: no userptr line"
"$T" --json info --chunks "$img" >"$IMG_TMP/info.json"
[ "$(img_json "$IMG_TMP/info.json" 'j["processes"][0]["pid"]')" = 4242 ] || img_fail "info json: pid"
[ "$(img_json "$IMG_TMP/info.json" 'len(j["processes"][0]["gpus"])')" = 2 ] || img_fail "info json: gpus"
[ "$(img_json "$IMG_TMP/info.json" 'j["processes"][0]["gpus"][1]["bos_by_kind"]["VRAM"]["count"]')" = 2 ] ||
	img_fail "info json: VRAM BO count"
[ "$(img_json "$IMG_TMP/info.json" 'sum(s["raw_bytes"] for s in j["streams"])')" = $((2 * (8 << 20) - 2 * 12288 + 2 * (1 << 20))) ] ||
	img_fail "info json: raw bytes"
[ "$(img_json "$IMG_TMP/info.json" 'all(s["chunks_zero"] > 0 and s["chunks_zstd"] > 0 for s in j["streams"])')" = True ] ||
	img_fail "info json: codec mix"
echo "ok: info"

img_expect_status 0 "$T" verify "$img" >"$IMG_TMP/v.txt"
grep -q '^ok: ' "$IMG_TMP/v.txt" || img_fail "verify of a good image did not say ok"
cp -a "$img" "$IMG_TMP/good"

# One flipped byte in the third zstd chunk of gpu0.
read -r chunk bo off fo < <(img_json "$IMG_TMP/info.json" \
	'" ".join(str(c[k]) for c in [[c for c in j["streams"][0]["chunks"] if c["codec"] == "zstd"][2]] for k in ("index", "bo", "offset", "file_offset"))')
s0=vramstream-kfd-4242-1-gpu0.vrs
img_flip "$img/$s0" $((fo + 1000))
img_expect_status 1 "$T" verify "$img" >"$IMG_TMP/v.txt"
cat "$IMG_TMP/v.txt"
grep -q "^$s0: chunk $chunk of BO $bo (VRAM, GPU 0x1000), BO offset $off, file offset $fo, zstd" "$IMG_TMP/v.txt" ||
	img_fail "verify did not name file, chunk $chunk, BO $bo and offsets"
img_expect_status 1 "$T" --json verify "$img" >"$IMG_TMP/v.json"
[ "$(img_json "$IMG_TMP/v.json" '(j["ok"], j["problems"][0]["chunk"], j["problems"][0]["bo"], j["problems"][0]["bo_offset"])')" = "(False, $chunk, $bo, $off)" ] ||
	img_fail "verify --json did not name the chunk"

# A second damaged chunk on the other GPU: --all lists both, plain verify the first.
read -r chunk1 fo1 < <(img_json "$IMG_TMP/info.json" \
	'" ".join(str(c[k]) for c in [[c for c in j["streams"][1]["chunks"] if c["codec"] == "zstd"][0]] for k in ("index", "file_offset"))')
s1=vramstream-kfd-4242-1-gpu1.vrs
img_flip "$img/$s1" $((fo1 + 17))
img_expect_status 1 "$T" verify --all "$img" >"$IMG_TMP/v.txt"
[ "$(grep -c ': chunk [0-9]* of BO' "$IMG_TMP/v.txt")" = 2 ] || img_fail "verify --all did not list 2 chunks"
grep -q "^$s1: chunk $chunk1 of BO" "$IMG_TMP/v.txt" || img_fail "verify --all missed $s1 chunk $chunk1"
img_expect_status 1 "$T" verify "$img" >"$IMG_TMP/v.txt"
[ "$(grep -c ': chunk [0-9]* of BO' "$IMG_TMP/v.txt")" = 1 ] || img_fail "plain verify listed more than the first"
echo "ok: damaged chunks named"

# recompress refuses a damaged image and leaves it as it was.
before=$(img_sums "$img")
img_expect_status 1 "$T" recompress "$img" --level 3 2>"$IMG_TMP/rc.err"
grep -q "chunk $chunk" "$IMG_TMP/rc.err" || img_fail "recompress of a damaged image did not name chunk $chunk"
[ "$(img_sums "$img")" = "$before" ] || img_fail "recompress changed a damaged image"
[ -z "$(ls -A "$img" | grep -v '^vramstream-kfd-4242-1')" ] || img_fail "recompress left files behind"
echo "ok: recompress refuses damage"

# Truncated, then missing stream files.
rm -rf "$img" && cp -a "$IMG_TMP/good" "$img"
truncate -s -4096 "$img/$s1"
img_expect_status 1 "$T" verify "$img" >"$IMG_TMP/v.txt"
grep -q "^$s1: " "$IMG_TMP/v.txt" || img_fail "verify did not name the truncated $s1"
rm "$img/$s1"
img_expect_status 1 "$T" verify "$img" >"$IMG_TMP/v.txt"
grep -q "^$s1: .*missing" "$IMG_TMP/v.txt" || img_fail "verify did not name the missing $s1"
echo "ok: truncated and missing streams named"

# recompress in place: other level, filter and chunk size, same bytes.
rm -rf "$img" && cp -a "$IMG_TMP/good" "$img"
"$T" recompress "$img" --level 3 --filter bytegroup2 --chunk-size 256K
"$IMG_MKIMAGE" --check "$img" "${gen[@]}" >/dev/null || img_fail "recompressed image holds other bytes"
img_expect_status 0 "$T" verify "$img" >/dev/null
"$T" --json info "$img" >"$IMG_TMP/info2.json"
[ "$(img_json "$IMG_TMP/info2.json" '[(s["level"], s["filter"], s["chunk_size"]) for s in j["streams"]]')" = \
	"[('3', 'bytegroup2', 262144), ('3', 'bytegroup2', 262144)]" ] || img_fail "streams do not carry the new settings"
old=$(img_json "$IMG_TMP/info.json" 'sum(s["stored_bytes"] for s in j["streams"])')
new=$(img_json "$IMG_TMP/info2.json" 'sum(s["stored_bytes"] for s in j["streams"])')
[ "$new" -lt "$old" ] || img_fail "level 3 with the byte-group filter is not smaller ($new >= $old)"
[ -z "$(ls -A "$img" | grep -v '^vramstream-kfd-4242-1')" ] || img_fail "recompress left files behind"
echo "ok: recompress in place ($old -> $new stored bytes)"

# --out: a complete copy, the source untouched.
before=$(img_sums "$img")
"$T" recompress "$img" --level off --out "$IMG_TMP/out" >/dev/null
[ "$(img_sums "$img")" = "$before" ] || img_fail "recompress --out changed its source"
"$IMG_MKIMAGE" --check "$IMG_TMP/out" "${gen[@]}" >/dev/null || img_fail "--out image holds other bytes"
img_expect_status 0 "$T" verify "$IMG_TMP/out" >/dev/null
"$T" --json info "$IMG_TMP/out" >"$IMG_TMP/info3.json"
[ "$(img_json "$IMG_TMP/info3.json" 'sum(s["chunks_zstd"] + s["chunks_planes"] for s in j["streams"])')" = 0 ] || img_fail "level off left compressed chunks"
img_expect_status 1 "$T" recompress "$img" --level 1 --out "$IMG_TMP/out" 2>/dev/null
echo "ok: recompress --out"

# Killed midway: the temporary file exists, the old streams are as they were and verify passes;
# a later run removes the leftovers and completes.
before=$(img_sums "$img")
"$T" recompress "$img" --level 5 --rate-limit 4M >/dev/null 2>&1 &
rc_pid=$!
IMG_PIDS+=("$rc_pid")
for _ in $(seq 1 400); do
	ls "$img"/.*.recompress.partial-* >/dev/null 2>&1 && break
	sleep 0.01
done
ls "$img"/.*.recompress.partial-* >/dev/null 2>&1 || img_fail "no temporary file appeared"
kill -9 "$rc_pid"
wait "$rc_pid" 2>/dev/null || true
[ "$(img_sums "$img")" = "$before" ] || img_fail "a killed recompress changed the image"
img_expect_status 0 "$T" verify "$img" >"$IMG_TMP/v.txt"
grep -q '^note: .*recompress.partial-.*interrupted write' "$IMG_TMP/v.txt" || img_fail "verify did not note the leftover"
"$IMG_MKIMAGE" --check "$img" "${gen[@]}" >/dev/null || img_fail "image after a killed recompress"
"$T" recompress "$img" --level 5 >/dev/null 2>"$IMG_TMP/rc.err"
grep -q 'removed .*left by an interrupted run' "$IMG_TMP/rc.err" || img_fail "leftovers not cleaned"
[ -z "$(ls -A "$img" | grep -v '^vramstream-kfd-4242-1')" ] || img_fail "leftovers remain"
"$IMG_MKIMAGE" --check "$img" "${gen[@]}" >/dev/null || img_fail "image after the second recompress"
echo "ok: killed recompress left the image intact; the next run completed"

# Progress goes to stderr only when it is a terminal (script(1) gives the tool one).
"$T" verify "$img" 2>"$IMG_TMP/progress.txt" >/dev/null
[ ! -s "$IMG_TMP/progress.txt" ] || img_fail "progress written to a stderr that is not a terminal"
if command -v script >/dev/null; then
	script -qec "'$T' verify '$img'" /dev/null >"$IMG_TMP/tty.txt"
	grep -aq 'verify: [0-9.]* / [0-9.]* GB, [0-9.]* GB/s' "$IMG_TMP/tty.txt" ||
		img_fail "no progress line on a terminal"
	script -qec "'$T' --quiet verify '$img'" /dev/null >"$IMG_TMP/tty.txt"
	! grep -aq 'GB/s,' "$IMG_TMP/tty.txt" || img_fail "--quiet still shows progress"
	echo "ok: progress on a terminal only"
fi
