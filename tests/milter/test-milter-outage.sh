#!/bin/bash
# test-milter-outage.sh - the SES API goes away: a domain already in the cache
# keeps its answer (also past its TTL: served stale), a never-seen one gets ErrorAction (451 4.3.0 by default;
# accept when configured).  The identity list is unavailable from the start,
# so existence is only known from UpdateEmailIdentity answers.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
python3 - "$EMU_SCENARIO" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["list"] = {"error": "InternalError"}
json.dump(d, open(sys.argv[1], "w"))
PY
ml_conf "CheckFrom envelope" "UnknownWait 4s" "ApiTimeout 1s"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

ml_msg "API up: verified.test accepted" from='<a@verified.test>' expect_mail=accept
emu_stop
ml_msg "API down, verified.test in the cache: still accepted" \
	from='<a@verified.test>' expect_mail=accept
like "$(ml_log_since | grep 'domain=verified.test' | tail -n 1)" 'state=verified action=accept' \
	"served from the cache during the outage"
ml_msg "API down, cname.test never seen: tempfail" from='<a@cname.test>' expect_mail=reply
like "$(ml_log_since | grep 'domain=cname.test' | tail -n 1)" \
	'state=error action=tempfail reply="451 4\.3\.0 cname\.test: sender domain cannot be checked with Tencent Cloud SES now' \
	"no answer obtainable: 451 4.3.0"
ml_stop

# An answer past its TTL is served stale while the API is down (MaxStale).
emu_start "$ML_DIR" || { echo "Bail out! SES emulator did not restart"; exit 1; }
ml_conf "CheckFrom envelope" "VerifiedTTL 1s" "UnknownWait 4s" "ApiTimeout 1s"
: >"$ML_LOG"
rm -f "$ML_DIR/cache"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
ml_msg "VerifiedTTL 1s: verified.test accepted" from='<a@verified.test>' expect_mail=accept
emu_stop
sleep 2
ml_msg "API down, entry past VerifiedTTL: served stale, accepted" from='<a@verified.test>' \
	expect_mail=accept
like "$(ml_log_since | grep 'domain=verified.test' | tail -n 1)" 'state=verified action=accept .*\(verified \(stale answer\)\)' \
	"logged as a stale answer"
ml_stop

ml_conf "CheckFrom envelope" "UnknownWait 4s" "ApiTimeout 1s" "ErrorAction accept"
: >"$ML_LOG"
rm -f "$ML_DIR/cache"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
ml_msg "API down, ErrorAction accept: accepted" from='<a@upper.test>' expect_mail=accept
like "$(ml_log_since | grep 'domain=upper.test' | tail -n 1)" 'state=error action=accept .*ErrorAction accept' \
	"ErrorAction accept logged"
ml_stop
is "$ML_STATUS" 0 "stopped cleanly"
tap_done
