#!/bin/bash
# tests/cli/test-cli-check.sh - "sesverify check" and "list" against the SES emulator.
#
# API paths only (--no-dns); tests/cli/test-cli-dns.sh adds the live DNS.
. "$top_srcdir/tests/cli/cli-lib.sh"

emu_start "$CLI_TMP/emu" || { echo "Bail out! the SES emulator did not start"; exit 1; }
conf=$CLI_TMP/sesverify.conf
cp "$EMU_CONF" "$conf"
echo "ApiTimeout 1s" >>"$conf"
chmod 600 "$conf"

# --- states
sv -c "$conf" check --no-dns verified.test
is_rc 0 "verified.test: exit 0"
like "$OUT" '^verified.test: verified \(RequestId [0-9a-f-]{36}\)' "verified.test: state and RequestId"
like "$OUT" 'TXT +qcloud._domainkey.verified.test +ok' "verified.test: DKIM row ok"

sv -c "$conf" check --no-dns unverified.test
is_rc 1 "unverified.test: exit 1"
like "$OUT" 'TYPE +NAME +OK +EXPECTED +CURRENT' "unverified.test: table header"
like "$OUT" 'TXT +qcloud._domainkey.unverified.test +FAIL' "unverified.test: failing DKIM row"
like "$OUT" 'MX +unverified.test +ok +mxbiz1.qq.com.' "unverified.test: MX row ok"
like "$OUT" 'expected: v=DKIM1; k=rsa; p=QBkNwJk6V/wwX\+1s2cQ6Rax.*LUXEw=$' "unverified.test: full expected DKIM value shown"

sv -c "$conf" check --no-dns mxwrong.test
is_rc 1 "mxwrong.test: exit 1"
like "$OUT" 'current: +mx.elsewhere.test.' "mxwrong.test: current MX shown"

sv -c "$conf" check --no-dns notexist.test
is_rc 1 "notexist.test: exit 1"
like "$OUT" 'notexist.test: not_exist \(not set up in Tencent Cloud SES\)' "notexist.test: not_exist"

sv -c "$conf" check --no-dns VERIFIED.Test.
is_rc 0 "upper case and a trailing dot are normalised"
like "$OUT" '^verified.test: verified' "normalised name is shown"

# --- the worst result wins
sv -c "$conf" check --no-dns verified.test unverified.test
is_rc 1 "verified + unverified: exit 1"
sv -c "$conf" check --no-dns unverified.test internal.test verified.test
is_rc 3 "unverified + API error + verified: exit 3"
like "$OUT" 'verified.test: verified' "later domains are still checked after an error"

