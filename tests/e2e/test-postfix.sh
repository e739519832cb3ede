#!/bin/bash
# tests/e2e/test-postfix.sh - sesverify-milter behind a real, private Postfix (TAP).
#
# Owns the Postfix end-to-end scenarios (see tests/e2e/README.md): a verified,
# an unverified and a never-seen sender over SMTP, a header From in an
# unverified domain, a null sender whose From: is checked, the
# sendmail(1)/pickup path through non_smtpd_milters, and the milter going
# away and coming back (tempfail, nothing lost).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/e2e/e2e-lib.sh"
. "$top_srcdir/tests/e2e/postfix-lib.sh"

why=$(pf_available) || skip_all "$why"
command -v swaks >/dev/null || skip_all "swaks missing (apt-get install swaks)"
[ -x "$E2E_MILTER" ] || skip_all "sesverify-milter not built"
[ -f "$top_srcdir/tests/dns/dns-lib.sh" ] || skip_all "tests/dns/dns-lib.sh not available"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/dns/dns-lib.sh"

T=$(mktmp)
e2e_stack_up "$T"
MPORT=$E2E_PORT

t0=$(date +%s%N)
if ! pf_up "$T/pf" "inet:127.0.0.1:$MPORT"; then
	not_ok "private Postfix listens"
	tap_done
fi
ok "private Postfix listens on 127.0.0.1:$PF_PORT ($(e2e_ms_since "$t0") ms)"

# 1. verified sender over SMTP: accepted and relayed to the sink
out=$(e2e_swaks "$PF_PORT" alice@verified.test v1-$$)
like "$(e2e_reply_to EOD "$out")" '^250 ' "verified.test: 250 at end of data"
pf_wait_sink "v1-$$" 10
tap_ok $? "verified.test: message delivered to the sink"

# 2. unverified sender: 550 5.7.1 at MAIL FROM naming the missing record
out=$(e2e_swaks "$PF_PORT" bob@unverified.test u1-$$)
r=$(e2e_reply_to "MAIL FROM" "$out")
like "$r" '^550 5\.7\.1 ' "unverified.test: 550 5.7.1 in reply to MAIL FROM"
like "$r" 'unverified\.test' "unverified.test: reply names the domain"
like "$r" 'qcloud\._domainkey\.unverified\.test' "unverified.test: reply names the missing DKIM record"
diag "reply: $r"

# 3. never-seen (unknown) domain verified within UnknownWait
t0=$(date +%s%N)
out=$(e2e_swaks "$PF_PORT" carol@later.test k1-$$)
ms=$(e2e_ms_since "$t0")
r=$(e2e_reply_to "MAIL FROM" "$out")
like "$r" '^250 ' "unknown later.test: MAIL FROM accepted after the lookup"
[ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ]
tap_ok $? "unknown later.test: MAIL FROM held for the 1 s API answer, within UnknownWait ($ms ms)"
pf_wait_sink "k1-$$" 10
tap_ok $? "unknown later.test: message delivered to the sink"
n=$(emu_count UpdateEmailIdentity later.test)
[ "$n" -ge 1 ]
tap_ok $? "unknown later.test: the milter asked SES (UpdateEmailIdentity x$n)"

# 4. verified envelope, header From in an unverified domain: rejected
out=$(e2e_swaks "$PF_PORT" alice@verified.test h1-$$ --header 'From: Bob <bob@unverified.test>')
r=$(e2e_reply_to EOD "$out")
like "$r" '^550 5\.7\.1 .*unverified\.test' "header From unverified.test: 550 5.7.1 at end of data"

# 4b. null sender (a bounce): the envelope <> is unchecked, its From: is not
out=$(e2e_swaks "$PF_PORT" '<>' n1-$$ --header 'From: Mail Delivery System <mailer-daemon@unverified.test>')
like "$(e2e_reply_to "MAIL FROM" "$out")" '^250 ' "null sender: MAIL FROM:<> accepted (envelope unchecked)"
like "$(e2e_reply_to EOD "$out")" '^550 5\.7\.1 .*unverified\.test' \
	"null sender, From: unverified.test: 550 5.7.1 at end of data"
