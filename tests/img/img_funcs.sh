# Functions shared by the vramstream-img tests (sourced by img_lib.sh and img_plugin.sh).

img_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# img_json FILE EXPR: evaluates the Python expression EXPR on the JSON document in FILE (as j).
img_json() {
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# img_flip FILE OFFSET: inverts one byte of FILE.
img_flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\x$(printf %02x $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# img_expect_status WANT CMD...: runs CMD, fails unless its exit status is WANT.
img_expect_status() {
	local want=$1 rc=0
	shift
	"$@" || rc=$?
	[ "$rc" = "$want" ] || img_fail "'$*' exited $rc, expected $want"
}

# img_sums DIR: checksums of the vramstream files in DIR, one line each.
img_sums() {
	(cd "$1" && md5sum vramstream-*)
}
