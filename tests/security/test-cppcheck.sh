#!/bin/bash
# tests/security/test-cppcheck.sh - cppcheck over util/, lib/ and milter/ at the
# warning, portability and performance levels (errors always): zero findings.
#
# Owns: the cppcheck invocation and the list of accepted findings below.
# A finding in the code is fixed there, or silenced inline with
# "// cppcheck-suppress id" and a comment saying why; the few entries
# below are for files whose owner has not done so yet, each explained.
#
# Skipped under SV_SANITIZE=1 (the result does not depend on the build)
# and when cppcheck is missing (Debian package cppcheck).
. "$top_srcdir/tests/lib.sh"

[ "${SV_SANITIZE:-0}" = 1 ] && skip_all "static analysis runs in the normal build only"
command -v cppcheck >/dev/null || skip_all "cppcheck not installed (Debian package cppcheck)"
[ -r "$top_builddir/config.h" ] || skip_all "config.h not found in $top_builddir"

tmp=$(mktmp)
suppress=(
	# lib/identity_list.c find_listed(): bsearch() gets a key sv_listed whose
	# only initialised field is name, and cmp_listed() reads only name;
	# cppcheck cannot see that (false positive, reported to the owner:
	# "sv_listed key = {0};" would silence it for good).
	--suppress=uninitvar:"$top_srcdir/lib/identity_list.c"
)
start=$(date +%s)
cd "$top_srcdir" || exit 1
cppcheck -q --enable=warning,portability,performance --std=c11 --inline-suppr \
	--error-exitcode=3 -j2 \
	-D_GNU_SOURCE -DHAVE_CONFIG_H -DJSMN_STATIC -DJSMN_PARENT_LINKS -DJSMN_STRICT \
	-D__GNUC__=12 -I"$top_builddir" -I"$top_srcdir/util" -I"$top_srcdir/lib" -I"$top_srcdir/milter" \
	"${suppress[@]}" \
	--template='{file}:{line}: {severity}: {id}: {message}' \
	"$top_srcdir/util" "$top_srcdir/lib" "$top_srcdir/milter" >"$tmp/out" 2>&1
rc=$?
n=$(grep -c ': \(error\|warning\|portability\|performance\): ' "$tmp/out")
sed 's/^/#   /' "$tmp/out" | head -n 40
is "$n" 0 "cppcheck: no finding in util/, lib/ and milter/ ($(( $(date +%s) - start )) s)"
is "$rc" 0 "cppcheck exit status"
# the checker must be able to fail: a known defect is reported
cat >"$tmp/bad.c" <<'C'
#include <stdlib.h>
int f(int i);
int f(int i) { char b[4]; char *p = malloc(4); b[i + 4] = 0; b[4] = 1; return p ? 0 : b[0]; }
C
cppcheck -q --enable=warning --error-exitcode=3 "$tmp/bad.c" >"$tmp/bad.out" 2>&1
is "$?" 3 "cppcheck reports a planted out-of-bounds write and leak (the check can fail)"
tap_done