# --- every API error code: exit 3 and the code in the output
for pair in ratelimit.test:RequestLimitExceeded limit.test:LimitExceeded internal.test:InternalError \
	svcna.test:FailedOperation.ServiceNotAvailable authfail.test:AuthFailure.UnauthorizedOperation \
	denied.test:OperationDenied invalid.test:InvalidParameterValue dkimna.test:FailedOperation.DKIMNotApplied; do
	d=${pair%%:*} code=${pair#*:}
	sv -c "$conf" check --no-dns "$d"
	if [ "$RC" = 3 ] && printf '%s' "$OUT" | grep -qF "$d: error $code:"; then
		ok "$d: exit 3 with $code"
	else
		not_ok "$d: exit 3 with $code"
		printf '#   exit %s: %s\n' "$RC" "$OUT"
	fi
done

# --- injected faults: exit 3 and a message that says what happened
fault() { # DOMAIN REGEX DESC
	local t0=$SECONDS
	sv -c "$conf" check --no-dns "$1"
	if [ "$RC" = 3 ] && printf '%s' "$OUT" | grep -Eiq -- "$2"; then
		ok "$3 (exit 3, $((SECONDS - t0)) s)"
	else
		not_ok "$3"
		printf '#   exit %s: %s %s\n' "$RC" "$OUT" "$ERR"
	fi
}
fault slow.test 'tim(ed|e) ?out' "slow.test (3 s delay, ApiTimeout 1s): timeout"
fault http500.test 'HTTP 500' "http500.test: HTTP 500"
fault http502.test 'HTTP 502' "http502.test: HTTP 502"
fault garbage.test 'invalid API response|not JSON|JSON' "garbage.test: says the answer is not JSON"
fault truncated.test 'truncated' "truncated.test: says the JSON is truncated"
fault short.test 'closed|partial|short|remaining' "short.test: says the body was cut"
fault reset.test 'reset' "reset.test: says the connection was reset"
sv -c "$conf" check --no-dns verified.test
is_rc 0 "verified.test still fine after the faults"

# --- pacing: a long DOMAIN list stays within ApiRate (the emulator allows 20/s)
doms=()
for ((i = 0; i < 25; i++)); do doms+=(verified.test); done
sleep 1.1 # the emulator's window is account-wide: let earlier requests age out
refused=$(emu_count_code RequestLimitExceeded)
sv -c "$conf" check --no-dns "${doms[@]}"
is_rc 0 "25 domains at the default ApiRate 20: exit 0"
is "$(printf '%s\n' "$OUT" | grep -c '^verified.test: verified')" 25 "25 domains: every one answered"
is "$(emu_count_code RequestLimitExceeded)" "$refused" "25 domains: no RequestLimitExceeded"
cp "$conf" "$CLI_TMP/rate5.conf"
echo "ApiRate 5" >>"$CLI_TMP/rate5.conf"
n0=$(wc -l <"$EMU_LOG")
sv -c "$CLI_TMP/rate5.conf" check --no-dns "${doms[@]:0:12}"
is_rc 0 "12 domains at ApiRate 5: exit 0"
peak=$(tail -n +"$((n0 + 1))" "$EMU_LOG" | python3 -c '
import json, sys
t = sorted(json.loads(l)["time"] for l in sys.stdin)
print(max(sum(1 for u in t if x - 1.0 < u <= x) for x in t), "%.1f" % (t[-1] - t[0]))')
like "$peak" '^[1-5] ([2-9]|[1-9][0-9])\.' "ApiRate 5: at most 5 requests in any second, 12 spread over >= 2 s (peak, span: $peak)"

# --- the emulator's own refusals
printf '%s\n' "Endpoint $EMU_URL" "CAFile $EMU_CA" "SecretId $EMU_SECRET_ID" \
	"SecretKey wrong-$EMU_SECRET_KEY-wrong" >"$CLI_TMP/wrongkey.conf"
chmod 600 "$CLI_TMP/wrongkey.conf"
sv -c "$CLI_TMP/wrongkey.conf" check --no-dns verified.test
is_rc 3 "wrong SecretKey: exit 3"
like "$OUT" 'AuthFailure.SignatureFailure' "wrong SecretKey: SignatureFailure from the emulator"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$CLI_TMP/other-key.pem" \
	-out "$CLI_TMP/other.pem" -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost >/dev/null 2>&1
sed "s|^CAFile .*|CAFile $CLI_TMP/other.pem|" "$conf" >"$CLI_TMP/otherca.conf"
chmod 600 "$CLI_TMP/otherca.conf"
before=$(emu_count '*')
sv -c "$CLI_TMP/otherca.conf" check --no-dns verified.test
is_rc 3 "untrusted server certificate: exit 3"
like "$OUT" 'Transport.TLS|certificate|SSL' "untrusted certificate: a TLS error is reported"
is "$(emu_count '*')" "$before" "untrusted certificate: no request reached the emulator"

port=$(free_port)
sed "s|^Endpoint .*|Endpoint https://localhost:$port|" "$conf" >"$CLI_TMP/closed.conf"
chmod 600 "$CLI_TMP/closed.conf"
sv -c "$CLI_TMP/closed.conf" check --no-dns verified.test
is_rc 3 "closed port: exit 3"
like "$OUT" '[Cc]onnect' "closed port: a connection error is reported"

# --- bad domain arguments: exit 2, before any request
long=$(printf 'a%.0s' {1..64}).test
huge=$(for i in {1..26}; do printf 'abcdefghi.'; done)test
before=$(emu_count '*')
for arg in "" "$long" "$huge" "bad_char!.test" "[192.0.2.1]" "192.0.2.1" "a..b.test" "-"; do
	sv -c "$conf" check --no-dns verified.test "$arg"
	if [ "$RC" = 2 ] && printf '%s' "$ERR" | grep -q "bad domain '" && [ -z "$OUT" ]; then
		ok "bad domain '${arg:0:20}': exit 2, named with the reason"
	else
		not_ok "bad domain '${arg:0:20}': exit 2, named with the reason"
		printf '#   exit %s: %s / %s\n' "$RC" "$OUT" "$ERR"
	fi
done
is "$(emu_count '*')" "$before" "bad domain arguments: zero requests reached the emulator"
sv -c "$conf" check --no-dns
is_rc 2 "check without a domain: exit 2"

# --- --json
sv -c "$conf" check --json --no-dns verified.test unverified.test notexist.test internal.test http500.test
is_rc 3 "--json: worst exit status (3)"
json_check 'isinstance(j, list) and len(j) == 5' "--json: one array, an object per domain"
json_check 'all({"domain","state","verified","request_id","attributes","error"} <= set(o) for o in j)' \
	"--json: every object has domain, state, verified, request_id, attributes, error"
json_check '[o["state"] for o in j] == ["verified","unverified","not_exist","error","error"]' "--json: states"
json_check '[o["verified"] for o in j] == [True, False, False, False, False]' "--json: verified flags"
json_check 'j[0]["error"] is None and j[3]["error"]["code"] == "InternalError" and bool(j[3]["error"]["message"])' \
	"--json: error null when none, {code, message} otherwise"
json_check 'j[2]["error"]["code"] == "InvalidParameterValue.NotExistDomain"' "--json: not_exist carries its code"
json_check 'u"\u57df\u540d" in j[2]["error"]["message"]' "--json: \\uXXXX in the API message decoded and re-encoded"
json_check 'all(set(a) >= {"type","send_domain","expected","current","status"} for o in j for a in o["attributes"])' \
	"--json: attributes have type, send_domain, expected, current, status"
json_check '[(a["send_domain"], a["status"]) for a in j[1]["attributes"] if not a["status"]] == [("qcloud._domainkey.unverified.test", False)]' \
	"--json: unverified.test's failing attribute"
json_check 'len(j[0]["request_id"]) == 36 and j[4]["request_id"] is None' "--json: request_id string, or null without an answer"

# JSON escaping: quotes and backslashes in an API message and in attribute
# values.  (The library replaces control characters in messages; whatever it
# hands over must still come out as valid JSON.)
emu_domain quoted.test '{"error": "InvalidParameter", "message": "bad \"value\" \\ here\n\ttab\u0001"}'
sv -c "$conf" check --json --no-dns quoted.test
json_check 'j[0]["error"]["message"].startswith("bad \"value\" \\ here")' "--json: quotes and backslash in a message escaped"
emu_domain quoted2.test '{"state": "unverified", "attributes": [{"Type": "TXT", "SendDomain": "quoted2.test",
	"ExpectedValue": "v=spf1 \"q\" \\ ~all", "CurrentValue": "x\u0001y\nz\u00e9", "Status": false}]}'