out=$(e2e_swaks "$PF_PORT" '<>' n2-$$ --header 'From: Mail Delivery System <mailer-daemon@verified.test>')
like "$(e2e_reply_to EOD "$out")" '^250 ' "null sender, From: verified.test: 250 at end of data"
pf_wait_sink "n2-$$" 10
tap_ok $? "null sender, From: verified.test: message delivered to the sink"

# Nothing of the rejected messages was queued or delivered.
pf_wait_queue 0 5
tap_ok $? "nothing queued after the rejects"
! pf_sink_file "u1-$$" >/dev/null && ! pf_sink_file "h1-$$" >/dev/null && ! pf_sink_file "n1-$$" >/dev/null
tap_ok $? "rejected messages never reached the sink"

# 5. pickup path (sendmail(1) -> postdrop -> pickup -> cleanup -> non_smtpd_milters)
printf 'Subject: pickup\nX-Test-Id: p1-%s\n\nhello\n' "$$" |
	pf_sendmail -f alice@verified.test x@dest.test
pf_wait_sink "p1-$$" 10
tap_ok $? "sendmail(1) from verified.test: delivered via non_smtpd_milters"
printf 'Subject: pickup\nX-Test-Id: p2-%s\n\nhello\n' "$$" |
	pf_sendmail -f bob@unverified.test x@dest.test
for ((i = 0; i < 50; i++)); do
	grep -q 'cleanup.*milter-reject: .*from=<bob@unverified.test>' "$PF_LOG" 2>/dev/null && break
	sleep 0.1
done
like "$(grep 'cleanup.*milter-reject' "$PF_LOG")" '5\.7\.1 .*unverified\.test' \
	"sendmail(1) from unverified.test: cleanup milter-reject 5.7.1"
pf_wait_queue 0 10
! pf_sink_file "p2-$$" >/dev/null
tap_ok $? "sendmail(1) from unverified.test: never delivered to the recipient"

# 6. milter stopped: 4xx (milter_default_action = tempfail), nothing lost
e2e_milter_stop
out=$(e2e_swaks "$PF_PORT" alice@verified.test d1-$$)
like "$(e2e_reply_to "MAIL FROM" "$out")" '^4[0-9][0-9] ' "milter down: SMTP client gets 4xx (it keeps the message)"
printf 'Subject: pickup\nX-Test-Id: d2-%s\n\nhello\n' "$$" |
	pf_sendmail -f alice@verified.test x@dest.test
sleep 2 # pickup has tried (and been tempfailed) at least once by now
pf_wait_queue 1 5
tap_ok $? "milter down: sendmail(1) message stays queued"
! pf_sink_file "d2-$$" >/dev/null
tap_ok $? "milter down: nothing delivered unfiltered"
e2e_milter_start "$T" "$MPORT"
tap_ok $? "milter restarted"
pf_flush
pf_wait_sink "d2-$$" 15
tap_ok $? "milter back: the queued message is delivered"
pf_wait_queue 0 5
tap_ok $? "milter back: queue empty"
out=$(e2e_swaks "$PF_PORT" alice@verified.test d3-$$)
like "$(e2e_reply_to EOD "$out")" '^250 ' "milter back: SMTP accepted again"

# The test SecretKey never shows up in any log.
! grep -rqsF "$EMU_SECRET_KEY" "$T/milter.log" "$PF_LOG" "$PF_SINK"
tap_ok $? "SecretKey absent from milter log, Postfix log and delivered mail"

# Teardown leaves no process of this instance behind.
pf_stop
e2e_milter_stop
is "$(pf_instance_pids | wc -l)" 0 "no Postfix process of the instance left"

tap_done
