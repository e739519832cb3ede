#!/bin/bash
# test-milter-basic.sh - the real sesverify-milter against the SES emulator and
# test DNS: verified, unverified (record in the text), not set up, unknown that
# answers within UnknownWait, unknown past UnknownWait, two messages per session.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
# Without the identity list the engine must ask UpdateEmailIdentity for every
# never-seen domain, so a slow API answer is what the milter waits for.
python3 - "$EMU_SCENARIO" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["list"] = {"error": "InternalError"}
json.dump(d, open(sys.argv[1], "w"))
PY
emu_domain cname.test '{"state": "verified", "fault": "delay:2"}'
emu_domain upper.test '{"state": "verified", "fault": "delay:4"}'
ml_conf "CheckFrom envelope" "UnknownWait 3s" "Outgoing auth,internal"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

ml_msg "negotiation: no HELO/RCPT/DATA/body/unknown; headers kept for a reload that adds CheckFrom header" \
	steps=header from='<alice@verified.test>' expect_mail=accept
ml_msg "verified.test: accepted" from='<alice@verified.test>' expect_mail=accept
like "$(ml_log_since | grep 'domain=verified.test' | tail -n 1)" \
	'outgoing=internal=127\.0\.0\.1 from=envelope domain=verified\.test state=verified action=accept' \
	"decision log line: client, why outgoing, domain, state, action"

ml_msg "unverified.test: custom 5xx reply" from='<bob@unverified.test>' expect_mail=reply
line=$(ml_log_since | grep 'domain=unverified.test' | tail -n 1)
like "$line" 'reply="550 5\.7\.1 unverified\.test: sender domain not verified by Tencent Cloud SES: TXT qcloud\._domainkey\.unverified\.test missing \(expected "v=DKIM1; k=rsa; p=[^"]{10,}\.\.\."\)"' \
	"550 5.7.1 names the missing DKIM record and its expected value"
like "$line" 'request_id=[0-9a-f-]{36}' "log line carries the API RequestId"
like "$line" '^sesverify-milter\[[0-9]+\]: notice: [0-9A-F]{13}: qid=QID1 ' "own log id and queue id"

ml_msg "notexist.test: custom 5xx reply" from='<carol@notexist.test>' expect_mail=reply
like "$(ml_log_since | grep 'domain=notexist.test' | tail -n 1)" \
	'state=not_exist action=reject reply="550 5\.7\.1 notexist\.test: sender domain not set up in Tencent Cloud SES"' \
	"not set up: 550 5.7.1"

# The identity list is down, so nxdomain.test takes the NXDOMAIN short-cut: the
# reply, the log line and the cache entry name the real reason, not "not set up".
ml_msg "nxdomain.test (not in DNS): 550 5.7.1 naming NXDOMAIN" from='<n@nxdomain.test>' expect_mail=reply
line=$(grep 'domain=nxdomain.test' "$ML_LOG" | tail -n 1)
like "$line" 'state=not_exist action=reject reply="550 5\.7\.1 nxdomain\.test: sender domain does not exist in DNS \(NXDOMAIN\)"' \
	"NXDOMAIN: the reply names the real reason"
like "$line" '\(sender domain does not exist in DNS\)$' "NXDOMAIN: the log line names the real reason"
is "$(emu_count UpdateEmailIdentity nxdomain.test)" 0 "NXDOMAIN: no UpdateEmailIdentity"
out=$(ml_ctl $'show nxdomain.test\n')
like "$out" '^state: not_exist$' "cache show: NXDOMAIN is state not_exist"
like "$out" '^error: DNS\.NXDOMAIN$' "cache show: error DNS.NXDOMAIN names the reason"
like "$(ml_ctl $'show nxdomain.test json\n')" '"state":"not_exist".*"error":\{"code":"DNS\.NXDOMAIN","message":"domain does not exist in DNS \(NXDOMAIN\)"\}' \
	"cache show json: the error names NXDOMAIN"
like "$(ml_ctl $'show notexist.test json\n')" '"state":"not_exist".*"error":\{"code":"InvalidParameterValue\.NotExistDomain","message":"not set up in Tencent Cloud SES"\}' \
	"cache show json: an API not_exist says not set up"

start=$(date +%s.%N)
ml_msg "cname.test (API answers after 2 s): waits, then accepted" from='<d@cname.test>' expect_mail=accept
took=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
line=$(ml_log_since | grep 'domain=cname.test' | tail -n 1)
like "$line" 'state=verified action=accept .*waited=(1[5-9][0-9][0-9]|2[0-9][0-9][0-9])ms' \
	"waited about 2 s for the answer"
diag "cname.test took ${took}s"

ml_msg "upper.test (API answers after 4 s, UnknownWait 3s): tempfail" \
	from='<e@upper.test>' expect_mail=reply
like "$(ml_log_since | grep 'domain=upper.test' | tail -n 1)" \
	'state=unknown action=tempfail reply="451 4\.7\.1 upper\.test: .*waited=(29[0-9][0-9]|3[0-9][0-9][0-9])ms \(unknown after UnknownWait\)' \
	"unknown past UnknownWait: 451 4.7.1 after ~3 s"

ml_msg "two messages on one connection: accept, then reject" \
	from='<a@verified.test>' expect_mail=accept from2='<b@unverified.test>' expect_mail2=reply
ml_msg "null sender accepted unchecked" from='<>' expect_mail=accept
like "$(ml_log_since | grep 'null sender' | tail -n 1)" 'debug: .*null sender <>; accepted unchecked' \
	"null sender logged at debug"
ml_msg "IP-literal sender not checked" from='<x@[192.0.2.1]>' expect_mail=accept
ml_msg "UTF-8 domain converted (unknown IDN: not set up)" from='<x@bücher.test>' expect_mail=reply
like "$(ml_log_since | grep 'domain=xn--bcher-kva.test' | tail -n 1)" 'state=not_exist' "A-label looked up"

is "$(grep -c 'sesverify-test-secret-DO-NOT-LOG' "$ML_LOG")" 0 "SecretKey never logged"
ml_stop
is "$ML_STATUS" 0 "SIGTERM: exit status 0"
tap_done
