#!/bin/bash
# test-milter-list.sh - a well-formed identity list that drops a domain SES
# last called verified does not make it "not set up" on its own word (issue 12
# item 4): one UpdateEmailIdentity confirms first, before any 5xx.
#   - verified.test: listed with SendingEnabled in the list the milter fetched,
#     never looked up; a minute later the list lacks it and mail arrives;
#   - cname.test: cached verified from the first list, the new list lacks it.
# A never-seen domain refetches the list only when it is older than a
# minute: the milter runs under libfaketime, and its clocks (monotonic
# included) step 61 s ahead instead of the test sleeping a minute.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

command -v faketime >/dev/null || skip_all "faketime not installed (Debian package faketime)"
ml_setup
FT_FILE=$ML_DIR/faketime.rc
ml_faketime "$FT_FILE" || skip_all "libfaketime not installed (Debian package libfaketime)"
ml_conf "CheckFrom envelope" "WarmUp no"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

ml_msg "cname.test: verified from the identity list" from='<a@cname.test>' expect_mail=accept
ml_log_wait 'identity list: [0-9]+ sender domains' 10
tap_ok $? "the identity list was fetched"
is "$(emu_count UpdateEmailIdentity cname.test)" 0 "cname.test: no UpdateEmailIdentity (SendingEnabled)"

# SES still verifies both, but the list leaves them out
emu_domain verified.test '{"state": "verified", "unlisted": true}'
emu_domain cname.test '{"state": "verified", "unlisted": true}'
# the list ages by a minute: every clock of the milter steps 61 s ahead
# (the emulator's timestamp check allows 5 minutes of skew)
ml_clock_step "$FT_FILE" +61s
ml_msg "verified.test, dropped from the list it was enabled in: confirmed, accepted" \
	from='<a@verified.test>' expect_mail=accept
is "$(ml_log_count 'identity list: [0-9]+ sender domains')" 2 \
	"the list, a minute old for the milter, was fetched again for the never-seen verified.test"
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
