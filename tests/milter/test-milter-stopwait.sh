#!/bin/bash
# test-milter-stopwait.sh - SIGTERM while a message waits for an unknown
# domain (issue 12 item 13): the waiting client gets 451 at once, not after
# UnknownWait, and the worker frees the engine only after the waiter left
# (the ASan build of this test catches a use after free; ml_stop fails on
# any sanitizer report in the log).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
# the API hangs: the list and every UpdateEmailIdentity answer after 40 s
python3 - "$EMU_SCENARIO" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
d["list"] = {"fault": "delay:40"}
d["domains"]["hang.test"] = {"state": "verified", "fault": "delay:40"}
json.dump(d, open(sys.argv[1] + ".new", "w"))
os.replace(sys.argv[1] + ".new", sys.argv[1])
PY
ml_conf "CheckFrom envelope" "WarmUp no" "UnknownWait 60s" "ApiTimeout 50s"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

out=$ML_DIR/mt.out
t0=$(date +%s.%N)
miltertest -s "$ML_LUA" -D "socket=unix:$ML_SOCK" -D 'from=<a@hang.test>' -D expect_mail=reply \
	>"$out" 2>&1 &
mt=$!
# the message is waiting once the milter has queued hang.test
for ((i = 0; i < 100; i++)); do
	[ "$(emu_count '*')" -gt 0 ] && break
	sleep 0.1
done
sleep 1
kill -0 "$mt" 2>/dev/null
tap_ok $? "the message waits (UnknownWait 60s, the API hangs)"
t1=$(date +%s.%N)
kill -TERM "$ML_PID"
for ((i = 0; i < 300; i++)); do
	kill -0 "$mt" 2>/dev/null || break
	sleep 0.1
done
wait "$mt"
rc=$?
t2=$(date +%s.%N)
took=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }')
is "$rc" 0 "the waiting client got a reply code, not a dropped connection"
sed 's/^/#   /' "$out" | tail -n 5
like "$(grep 'domain=hang.test' "$ML_LOG" | tail -n 1)" 'action=tempfail reply="451 4\.7\.1' \
	"its reply is 451 4.7.1 (tempfail)"
awk -v t="$took" 'BEGIN { exit !(t < 5) }'
tap_ok $? "answered ${took} s after SIGTERM (< 5 s; UnknownWait is 60 s)"

ml_stop
is "$ML_STATUS" 0 "the milter exited cleanly"
like "$(cat "$ML_LOG")" 'cache engine stopped' "the engine was stopped and freed"
if grep -q 'callback(s) still running' "$ML_LOG"; then
	not_ok "no callback was still running when the engine was freed"
else
	ok "no callback was still running when the engine was freed"
fi
diag "total $(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.2f", b - a }') s"
tap_done
