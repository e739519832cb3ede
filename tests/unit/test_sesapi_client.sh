#!/bin/bash
# test_sesapi_client.sh - sv_client over real HTTPS against the SES emulator:
#	every scenario state, error code and injected fault maps to the right
#	state / error code / class; credentials from the environment; session
#	token sent as X-TC-Token; ListEmailIdentities pagination; TLS
#	verification on; the secret never appears in logs or messages.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 unavailable"
command -v openssl >/dev/null 2>&1 || skip_all "openssl unavailable"
drv="$top_builddir/tests/unit/sesapi-driver"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-api.XXXXXX")
at_exit "rm -rf '$tmp'"

printf '%s\n' tok-sesverify-DO-NOT-LOG-42 >"$tmp/token"
EMU_ARGS="--token-file $tmp/token" emu_start "$tmp/emu" || { echo "Bail out! emulator did not start"; exit 1; }
export TENCENTCLOUD_SECRET_ID=$EMU_SECRET_ID TENCENTCLOUD_SECRET_KEY=$EMU_SECRET_KEY
export TENCENTCLOUD_SESSION_TOKEN=tok-sesverify-DO-NOT-LOG-42
unset TENCENTCLOUD_TOKEN

# domain -> "state verified error_code class http rc"
expect=(
	"verified.test|verified 1 - none 200 0"
	"unverified.test|unverified 0 - none 200 0"
	"notexist.test|not_exist 0 InvalidParameterValue.NotExistDomain not_exist 200 0"
	"ratelimit.test|error 0 RequestLimitExceeded rate_limited 200 0"
	"limit.test|error 0 LimitExceeded rate_limited 200 0"
	"internal.test|error 0 InternalError retryable 200 0"
	"svcna.test|error 0 FailedOperation.ServiceNotAvailable retryable 200 0"
	"authfail.test|error 0 AuthFailure.UnauthorizedOperation config 200 0"
	"denied.test|error 0 OperationDenied config 200 0"
	"invalid.test|error 0 InvalidParameterValue config 200 0"
	"dkimna.test|error 0 FailedOperation.DKIMNotApplied permanent 200 0"
	"slow.test|error 0 Transport.Timeout retryable 0 -1"
	"http500.test|error 0 Transport.HTTP500 retryable 500 -1"
	"http502.test|error 0 Transport.HTTP502 retryable 502 -1"
	"garbage.test|error 0 Parse.InvalidResponse retryable 200 -1"
	"truncated.test|error 0 Parse.InvalidResponse retryable 200 -1"
	"short.test|error 0 Transport.Connection retryable 0 -1"
	"reset.test|error 0 Transport.Connection retryable 0 -1"
	"UPPER.Test.|verified 1 - none 200 0"
)
domains=()
for e in "${expect[@]}"; do domains+=("${e%%|*}"); done
start=$(date +%s%N)
"$drv" "$EMU_URL" "$EMU_CA" 1500 update "${domains[@]}" >"$tmp/out" 2>"$tmp/err"
elapsed=$((($(date +%s%N) - start) / 1000000))
diag "${#domains[@]} calls (one 1.5 s timeout among them) in $elapsed ms"
i=0
while IFS=$'\t' read -r dom state ver code cls http nattrs reqid rc; do
	e=${expect[$i]}
	is "$state $ver $code $cls $http $rc" "${e#*|}" "${e%%|*} -> ${e#*|}"
	i=$((i + 1))
done <"$tmp/out"
is "$i" "${#expect[@]}" "one result per domain"
like "$(grep -c . "$tmp/out")" '^19$' "19 result lines"
like "$(sed -n 1p "$tmp/out")" $'\t3\tyes\t0$' "verified.test: 3 attributes and a RequestId"
like "$(sed -n '$p' "$tmp/out")" '^upper\.test' "domain normalised before the call"
like "$(grep '^message slow.test' "$tmp/err")" 'timed out' "timeout message says what happened"
like "$(grep '^message http502.test' "$tmp/err")" "HTTP 502 from $EMU_URL/" "HTTP 502 message names the endpoint"
is "$(emu_count UpdateEmailIdentity upper.test)" 1 "emulator saw the normalised name"

