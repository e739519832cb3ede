#!/bin/bash
# rate-burst.sh - 2,000 never-seen (listed) domains submitted at once at ApiRate 20
# against the SES emulator: most requests in any sliding second, RequestLimitExceeded
# count, total seconds (goal <= 111 s, i.e. >= 90% of the 20/s budget used).
# The identity list answers InternalError, so each domain costs one UpdateEmailIdentity.
# Run from a build tree: top_builddir=BUILD top_srcdir=SRC tests/bench/rate-burst.sh [N]
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/core/core-lib.sh"
core_init
n=${1:-2000}
dir=$(mktmp)
python3 - "$top_srcdir/tests/emulator/scenarios/default.json" "$dir/scen.json" "$n" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
for i in range(int(sys.argv[3])):
    data["domains"]["burst%05d.test" % i] = {"state": "unverified", "attributes": []}
# The account's identity list is down: every never-seen domain costs one call.
# (A 2,000-identity list would be 20 pages sent back to back by the client,
# which no limiter in front of sv_client_list_identities can spread.)
data["list"] = {"error": "InternalError"}
json.dump(data, open(sys.argv[2], "w"))
PY
emu_start "$dir/emu" "$dir/scen.json" || exit 1
core_conf "$dir/sv.conf" "ApiRate 20" "WarmUp no" "RefreshWorkers 8" "CacheFile $dir/cache" \
	"Nameserver $(dead_ns)" "DnsTimeout 100ms" "MaxEntries 100000"
for ((i = 0; i < n; i++)); do printf 'burst%05d.test\n' "$i"; done >"$dir/domains"
"$DRIVE" -c "$dir/sv.conf" -f "$dir/domains" -t 300000 -q -S >"$dir/out" 2>"$dir/err"
el=$(awk '$1=="elapsed" {print $2}' "$dir/out")
upd=$(emu_count UpdateEmailIdentity)
echo "domains $n answered $(awk '$1=="count" && $2=="unverified" {print $3}' "$dir/out")"
echo "requests: UpdateEmailIdentity $upd, ListEmailIdentities $(emu_count ListEmailIdentities)"
echo "max requests in any sliding 1 s: $(emu_max_per_second)"
echo "RequestLimitExceeded: $(emu_count_code RequestLimitExceeded)"
echo "total seconds: $el (goal <= $(awk -v n="$n" 'BEGIN { printf "%.0f", n / 20 / 0.9 }'))"
awk -v n="$upd" -v e="$el" 'BEGIN { printf "budget used: %.1f%% of 20/s\n", 100 * n / e / 20 }'
grep -E '^stat (ratelimit|refresh\.(done|queued|rate))' "$dir/out"
