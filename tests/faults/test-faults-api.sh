#!/bin/bash
# test-faults-api.sh - the SES API fails in every way we know of while the
# milter runs.  For each fault: a never-seen domain (listed in the account
# as not yet verified) gets ErrorAction (451 4.3.0) or UnknownAction
# (451 4.7.1) - never an accept; verified.test, already cached and past
# VerifiedTTL, is still accepted (served stale); unverified.test is still
# refused; the milter keeps answering; and the failure is not logged in a
# loop.  Faults: connection refused, a hang past ApiTimeout, HTTP 500 and
# 502, garbage, truncated and short JSON, a connection reset, a
# RequestLimitExceeded storm, AuthFailure.SignatureExpire (the emulator's
# clock 15 minutes ahead), a TLS certificate for another name and one from
# an untrusted issuer.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/faults/faults-lib.sh"

ml_setup
# A second certificate, for the name wrong.invalid: the milter's CAFile
# trusts it too, so that the mismatch case fails on the name alone.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$ML_DIR/emu-key-wrong.invalid.pem" -out "$ML_DIR/emu-cert-wrong.invalid.pem" -days 2 \
	-subj "/CN=wrong.invalid" -addext "subjectAltName=DNS:wrong.invalid" >/dev/null 2>&1
cat "$EMU_CA" "$ML_DIR/emu-cert-wrong.invalid.pem" >"$ML_DIR/ca-bundle.pem"
sed -i "s|^CAFile .*|CAFile $ML_DIR/ca-bundle.pem|" "$EMU_CONF"

faults="refused hang http500 http502 garbage truncated short reset ratelimit skew tlsname tlsca"
doms=()
for f in $faults; do doms+=("f-$f.hostile.test"); done
# Under hostile.test (the fault DNS server answers their SOA: they exist).
# The identity list is unavailable throughout (else the warm-up would learn
# every listed domain at start, and an unlisted one is not_exist without an
# API call), so only an UpdateEmailIdentity answer can decide, and the
# right one would be "unverified".
fl_domains '{"state": "unverified", "attributes": [{"Type": "TXT", "SendDomain": "x.invalid", "ExpectedValue": "v=spf1 -all"}]}' "${doms[@]}"
fl_domains '{"state": "verified"}' spfwrong.test
python3 - "$EMU_SCENARIO" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["list"] = {"error": "InternalError"}
json.dump(d, open(sys.argv[1], "w"))
PY
ml_conf "CheckFrom envelope" "UnknownWait 3s" "ApiTimeout 1s" "VerifiedTTL 1s" "UnverifiedTTL 1s" \
	"ErrorTTL 1m" "DnsTimeout 300ms"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

ml_msg "API up: verified.test accepted" from='<a@verified.test>' expect_mail=accept
ml_msg "API up: spfwrong.test (SES: verified) accepted" from='<a@spfwrong.test>' expect_mail=accept
ml_msg "API up: unverified.test refused" from='<a@unverified.test>' expect_mail=reply
like "$(fl_decision unverified.test)" 'reply="550 5\.7\.1' "unverified.test: 550 5.7.1"

# emu_restart [CERTNAME] - the emulator again on the same port
emu_restart() {
	emu_stop
	EMU_CERT_NAME=${1:-} EMU_PORT_WANT=$EMU_PORT emu_start "$ML_DIR" "$EMU_SCENARIO" ||
		echo "Bail out! the emulator did not restart"
}

# fault_on F / fault_off F - inject and lift one fault
fault_on() {
	case $1 in
	refused) emu_stop ;;
	hang) fl_global delay:4 ;;
	skew) fl_global_json '{"clock_skew": 900}' ;;
	tlsname) emu_restart wrong.invalid ;;
	tlsca) emu_restart localhost ;; # right name, but not in CAFile
	*) fl_global "$1" ;;
	esac
}
fault_off() {
	case $1 in
	refused | tlsname | tlsca) emu_restart ;;
	*) fl_global none ;;
	esac
}

