#!/bin/bash
# tests/e2e/test-postfix.sh - sesverify-milter behind a real, private Postfix (TAP).
#
# Runs the shared scenarios of tests/e2e/scenarios.txt (see
# tests/e2e/README.md) against Postfix, plus what only Postfix has: the
# sendmail(1)/pickup path through non_smtpd_milters, and a queued local
# message while the milter is away (tempfail, nothing lost).
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

# Postfix's own parts of the scenarios (tests/e2e/scenarios.txt "hook" rows)

# pf_hook_local - the pickup path: sendmail(1) -> postdrop -> pickup ->
# cleanup -> non_smtpd_milters
pf_hook_local() {
	local i
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
}

# pf_hook_milter_down - a sendmail(1) message waits in the queue
pf_hook_milter_down() {
	printf 'Subject: pickup\nX-Test-Id: d2-%s\n\nhello\n' "$$" |
		pf_sendmail -f alice@verified.test x@dest.test
	sleep 2 # pickup has tried (and been tempfailed) at least once by now
	pf_wait_queue 1 5
	tap_ok $? "milter down: sendmail(1) message stays queued"
	! pf_sink_file "d2-$$" >/dev/null
	tap_ok $? "milter down: sendmail(1) message not delivered unfiltered"
}

# pf_hook_milter_back - the queued message goes out, filtered
pf_hook_milter_back() {
	pf_flush
	pf_wait_sink "d2-$$" 15
	tap_ok $? "milter back: the queued message is delivered"
	pf_wait_queue 0 5
	tap_ok $? "milter back: queue empty"
}

e2e_scenarios pf "$PF_PORT" "$T" "$MPORT"

# The test SecretKey never shows up in any log.
! grep -rqsF "$EMU_SECRET_KEY" "$T/milter.log" "$PF_LOG" "$PF_SINK"
tap_ok $? "SecretKey absent from milter log, Postfix log and delivered mail"

# Teardown leaves no process of this instance behind.
pf_stop
e2e_milter_stop
is "$(pf_instance_pids | wc -l)" 0 "no Postfix process of the instance left"

tap_done
