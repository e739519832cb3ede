#!/bin/bash
# test-milter-outgoing.sh - which messages count as outgoing (auth macro,
# InternalHosts, daemon name), and Mode monitor's X-SESVerify header.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
ml_conf "CheckFrom envelope" "Outgoing auth,internal,daemon:ORIGINATING" \
	"InternalHosts 10.0.0.0/8, 2001:db8::/32"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

ml_msg "external client, no auth: accepted unchecked" ip=192.0.2.7 \
	from='<a@unverified.test>' expect_mail=accept
like "$(ml_log_since | grep 'not outgoing' | tail -n 1)" 'debug: .*client client\.test\[192\.0\.2\.7\] not outgoing' \
	"not-outgoing logged at debug"
ml_msg "external client with {auth_authen}: checked, rejected" ip=192.0.2.7 auth=alice \
	from='<a@unverified.test>' expect_mail=reply
like "$(ml_log_since | grep 'domain=unverified.test' | tail -n 1)" 'outgoing=auth=alice ' "why: auth=alice"
ml_msg "client in InternalHosts (10/8): checked, rejected" ip=10.1.2.3 \
	from='<a@unverified.test>' expect_mail=reply
like "$(ml_log_since | grep 'domain=unverified.test' | tail -n 1)" 'outgoing=internal=10\.1\.2\.3 ' "why: internal"
ml_msg "IPv6 client in InternalHosts: checked" ip=2001:db8::25 \
	from='<a@unverified.test>' expect_mail=reply
ml_msg "127.0.0.1 not in this InternalHosts: unchecked" ip=127.0.0.1 \
	from='<a@unverified.test>' expect_mail=accept
ml_msg "{daemon_name} ORIGINATING: checked" ip=192.0.2.7 daemon=ORIGINATING \
	from='<a@unverified.test>' expect_mail=reply
like "$(ml_log_since | grep 'domain=unverified.test' | tail -n 1)" 'outgoing=daemon=ORIGINATING ' "why: daemon"
ml_msg "{daemon_name} other: unchecked" ip=192.0.2.7 daemon=smtpd \
	from='<a@unverified.test>' expect_mail=accept
ml_msg "outgoing and verified: accepted" ip=192.0.2.7 auth=alice \
	from='<a@verified.test>' expect_mail=accept
ml_stop

# Mode monitor: never reject, add the verdict, log what would have happened.
ml_conf "CheckFrom envelope" "Mode monitor" "SkipDomains skipped.test"
: >"$ML_LOG"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
ml_msg "monitor: unverified accepted with X-SESVerify" from='<a@unverified.test>' \
	expect_mail=continue \
	expect_hdr='unverified; source=envelope; domain=unverified.test; would=reject'
like "$(ml_log_since | grep 'domain=unverified.test' | tail -n 1)" \
	'action=accept would=reject reply="550 5\.7\.1 unverified\.test: sender domain not verified' \
	"monitor: log says what enforce would have done"
ml_msg "monitor: verified gets a header too" from='<a@verified.test>' expect_mail=continue \
	expect_hdr='verified; source=envelope; domain=verified.test; would=accept'
ml_msg "monitor: not set up" from='<a@notexist.test>' expect_mail=continue \
	expect_hdr='not_exist; source=envelope; domain=notexist.test; would=reject'
ml_msg "SkipDomains: unchecked, no header" from='<a@skipped.test>' expect_mail=continue
like "$(ml_log_since | grep 'skipped.test' | tail -n 1)" 'debug: .*skipped\.test is in SkipDomains' \
	"SkipDomains logged at debug"
ml_stop
is "$ML_STATUS" 0 "stopped cleanly"
tap_done
