#!/bin/bash
# tests/e2e/test-sendmail.sh - sesverify-milter behind a real, private Sendmail (TAP).
#
# Owns the Sendmail end-to-end scenarios: Debian's sendmail-bin unpacked with
# dpkg -x (it conflicts with postfix), INPUT_MAIL_FILTER with F=T, relaying
# to smtp-sink.  The same core cases as the Postfix test: verified,
# unverified, unknown-then-verified, header From, milter down.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/e2e/e2e-lib.sh"
. "$top_srcdir/tests/e2e/sendmail-lib.sh"

why=$(sm_available) || skip_all "$why"
command -v swaks >/dev/null || skip_all "swaks missing (apt-get install swaks)"
[ -x "$E2E_MILTER" ] || skip_all "sesverify-milter not built"
[ -f "$top_srcdir/tests/dns/dns-lib.sh" ] || skip_all "tests/dns/dns-lib.sh not available"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/dns/dns-lib.sh"

T=$(mktmp)
sm_fetch_deb >"$T/fetch.out" 2>&1 || {
	sed 's/^/# /' "$T/fetch.out"
	skip_all "cannot download sendmail-bin (apt-get download failed)"
}
e2e_stack_up "$T"
MPORT=$E2E_PORT

t0=$(date +%s%N)
if ! sm_up "$T/sm" "inet:$MPORT@127.0.0.1"; then
	not_ok "private Sendmail listens"
	tap_done
fi
ok "private Sendmail listens on 127.0.0.1:$SM_PORT ($(e2e_ms_since "$t0") ms, unpacking included)"
grep -q "^Xsesverify, S=inet:$MPORT@127.0.0.1, F=T" "$SM_ETC/sendmail.cf"
tap_ok $? "sendmail.cf has the milter with F=T (from INPUT_MAIL_FILTER)"

# 1. verified sender
out=$(e2e_swaks "$SM_PORT" alice@verified.test v1-$$)
like "$(e2e_reply_to EOD "$out")" '^250 2\.0\.0 ' "verified.test: 250 at end of data"
sm_wait_sink "v1-$$" 10
tap_ok $? "verified.test: message relayed to the sink"

# 2. unverified sender
out=$(e2e_swaks "$SM_PORT" bob@unverified.test u1-$$)
r=$(e2e_reply_to "MAIL FROM" "$out")
like "$r" '^550 5\.7\.1 ' "unverified.test: 550 5.7.1 in reply to MAIL FROM"
like "$r" 'qcloud\._domainkey\.unverified\.test' "unverified.test: reply names the missing DKIM record"
diag "reply: $r"

# 3. never-seen domain, verified within UnknownWait
t0=$(date +%s%N)
out=$(e2e_swaks "$SM_PORT" carol@later.test k1-$$)
ms=$(e2e_ms_since "$t0")
like "$(e2e_reply_to "MAIL FROM" "$out")" '^250 ' "unknown later.test: MAIL FROM accepted after the lookup"
[ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ]
tap_ok $? "unknown later.test: held for the 1 s API answer, within UnknownWait ($ms ms)"
sm_wait_sink "k1-$$" 10
tap_ok $? "unknown later.test: message relayed to the sink"
n=$(emu_count UpdateEmailIdentity later.test)
[ "$n" -ge 1 ]
tap_ok $? "unknown later.test: the milter asked SES (UpdateEmailIdentity x$n)"

# 4. header From in an unverified domain
out=$(e2e_swaks "$SM_PORT" alice@verified.test h1-$$ --header 'From: Bob <bob@unverified.test>')
like "$(e2e_reply_to EOD "$out")" '^550 5\.7\.1 .*unverified\.test' \
	"header From unverified.test: 550 5.7.1 at end of data"

sm_wait_queue 0 5
tap_ok $? "nothing queued after the rejects"
! sm_sink_file "u1-$$" >/dev/null && ! sm_sink_file "h1-$$" >/dev/null
tap_ok $? "rejected messages never reached the sink"

# 5. milter stopped: F=T makes Sendmail answer 4xx, the client keeps the mail
e2e_milter_stop
out=$(e2e_swaks "$SM_PORT" alice@verified.test d1-$$)
like "$(e2e_reply_to "MAIL FROM" "$out")" '^4[0-9][0-9] 4\.' "milter down: 4xx at MAIL FROM (F=T)"
! sm_sink_file "d1-$$" >/dev/null
tap_ok $? "milter down: nothing passed unfiltered"
e2e_milter_start "$T" "$MPORT"
tap_ok $? "milter restarted"
out=$(e2e_swaks "$SM_PORT" alice@verified.test d1-$$)
like "$(e2e_reply_to EOD "$out")" '^250 ' "milter back: the retried message is accepted"
sm_wait_sink "d1-$$" 10
tap_ok $? "milter back: the retried message is relayed"

! grep -rqsF "$EMU_SECRET_KEY" "$T/milter.log" "$SM_TRANSCRIPT" "$SM_SINK"
tap_ok $? "SecretKey absent from milter log, SMTP transcript and relayed mail"

sm_stop
e2e_milter_stop
is "$(sm_instance_pids | wc -l)" 0 "no Sendmail process of the instance left"

tap_done
