#!/bin/bash
# tests/emulator/test-emulator.sh - self-tests of the SES API emulator.
#
# Drives tests/emulator/ses-emulator.py with curl and openssl only (emu_curl
# signs with openssl, independently of both the C library and the emulator's
# Python signer), so a bug in the emulator cannot hide behind a matching bug
# in the client under test.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"

command -v curl >/dev/null || skip_all "curl not installed"
command -v openssl >/dev/null || skip_all "openssl not installed"
tmp=$(mktmp)
emu_start "$tmp" || { echo "Bail out! the emulator did not start"; exit 1; }

# field JSON PYEXPR - evaluate PYEXPR over the parsed body r (Response object)
field() {
	printf '%s' "$1" | python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)["Response"]
except Exception as e:
    print("NOT-JSON"); sys.exit(0)
print(eval(sys.argv[1]))' "$2" 2>&1
}
code() { field "$1" 'r.get("Error", {}).get("Code", "none")'; }

out=$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')
is "$(field "$out" 'r["VerifiedForSendingStatus"]')" True "verified.test: VerifiedForSendingStatus true"
is "$(field "$out" 'len(r["Attributes"])')" 3 "verified.test: three attributes from expected.tsv"
like "$(field "$out" 'r["RequestId"]')" '^[0-9a-f]{8}-[0-9a-f]{4}-' "RequestId is a uuid"

out=$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"unverified.test"}')
is "$(field "$out" 'r["VerifiedForSendingStatus"]')" False "unverified.test: not verified"
is "$(field "$out" '[a["SendDomain"] for a in r["Attributes"] if not a["Status"]]')" \
	"['qcloud._domainkey.unverified.test']" "unverified.test: only the DKIM record fails"
out=$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"mxwrong.test"}')
is "$(field "$out" '[a["CurrentValue"] for a in r["Attributes"] if a["Type"] == "MX"]')" \
	"['mx.elsewhere.test.']" "mxwrong.test: MX CurrentValue shows the wrong host"

out=$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"Verified.TEST"}')
is "$(field "$out" 'r["VerifiedForSendingStatus"]')" True "domain names are case-insensitive"
is "$(code "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"notexist.test"}')")" \
	InvalidParameterValue.NotExistDomain "notexist.test: NotExistDomain"
is "$(code "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"never-heard-of.example"}')")" \
	InvalidParameterValue.NotExistDomain "unlisted domain: NotExistDomain (the * default)"
out=$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"notexist.test"}')
like "$out" '\\u57df' "messages carry \\uXXXX escapes"