# keep-alive: one easy handle per client, so one connection for many calls
"$drv" "$EMU_URL" "$EMU_CA" 2000 update verified.test unverified.test notexist.test \
	verified.test unverified.test notexist.test >"$tmp/o2" 2>"$tmp/err2"
like "$(grep '^stat ' "$tmp/err2")" '^stat api.calls 6 api.connections 1$' "6 calls over 1 connection (keep-alive)"
cat "$tmp/err2" >>"$tmp/err"

# a reused connection that the server resets after reading the request:
# libcurl sends the request again on a new connection by itself, and the
# first copy did arrive.  The refresher's resend pacer must grant that copy
# (the soak once saw 21 requests in a second without it).
resend() { # MODE -> "requests-for-reset.test result-line stat-line"
	local before
	before=$(emu_count UpdateEmailIdentity reset.test)
	SV_DRIVER_RESEND=$1 "$drv" "$EMU_URL" "$EMU_CA" 2000 update verified.test reset.test \
		>"$tmp/o2" 2>"$tmp/e2"
	cat "$tmp/e2" >>"$tmp/err"
	RS_SENT=$(($(emu_count UpdateEmailIdentity reset.test) - before))
	RS_RESULT=$(sed -n 2p "$tmp/o2")
	RS_STAT=$(grep '^stat ' "$tmp/e2")
}
resend grant
is "$RS_SENT" 2 "reset on a reused connection: libcurl re-sent the request (2 copies arrived)"
like "$RS_STAT" 'resend.granted 1 resend.done 1 api.resends 1$' \
	"... and the copy was granted by the resend pacer, and reported done"
like "$RS_RESULT" $'^reset.test\terror\t0\tTransport.Connection\tretryable' \
	"... the call still fails as Transport.Connection (both copies reset)"
resend refuse
is "$RS_SENT" 1 "resend pacer refusing (shutdown): the copy is not sent"
like "$RS_RESULT" $'^reset.test\terror\t0\tTransport.Connection\tretryable' \
	"... and the call fails as Transport.Connection"
like "$(grep '^message reset.test' "$tmp/e2")" 'not sent again: stopping' "... saying why"

# the token went out as X-TC-Token on every request the emulator logged
is "$(grep -c '"token": false' "$EMU_LOG")" 0 "X-TC-Token on every request"

# a wrong token, key or clock is a config error, not a retry loop
TENCENTCLOUD_SESSION_TOKEN=wrong "$drv" "$EMU_URL" "$EMU_CA" 2000 update verified.test >"$tmp/o2" 2>>"$tmp/err"
like "$(cat "$tmp/o2")" $'AuthFailure.TokenFailure\tconfig' "wrong token -> AuthFailure.TokenFailure (config)"
TENCENTCLOUD_SECRET_KEY=not-the-key "$drv" "$EMU_URL" "$EMU_CA" 2000 update verified.test >"$tmp/o2" 2>>"$tmp/err"
like "$(cat "$tmp/o2")" $'AuthFailure.SignatureFailure\tconfig' "wrong key -> AuthFailure.SignatureFailure (config)"
TENCENTCLOUD_SESSION_TOKEN= TENCENTCLOUD_TOKEN=tok-sesverify-DO-NOT-LOG-42 \
	"$drv" "$EMU_URL" "$EMU_CA" 2000 update verified.test >"$tmp/o2" 2>>"$tmp/err"
like "$(cat "$tmp/o2")" $'^verified.test\tverified' "TENCENTCLOUD_TOKEN (tccli name) accepted"

