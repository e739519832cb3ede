#!/bin/bash
# test-core-rate.sh - 200 never-seen domains at once at ApiRate 20: the
# emulator never sees more than 20 requests in any sliding second, no
# RequestLimitExceeded, one UpdateEmailIdentity per domain, one list call.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/core/core-lib.sh"
core_init
dir=$(mktmp)

core_scenario "$dir/scen.json" 200 r unverified none
emu_start "$dir/emu" "$dir/scen.json" || { not_ok "emulator starts"; tap_done; }
ok "emulator starts"
core_conf "$dir/sv.conf" "ApiRate 20" "WarmUp no" "RefreshWorkers 8" "CacheFile $dir/cache" \
	"Nameserver $(dead_ns)" "DnsTimeout 100ms"
for i in $(seq 0 199); do printf 'r%03d.test\n' "$i"; done >"$dir/domains"

"$DRIVE" -c "$dir/sv.conf" -f "$dir/domains" -t 30000 -q -S >"$dir/out" 2>"$dir/err"
tap_ok $? "driver ran"
is "$(awk '$1=="count" && $2=="unverified" {print $3}' "$dir/out")" 200 "all 200 answered (unverified: listed, not enabled)"
max=$(emu_max_per_second)
ok_max=1
[ "$max" -le 20 ] || ok_max=0
tap_ok $((1 - ok_max)) "at most 20 requests in any sliding second (saw $max)"
is "$(emu_count_code RequestLimitExceeded)" 0 "zero RequestLimitExceeded"
is "$(emu_count UpdateEmailIdentity)" 200 "exactly one UpdateEmailIdentity per domain"
lc=$(emu_count ListEmailIdentities)
[ "$lc" -ge 1 ] && [ "$lc" -le 6 ]
tap_ok $? "the identity list (3 pages) was fetched once or twice ($lc requests), not per domain"
el=$(awk '$1=="elapsed" {print $2}' "$dir/out")
awk -v e="$el" 'BEGIN { exit !(e >= 8.5 && e <= 20) }'
tap_ok $? "paced: 200 calls took $el s (>= 8.5 s at 20/s, <= 20 s)"
like "$(grep '^stat api.calls ' "$dir/out")" '^stat api.calls 20[0-9]$' "api.calls counter (client) matches"
diag "$(grep -E '^stat (ratelimit|refresh|api)' "$dir/out" | tr '\n' ' ')"
if grep -q "$EMU_SECRET_KEY" "$dir/out" "$dir/err" "$dir/cache" 2>/dev/null; then
	not_ok "secret key never printed or stored"
else
	ok "secret key never printed or stored"
fi
tap_done
