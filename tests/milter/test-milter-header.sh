#!/bin/bash
# test-milter-header.sh - From: header domains decided at end of headers:
# display names, groups, several addresses, encoded words, missing and
# duplicate From:, RSET between two messages.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
ml_conf "CheckFrom envelope,header"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

ml_msg "negotiation: headers and EOH kept for CheckFrom header" steps=header \
	from='<a@verified.test>' hfrom='a@verified.test' expect_eoh=accept
ml_msg "verified envelope and From: accepted at EOH" from='<a@verified.test>' \
	hfrom='"Alice, Sales" <alice@verified.test>' expect_eoh=accept
ml_msg "From: unverified while envelope verified: rejected at EOH" from='<a@verified.test>' \
	hfrom='Bob <bob@unverified.test>' expect_eoh=reply
like "$(ml_log_since | grep 'domain=unverified.test' | tail -n 1)" \
	'from=header domain=unverified\.test state=unverified action=reject reply="550 5\.7\.1 ' \
	"header decision logged with from=header"
ml_msg "encoded display name, comment: accepted" from='<a@verified.test>' \
	hfrom='=?UTF-8?B?5byg5LiJ?= <zhang@verified.test> (sales)' expect_eoh=accept
ml_msg "two addresses, one not set up: rejected" from='<a@verified.test>' \
	hfrom='a@verified.test, c@notexist.test' expect_eoh=reply
ml_msg "group syntax with a verified member: accepted" from='<a@verified.test>' \
	hfrom='Team: a@verified.test, b@verified.test;' expect_eoh=accept
ml_msg "missing From: rejected 550 5.7.1" from='<a@verified.test>' nofrom=1 expect_eoh=reply
like "$(ml_log_since | grep 'missing_from\|no From: header' | tail -n 1)" \
	'reply="550 5\.7\.1 message has no From: header' "missing From: reply"
ml_msg "duplicate From: rejected" from='<a@verified.test>' hfrom='a@verified.test' \
	hfrom2='b@verified.test' expect_eoh=reply
like "$(ml_log_since | grep 'more than one From' | tail -n 1)" 'reply="550 5\.7\.1 message has more than one From: header' \
	"duplicate From: reply"
ml_msg "From: without a domain: rejected" from='<a@verified.test>' hfrom='postmaster' expect_eoh=reply
ml_msg "RSET, then a second message on the same connection" from='<a@verified.test>' \
	hfrom='a@verified.test' rset=1 from2='<b@unverified.test>' expect_mail2=reply
ml_msg "unverified envelope rejected before headers" from='<b@unverified.test>' expect_mail=reply
ml_stop

ml_conf "CheckFrom header"
: >"$ML_LOG"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
ml_msg "CheckFrom header only: envelope ignored, From: checked" from='<b@unverified.test>' \
	hfrom='a@verified.test' expect_eoh=accept
ml_msg "CheckFrom header only: unverified From: rejected" from='<b@verified.test>' \
	hfrom='x@unverified.test' expect_eoh=reply
ml_stop
is "$ML_STATUS" 0 "stopped cleanly"
tap_done
