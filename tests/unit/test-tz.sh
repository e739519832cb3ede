#!/bin/bash
# test-tz.sh - every C unit test program again under non-UTC time zones.
#
# The machines that run the suite are usually on UTC, where gmtime_r and
# localtime_r agree: a date taken from local time instead of UTC (the TC3
# signature's date, a log stamp) passes unnoticed there.  This runs each
# tests/unit/test_* program under TZ=Asia/Shanghai (UTC+8, the signing
# date changes for the last 8 hours of a UTC day) and TZ=America/St_Johns
# (UTC-3:30, a half-hour offset west of UTC), one point per program and
# zone; the failing points of a program are shown as diagnostics.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

zones="Asia/Shanghai America/St_Johns"
progs=()
for p in "$top_builddir"/tests/unit/test_*; do
	case $p in *.sh | *.o | *.log | *.trs | *.c) continue ;; esac
	[ -f "$p" ] && [ -x "$p" ] && progs+=("$p")
done
[ ${#progs[@]} -gt 0 ] || {
	not_ok "C unit test programs built under $top_builddir/tests/unit"
	tap_done
}

tmp=$(mktmp)
for z in $zones; do
	for p in "${progs[@]}"; do
		name=${p##*/}
		if [ ! -e "/usr/share/zoneinfo/$z" ]; then
			skip "TZ=$z $name" "no /usr/share/zoneinfo/$z (package tzdata)"
			continue
		fi
		(cd "$tmp" && TZ=$z "$p") >"$tmp/out" 2>&1
		rc=$?
		n=$(grep -c '^ok ' "$tmp/out")
		bad=$(grep -c '^not ok ' "$tmp/out")
		if [ "$rc" -eq 0 ] && [ "$bad" -eq 0 ] && [ "$n" -gt 0 ] && grep -q '^1\.\.' "$tmp/out"; then
			ok "TZ=$z $name: all $n points pass"
		else
			not_ok "TZ=$z $name: exit $rc, $bad of $((n + bad)) points fail"
			grep -E '^not ok |^#' "$tmp/out" | head -n 30 | sed 's/^/#   /'
		fi
	done
done
tap_done
