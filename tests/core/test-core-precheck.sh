#!/bin/bash
# test-core-precheck.sh - the DNS pre-check spends no API budget when it can
# know the answer: NXDOMAIN domains cost zero UpdateEmailIdentity, unverified
# domains whose DNS still lacks the records are not asked again, verified
# domains whose DNS still matches are extended, and a domain whose DNS has
# become right is asked at once (later.test).  A domain absent from the
# identity list costs no UpdateEmailIdentity either.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/dns/dns-lib.sh"
. "$top_srcdir/tests/core/core-lib.sh"
core_init
command -v nsd >/dev/null || skip_all "nsd missing"
dir=$(mktmp)

dns_start "$dir" || { not_ok "test DNS starts"; tap_done; }
core_scenario "$dir/scen.json" 5 nx unverified dkim
emu_start "$dir/emu" "$dir/scen.json" || { not_ok "emulator starts"; tap_done; }
ok "DNS and emulator start"
core_conf "$dir/sv.conf" "WarmUp no" "CacheFile $dir/cache" "Nameserver $DNS_NAMESERVERS" \
	"UnverifiedTTL 1s" "VerifiedTTL 1s"

# 1. listed in SES but not in DNS (NXDOMAIN); absent from the list
"$DRIVE" -c "$dir/sv.conf" -t 10000 -S nx000.test nx001.test nx002.test nx003.test nx004.test \
	absent1.test absent2.test >"$dir/out1" 2>"$dir/err1"
tap_ok $? "driver ran (NXDOMAIN and absent domains)"
is "$(awk '$1=="count" && $2=="not_exist" {print $3}' "$dir/out1")" 7 "all seven are not_exist"
n=0
for d in nx000 nx001 nx002 nx003 nx004 absent1 absent2; do
	n=$((n + $(emu_count UpdateEmailIdentity "$d.test")))
done
is "$n" 0 "zero UpdateEmailIdentity for NXDOMAIN and unlisted domains"
like "$(grep '^stat api.saved.precheck ' "$dir/out1")" ' [5-9]$' "api.saved.precheck counts the NXDOMAIN ones"
like "$(grep '^stat api.saved.list ' "$dir/out1")" ' [2-9]$' "api.saved.list counts the unlisted ones"

# 2. four rounds, TTL 1 s: unverified with DNS lacking records, verified with DNS right
"$DRIVE" -c "$dir/sv.conf" -t 10000 -r 4 -i 1200 -S unverified.test mxwrong.test verified.test \
	later.test >"$dir/out2" 2>"$dir/err2"
tap_ok $? "driver ran four rounds"
like "$(grep '^unverified.test ' "$dir/out2")" 'unverified .*fail=TXT:qcloud._domainkey.unverified.test' \
	"unverified.test: unverified, reject text names the missing DKIM record"
like "$(grep '^mxwrong.test ' "$dir/out2")" 'unverified .*fail=MX:mxwrong.test' "mxwrong.test: MX named"
like "$(grep '^verified.test ' "$dir/out2")" '^verified.test verified ' "verified.test stays verified"
is "$(emu_count UpdateEmailIdentity unverified.test)" 1 "unverified.test asked once in four rounds"
is "$(emu_count UpdateEmailIdentity mxwrong.test)" 1 "mxwrong.test asked once in four rounds"
is "$(emu_count UpdateEmailIdentity verified.test)" 1 "verified.test asked once in four rounds (DNS still matches)"
like "$(grep '^stat refresh.extended ' "$dir/out2")" ' ([6-9]|[1-9][0-9])$' "extensions counted"

# 3. later.test gains its DKIM record: the next refresh calls the API at once
before=$(emu_count UpdateEmailIdentity later.test)
dns_set_later_dkim "$dir" >/dev/null 2>&1 || dns_zone_add_later_dkim >/dev/null 2>&1
sleep 1.2
"$DRIVE" -c "$dir/sv.conf" -t 10000 -r 2 -i 100 later.test >"$dir/out3" 2>"$dir/err3"
like "$(grep '^later.test ' "$dir/out3")" '^later.test verified ' "later.test verified once its DNS is right"
after=$(emu_count UpdateEmailIdentity later.test)
is "$((after - before))" 1 "exactly one API call to learn it"
tap_done
