#!/bin/bash
# tests/style/test-format.sh - every C source and header follows .clang-format.
# One test point per file; a failure shows the first lines clang-format
# would change.
. "$top_srcdir/tests/lib.sh"
command -v clang-format >/dev/null 2>&1 || skip_all "clang-format not installed"
[ -n "${SV_SANITIZE:-}" ] && skip_all "checked in the normal build"
cd "$top_srcdir" || exit 1
while IFS= read -r f; do
	if out=$(clang-format --style=file --dry-run --Werror "$f" 2>&1); then
		ok "$f is clang-formatted"
	else
		not_ok "$f is clang-formatted"
		printf '%s\n' "$out" | head -n 6 | sed 's/^/#   /'
	fi
done < <(find util lib milter tests -name '*.[ch]' ! -path '*/corpus/*' | sort)
tap_done
