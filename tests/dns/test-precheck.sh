#!/bin/bash
# tests/dns/test-precheck.sh - sv_precheck() against real DNS servers (nsd + faultns.py).
#
# Every zone case of tests/dns/expected.tsv with its verdict, the >1232-byte
# DKIM answer over TCP, hostile answers, existence/SPF advice without
# expectations, a dead nameserver before a live one, a timeout that must not
# poison the resolver, and several threads prechecking at once.
# Driven through tests/dns/precheck-run (no CLI needed).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/dns/dns-lib.sh"

command -v nsd >/dev/null || skip_all "nsd not installed (Debian package nsd)"
command -v drill >/dev/null || skip_all "drill not installed (Debian package ldnsutils)"
command -v python3 >/dev/null || skip_all "python3 not installed"

T=$(mktmp)
dns_start "$T" || {
	not_ok "test DNS servers start"
	tap_done
}
RUN=$top_builddir/tests/dns/precheck-run
TSV=$top_srcdir/tests/dns/expected.tsv
TMO=400 # ms per query; the timeout cases below are bounded by it

# pc ARGS... - precheck-run against both test servers
pc() { "$RUN" -n "$DNS_NAMESERVERS" -t "$TMO" "$@"; }
# get OUT KEY - the first line starting with KEY, without KEY
get() { printf '%s\n' "$1" | awk -v k="$2" '$1 == k { sub(/^[^ ]+ /, ""); print; exit }'; }
# item OUT NAME TYPE - "VERDICT RCODE" of an item
item() { printf '%s\n' "$1" | awk -v n="$2" -v t="$3" '$1 == "item" && $2 == t && $3 == n { print $4, $5; exit }'; }
# current OUT NAME TYPE - the current value of an item
current() { printf '%s\n' "$1" | awk -v n="$2" -v t="$3" '$1 == "item" && $2 == t && $3 == n { sub(/^.* current=/, ""); sub(/ detail=.*$/, ""); print; exit }'; }
# expected DOMAIN NAME TYPE - the value from expected.tsv
expected() { awk -F'\t' -v d="$1" -v n="$2" -v t="$3" '$1 == d && $3 == n && $2 == t { print $4; exit }' "$TSV"; }

# --- every zone case with expectations from expected.tsv
check_case() {
	local d=$1 want=$2 out
	out=$(pc -x "$TSV" "$d")
	is "$(get "$out" verdict)" "$want" "$d: $want"
	CASE_OUT=$out
}

check_case verified.test dns_matches_expected
is "$(current "$CASE_OUT" qcloud._domainkey.verified.test TXT)" \
	"$(expected verified.test qcloud._domainkey.verified.test TXT)" "verified.test: DKIM current value is the served record"
is "$(get "$CASE_OUT" spf_include)" yes "verified.test: SPF carries include:qcloudmail.com"

check_case unverified.test dns_lacks_records
is "$(item "$CASE_OUT" qcloud._domainkey.unverified.test TXT)" "missing 3" "unverified.test: DKIM missing (NXDOMAIN at the record name)"
is "$(item "$CASE_OUT" unverified.test TXT)" "match 0" "unverified.test: SPF split in two strings matches"
is "$(current "$CASE_OUT" unverified.test TXT)" "v=spf1 include:qcloudmail.com ~all" "unverified.test: strings concatenated without separator"

check_case spfwrong.test dns_lacks_records
is "$(item "$CASE_OUT" spfwrong.test TXT)" "mismatch 0" "spfwrong.test: SPF mismatch"
is "$(current "$CASE_OUT" spfwrong.test TXT)" "v=spf1 include:spf.elsewhere.test ~all" "spfwrong.test: current SPF reported (site-verification TXT ignored)"
is "$(item "$CASE_OUT" qcloud._domainkey.spfwrong.test TXT)" "match 0" "spfwrong.test: DKIM still matches"
is "$(get "$CASE_OUT" spf_include)" no "spfwrong.test: SPF advice says the include is absent"

check_case mxwrong.test dns_lacks_records
is "$(item "$CASE_OUT" mxwrong.test MX)" "mismatch 0" "mxwrong.test: MX mismatch"
like "$(current "$CASE_OUT" mxwrong.test MX)" "mx\.elsewhere\.test\." "mxwrong.test: current MX names the wrong exchange"

