#!/bin/bash
# test-milter-idna.sh - look-alike sender domains: the domain checked is the
# one the MTA relays.  A fullwidth letter or an ideographic full stop is not
# folded into the verified ASCII name (UTS#46 would do that); such a domain,
# in MAIL FROM or From:, gets 550 5.7.1 "not in a form Tencent Cloud SES can
# verify".  An exact U-label is checked as its A-label.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
ml_conf "CheckFrom envelope,header"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

want='reply="550 5\.7\.1 envelope sender domain is not in a form Tencent Cloud SES can verify \(not an exact IDNA2008 name\)"'
ml_msg "MAIL FROM fullwidth v (U+FF56) in verified.test: rejected" \
	from='<a@ｖerified.test>' expect_mail=reply
like "$(grep 'from=envelope' "$ML_LOG" | tail -n 1)" "$want" "fullwidth v: 550 5.7.1, not in a form SES can verify"
ml_msg "MAIL FROM verified。test (U+3002 as the dot): rejected" \
	from='<a@verified。test>' expect_mail=reply
like "$(grep 'from=envelope' "$ML_LOG" | tail -n 1)" "$want" "ideographic full stop: 550 5.7.1, not in a form SES can verify"
ml_msg "MAIL FROM upper-case U-label BÜCHER.test: rejected" \
	from='<a@BÜCHER.test>' expect_mail=reply
like "$(grep 'from=envelope' "$ML_LOG" | tail -n 1)" "$want" "upper-case U-label: 550 5.7.1"
is "$(grep -c 'domain=verified\.test state=verified action=accept' "$ML_LOG")" 0 \
	"no look-alike was accepted as verified.test"

ml_msg "From: with a fullwidth v: rejected at end of headers" from='<a@verified.test>' \
	hfrom='Alice <alice@ｖerified.test>' expect_eoh=reply
like "$(grep 'from=header' "$ML_LOG" | tail -n 1)" \
	'reply="550 5\.7\.1 From: header sender domain is not in a form Tencent Cloud SES can verify \(not an exact IDNA2008 name\)"' \
	"From: look-alike: 550 5.7.1, not in a form SES can verify"
ml_msg "From: verified.test and verified。test: rejected" from='<a@verified.test>' \
	hfrom='a@verified.test, b@verified。test' expect_eoh=reply

ml_msg "exact U-label bücher.test: checked as xn--bcher-kva.test" from='<a@bücher.test>' expect_mail=reply
like "$(grep 'domain=xn--bcher-kva.test' "$ML_LOG" | tail -n 1)" 'state=not_exist action=reject' \
	"U-label looked up as its A-label"
ml_msg "ASCII letters of a U-label fold: Bücher.Test is xn--bcher-kva.test" from='<a@Bücher.Test>' \
	expect_mail=reply
is "$(grep -c 'domain=xn--bcher-kva.test state=not_exist' "$ML_LOG")" 2 "both U-label forms looked up as the A-label"
ml_msg "plain verified.test still accepted" from='<a@verified.test>' hfrom='a@verified.test' \
	expect_eoh=accept
ml_stop
is "$ML_STATUS" 0 "stopped cleanly"
tap_done
