#!/bin/bash
# test-faults-dns.sh - the DNS behind the pre-check fails: a server that
# never answers, SERVFAIL, a truncated UDP answer whose TCP retry is hung
# up on, a truncated answer over TCP too, and a CNAME loop.
#
# 1. The CLI pre-check says dns_unavailable (exit 3) and matches no record.
# 2. In the milter, SES-verified domains whose DNS is broken stay accepted
#    (the API, not DNS, is the authority), but once past VerifiedTTL their
#    refresh goes to the API: a broken DNS answer must never count as
#    "DNS unchanged" and extend them for free.  verified.test, whose DNS is
#    right, is the control: it is extended by the pre-check without an API
#    call.  SES-unverified domains with broken DNS stay refused, and their
#    refresh asks the API too.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/faults/faults-lib.sh"

CLI=$top_builddir/milter/sesverify
[ -x "$CLI" ] || skip_all "milter/sesverify not built"
ml_setup
SPF='v=spf1 include:qcloudmail.com ~all'

# --- 1. the CLI pre-check --------------------------------------------------
cat >"$ML_DIR/cli.conf" <<EOF
Nameserver $DNS_NAMESERVERS
DnsTimeout 300ms
EOF
# case DOMAIN RECORD-NAME WHAT
while read -r d name what; do
	t0=$(date +%s%N)
	out=$("$CLI" -c "$ML_DIR/cli.conf" precheck --json --expect "TXT,$name,$SPF" "$d" 2>"$ML_DIR/cli.err")
	rc=$?
	el=$((($(date +%s%N) - t0) / 1000000))
	v=$(printf '%s' "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["verdict"], sum(1 for a in r["attributes"] if a["status"]))' 2>&1)
	is "$v" "dns_unavailable 0" "precheck $what ($d): dns_unavailable, no record matched"
	is "$rc" 3 "precheck $what ($d): exit 3 (DNS error)"
	[ "$el" -lt 5000 ]
	tap_ok $? "precheck $what ($d): bounded in time (${el} ms)"
done <<'EOF'
timeout.test timeout.test timeout
servfail.test servfail.test SERVFAIL
notcp.hostile.test notcp.hostile.test truncated-without-TCP
alwaystc.hostile.test alwaystc.hostile.test truncated-over-TCP-too
loop.hostile.test loop.hostile.test CNAME-loop
EOF

# --- 2. the milter -----------------------------------------------------------
broken="timeout.test servfail.test notcp.hostile.test alwaystc.hostile.test loop.hostile.test"
for d in $broken; do
	emu_domain "$d" "{\"state\": \"verified\", \"attributes\": [{\"Type\": \"TXT\", \"SendDomain\": \"$d\", \"ExpectedValue\": \"$SPF\"}]}"
	emu_domain "u-$d" "{\"state\": \"unverified\", \"attributes\": [{\"Type\": \"TXT\", \"SendDomain\": \"$d\", \"ExpectedValue\": \"$SPF\"}]}"
done
ml_conf "CheckFrom envelope" "UnknownWait 4s" "DnsTimeout 300ms" "VerifiedTTL 2s" "UnverifiedTTL 2s" \
	"MaxApiAge 1h"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

for d in verified.test $broken; do
	ml_msg "SES says verified: $d accepted" from="<a@$d>" expect_mail=accept
done
for d in $broken; do
	# u-timeout.test etc. do not exist in DNS (NXDOMAIN at the parent), so
	# only the hostile ones can be asked about here
	case $d in *.hostile.test) ;; *) continue ;; esac
	ml_msg "SES says unverified: u-$d refused" from="<a@u-$d>" expect_mail=reply
done
# The identity list made them verified without Attributes (nothing a
# pre-check could compare): have each one asked once, so that it has them.
declare -A before
for d in verified.test $broken; do
	like "$(ml_ctl "refresh $d")" '^OK' "control socket: refresh $d queued"
done
for d in verified.test $broken; do
	for ((i = 0; i < 50; i++)); do
		[ "$(emu_count UpdateEmailIdentity "$d")" -ge 1 ] && break
		sleep 0.1
	done
	before[$d]=$(emu_count UpdateEmailIdentity "$d")
done
for d in $broken; do before[u-$d]=$(emu_count UpdateEmailIdentity "u-$d"); done
sleep 2.2 # every entry is past VerifiedTTL now
for d in verified.test $broken; do
	ml_msg "past VerifiedTTL: $d still accepted (served while refreshed)" from="<b@$d>" expect_mail=accept
done
# wait for the refreshes (the broken ones need their DNS timeouts first)
for ((i = 0; i < 100; i++)); do
	done_all=1
	for d in $broken; do
		[ "$(emu_count UpdateEmailIdentity "$d")" -gt "${before[$d]}" ] || done_all=0
	done
	[ $done_all = 1 ] && break
	sleep 0.1
done
is "$(emu_count UpdateEmailIdentity verified.test)" "${before[verified.test]}" \
	"control: verified.test (DNS right) extended by the pre-check, no API call"
for d in $broken; do
	n=$(emu_count UpdateEmailIdentity "$d")
	[ "$n" -gt "${before[$d]}" ]
	tap_ok $? "$d: DNS broken, so the refresh asked the API ($((n - ${before[$d]})) call(s)), no saving applied"
done
saved=$(ml_ctl stats | awk '$1 == "api.saved.precheck" { print $2 }')
[ "${saved:-0}" -ge 1 ]
tap_ok $? "stats: api.saved.precheck counts the control's saving ($saved)"
for d in $broken; do
	ml_msg "after the refresh: $d accepted" from="<c@$d>" expect_mail=accept
	case $d in *.hostile.test) ;; *) continue ;; esac
	ml_msg "after the refresh: u-$d still refused" from="<c@u-$d>" expect_mail=reply
	like "$(fl_decision "u-$d")" 'state=unverified action=reject reply="550 5\.7\.1' \
		"u-$d: unverified, 550 5.7.1 (no false match)"
done
# The unverified ones were past UnverifiedTTL at their last lookup: with
# their DNS unknown, skipping the API would keep refusing a domain that may
# have been fixed, so the refresh must ask the API as well.
for d in $broken; do
	case $d in *.hostile.test) ;; *) continue ;; esac
	for ((i = 0; i < 100; i++)); do
		[ "$(emu_count UpdateEmailIdentity "u-$d")" -gt "${before[u-$d]}" ] && break
		sleep 0.1
	done
	n=$(emu_count UpdateEmailIdentity "u-$d")
	[ "$n" -gt "${before[u-$d]}" ]
	tap_ok $? "u-$d: unverified, DNS broken: the refresh asked the API ($((n - ${before[u-$d]})) call(s)), no saving applied"
done
[ -n "${FL_KEEP:-}" ] && cp "$ML_LOG" "$EMU_LOG" "$FL_KEEP/"
ml_stop
is "$ML_STATUS" 0 "the milter stops cleanly (status 0)"
tap_done
