#!/bin/bash
# tests/e2e/test-sendmail.sh - sesverify-milter behind a real, private Sendmail (TAP).
#
# Owns the Sendmail end-to-end scenarios: Debian's sendmail-bin unpacked with
# dpkg -x (it conflicts with postfix), INPUT_MAIL_FILTER with F=T, relaying
# to smtp-sink.  Runs the scenarios of tests/e2e/scenarios.txt, the same
# list test-postfix.sh runs.
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

# the shared scenarios (tests/e2e/scenarios.txt); Sendmail has no hooks:
# with F=T a milter that is down makes it answer 4xx, the client retries
e2e_scenarios sm "$SM_PORT" "$T" "$MPORT"

! grep -rqsF "$EMU_SECRET_KEY" "$T/milter.log" "$SM_TRANSCRIPT" "$SM_SINK"
tap_ok $? "SecretKey absent from milter log, SMTP transcript and relayed mail"

sm_stop
e2e_milter_stop
is "$(sm_instance_pids | wc -l)" 0 "no Sendmail process of the instance left"

tap_done