check_case bigdkim.test dns_matches_expected
is "$(current "$CASE_OUT" qcloud._domainkey.bigdkim.test TXT)" \
	"$(expected bigdkim.test qcloud._domainkey.bigdkim.test TXT)" "bigdkim.test: 2048-bit key from several strings equals the expected value"
tcp=$(printf '%s\n' "$CASE_OUT" | awk '$1 == "stat" && $2 == "dns.tcp" { print $3 }')
ok_tcp=1
[ "${tcp:-0}" -ge 1 ] && ok_tcp=0
tap_ok $ok_tcp "bigdkim.test: the DKIM answer came over TCP (dns.tcp=$tcp)"
udp=$(drill -b 1232 -p "$DNS_PORT" qcloud._domainkey.bigdkim.test @127.0.0.1 TXT 2>/dev/null | grep -c 'flags:.* tc')
is "$udp" 1 "bigdkim.test: over UDP with a 1232-byte buffer the answer is truncated"

check_case upper.test dns_matches_expected
is "$(item "$CASE_OUT" qcloud._domainkey.upper.test TXT)" "match 0" "upper.test: DKIM with k=RSA, tabs and a space in p= matches"
is "$(item "$CASE_OUT" upper.test MX)" "match 0" "upper.test: MX MXBIZ1.QQ.COM. matches mxbiz1.qq.com."

check_case cname.test dns_matches_expected
is "$(item "$CASE_OUT" qcloud._domainkey.cname.test TXT)" "match 0" "cname.test: DKIM found through the CNAME"

check_case later.test dns_lacks_records
is "$(item "$CASE_OUT" qcloud._domainkey.later.test TXT)" "missing 3" "later.test: DKIM missing at first"
dns_set_later_dkim "$T"
tap_ok $? "dns_set_later_dkim reloads nsd"
check_case later.test dns_matches_expected

check_case notexist.test dns_matches_expected
check_case nxdomain.test domain_does_not_exist
is "$(item "$CASE_OUT" nxdomain.test MX)" "missing 3" "nxdomain.test: items missing with NXDOMAIN"

check_case servfail.test dns_unavailable
like "$(get "$CASE_OUT" error)" "SERVFAIL" "servfail.test: error names SERVFAIL"
is "$(item "$CASE_OUT" servfail.test TXT)" "dns_error 2" "servfail.test: items carry rcode 2"

check_case timeout.test dns_unavailable
el=$(get "$CASE_OUT" elapsed_ms)
like "$(get "$CASE_OUT" error)" "no answer within" "timeout.test: error says no answer"
is "$(item "$CASE_OUT" timeout.test MX)" "dns_error -1" "timeout.test: items have no rcode"
[ "$el" -ge $((TMO * 2 - 50)) ] && [ "$el" -lt $((TMO * 4 + 300)) ]
tap_ok $? "timeout.test: bounded by retries x DnsTimeout, later records not queried (${el} ms)"

# --- without expectations: existence + SPF advice
out=$(pc verified.test)
is "$(get "$out" verdict) $(get "$out" spf_include)" "domain_exists yes" "no expectations: verified.test exists, SPF has the include"
is "$(get "$out" spf_record)" "v=spf1 include:qcloudmail.com ~all" "no expectations: spf_record is the live SPF"
out=$(pc spfwrong.test)
is "$(get "$out" verdict) $(get "$out" spf_include)" "domain_exists no" "no expectations: spfwrong.test lacks the include"
out=$(pc -i include:spf.elsewhere.test spfwrong.test)
is "$(get "$out" spf_include)" yes "SpfInclude is configurable"
out=$(pc upper.test)
is "$(get "$out" spf_include)" yes "SPF advice is case-insensitive"
out=$(pc unverified.test)
is "$(get "$out" verdict)" domain_exists "no expectations: unverified.test exists"
out=$(pc nxdomain.test)
is "$(get "$out" verdict)" domain_does_not_exist "no expectations: nxdomain.test does not exist"
out=$(pc servfail.test)
is "$(get "$out" verdict)" dns_unavailable "no expectations: servfail.test unavailable, not nonexistent"
out=$(pc nosoa.hostile.test)
is "$(get "$out" verdict)" domain_exists "NOERROR without any SOA still means the name exists (RFC 8020)"
out=$(pc UPPER.TEST.)
is "$(get "$out" domain) $(get "$out" verdict)" "upper.test domain_exists" "domain name normalised (case, trailing dot)"