declare -A cause=(
	[refused]=Transport.ConnectFailed [hang]=Transport.Timeout [http500]=Transport.HTTP500
	[http502]=Transport.HTTP502 [garbage]=Parse.InvalidResponse [truncated]=Parse.InvalidResponse
	[short]=Transport.Connection [reset]='Transport\.[A-Za-z]+' [ratelimit]=RequestLimitExceeded
	[skew]=AuthFailure.SignatureExpire [tlsname]='Transport.TLS.*name' [tlsca]=Transport.TLS
)
# From here on the three are past their TTL.  verified.test may be extended
# by the pre-check (its DNS is right); spfwrong.test, which SES says is
# verified although its SPF record is wrong, cannot be: it is looked up
# only while a fault is on, so every refresh fails and it stays stale.
sleep 1.1
for f in $faults; do
	fault_on "$f"
	# A refresh may have succeeded between the previous fault_off and this
	# fault_on (a slow machine widens that gap): let any such answer pass
	# its 1 s VerifiedTTL again, now that every refresh fails.
	sleep 1.1
	d=f-$f.hostile.test
	ml_msg "$f: never-seen $d is deferred, not accepted" from="<a@$d>" expect_mail=reply
	like "$(fl_decision "$d")" 'action=tempfail reply="451 4\.(3\.0|7\.1) ' \
		"$f: $d gets ErrorAction or UnknownAction: $(fl_decision "$d" | grep -o 'state=[a-z_]* action=[a-z]* reply="[0-9. ]*')"
	ml_msg "$f: verified.test (past VerifiedTTL) still accepted" from='<a@verified.test>' \
		expect_mail=accept
	ml_msg "$f: spfwrong.test (SES: verified; past VerifiedTTL) still accepted" \
		from='<a@spfwrong.test>' expect_mail=accept
	like "$(fl_decision spfwrong.test)" 'state=verified action=accept .*\(verified \(stale answer\)\)' \
		"$f: spfwrong.test served as a stale answer"
	ml_msg "$f: unverified.test still refused" from='<a@unverified.test>' expect_mail=reply
	like "$(fl_decision unverified.test)" 'reply="550 5\.7\.1' "$f: unverified.test: 550 5.7.1"
	like "$(grep -F "api: UpdateEmailIdentity $d:" "$ML_LOG" | head -n 1)" "${cause[$f]}" \
		"$f: the failure is logged with its cause (${cause[$f]})"
	fault_off "$f"
done

# Storms: many messages for a few failing domains.  Every message is
# deferred, the API is not hammered (ErrorTTL with backoff), the log does
# not grow per message, and a configuration error says "fix the
# configuration" once a minute only.
lg=$top_builddir/tests/bench/loadgen
storm() { # NAME FAULT - 40 messages over two domains; sets OUT
	local name=$1
	fault_on "$2"
	"$lg" -s "unix:$ML_SOCK" -c 4 -m 10 -S 3 -T 15 -n "$name" \
		-d "s1-$name.hostile.test:1,s2-$name.hostile.test:1" >"$ML_DIR/$name.out" 2>&1
	fault_off "$2"
	OUT=$ML_DIR/$name.out
}
for st in ratelimit skew http500; do
	storm "storm-$st" "$st"
	n=$(awk '$1 == "OUTCOME" { s += $NF } END { print s + 0 }' "$OUT")
	t=$(awk '$1 == "OUTCOME" && $3 == "451" { s += $NF } END { print s + 0 }' "$OUT")
	is "$t/$n" "40/40" "$st storm: every message deferred with 451"
	r=$(($(emu_count UpdateEmailIdentity "s1-storm-$st.hostile.test") + $(emu_count UpdateEmailIdentity "s2-storm-$st.hostile.test")))
	[ "$r" -ge 2 ] && [ "$r" -le 12 ]
	tap_ok $? "$st storm: $r API requests for 40 messages (2..12: asked, retried, then backed off; a loop would be 40+)"
	l=$(grep -Ec "(warning|error): api: UpdateEmailIdentity s[12]-storm-$st\." "$ML_LOG")
	[ "$l" -le "$r" ]
	tap_ok $? "$st storm: $l API failure log lines, not more than requests ($r)"
done
is "$(grep -c 'fix the configuration' "$ML_LOG")" 1 \
	"AuthFailure.SignatureExpire: 'fix the configuration' logged once (per minute), not per request"
r=$(emu_max_per_second)
[ "$r" -le 20 ]
tap_ok $? "never more than 20 API requests in a second ($r)"

# Everything lifted: the milter answers as before, nothing crashed.
emu_domain f-after.hostile.test '{"state": "verified", "attributes": []}'
ml_msg "after the faults: a new verified domain is accepted" from='<a@f-after.hostile.test>' \
	expect_mail=accept
ml_msg "after the faults: verified.test accepted" from='<a@verified.test>' expect_mail=accept
ml_msg "after the faults: unverified.test refused" from='<a@unverified.test>' expect_mail=reply
grep -q "$EMU_SECRET_KEY" "$ML_LOG" "$ML_DIR"/*.out
tap_ok $((!$?)) "the SecretKey is in no log"
ml_stop
is "$ML_STATUS" 0 "the milter stops cleanly (status 0)"

[ -n "${FL_KEEP:-}" ] && cp "$ML_LOG" "$EMU_LOG" "$FL_KEEP/"
tap_done
