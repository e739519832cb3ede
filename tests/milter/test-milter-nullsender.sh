#!/bin/bash
# test-milter-nullsender.sh - the null sender MAIL FROM:<> (bounces,
# auto-replies): its envelope is never checked, but with CheckFrom header its
# From: domain(s) are checked at end of headers like any other message's.
# With CheckFrom envelope only, <> is accepted at MAIL FROM.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
ml_conf "CheckFrom envelope,header"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

ml_msg "CheckFrom envelope,header: <> goes on to the headers" from='<>' \
	expect_mail=continue hfrom='MAILER-DAEMON <postmaster@unverified.test>' expect_eoh=reply
like "$(grep 'domain=unverified.test' "$ML_LOG" | tail -n 1)" \
	'from=header domain=unverified\.test state=unverified action=reject reply="550 5\.7\.1 unverified\.test: ' \
	"<> with From: unverified.test: 550 5.7.1 naming the From: domain"
ml_msg "<> with From: verified.test: accepted at end of headers" from='<>' \
	expect_mail=continue hfrom='Mail Delivery System <mailer-daemon@verified.test>' expect_eoh=accept
like "$(grep 'domain=verified.test' "$ML_LOG" | tail -n 1)" \
	'from=header domain=verified\.test state=verified action=accept' "<> with From: verified.test: header decision logged"
ml_msg "<> with From: not set up in SES: rejected" from='<>' \
	expect_mail=continue hfrom='auto-reply@notexist.test' expect_eoh=reply
ml_msg "<> without a From: header: rejected as a message defect" from='<>' \
	expect_mail=continue nofrom=1 expect_eoh=reply
is "$(grep -c 'from=envelope domain=- ' "$ML_LOG")" 0 "the envelope <> itself is never looked up"
ml_stop

ml_conf "CheckFrom header"
: >"$ML_LOG"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
ml_msg "CheckFrom header: <> with From: unverified.test rejected" from='<>' \
	expect_mail=continue hfrom='x@unverified.test' expect_eoh=reply
ml_stop

ml_conf "CheckFrom envelope"
: >"$ML_LOG"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
ml_msg "CheckFrom envelope: <> accepted at MAIL FROM" from='<>' expect_mail=accept
like "$(grep 'null sender' "$ML_LOG" | tail -n 1)" 'debug: .*null sender <>; accepted unchecked' \
	"CheckFrom envelope: <> logged as accepted unchecked"
ml_stop
is "$ML_STATUS" 0 "stopped cleanly"
tap_done
