#!/bin/bash
# Checks that every tracked C file is formatted as .clang-format says (kernel
# style, STYLE.md). clang-format's output differs between major versions, so
# the check holds the tree to one: 14, Debian 12's (scripts/setup.sh installs
# it); with another version it says so and checks nothing.
# Fix what it reports with:  git ls-files '*.c' '*.h' | xargs clang-format-14 -i
# Usage: scripts/format_check.sh   (exit 1 when a file is not formatted)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

want=14
cf=$(command -v "clang-format-$want" || command -v clang-format || true)
if [ -z "$cf" ]; then
	echo "format_check: no clang-format; install clang-format (version $want) to check the format" >&2
	exit 0
fi
ver=$("$cf" --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
if [ "$ver" != "$want" ]; then
	echo "format_check: $cf is version ${ver:-unknown}, not $want: formats differ between versions, nothing checked" >&2
	exit 0
fi

bad=()
while IFS= read -r f; do
	"$cf" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.c' '*.h')
if [ ${#bad[@]} -gt 0 ]; then
	echo "format_check: not formatted as .clang-format says (${#bad[@]} file(s)):" >&2
	for f in "${bad[@]}"; do
		"$cf" --dry-run "$f" 2>&1 | grep -m 3 'warning:' | sed 's/^/  /' >&2
	done
	echo "format_check: fix with: git ls-files '*.c' '*.h' | xargs $(basename "$cf") -i" >&2
	exit 1
fi
echo "format_check: $(git ls-files '*.c' '*.h' | wc -l) files formatted as .clang-format says ($(basename "$cf") $ver)"
