#!/bin/bash
# test-milter-list.sh - a well-formed identity list that drops a domain SES
# last called verified does not make it "not set up" on its own word (issue 12
# item 4): one UpdateEmailIdentity confirms first, before any 5xx.
#   - verified.test: listed with SendingEnabled in the list the milter fetched,
#     never looked up; a minute later the list lacks it and mail arrives;
#   - cname.test: cached verified from the first list, the new list lacks it.
# Takes a little over a minute: a never-seen domain refetches the list only
# when it is older than a minute.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
ml_conf "CheckFrom envelope" "WarmUp no"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

ml_msg "cname.test: verified from the identity list" from='<a@cname.test>' expect_mail=accept
ml_log_wait 'identity list: [0-9]+ sender domains' 10
tap_ok $? "the identity list was fetched"
is "$(emu_count UpdateEmailIdentity cname.test)" 0 "cname.test: no UpdateEmailIdentity (SendingEnabled)"

# SES still verifies both, but the list leaves them out
emu_domain verified.test '{"state": "verified", "unlisted": true}'
emu_domain cname.test '{"state": "verified", "unlisted": true}'
diag "waiting 62 s for the identity list to age"
sleep 62
ml_msg "verified.test, dropped from the list it was enabled in: confirmed, accepted" \
	from='<a@verified.test>' expect_mail=accept
like "$(grep 'domain=verified.test' "$ML_LOG" | tail -n 1)" 'state=verified action=accept' \
	"verified.test: verified, not not_exist"
is "$(emu_count UpdateEmailIdentity verified.test)" 1 "verified.test: one UpdateEmailIdentity confirmed it"
like "$(grep 'verified.test: absent from ListEmailIdentities' "$ML_LOG" | tail -n 1)" \
	'last listed as enabled; asking UpdateEmailIdentity' "the confirmation is logged"
for ((i = 0; i < 100; i++)); do
	[ "$(emu_count UpdateEmailIdentity cname.test)" -ge 1 ] && break
	sleep 0.1
done
is "$(emu_count UpdateEmailIdentity cname.test)" 1 "cname.test (cached verified): one UpdateEmailIdentity confirmed it"
ml_msg "cname.test: still accepted" from='<a@cname.test>' expect_mail=accept
is "$(grep -c 'action=reject' "$ML_LOG")" 0 "no 5xx for either domain"
ml_stop
is "$ML_STATUS" 0 "SIGTERM: exit status 0"
tap_done