# --- signature checks
is "$(code "$(EMU_CALL_KEY=wrong-key emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" \
	AuthFailure.SignatureFailure "wrong SecretKey: SignatureFailure"
is "$(code "$(EMU_CALL_ID=AKIDunknown emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" \
	AuthFailure.SecretIdNotFound "unknown SecretId: SecretIdNotFound"
is "$(code "$(EMU_CALL_TS=$(($(date +%s) - 400)) emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" \
	AuthFailure.SignatureExpire "timestamp 400 s old: SignatureExpire"
is "$(code "$(EMU_CALL_TS=$(($(date +%s) + 400)) emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" \
	AuthFailure.SignatureExpire "timestamp 400 s ahead: SignatureExpire"
is "$(code "$(EMU_CALL_TS=$(($(date +%s) - 200)) emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" \
	none "timestamp 200 s old: accepted"
is "$(code "$(EMU_CALL_VERSION=2019-01-01 emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" \
	NoSuchVersion "wrong X-TC-Version: NoSuchVersion"
is "$(code "$(EMU_CALL_CTYPE='application/json; charset=utf-8' EMU_CALL_SIGN_CTYPE=application/json \
	emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" \
	AuthFailure.SignatureFailure "content-type sent differs from signed: SignatureFailure"
is "$(code "$(EMU_CALL_CTYPE='application/json; charset=utf-8' \
	emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" \
	none "content-type with charset, signed as sent: accepted"
# The body is covered by the signature: sign one body, send another.
out=$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}' -H 'X-Extra: 1' --data-binary 'x')
is "$(code "$out")" AuthFailure.SignatureFailure "body altered after signing: SignatureFailure"
out=$(curl -sS --cacert "$EMU_CA" "$EMU_URL/" -H 'Content-Type: application/json' -H 'X-TC-Action: UpdateEmailIdentity' \
	-H 'X-TC-Version: 2020-10-02' -H "X-TC-Timestamp: $(date +%s)" -H 'X-TC-Region: ap-guangzhou' -d '{}')
is "$(code "$out")" AuthFailure.InvalidAuthorization "no Authorization header: InvalidAuthorization"
out=$(curl -sS --cacert "$EMU_CA" "$EMU_URL/" -H 'Content-Type: application/json' -d '{}')
is "$(code "$out")" MissingParameter "no X-TC-Action: MissingParameter"
is "$(code "$(emu_curl UpdateEmailIdentity '{}')")" MissingParameter "no EmailIdentity: MissingParameter"
is "$(code "$(emu_curl NoSuchAction '{}')")" InvalidAction "unknown action: InvalidAction"

# --- ListEmailIdentities
want=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["domains"]
print(sorted(k for k, v in d.items() if k != "*" and v.get("state", "not_exist") != "not_exist"))' "$EMU_SCENARIO")
out=$(emu_curl ListEmailIdentities '{}')
is "$(field "$out" 'sorted(i["IdentityName"] for i in r["EmailIdentities"])')" "$want" "List: every existing scenario domain"
is "$(field "$out" 'sorted(i["IdentityName"] for i in r["EmailIdentities"] if i["SendingEnabled"])')" \
	"['bigdkim.test', 'cname.test', 'slow.test', 'upper.test', 'verified.test']" "List: SendingEnabled = verified"
out=$(emu_curl ListEmailIdentities '{"Limit":3,"Offset":6}')
is "$(field "$out" '(len(r["EmailIdentities"]), r["Total"])')" "(3, 11)" "List: Limit/Offset page, Total"
is "$(code "$(emu_curl ListEmailIdentities '{"Limit":-1}')")" InvalidParameterValue "List: negative Limit refused"

# --- scripted errors
for pair in ratelimit.test:RequestLimitExceeded internal.test:InternalError \
	svcna.test:FailedOperation.ServiceNotAvailable authfail.test:AuthFailure.UnauthorizedOperation \
	limit.test:LimitExceeded denied.test:OperationDenied; do
	is "$(code "$(emu_curl UpdateEmailIdentity "{\"EmailIdentity\":\"${pair%%:*}\"}")")" "${pair#*:}" \
		"${pair%%:*}: ${pair#*:}"
done

# --- faults
st=$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"http500.test"}' -o /dev/null -w '%{http_code}')
is "$st" 500 "http500.test: HTTP 500"
st=$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"http502.test"}' -o /dev/null -w '%{http_code}')
is "$st" 502 "http502.test: HTTP 502"
is "$(field "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"garbage.test"}' | tr -d '\0')" 1)" NOT-JSON "garbage.test: body is not JSON"
is "$(field "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"truncated.test"}')" 1)" NOT-JSON "truncated.test: JSON cut short"
emu_curl UpdateEmailIdentity '{"EmailIdentity":"short.test"}' >/dev/null 2>&1
is "$?" 18 "short.test: body shorter than Content-Length (curl 18)"
emu_curl UpdateEmailIdentity '{"EmailIdentity":"reset.test"}' >/dev/null 2>&1
is "$?" 56 "reset.test: connection reset (curl 56)"
# curl's own clock (time_total), not the wall time of the signing commands.
secs=$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"slow.test"}' --max-time 1 -o /dev/null -w '%{time_total}' 2>/dev/null)
rc=$?
is "$rc" 28 "slow.test: client timeout (curl 28)"
python3 -c 'import sys; sys.exit(0 if 0.9 <= float(sys.argv[1]) < 2.0 else 1)' "${secs:-0}"
tap_ok $? "slow.test: gave up after ~1 s (${secs} s), not after the 3 s delay"
is "$(code "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" none "emulator still serves after faults"

# --- the scenario is re-read when it changes
emu_domain unverified.test '{"state":"verified"}'
is "$(field "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"unverified.test"}')" 'r["VerifiedForSendingStatus"]')" \
	True "scenario flip: unverified.test becomes verified"
emu_domain unverified.test '{"state": "bogus"}'
is "$(field "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"unverified.test"}')" 'r["VerifiedForSendingStatus"]')" \
	True "a broken scenario edit keeps the previous one"
like "$(cat "$tmp/emu-stderr")" "bad state" "the broken scenario is reported on stderr"
emu_domain unverified.test '{"state": "dns", "current": {"TXT qcloud._domainkey.unverified.test": ""}}'

# --- clock skew (fault tests): the emulator's clock runs 900 s ahead
python3 - "$EMU_SCENARIO" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1])); d["global"] = {"clock_skew": 900}
json.dump(d, open(sys.argv[1] + ".new", "w")); os.replace(sys.argv[1] + ".new", sys.argv[1])
PY
n0=$(wc -l <"$EMU_LOG")
is "$(code "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" \
	AuthFailure.SignatureExpire "global clock_skew 900: a correct timestamp is SignatureExpire"
