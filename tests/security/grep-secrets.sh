#!/bin/bash
# tests/security/grep-secrets.sh - after "make check": the test SecretKey
# appears in no log the test suite left behind.
#
# usage: grep-secrets.sh BUILDDIR...   (e.g. _build/normal _build/asan)
# Searches every tests/**/*.log and *.trs under each BUILDDIR (automake's
# per-test logs, which hold everything each test printed: milter logs shown
# on failure, CLI output, diagnostics) and, when given, the directories in
# $SV_EXTRA_LOG_DIRS.  Prints one TAP line per directory and "N hits";
# exit 1 when the secret was found anywhere.  Not part of "make check":
# a test cannot see the logs of tests still running, so tests/run-all.sh
# calls this once both builds are done.
#
# The needle is the stem shared by every test secret
# (sesverify-test-secret-DO-NOT-LOG-...), so a truncated copy is found too.
set -u
needle=${SV_TEST_SECRET_STEM:-sesverify-test-secret-DO-NOT-LOG}
[ $# -gt 0 ] || { echo "usage: $0 BUILDDIR..." >&2; exit 2; }
n=0
hits=0
for dir in "$@" ${SV_EXTRA_LOG_DIRS:-}; do
	n=$((n + 1))
	if [ ! -d "$dir" ]; then
		echo "not ok $n - $dir: no such directory"
		hits=$((hits + 1))
		continue
	fi
	files=$(find "$dir" -type f \( -name '*.log' -o -name '*.trs' \) | wc -l)
	found=$(find "$dir" -type f \( -name '*.log' -o -name '*.trs' \) -print0 |
		xargs -0 -r grep -l -a -F -e "$needle" 2>/dev/null)
	if [ -z "$found" ]; then
		echo "ok $n - $dir: test secret in none of $files log files"
	else
		echo "not ok $n - $dir: test secret found in:"
		printf '%s\n' "$found" | sed 's/^/#   /'
		hits=$((hits + $(printf '%s\n' "$found" | wc -l)))
	fi
done
echo "1..$n"
echo "# $hits hits"
[ "$hits" -eq 0 ]