# --- hostile answers from the fault server
SPF='v=spf1 include:qcloudmail.com ~all'
hostile() {
	local h=$1 want=$2 pat=$3 out
	out=$(pc "$h.hostile.test" "TXT,$h.hostile.test,$SPF")
	is "$(get "$out" verdict)" "$want" "hostile $h: $want"
	[ -n "$pat" ] && like "$(get "$out" error)" "$pat" "hostile $h: error says \"$pat\""
}
hostile bigtxt dns_unavailable "longer than 4096"
hostile many dns_unavailable "holds 300 records"
hostile many70 dns_unavailable "holds more than 64 records of the asked type"
hostile loop dns_unavailable "CNAME chain"
hostile chain dns_unavailable "longer than 8"
hostile wrongtype dns_unavailable "other types \(A\)"
hostile wrongid dns_unavailable "ID differs"
hostile wrongq dns_unavailable "question differs"
hostile malformed dns_unavailable "malformed reply"
hostile garbage dns_unavailable "malformed reply"
hostile alwaystc dns_unavailable "truncated even over TCP"
hostile notcp dns_unavailable "closed without an answer after"
hostile outside dns_matches_expected ""
hostile tcponly dns_matches_expected ""
hostile nultxt dns_lacks_records ""
out=$(pc x.hostile.test "TXT,nultxt.hostile.test,$SPF")
like "$(printf '%s\n' "$out" | grep '^item')" "NUL bytes ignored" "hostile nultxt: the NUL record is reported as ignored"
out=$(pc x.hostile.test "AAAA,x.hostile.test,::1")
is "$(item "$out" x.hostile.test AAAA)" "dns_error -1" "unsupported record type is a DNS error, never a match"

# --- reply checks: not a response, no question, an rcode without a name
hostile notqr dns_unavailable "reply is not a query response"
hostile noq dns_unavailable "reply does not carry exactly one question"
hostile rcode11 dns_unavailable "RCODE11"
# each answer holds one CNAME to a name outside it: 4 queries, then give up
hostile hop0 dns_unavailable "CNAME chain from hop0.hostile.test leaves the answers 4 times"

# detail OUT NAME TYPE - the detail of an item
detail() { printf '%s\n' "$1" | awk -v n="$2" -v t="$3" '$1 == "item" && $2 == t && $3 == n { sub(/^.* detail=/, ""); print; exit }'; }

# --- CNAME and A expectations (the fault server answers A for wrongtype, CNAME for outside;
# nsd serves only a TXT at the DKIM name of verified.test)
KEY=qcloud._domainkey.verified.test
out=$(pc x.hostile.test "CNAME,outside.hostile.test,TARGET.hostile.test." "CNAME,wrongtype.hostile.test,x.test" \
	"A,wrongtype.hostile.test,192.0.2.1" "MX,nosuch.hostile.test,mx.test." "MX,$KEY,mx.test.")
is "$(item "$out" outside.hostile.test CNAME) $(current "$out" outside.hostile.test CNAME)" \
	"match 0 target.hostile.test." "CNAME expectation: the alias's target matches (case, trailing dot)"
is "$(item "$out" wrongtype.hostile.test A) $(current "$out" wrongtype.hostile.test A)" "match 0 192.0.2.1" \
	"A expectation: the served address matches"
is "$(item "$out" nosuch.hostile.test MX) $(detail "$out" nosuch.hostile.test MX)" \
	"missing 3 name does not exist (NXDOMAIN)" "MX expectation at a name that does not exist: missing"
like "$(item "$out" "$KEY" MX) $(detail "$out" "$KEY" MX)" "^missing 0 no MX record" "MX expectation at a name without MX (NODATA): missing"
is "$(get "$out" verdict)" dns_unavailable "a CNAME asked at a name holding only an A: the batch is unavailable"
like "$(detail "$out" wrongtype.hostile.test CNAME)" "other types \(A\)" "CNAME asked, only an A served: the detail says so"
out=$(pc x.hostile.test "CNAME,outside.hostile.test,elsewhere.test" "A,wrongtype.hostile.test,192.0.2.2" \
	"A,wrongtype.hostile.test,not-an-address" "CNAME,$KEY,x.test" "A,$KEY,192.0.2.1" \
	"MX,mxwrong.test,10 mxbiz1.qq.com." "CNAME,twocname.hostile.test,target.hostile.test")
