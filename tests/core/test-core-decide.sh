#!/bin/bash
# test-core-decide.sh - decisions that follow the DNS (issue 12 items 1 and 5,
# issue 16 item 3):
#   - an unverified domain whose SES answer says SPF passes and DKIM fails, with
#     an SPF record ending in -all (stricter than SES's ~all): the pre-check
#     judges only DKIM, so while DKIM is missing no API call is made, and once
#     DKIM is in the zone (and SES verifies it) the domain is verified within
#     UnverifiedTTL + a few seconds;
#   - mxmoved.test, unverified for its MX: no API call while the MX is the one
#     SES saw, one as soon as it points to yet another wrong host (changed);
#   - a cached verified and a cached unverified domain that later vanish from
#     DNS (NXDOMAIN): the refresh takes the NXDOMAIN short-cut, no API call, and
#     the answer is not_exist with code DNS.NXDOMAIN.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/dns/dns-lib.sh"
. "$top_srcdir/tests/core/core-lib.sh"
core_init
dir=$(mktmp)
core_dns_emu "$dir"
# SES: strictspf.test SPF (and MX) right, DKIM missing; vanishu.test likewise
emu_domain strictspf.test '{"state": "unverified", "current": {"TXT qcloud._domainkey.strictspf.test": ""}}'
emu_domain vanish.test '{"state": "verified"}'
emu_domain vanishu.test '{"state": "unverified", "current": {"TXT qcloud._domainkey.vanishu.test": ""}}'
emu_domain mxmoved.test '{"state": "unverified", "current": {"MX mxmoved.test": "mx.elsewhere.test."}}'
TTL=2
core_conf "$dir/sv.conf" "WarmUp no" "CacheFile $dir/cache" "Nameserver $DNS_NAMESERVERS" \
	"UnverifiedTTL ${TTL}s" "VerifiedTTL ${TTL}s" "DnsTimeout 1s"

# state_of OUT DOMAIN - "STATE code=CODE fail=..." of DOMAIN in a driver output
state_of() { awk -v d="$2" '$1 == d { print $2, $4, $5; exit }' "$1"; }

# 1. first answers: SES's view
"$DRIVE" -c "$dir/sv.conf" -t 10000 strictspf.test vanish.test vanishu.test mxmoved.test \
	>"$dir/out1" 2>"$dir/err1"
tap_ok $? "driver ran (first answers)"
like "$(state_of "$dir/out1" strictspf.test)" '^unverified .*fail=TXT:qcloud\._domainkey\.strictspf\.test$' \
	"strictspf.test: unverified, DKIM named"
like "$(state_of "$dir/out1" vanish.test)" '^verified ' "vanish.test: verified"
like "$(state_of "$dir/out1" vanishu.test)" '^unverified ' "vanishu.test: unverified"
is "$(emu_count UpdateEmailIdentity strictspf.test)" 1 "strictspf.test: one API call"
like "$(state_of "$dir/out1" mxmoved.test)" '^unverified .*fail=MX:mxmoved\.test$' "mxmoved.test: unverified, MX named"

# 2. DKIM still missing: the failing record is unchanged, so no API call
sleep $((TTL + 1))
"$DRIVE" -c "$dir/sv.conf" -t 10000 -r 3 -i 1200 -S strictspf.test mxmoved.test >"$dir/out2" 2>"$dir/err2"
tap_ok $? "driver ran three rounds (DKIM still missing)"
like "$(state_of "$dir/out2" strictspf.test)" '^unverified ' "strictspf.test: still unverified"
is "$(emu_count UpdateEmailIdentity strictspf.test)" 1 "strictspf.test: no API call while DKIM is still missing"
is "$(emu_count UpdateEmailIdentity mxmoved.test)" 1 "mxmoved.test: no API call while the MX is the one SES saw"
like "$(grep '^stat refresh.extended ' "$dir/out2")" ' [1-9][0-9]*$' "the pre-check extended the answer"

# 3. the zone gains DKIM (and the vanishing names go), SES verifies strictspf.test
before_v=$(emu_count UpdateEmailIdentity vanish.test)
before_u=$(emu_count UpdateEmailIdentity vanishu.test)
dns_set_later_dkim "$dir" >/dev/null 2>&1
tap_ok $? "the zone gains strictspf.test's DKIM record"
for ((i = 0; i < 50; i++)); do
	dns_query vanish.test SOA 2>/dev/null | grep -q 'rcode: NXDOMAIN' && break
	sleep 0.1
done
like "$(dns_query vanishu.test SOA 2>/dev/null | grep rcode)" NXDOMAIN "vanish.test and vanishu.test are gone from DNS"
emu_domain strictspf.test '{"state": "verified"}'
t0=$(date +%s.%N)
limit=$((TTL + 8))
state=
while :; do
	"$DRIVE" -c "$dir/sv.conf" -t 5000 -r 2 -i 100 strictspf.test >"$dir/out3" 2>>"$dir/err3"
	state=$(state_of "$dir/out3" strictspf.test)
	took=$(python3 -c "print(round($(date +%s.%N) - $t0, 2))")
	case $state in verified*) break ;; esac
	python3 -c "import sys; sys.exit(0 if $took < $limit else 1)" || break
	sleep 0.3
done
like "$state" '^verified ' "strictspf.test: verified once DKIM is in the zone (after ${took}s)"
tap_ok "$(python3 -c "print(0 if $took <= $limit else 1)")" \
	"strictspf.test: verified within UnverifiedTTL + a few seconds (${took}s <= ${limit}s)"
is "$(emu_count UpdateEmailIdentity strictspf.test)" 2 "strictspf.test: exactly one more API call"

# 4. cached answers of vanished domains: the NXDOMAIN short-cut, no API call
sleep $((TTL + 1))
"$DRIVE" -c "$dir/sv.conf" -t 10000 -r 2 -i 100 vanish.test vanishu.test mxmoved.test >"$dir/out4" 2>"$dir/err4"
tap_ok $? "driver ran (vanished domains)"
is "$(state_of "$dir/out4" vanish.test)" "not_exist code=DNS.NXDOMAIN fail=-:-" \
	"cached verified vanish.test: not_exist, code DNS.NXDOMAIN"
is "$(state_of "$dir/out4" vanishu.test)" "not_exist code=DNS.NXDOMAIN fail=-:-" \
	"cached unverified vanishu.test: not_exist, code DNS.NXDOMAIN"
is "$(emu_count UpdateEmailIdentity vanish.test)" "$before_v" "vanish.test: no API call for the NXDOMAIN"
is "$(emu_count UpdateEmailIdentity mxmoved.test)" 2 "mxmoved.test: its MX changed since SES's answer: SES asked once more"
is "$(emu_count UpdateEmailIdentity vanishu.test)" "$before_u" "vanishu.test: no API call for the NXDOMAIN"
is "$(grep -c 'sesverify-test-secret-DO-NOT-LOG' "$dir"/out* "$dir"/err* | awk -F: '{ s += $2 } END { print s }')" 0 \
	"SecretKey never printed"
tap_done