like "$(tail -n +"$((n0 + 1))" "$EMU_LOG")" '"domain": "verified.test"' \
	"a request refused before its body is checked still logs its domain"
is "$(code "$(EMU_CALL_TS=$(($(date +%s) + 900)) emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" \
	none "global clock_skew 900: a timestamp 900 s ahead is accepted"
python3 - "$EMU_SCENARIO" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1])); d["global"] = {"clock_skew": "soon"}
json.dump(d, open(sys.argv[1] + ".new", "w")); os.replace(sys.argv[1] + ".new", sys.argv[1])
PY
is "$(code "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" \
	AuthFailure.SignatureExpire "a bad clock_skew is refused and the previous scenario kept"
python3 - "$EMU_SCENARIO" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1])); d["global"] = {}
json.dump(d, open(sys.argv[1] + ".new", "w")); os.replace(sys.argv[1] + ".new", sys.argv[1])
PY
is "$(code "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" \
	none "clock_skew removed: accepted again"

# --- global fault rate (soak tests): about half of 18 requests fail
python3 - "$EMU_SCENARIO" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1])); d["global"] = {"fault_rate": 0.5, "faults": ["http500"]}
json.dump(d, open(sys.argv[1] + ".new", "w")); os.replace(sys.argv[1] + ".new", sys.argv[1])
PY
sleep 1.05
n0=$(wc -l <"$EMU_LOG")
args=(-o /dev/null)
for ((i = 1; i < 18; i++)); do args+=("$EMU_URL/" -o /dev/null); done
emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}' "${args[@]}" -w '%{http_code}\n' >"$tmp/codes" 2>/dev/null
bad=$(grep -c '^500$' "$tmp/codes")
good=$(grep -c '^200$' "$tmp/codes")
tap_ok $((bad < 1 || bad > 17 || bad + good != 18)) "global fault_rate 0.5: $bad of 18 got HTTP 500, $good answered"
is "$(tail -n +"$((n0 + 1))" "$EMU_LOG" | grep -c '"fault": "http500"')" "$bad" "global faults are logged with their kind"
python3 - "$EMU_SCENARIO" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1])); d["global"] = {"fault_rate": 0}
json.dump(d, open(sys.argv[1] + ".new", "w")); os.replace(sys.argv[1] + ".new", sys.argv[1])
PY

# --- TLS and HTTP
curl -s --cacert "$EMU_CA" --tls-max 1.1 -o /dev/null "$EMU_URL/__emulator/health" 2>/dev/null
tap_ok $(($? == 0)) "TLS 1.1 refused"
conns=$(curl -s --cacert "$EMU_CA" -o /dev/null -o /dev/null -w '%{num_connects} ' "$EMU_URL/__emulator/health" "$EMU_URL/__emulator/health")
is "$conns" "1 0 " "HTTP/1.1 keep-alive: second request reuses the connection"

# --- rate limit: 30 requests at once, 20 admitted in the sliding second.
# One signature (same timestamp and body) for all 30, sent back to back over
# one keep-alive connection (parallel TLS handshakes are slower here).
sleep 1.1
before=$(emu_count '*')
urls=()
for ((i = 1; i < 30; i++)); do urls+=("$EMU_URL/"); done
out=$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}' "${urls[@]}")
after=$(emu_count '*')
is "$((after - before))" 30 "burst: 30 requests reached the emulator"
span=$(python3 -c '
import json, sys
t = [json.loads(l)["time"] for l in open(sys.argv[1])][-30:]
print("%.3f" % (max(t) - min(t)))' "$EMU_LOG")
if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)" "$span"; then
	is "$(printf '%s' "$out" | grep -o RequestLimitExceeded | wc -l)" 10 "burst of 30 in ${span}s: exactly 10 refused"
	is "$(printf '%s' "$out" | grep -o '"VerifiedForSendingStatus": true' | wc -l)" 20 "burst: 20 answered"
else
	ok "# SKIP burst took ${span}s (machine too slow to test the window)"
	ok "# SKIP burst took ${span}s"
fi
is "$(emu_count_code RequestLimitExceeded)" 11 "log counts the refused requests (10 + ratelimit.test)"
mps=$(emu_max_per_second)
tap_ok $((mps < 30)) "emu_max_per_second sees the burst ($mps >= 30)"
sleep 1.05
is "$(code "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" none "a second later requests pass again"