is "$(get "$out" verdict)" dns_lacks_records "CNAME/A/MX mismatches and missing records: dns_lacks_records"
is "$(item "$out" twocname.hostile.test CNAME) $(detail "$out" twocname.hostile.test CNAME)" \
	"mismatch 0 several CNAME records at one name" "two CNAMEs at one name: a mismatch, even if one target is the expected one"
is "$(item "$out" outside.hostile.test CNAME) $(detail "$out" outside.hostile.test CNAME)" \
	"mismatch 0 CNAME points elsewhere" "CNAME expectation: another target is a mismatch"
is "$(printf '%s\n' "$out" | awk '$1 == "item" && $2 == "A" && $3 == "wrongtype.hostile.test" { print $4 }' | tr '\n' ' ')" \
	"mismatch mismatch " "A expectation: another address and a non-address are mismatches"
is "$(detail "$out" wrongtype.hostile.test A)" "no A record holds the expected address" "A mismatch: the detail says so"
like "$(item "$out" "$KEY" CNAME) $(detail "$out" "$KEY" CNAME)" "^missing 0 no CNAME record" \
	"CNAME expectation at a name without CNAME (NODATA): missing"
like "$(item "$out" "$KEY" A) $(detail "$out" "$KEY" A)" "^missing 0 no A record" \
	"A expectation at a name without A (NODATA): missing"
is "$(item "$out" mxwrong.test MX) $(current "$out" mxwrong.test MX)" "mismatch 0 10 mx.elsewhere.test., 20 backup-mx.mxwrong.test." \
	"MX expectation with a preference: the current value lists preference and exchange"

# --- names that cannot be asked, and a failed query halting the batch
long=$(printf 'a%.0s' $(seq 64))
out=$(pc x.hostile.test "TXT,$long.hostile.test,$SPF" "TXT,$(printf "$long.%.0s" 1 2 3 4)test,$SPF" "TXT,,$SPF")
is "$(item "$out" "$long.hostile.test" TXT)" "dns_error -1" "a 64-octet label in an expected name: DNS error"
like "$(detail "$out" "$long.hostile.test" TXT)" "^invalid DNS name" "a 64-octet label: the detail says invalid DNS name"
like "$(printf '%s\n' "$out" | grep "^item TXT $long.$long")" "record name longer than 253 octets" \
	"an expected name over 253 octets: the detail says so"
like "$(printf '%s\n' "$out" | grep '^item TXT  ')" "expected record has no name" "an expected record without a name: DNS error"
out=$(pc x.hostile.test "TXT,wrongid.hostile.test,$SPF" "TXT,target.hostile.test,$SPF")
is "$(item "$out" target.hostile.test TXT) $(detail "$out" target.hostile.test TXT)" \
	"dns_error -1 target.hostile.test not queried: an earlier query failed" \
	"after a failed query the later records are not queried"
out=$(pc 'bad..domain.test' "TXT,bad.test,$SPF")
is "$(get "$out" verdict) $(item "$out" bad.test TXT)" "dns_unavailable dns_error -1" \
	"an invalid domain: unavailable, its items DNS errors"
like "$(get "$out" error)" "^invalid domain: " "an invalid domain: the error says so"

# --- limits of one batch: 32 expectations looked at, 24 distinct lookups (the SOA is one)
args=()
for i in $(seq 0 39); do args+=("TXT,n$i.hostile.test,$SPF"); done
out=$("$RUN" -n "127.0.0.1@$FAULT_DNS_PORT" -t "$TMO" x.hostile.test "${args[@]}")
is "$(printf '%s\n' "$out" | grep -c '^item ')" 32 "40 expectations: the first 32 are looked at"
is "$(item "$out" n22.hostile.test TXT)" "missing 3" "expectation 23 (lookup 24) is still asked"
is "$(printf '%s\n' "$out" | grep -c '^item .*too many distinct records asked')" 9 \
	"expectations 24 to 32 find the lookup cache full"
