#!/bin/bash
# tests/check-summary.sh BUILDDIR NAME - what one "make check" run proved.
#
# Reads the TAP results automake left (tests/**/*.trs and *.log) and prints
#   NAME: checks: P passed, F failed, S skipped (in N test scripts/programs)
#   NAME: tooling and format: P passed, F failed, S skipped (...)
# The second line counts the points that test no product behaviour: the
# fuzz-corpus replays and fuzz runs (tests/fuzz: "did not crash"), the
# clang-format point per file (tests/style/test-format.sh) and the tests of
# the test tools themselves (tests/emulator/test-emulator.sh,
# tests/bench/test-loadgen.sh).
#
# Every skip (a "# SKIP" point, or a whole script's "1..0 # SKIP") must
# match a line of tests/skip-allow.txt ("TEST-PATH: REASON" against an
# extended regex); the others are listed.  The last line is
#   SUMMARY <checks passed> <failed, checks and tooling> <skips not allowed>
# for tests/run-all.sh.  SV_ALLOW_SKIPS=1 allows every skip (a developer
# machine without some component); CI has every component installed.
set -u
dir=$1
name=${2:-build}
srcdir=$(cd "$(dirname "$0")/.." && pwd)
allow=$srcdir/tests/skip-allow.txt
tooling='^tests/(fuzz/|style/test-format|emulator/test-emulator|bench/test-loadgen)'

find "$dir/tests" -name '*.trs' 2>/dev/null | sort | while read -r trs; do
	rel=${trs#"$dir"/}
	rel=${rel%.trs}
	kind=check
	[[ $rel =~ $tooling ]] && kind=tool
	sed -n "s|^:test-result: *\([A-Z]*\).*|$kind \1 $rel|p" "$trs"
done >"$dir/check-results.txt"

awk -v name="$name" '
	{ k = $1; r = $2; t[k, $3] = 1
	  if (r == "PASS" || r == "XFAIL") p[k]++
	  else if (r == "SKIP") s[k]++
	  else f[k]++ }
	END {
		for (x in t) { split(x, a, SUBSEP); n[a[1]]++ }
		printf "%s: checks: %d passed, %d failed, %d skipped (in %d test scripts/programs)\n",
			name, p["check"], f["check"], s["check"], n["check"]
		printf "%s: tooling and format (fuzz replays, clang-format per file, emulator and loadgen self-tests): %d passed, %d failed, %d skipped (in %d)\n",
			name, p["tool"], f["tool"], s["tool"], n["tool"]
	}' "$dir/check-results.txt"

# the skips, with their reasons, from the logs of the skipped tests
: >"$dir/check-skips.txt"
awk '$2 == "SKIP" { print $3 }' "$dir/check-results.txt" | sort -u | while read -r t; do
	grep -E '^(ok [0-9]+.*|1\.\.0) *# *[Ss][Kk][Ii][Pp]' "$dir/$t.log" 2>/dev/null |
		sed -E "s|^.*# *[Ss][Kk][Ii][Pp]:? *|$t: |"
done | sort | uniq -c | sed -E 's/^ *([0-9]+) (.*)/\2 (x\1)/' >"$dir/check-skips.txt"
bad=0
if [ -s "$dir/check-skips.txt" ]; then
	pats=$(grep -Ev '^[[:space:]]*(#|$)' "$allow" 2>/dev/null)
	while read -r line; do
		if [ "${SV_ALLOW_SKIPS:-0}" = 1 ] || { [ -n "$pats" ] && printf '%s\n' "$line" | grep -Eq -f <(printf '%s\n' "$pats"); }; then
			echo "$name: skip (allowed): $line"
		else
			echo "$name: SKIP NOT ALLOWED (tests/skip-allow.txt): $line"
			bad=$((bad + 1))
		fi
	done <"$dir/check-skips.txt"
fi
awk -v bad="$bad" '
	$2 == "PASS" || $2 == "XFAIL" { if ($1 == "check") p++; next }
	$2 != "SKIP" { f++ }
	END { printf "SUMMARY %d %d %d\n", p, f, bad }' "$dir/check-results.txt"
