#!/bin/bash
# EXPECT: tune on a sample (a quarter of an image of zero, bf16-like and noise data, mixed
# finer than the sampled segments) predicts
# the ratio that a real recompress at its recommended setting gives, within 3%; its table
# marks a Pareto front and one recommendation; --plot writes a well-formed SVG with the front.
source "$(dirname "$0")/img_lib.sh"
T=$IMG_TOOL
gen=(--gpus 2 --bos 3 --mib 8 --fine)
img=$IMG_TMP/img
"$IMG_MKIMAGE" "$img" "${gen[@]}"
grid=(--levels off,-3,1,3 --filters none,bytegroup2 --chunk-sizes 512K,2M)

"$T" --json tune "$img" --sample 12M --storage-gbps 0.5 "${grid[@]}" >"$IMG_TMP/tune.json"
[ "$(img_json "$IMG_TMP/tune.json" 'len(j["settings"])')" = 14 ] || img_fail "expected 14 settings (off once per chunk size)"
[ "$(img_json "$IMG_TMP/tune.json" 'sum(s["recommended"] for s in j["settings"])')" = 1 ] || img_fail "not one recommendation"
[ "$(img_json "$IMG_TMP/tune.json" 'all(s["pareto"] for s in j["settings"] if s["recommended"])')" = True ] ||
	img_fail "the recommendation is off the front"
sample=$(img_json "$IMG_TMP/tune.json" 'j["sample_bytes"]')
raw=$(img_json "$IMG_TMP/tune.json" 'j["image_raw_bytes"]')
[ "$sample" -le $((12 << 20)) ] && [ "$sample" -lt "$raw" ] || img_fail "sample of $sample bytes is not a sample of $raw"
read -r level filter chunk ratio < <(img_json "$IMG_TMP/tune.json" \
	'" ".join(str(x) for x in [[s["level"], s["filter"], s["chunk_size"], s["ratio"]] for s in j["settings"] if s["recommended"]][0])')
echo "tune recommends level $level, filter $filter, chunk $chunk: predicted ratio $ratio"

"$T" recompress "$img" --level "$level" --filter "$filter" --chunk-size "$chunk" --out "$IMG_TMP/real" >/dev/null
"$T" --json info "$IMG_TMP/real" >"$IMG_TMP/info.json"
real=$(img_json "$IMG_TMP/info.json" 'sum(s["raw_bytes"] for s in j["streams"]) / sum(s["stored_bytes"] for s in j["streams"])')
echo "real recompress: ratio $real"
python3 -c "import sys; p, r = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if abs(p - r) / r < 0.03 else 1)" "$ratio" "$real" ||
	img_fail "predicted ratio $ratio is not within 3% of the real $real"

# The same on a stream file alone, with the human table and a plot.
"$T" tune "$img/vramstream-kfd-4242-1-gpu1.vrs" --sample 4M --levels off,1 --filters none,auto --chunk-sizes 1M \
	--plot "$IMG_TMP/tune.svg" >"$IMG_TMP/tune.txt"
cat "$IMG_TMP/tune.txt"
grep -Eq '^  LEVEL +FILTER +CHUNK +RATIO' "$IMG_TMP/tune.txt" || img_fail "no table header"
grep -q 'front, recommended' "$IMG_TMP/tune.txt" || img_fail "no recommendation marked"
grep -Eq '^  1 +auto +1M ' "$IMG_TMP/tune.txt" || img_fail "no row for filter auto (the plugin's default)"
grep -q '^recommended for 2.00 GB/s storage: --level' "$IMG_TMP/tune.txt" || img_fail "no recommendation line"
python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); sys.exit(0 if r.tag.endswith("svg") and len(r.findall(".//{http://www.w3.org/2000/svg}circle")) >= 3 else 1)' \
	"$IMG_TMP/tune.svg" || img_fail "plot is not an SVG with the settings"
grep -q 'polyline\|recommended' "$IMG_TMP/tune.svg" || img_fail "plot lacks the front"
echo "ok: tune"