is "$(item "$out" n23.hostile.test TXT)" "dns_error -1" "a full lookup cache is a DNS error, never a missing record"
# two servers (a referral from nsd, then the answer): the SOA costs 2 sends, each
# hop chain 8 (4 queries); the 6th chain meets the 48-send budget on its 4th query
args=()
for i in 1 2 3 4 5 6 7; do args+=("TXT,hop${i}00.hostile.test,$SPF"); done
out=$(pc x.hostile.test "${args[@]}")
like "$(detail "$out" hop500.hostile.test TXT)" "leaves the answers 4 times" "the 5th hop chain still runs to its end"
like "$(detail "$out" hop600.hostile.test TXT)" "pre-check budget exhausted \(48 queries" \
	"the 6th hop chain meets the budget of 48 sends per batch"
like "$(detail "$out" hop700.hostile.test TXT)" "not queried: an earlier query failed" "after the budget, nothing is queried"

# --- nameserver lists
dead=$(free_port)
out=$("$RUN" -n "127.0.0.1@$dead,$DNS_NAMESERVERS" -t 300 -x "$TSV" verified.test)
el=$(get "$out" elapsed_ms)
is "$(get "$out" verdict)" dns_matches_expected "dead nameserver first, live one second: verified.test matches"
[ "$el" -ge 550 ] && [ "$el" -lt 2000 ]
tap_ok $? "the dead server costs its timeout once per precheck, not per record (${el} ms)"
out=$("$RUN" -n "127.0.0.1@$dead" -t 300 -x "$TSV" verified.test)
el=$(get "$out" elapsed_ms)
is "$(get "$out" verdict)" dns_unavailable "only a dead nameserver: dns_unavailable"
[ "$el" -lt 1500 ]
tap_ok $? "only a dead nameserver: bounded time (${el} ms)"
# One resolver, a timeout first: ldns 1.8.3 would mark the fault server dead forever.
out=$(pc -x "$TSV" timeout.test -- outside.hostile.test "TXT,outside.hostile.test,$SPF" -- verified.test)
is "$(printf '%s\n' "$out" | awk '$1 == "verdict" { printf "%s ", $2 }')" \
	"dns_unavailable dns_matches_expected dns_matches_expected " \
	"a timed-out server answers the next precheck on the same resolver"
out=$("$RUN" -n "::1@$dead, 127.0.0.1@$DNS_PORT" -t 300 -x "$TSV" cname.test)
is "$(get "$out" verdict)" dns_matches_expected "IPv6 literal and spaces in the Nameserver list"
out=$("$RUN" -n "127.0.0.1@99999" verified.test)
like "$(get "$out" resolver_error)" "port" "bad port rejected when the resolver is built"
# no Nameserver: the servers of /etc/resolv.conf (an invalid domain, so nothing is asked)
out=$("$RUN" -n "" 'bad..domain.test')
is "$(get "$out" resolver_error)|$(get "$out" verdict)" "|dns_unavailable" \
	"no Nameserver: the resolver is built from /etc/resolv.conf"
like "$(get "$out" error)" "^invalid domain: " "no Nameserver: the invalid domain is reported, not a resolver error"
for spec in "127.0.0.1@" "127.0.0.1@5x3" "127.0.0.1@123456" "@53" "ns.example@53" "[127.0.0.1@53" "[]@53"; do
	out=$("$RUN" -n "$spec" verified.test)
	like "$(get "$out" resolver_error)" "Nameserver" "bad Nameserver entry \"$spec\" rejected when the resolver is built"
	is "$(get "$out" verdict)" "" "bad Nameserver entry \"$spec\": no precheck runs"
done

# --- threads: 6 threads x 3 rounds, each with its own resolver
out=$("$RUN" -n "$DNS_NAMESERVERS" -t 1000 -x "$TSV" -T 6 -r 3 verified.test unverified.test spfwrong.test \
	mxwrong.test bigdkim.test upper.test cname.test notexist.test nxdomain.test servfail.test)
like "$(printf '%s\n' "$out" | tail -n 1)" "^threads ok 180$" "6 threads x 3 rounds x 10 domains agree with the single-thread results"

tap_done
