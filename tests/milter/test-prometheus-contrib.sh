#!/bin/bash
# test-prometheus-contrib.sh - contrib/prometheus: the example alert rules
# pass "promtool check rules" and their unit tests (promtool test rules: each
# alert fires on a synthetic series and stays quiet without it); the
# textfile units pass systemd-analyze verify where systemd can run it.
. "$top_srcdir/tests/lib.sh"

command -v promtool >/dev/null || skip_all "promtool not installed (Debian package prometheus)"
dir=$top_srcdir/contrib/prometheus

out=$(promtool check rules "$dir/sesverify-alerts.yml" 2>&1)
tap_ok $? "promtool check rules sesverify-alerts.yml" || diag "$out"
like "$out" 'SUCCESS: 5 rules found' "five alert rules"
for a in SesverifyRejectRateHigh SesverifyDeferring SesverifyApiErrors SesverifyApiRateLimited \
	SesverifySnapshotStale; do
	grep -q "alertname: $a\$" "$dir/sesverify-alerts.test.yml"
	tap_ok $? "alert $a has a unit test"
done
tmp=$(mktmp)
cp "$dir/sesverify-alerts.yml" "$dir/sesverify-alerts.test.yml" "$tmp/"
out=$(cd "$tmp" && promtool test rules sesverify-alerts.test.yml 2>&1)
tap_ok $? "promtool test rules: every alert fires as expected" || diag "$out"

# every metric an alert uses is one the milter exports (names from metrics.c)
for m in $(grep -o 'sesverify_[a-z_]*' "$dir/sesverify-alerts.yml" | sort -u); do
	grep -q "\"$m\"" "$top_srcdir/milter/metrics.c"
	tap_ok $? "alert rules use an exported metric: $m"
done

if command -v systemd-analyze >/dev/null && [ -d /run/systemd/system ]; then
	out=$(systemd-analyze verify "$dir/sesverify-textfile.timer" 2>&1 | grep -v 'Cannot find unit\|not executable\|No such file' )
	is "$out" "" "systemd-analyze verify: textfile timer and service"
fi
grep -q '^OnUnitActiveSec=' "$dir/sesverify-textfile.timer"
tap_ok $? "the timer repeats (OnUnitActiveSec)"
grep -q '^ExecStart=.*sesverify-textfile\.sh' "$dir/sesverify-textfile.service"
tap_ok $? "the service runs sesverify-textfile.sh"
tap_done
