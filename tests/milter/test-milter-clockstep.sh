#!/bin/bash
# test-milter-clockstep.sh - a step of the wall clock (+8 h, then -8 h twice)
# under a running milter changes no decision and stops no timer (issue 12
# item 6): TTLs, list freshness and the periodic list refresh run on the
# monotonic clock.
#
# libfaketime steps the wall clock of the milter process only (its
# FAKETIME_TIMESTAMP_FILE is re-read on every call; CLOCK_MONOTONIC is not
# faked).  The emulator's timestamp check gets the same offset
# (global.clock_skew), as if the whole machine's clock had stepped; its
# certificate is valid from a day back so that -8 h still verifies.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

command -v faketime >/dev/null || skip_all "faketime not installed"

ml_setup
# a certificate valid from yesterday instead of emu_start's (valid from now)
emu_stop
faketime -f -1d openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$ML_DIR/emu-key.pem" -out "$ML_DIR/emu-cert.pem" -days 3 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 ||
	skip_all "faketime cannot run openssl here"
emu_start "$ML_DIR" || { echo "Bail out! SES emulator did not restart"; exit 1; }

# the milter with a steppable wall clock (its monotonic clock stays real)
FT_FILE=$ML_DIR/faketime.rc
ml_faketime "$FT_FILE" wall || skip_all "libfaketime not installed (Debian package libfaketime)"

# step OFFSET SECONDS - the milter's wall clock and the emulator's timestamp check
step() {
	python3 - "$EMU_SCENARIO" "$2" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
d.setdefault("global", {})["clock_skew"] = int(sys.argv[2])
json.dump(d, open(sys.argv[1] + ".new", "w"))
os.replace(sys.argv[1] + ".new", sys.argv[1])
PY
	ml_clock_step "$FT_FILE" "$1"
	diag "wall clock of the milter stepped to $1"
}

updates() { emu_count UpdateEmailIdentity "$1"; }
lists() { emu_count ListEmailIdentities; }
decision() { grep "domain=$1" "$ML_LOG" | tail -n 1; }
# quiet_msg FROM - one message, no TAP point; status 0 when accepted
quiet_msg() { miltertest -s "$ML_LUA" -D "socket=unix:$ML_SOCK" -D "from=$1" -D expect_mail=accept >/dev/null 2>&1; }

# ListInterval 30s instead of the default 5m: the periodic list refresh
# checked after the -8 h step comes within a minute, not five
LIST_EVERY=30
ml_conf "CheckFrom envelope" "VerifiedTTL 20s" "UnverifiedTTL 20s" "UnknownWait 5s" "ApiTimeout 3s" \
	"ListInterval ${LIST_EVERY}s"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
ml_log_wait 'identity list: [0-9]+ sender domains' 10 || diag "no warm-up list line"

ml_msg "+0: verified.test accepted" from='<a@verified.test>' expect_mail=accept
ml_msg "+0: unverified.test rejected" from='<a@unverified.test>' expect_mail=reply
like "$(decision unverified.test)" 'state=unverified action=reject' "+0: unverified.test rejected as unverified"
# verified.test came from the list without attributes: its first refresh
# after VerifiedTTL is an API call; until then none
v0=$(updates verified.test) u0=$(updates unverified.test)

# --- +8 h: nothing expires early
step +8h 28800
sleep 1.5
ml_msg "+8h: verified.test still accepted" from='<a@verified.test>' expect_mail=accept
ml_msg "+8h: unverified.test still rejected" from='<a@unverified.test>' expect_mail=reply
like "$(decision verified.test)" 'state=verified action=accept' "+8h: verified.test answered verified"
like "$(decision unverified.test)" 'state=unverified action=reject' "+8h: unverified.test answered unverified"
sleep 1
is "$(updates verified.test)/$(updates unverified.test)" "$v0/$u0" \
	"+8h: no API call: the answers did not expire early"
stale=$(grep -E 'domain=(un)?verified\.test' "$ML_LOG" | grep -c 'stale answer')
is "$stale" 0 "+8h: no answer was served as stale (nothing looked expired)"

# --- back to +0 (a -8 h step): nothing lives forever
step +0 0
sleep 1.5
v1=$(updates verified.test)
ml_msg "-8h step: verified.test still accepted" from='<a@verified.test>' expect_mail=accept
ml_msg "-8h step: unverified.test still rejected" from='<a@unverified.test>' expect_mail=reply
# the refresh comes within VerifiedTTL (20 s) of the last answer: keep looking up
refreshed=
for ((i = 0; i < 60; i++)); do
	quiet_msg '<a@verified.test>' || diag "lookup $i of verified.test not accepted"
	if [ "$(updates verified.test)" -gt "$v1" ]; then refreshed=$i; break; fi
	sleep 1
done
[ -n "$refreshed" ]
tap_ok $? "-8h step: verified.test refreshed within VerifiedTTL of its answer (API call after ${refreshed:-60+} s more)"
like "$(decision verified.test)" 'state=verified action=accept' "-8h step: verified.test still verified after its refresh"

# --- -8 h: decisions still hold, and the periodic list refresh (every
# ListInterval of the monotonic clock) still happens
step -8h -28800
T8=$(date +%s)
sleep 1.5
lists1=$(lists)
ml_msg "-8h: verified.test accepted" from='<a@verified.test>' expect_mail=accept
ml_msg "-8h: unverified.test rejected" from='<a@unverified.test>' expect_mail=reply
like "$(decision unverified.test)" 'state=unverified action=reject' "-8h: unverified.test answered unverified"
# within one ListInterval of the previous list, which came before the step:
# two intervals and some slack after the step at the latest
listed=
while [ $(($(date +%s) - T8)) -lt $((2 * LIST_EVERY + 15)) ]; do
	if [ "$(lists)" -gt "$lists1" ]; then listed=$(($(date +%s) - T8)); break; fi
	sleep 0.5
done
[ -n "$listed" ]
tap_ok $? "-8h: the periodic identity list refresh still happened (${listed:-no list in $((2 * LIST_EVERY + 15))} s after the step)"
ml_msg "-8h, after the list refresh: verified.test accepted" from='<a@verified.test>' expect_mail=accept
ml_msg "-8h, after the list refresh: unverified.test rejected" from='<a@unverified.test>' expect_mail=reply
is "$(emu_count_code AuthFailure.SignatureExpire)" 0 "the emulator never saw a timestamp off its (equally stepped) clock"

ml_stop
is "$ML_STATUS" 0 "stopped cleanly"
tap_done