sv -c "$conf" check --json --no-dns quoted2.test
json_check 'j[0]["attributes"][0]["expected"] == "v=spf1 \"q\" \\ ~all" and j[0]["attributes"][0]["current"].endswith("z\u00e9")' \
	"--json: attribute values with quotes, backslash, control characters and UTF-8"

# --- list
sv -c "$conf" list
is_rc 0 "list: exit 0"
want=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["domains"]
print(" ".join(sorted(k for k, v in d.items() if k != "*" and v.get("state", "not_exist") != "not_exist")))' "$EMU_SCENARIO")
got=$(printf '%s\n' "$OUT" | awk 'NR > 1 && $2 ~ /^(yes|no)$/ { print $1 }' | sort | tr '\n' ' ')
is "${got% }" "$want" "list: every scenario domain that exists in SES"
like "$OUT" 'verified.test +yes' "list: verified.test sending enabled"
like "$OUT" 'unverified.test +no' "list: unverified.test not enabled"
sv -c "$conf" list --json
json_check 'sorted(o["domain"] for o in j) == sorted("'"$want"'".split())' "list --json: the same domains"
json_check 'all(o["verified"] == (o["state"] == "verified") and o["error"] is None for o in j)' "list --json: fields"

# --- libcurl's re-send counts as a call: reset.test is reset on the reused
# connection, libcurl sends it again; at ApiRate 1 that copy waits its second
cp "$conf" "$CLI_TMP/rate1.conf"
echo "ApiRate 1" >>"$CLI_TMP/rate1.conf"
n0=$(wc -l <"$EMU_LOG")
sv -c "$CLI_TMP/rate1.conf" check --no-dns verified.test reset.test
gap=$(tail -n +"$((n0 + 1))" "$EMU_LOG" | python3 -c '
import json, sys
t = [json.loads(l)["time"] for l in sys.stdin if json.loads(l)["domain"] == "reset.test"]
print(len(t), "%.2f" % (t[1] - t[0]) if len(t) == 2 else "-")')
like "$gap" '^2 (0\.9[5-9]|[1-9])' "re-sent copy of reset.test paced at ApiRate 1 (copies, gap s: $gap)"

# --- list pacing: one request per page of 100, each paced like a check
cp "$EMU_SCENARIO" "$CLI_TMP/scenario.saved"
python3 - "$EMU_SCENARIO" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
for i in range(2500):
    d["domains"]["bulk%04d.test" % i] = {"state": "verified" if i % 3 else "unverified"}
json.dump(d, open(sys.argv[1] + ".new", "w")); os.replace(sys.argv[1] + ".new", sys.argv[1])
PY
cp "$conf" "$CLI_TMP/rate10.conf"
echo "ApiRate 10" >>"$CLI_TMP/rate10.conf"
sleep 1.1 # let the emulator re-read the scenario and earlier requests age out
n0=$(wc -l <"$EMU_LOG")
sv -c "$CLI_TMP/rate10.conf" list
is_rc 0 "list of a 2,500-identity account: exit 0"
is "$(printf '%s\n' "$OUT" | grep -c '^bulk')" 2500 "... every identity listed"
peak=$(tail -n +"$((n0 + 1))" "$EMU_LOG" | python3 -c '
import json, sys
t = sorted(json.loads(l)["time"] for l in sys.stdin)
print(len(t), max(sum(1 for u in t if x - 1.0 < u <= x) for x in t))')
like "$peak" '^2[5-9] ([1-9]|10)$' "... its 25+ pages at most 10 in any second at ApiRate 10 (pages, peak: $peak)"
cp "$CLI_TMP/scenario.saved" "$EMU_SCENARIO"
python3 - "$EMU_SCENARIO" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1])); d["list"] = {"error": "InternalError"}
json.dump(d, open(sys.argv[1] + ".new", "w")); os.replace(sys.argv[1] + ".new", sys.argv[1])
PY
sv -c "$conf" list
is_rc 3 "list: API error, exit 3"
like "$ERR" 'InternalError' "list: the error code is shown"
sv -c "$conf" list extra
is_rc 2 "list: an argument is a usage error"