# --- log format and secrecy
is "$(python3 -c '
import json, sys
bad = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    bad += not (isinstance(e["time"], float) and {"action", "domain", "result", "code", "request_id"} <= set(e))
print(bad)' "$EMU_LOG")" 0 "every log line has time (float), action, domain, result, code, request_id"
is "$(emu_count UpdateEmailIdentity verified.test)" "$(grep -c '"domain": "verified.test"' "$EMU_LOG")" "emu_count agrees with the log"
grep -qF "$EMU_SECRET_KEY" "$EMU_LOG" "$tmp/emu-stderr"
tap_ok $(($? == 0)) "the SecretKey never appears in the log or stderr"
grep -q 'Signature=' "$EMU_LOG"
tap_ok $(($? == 0)) "no Authorization header in the log"

# --- --token-file: temporary credentials must send the matching X-TC-Token
emu_stop
printf 'tok-%s\n' "$RANDOM$RANDOM" >"$tmp/token"
EMU_ARGS="--token-file $tmp/token" emu_start "$tmp/emu-token" || not_ok "emulator with --token-file"
is "$(code "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')")" AuthFailure.TokenFailure \
	"--token-file: no X-TC-Token: TokenFailure"
is "$(code "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}' -H "X-TC-Token: wrong")")" \
	AuthFailure.TokenFailure "--token-file: wrong X-TC-Token: TokenFailure"
is "$(code "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}' -H "X-TC-Token: $(cat "$tmp/token")")")" \
	none "--token-file: matching X-TC-Token accepted"
grep -qF "$(cat "$tmp/token")" "$EMU_LOG" "$tmp/emu-token/emu-stderr"
tap_ok $(($? == 0)) "the token never appears in the log"

# --- "dns" domains follow the test DNS server, when there is one
if [ -f "$top_srcdir/tests/dns/dns-lib.sh" ]; then
	. "$top_srcdir/tests/dns/dns-lib.sh"
	if dns_start "$tmp/dns" >/dev/null 2>&1 && [ -n "${DNS_PORT:-}" ]; then
		emu_stop
		EMU_DNS=127.0.0.1:$DNS_PORT emu_start "$tmp/emu-dns" || not_ok "emulator with --dns"
		out=$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"unverified.test"}')
		is "$(field "$out" '[(a["SendDomain"], a["Status"]) for a in r["Attributes"] if not a["Status"]]')" \
			"[('qcloud._domainkey.unverified.test', False)]" "dns: unverified.test lacks only DKIM in the zone"
		out=$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"spfwrong.test"}')
		like "$(field "$out" '[a["CurrentValue"] for a in r["Attributes"] if a["SendDomain"] == "spfwrong.test" and a["Type"] == "TXT"]')" \
			"v=spf1" "dns: spfwrong.test shows the live SPF record"
		is "$(field "$out" 'r["VerifiedForSendingStatus"]')" False "dns: spfwrong.test unverified"
		emu_domain verified.test '{"state":"dns"}'
		is "$(field "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"verified.test"}')" 'r["VerifiedForSendingStatus"]')" \
			True "dns: verified.test verified from the zone"
		emu_domain bigdkim.test '{"state":"dns"}'
		is "$(field "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"bigdkim.test"}')" 'r["VerifiedForSendingStatus"]')" \
			True "dns: bigdkim.test (TXT over TCP) verified from the zone"
		emu_domain cname.test '{"state":"dns"}'
		is "$(field "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"cname.test"}')" 'r["VerifiedForSendingStatus"]')" \
			True "dns: cname.test (DKIM via CNAME) verified from the zone"
		emu_domain upper.test '{"state":"dns"}'
		is "$(field "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"upper.test"}')" 'r["VerifiedForSendingStatus"]')" \
			True "dns: upper.test (upper-case names) verified from the zone"
		is "$(field "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"later.test"}')" 'r["VerifiedForSendingStatus"]')" \
			False "dns: later.test unverified before its DKIM record"
		if declare -F dns_zone_add_later_dkim >/dev/null; then
			dns_zone_add_later_dkim >/dev/null 2>&1
			is "$(field "$(emu_curl UpdateEmailIdentity '{"EmailIdentity":"later.test"}')" 'r["VerifiedForSendingStatus"]')" \
				True "dns: later.test verified once the zone holds its DKIM record"
			is "$(field "$(emu_curl ListEmailIdentities '{}')" '[i["SendingEnabled"] for i in r["EmailIdentities"] if i["IdentityName"] == "later.test"]')" \
				"[True]" "dns: List shows later.test SendingEnabled after the re-check"
		fi
	else
		not_ok "tests/dns/dns-lib.sh could not start the test DNS server"
	fi
else
	diag "tests/dns/dns-lib.sh not present yet; DNS-backed verdicts not tested"
fi

tap_done
