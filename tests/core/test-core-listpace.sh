#!/bin/bash
# test-core-listpace.sh - an account listing 2,500 identities (26 pages of
# ListEmailIdentities) at ApiRate 20: the refresher takes one limiter token
# per page, so the emulator never sees more than 20 requests in any sliding
# second, nothing is refused with RequestLimitExceeded, and the whole list
# arrives (a listed domain is settled from it).  Before the per-page hook
# the client sent all pages back to back after reserving only 3 tokens.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/core/core-lib.sh"
core_init
dir=$(mktmp)

core_scenario "$dir/scen.json" 2500 p unverified none
emu_start "$dir/emu" "$dir/scen.json" || { not_ok "emulator starts"; tap_done; }
ok "emulator starts"
core_conf "$dir/sv.conf" "ApiRate 20" "WarmUp no" "RefreshWorkers 4" "CacheFile $dir/cache" \
	"Nameserver $(dead_ns)" "DnsTimeout 100ms"
# two never-seen domains: one listed (unverified), one not in the account
"$DRIVE" -c "$dir/sv.conf" -t 20000 -S p2499.test absent-listpace.test >"$dir/out" 2>"$dir/err"
tap_ok $? "driver ran"
like "$(grep '^absent-listpace.test ' "$dir/out")" '^absent-listpace.test not_exist' \
	"a domain absent from the 2,500-entry list is not_exist"
like "$(grep '^p2499.test ' "$dir/out")" '^p2499.test unverified' \
	"the last listed domain (page 26) was seen"
lc=$(emu_count ListEmailIdentities)
[ "$lc" -ge 26 ] && [ "$lc" -le 30 ]
tap_ok $? "the list took 26 pages, fetched once ($lc requests)"
is "$(emu_count_code RequestLimitExceeded)" 0 "zero RequestLimitExceeded"
max=$(emu_max_per_second)
[ "$max" -le 20 ]
tap_ok $? "at most 20 requests in any sliding second (saw $max)"
first=$(grep ListEmailIdentities "$EMU_LOG" | head -n 1 | sed 's/.*"time": *\([0-9.]*\).*/\1/')
last=$(grep ListEmailIdentities "$EMU_LOG" | tail -n 1 | sed 's/.*"time": *\([0-9.]*\).*/\1/')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b - a >= 1.0) }'
tap_ok $? "pages are paced: 26 at 20/s span >= 1 s (first to last page: $(awk -v a="$first" -v b="$last" 'BEGIN { printf "%.2f", b - a }') s)"
diag "$(grep -E '^stat (ratelimit|api)' "$dir/out" | tr '\n' ' ')"
tap_done
