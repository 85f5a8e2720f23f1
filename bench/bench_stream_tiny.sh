#!/bin/bash
# A tiny run of `vramstream-bench stream` per data kind (8 MiB, 1 MiB chunks,
# every byte read back and compared): the benchmark keeps building and
# running, and its --json output keeps the fields BENCHMARKING.md promises.
set -euo pipefail
bench=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for kind in zeros random bf16 mixed; do
	"$bench" stream --kind "$kind" --size 8M --chunk 1M --push 2M --region 4M \
		--workers 2 --dir "$dir" --verify --json >"$dir/out.json"
	python3 - "$dir/out.json" "$kind" <<'PY'
import json, sys
doc = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert doc["ok"] is True and doc["kind"] == sys.argv[2], doc
for v in ("pipeline", "raw", "zstd1t"):
    for k in ("write_gbps", "read_gbps", "image_ratio"):
        assert doc[v][k] > 0, (v, k, doc[v])
    assert doc[v]["raw_bytes"] == 8 << 20, doc[v]
if sys.argv[2] == "zeros":
    assert doc["pipeline"]["image_ratio"] > 100, doc["pipeline"]
print(sys.argv[2], "ok:", {v: round(doc[v]["image_ratio"], 3) for v in ("pipeline", "raw", "zstd1t")})
PY
done
# Nothing may be left behind in the folder.
[ -z "$(ls -A "$dir" | grep -v out.json)" ]