# TLS: verification is never off; the system store does not trust the test CA
"$drv" "$EMU_URL" - 2000 update verified.test >"$tmp/o2" 2>>"$tmp/err"
like "$(cat "$tmp/o2")" $'Transport.TLS\tretryable' "untrusted certificate -> Transport.TLS"
port=$(free_port)
"$drv" "https://127.0.0.1:$port" "$EMU_CA" 2000 update verified.test >"$tmp/o2" 2>>"$tmp/err"
like "$(cat "$tmp/o2")" $'Transport.ConnectFailed\tretryable' "closed port -> Transport.ConnectFailed"

# ListEmailIdentities across pages: 250 extra domains -> 3 pages of 100
python3 - "$EMU_SCENARIO" <<'PY'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
for i in range(250):
    d["domains"]["bulk%03d.test" % i] = {"state": "verified" if i % 2 else "unverified"}
json.dump(d, open(p + ".new", "w"))
os.replace(p + ".new", p)
PY
before=$(emu_count ListEmailIdentities)
"$drv" "$EMU_URL" "$EMU_CA" 5000 list >"$tmp/list" 2>>"$tmp/err"
tap_ok $? "list succeeds"
pages=$(($(emu_count ListEmailIdentities) - before))
is "$pages" 3 "paginated in 3 calls"
like "$(grep -c '^bulk' "$tmp/list")" '^250$' "all 250 bulk domains listed"
like "$(grep '^bulk001.test' "$tmp/list")" $'\t1$' "SendingEnabled true kept"
like "$(grep '^bulk000.test' "$tmp/list")" $'\t0$' "SendingEnabled false kept"
is "$(sort "$tmp/list" | uniq -d | wc -l)" 0 "no domain listed twice"

emu_domain "*" '{"state":"not_exist"}'
python3 - "$EMU_SCENARIO" <<'PY'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
d["list"] = {"error": "InternalError"}
json.dump(d, open(p + ".new", "w"))
os.replace(p + ".new", p)
PY
sleep 0.1
"$drv" "$EMU_URL" "$EMU_CA" 2000 list >"$tmp/o2" 2>>"$tmp/err"
is "$?" 3 "list API error -> failure"
like "$(cat "$tmp/o2")" $'InternalError\tretryable' "list error code and class"

# a misbehaving server: a 2 MiB body is cut off at the 1 MiB cap, a redirect is not followed
port=$(free_port)
python3 - "$port" "$tmp/emu/emu-cert.pem" "$tmp/emu/emu-key.pem" <<'PY' 2>"$tmp/bad-stderr" &
import http.server, json, ssl, sys
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body.get("EmailIdentity") == "big.test":
            data = b'{"Response":{"RequestId":"' + b"x" * (2 << 20) + b'"}}'
            self.send_response(200)
        else:
            data = b"moved"
            self.send_response(302)
            self.send_header("Location", "https://127.0.0.1:1/")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
srv = http.server.HTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
badpid=$!
at_exit "kill $badpid; wait $badpid"
wait_port "$port" 10 "$badpid"
"$drv" "https://localhost:$port" "$EMU_CA" 3000 update big.test redirect.test >"$tmp/o3" 2>>"$tmp/err"
like "$(sed -n 1p "$tmp/o3")" $'^big.test\terror\t0\tTransport.ResponseTooLarge\tretryable' "2 MiB body -> Transport.ResponseTooLarge"
like "$(sed -n 2p "$tmp/o3")" $'^redirect.test\terror\t0\tTransport.HTTP302\tretryable\t302' "redirect not followed -> Transport.HTTP302"

# secrets: never in library logs, messages or the driver's output
n=$(cat "$tmp/out" "$tmp/o2" "$tmp/list" "$tmp/err" | grep -c -e "$EMU_SECRET_KEY" -e 'tok-sesverify-DO-NOT-LOG' -e 'TC3-HMAC-SHA256 Credential')
is "$n" 0 "no SecretKey, token or Authorization in any output"
like "$(grep -c 'log<7> api: UpdateEmailIdentity' "$tmp/err")" '^[1-9]' "debug log lines were produced (and checked)"
tap_done
