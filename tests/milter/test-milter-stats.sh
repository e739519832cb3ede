#!/bin/bash
# test-milter-stats.sh - the ControlSocket's "stats" lists every counter of
# the process, however many there are: an LD_PRELOAD helper registers 600
# counters through the public sv_stat_add in the milter's process (more
# than any fixed table held: the registry once kept 256 names and the
# control socket's answer 256 lines), and "stats" / "stats json" must list
# each with its value, and the milter's own figures after them.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

SHIM=$top_builddir/tests/milter/.libs/libmanycounters.so
[ -f "$SHIM" ] || skip_all "counter helper not built ($SHIM)"
N=600
ml_setup
ml_conf "CheckFrom envelope"
SV_MANY_COUNTERS=$N LD_PRELOAD=$SHIM \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 ml_start
tap_ok $? "sesverify-milter starts with $N extra counters"
ml_msg "a decision is counted" from='<a@verified.test>' expect_mail=accept

out=$(ml_ctl $'stats\n')
like "$out" '^OK' "stats answers OK"
got=$(printf '%s\n' "$out" | awk '$1 ~ /^test\.many\.[0-9]+$/ { split($1, p, "."); if ($2 == p[3] + 1) n++ } END { print n + 0 }')
is "$got" "$N" "stats lists all $N test counters, each with its value"
dups=$(printf '%s\n' "$out" | awk 'NR > 1 { print $1 }' | sort | uniq -d | tr '\n' ' ')
is "$dups" "" "stats lists each name once"
# (like() greps line by line: one pattern per line, no "\n" in it)
like "$out" '^decision\.accept [1-9]' "stats still lists the milter's own counters"
like "$out" '^refresh\.pending [0-9]' "... and the engine's figures"
is "$(printf '%s\n' "$out" | sed -n 2p | cut -d' ' -f1)" "cache.entries.unknown" \
	"... after the cache entries by state, first"

json=$(ml_ctl $'stats json\n')
got=$(printf '%s\n' "$json" | python3 -c '
import json, sys
lines = sys.stdin.read().split("\n", 1)
d = json.loads(lines[1])
print(sum(1 for k, v in d.items() if k.startswith("test.many.") and v == int(k.split(".")[2]) + 1))
' 2>&1)
is "$got" "$N" "stats json: valid JSON holding all $N test counters with their values"
tap_done