# --- credentials: environment, CredentialsFile, unsafe files
printf '%s\n' "Endpoint $EMU_URL" "CAFile $EMU_CA" "ApiTimeout 2s" >"$CLI_TMP/nocred.conf"
chmod 600 "$CLI_TMP/nocred.conf"
sv -c "$CLI_TMP/nocred.conf" check --no-dns verified.test
is_rc 2 "no credentials anywhere: exit 2"
like "$ERR" '[Cc]redential|SecretId|SecretKey' "no credentials: says so"
TENCENTCLOUD_SECRET_ID=$EMU_SECRET_ID TENCENTCLOUD_SECRET_KEY=$EMU_SECRET_KEY \
	sv -c "$CLI_TMP/nocred.conf" check --no-dns verified.test
is_rc 0 "credentials from TENCENTCLOUD_SECRET_ID/KEY"
n0=$(grep -c '"token": true' "$EMU_LOG")
TENCENTCLOUD_SECRET_ID=$EMU_SECRET_ID TENCENTCLOUD_SECRET_KEY=$EMU_SECRET_KEY \
	TENCENTCLOUD_SESSION_TOKEN=session-token-DO-NOT-LOG sv -c "$CLI_TMP/nocred.conf" check --no-dns verified.test
is_rc 0 "credentials from the environment with a session token"
is "$(grep -c '"token": true' "$EMU_LOG")" "$((n0 + 1))" "the session token was sent as X-TC-Token"
grep -qF session-token-DO-NOT-LOG "$CLI_SEEN" "$EMU_LOG"
tap_ok $(($? == 0)) "the session token appears in no output and no log"

printf '[default]\nsecret_id = %s\nsecret_key = %s\n' "$EMU_SECRET_ID" "$EMU_SECRET_KEY" >"$CLI_TMP/credentials"
chmod 600 "$CLI_TMP/credentials"
cp "$CLI_TMP/nocred.conf" "$CLI_TMP/credfile.conf"
echo "CredentialsFile $CLI_TMP/credentials" >>"$CLI_TMP/credfile.conf"
sv -c "$CLI_TMP/credfile.conf" check --no-dns verified.test
is_rc 0 "credentials from CredentialsFile (mode 0600)"
chmod 644 "$CLI_TMP/credentials"
sv -c "$CLI_TMP/credfile.conf" check --no-dns verified.test
is_rc 2 "world-readable CredentialsFile: exit 2"
like "$ERR" "$CLI_TMP/credentials.*(mode|group|other)" "world-readable CredentialsFile: refused, naming the file"
chmod 644 "$conf"
sv -c "$conf" check --no-dns verified.test
is_rc 2 "world-readable config holding SecretKey: exit 2"
like "$ERR" "$conf:.*(mode|group|other|readable)" "world-readable config: FILE: message"
chmod 600 "$conf"

# --- secrecy: nothing printed, logged or sent in argv contains the key
cli_no_secret "$EMU_LOG" "$CLI_TMP/emu/emu-stderr"

cli_done
