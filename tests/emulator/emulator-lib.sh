# tests/emulator/emulator-lib.sh - start the SES API emulator from a TAP test (sourced).
#
# Owns: starting/stopping tests/emulator/ses-emulator.py for one test script,
# its certificate and test credentials, and helpers that read its request log.
# Does not own: the emulator's behaviour (ses-emulator.py, README.md there) or
# the DNS server (tests/dns/dns-lib.sh).
#
#   emu_start DIR [SCENARIO]   cert + key, secret file, emulator on a free port.
#                              Sets EMU_PORT EMU_URL EMU_CA EMU_LOG EMU_PID
#                              EMU_SCENARIO (a private copy the test may edit)
#                              EMU_CONF (DIR/sesverify.conf, mode 0600, with
#                              Endpoint, CAFile, SecretId, SecretKey).
#                              EMU_DNS=HOST:PORT (or DNS_PORT when set) makes
#                              "dns" domains follow that DNS server.
#                              EMU_ARGS adds emulator options (e.g. --rate 5).
#                              EMU_CERT_NAME=NAME serves a certificate for NAME
#                              instead of localhost (TLS name-mismatch faults;
#                              EMU_CA is then that certificate).
#                              EMU_PORT_WANT=N listens on port N (a restart on
#                              the port a running client already uses).
#   emu_stop                   stop it (also done at exit)
#   emu_scenario FILE          replace the scenario (the emulator re-reads it)
#   emu_domain DOMAIN JSON     set one domain's spec, e.g. '{"state":"verified"}'
#   emu_count ACTION [DOMAIN]  number of logged requests
#   emu_count_code CODE        number of logged requests answered with CODE
#   emu_max_per_second         most requests in any sliding 1-second window
#
# Test credentials (fake; tests grep for the key to prove it never leaks):
EMU_SECRET_ID=AKIDsesverifytest0000000000000000000
EMU_SECRET_KEY=sesverify-test-secret-DO-NOT-LOG-0123456789
export EMU_SECRET_ID EMU_SECRET_KEY

_emu_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# emu_start DIR [SCENARIO] - see above; returns 1 (with a diag) on failure
emu_start() {
	local dir=$1 scenario=${2:-$_emu_dir/scenarios/default.json} i dns=${EMU_DNS:-}
	local cn=${EMU_CERT_NAME:-localhost} san="DNS:localhost,IP:127.0.0.1" sfx=
	if [ -n "${EMU_CERT_NAME:-}" ]; then
		san="DNS:$EMU_CERT_NAME"
		sfx=-$EMU_CERT_NAME
	fi
	mkdir -p "$dir" || return 1
	if [ ! -s "$dir/emu-cert$sfx.pem" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$dir/emu-key$sfx.pem" -out "$dir/emu-cert$sfx.pem" -days 2 -subj "/CN=$cn" \
			-addext "subjectAltName=$san" >/dev/null 2>&1 || {
			echo "# emu_start: openssl could not make a certificate" >&2
			return 1
		}
	fi
	(umask 077 && printf '%s\n' "$EMU_SECRET_KEY" >"$dir/emu-secret")
	[ "$scenario" -ef "$dir/scenario.json" ] || cp "$scenario" "$dir/scenario.json"
	EMU_SCENARIO=$dir/scenario.json
	EMU_CA=$dir/emu-cert$sfx.pem
	EMU_LOG=$dir/emu-log.jsonl
	: >"$EMU_LOG"
	rm -f "$dir/emu-port"
	if [ -z "$dns" ] && [ -n "${DNS_PORT:-}" ]; then
		dns=127.0.0.1:$DNS_PORT
	fi
	# shellcheck disable=SC2086
	python3 "$_emu_dir/ses-emulator.py" --port "${EMU_PORT_WANT:-0}" --port-file "$dir/emu-port" \
		--cert "$EMU_CA" --key "$dir/emu-key$sfx.pem" --scenario "$EMU_SCENARIO" \
		--log "$EMU_LOG" --secret-id "$EMU_SECRET_ID" --secret-key-file "$dir/emu-secret" \
		${dns:+--dns "$dns"} ${EMU_ARGS:-} 2>"$dir/emu-stderr" &
	EMU_PID=$!
	at_exit "emu_stop"
	for ((i = 0; i < 200; i++)); do
		if [ -s "$dir/emu-port" ]; then
			EMU_PORT=$(cat "$dir/emu-port")
			if curl -sf --cacert "$EMU_CA" -o /dev/null --resolve "$cn:$EMU_PORT:127.0.0.1" \
				"https://$cn:$EMU_PORT/__emulator/health"; then
				break
			fi
		fi
		if ! kill -0 "$EMU_PID" 2>/dev/null; then
			echo "# emu_start: the emulator died:" >&2
			sed 's/^/#   /' "$dir/emu-stderr" >&2
			return 1
		fi
		sleep 0.05
	done
	if [ "$i" -ge 200 ]; then
		echo "# emu_start: the emulator did not answer within 10 s" >&2
		return 1
	fi
	EMU_URL=https://localhost:$EMU_PORT
	EMU_CONF=$dir/sesverify.conf
	(
		umask 077
		cat >"$EMU_CONF" <<EOF
# written by tests/emulator/emulator-lib.sh
Endpoint $EMU_URL
CAFile $EMU_CA
SecretId $EMU_SECRET_ID
SecretKey $EMU_SECRET_KEY
EOF
	)
	chmod 600 "$EMU_CONF"
	export EMU_PORT EMU_URL EMU_CA EMU_LOG EMU_PID EMU_CONF EMU_SCENARIO
	return 0
}

# emu_stop - stop the emulator started by emu_start
emu_stop() {
	if [ -n "${EMU_PID:-}" ]; then
		kill "$EMU_PID" 2>/dev/null
		wait "$EMU_PID" 2>/dev/null
		EMU_PID=
	fi
	return 0
}

# emu_scenario FILE - atomically replace the running scenario
emu_scenario() {
	cp "$1" "$EMU_SCENARIO.new" && mv -f "$EMU_SCENARIO.new" "$EMU_SCENARIO"
}

# emu_domain DOMAIN JSON - set (replace) one domain's spec in the running scenario
emu_domain() {
	python3 - "$EMU_SCENARIO" "$1" "$2" <<'PY'
import json, os, sys
path, dom, spec = sys.argv[1:4]
with open(path) as f:
    data = json.load(f)
data.setdefault("domains", {})[dom] = json.loads(spec)
with open(path + ".new", "w") as f:
    json.dump(data, f, indent=1)
os.replace(path + ".new", path)
PY
}

# emu_count ACTION [DOMAIN] - requests of ACTION (for DOMAIN) in the log
emu_count() {
	python3 - "$EMU_LOG" "$1" "${2-}" "$#" <<'PY'
import json, sys
path, action, domain, argc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
n = 0
with open(path) as f:
    for line in f:
        e = json.loads(line)
        if (action in ("", "*") or e["action"] == action) and (argc < 2 or e["domain"] == domain):
            n += 1
print(n)
PY
}

# emu_count_code CODE - requests answered with error CODE
emu_count_code() {
	python3 - "$EMU_LOG" "$1" <<'PY'
import json, sys
print(sum(1 for line in open(sys.argv[1]) if json.loads(line)["code"] == sys.argv[2]))
PY
}

# emu_max_per_second [SKIP] - most requests (any result) in any sliding
# 1-s window, leaving out the first SKIP requests logged
emu_max_per_second() {
	python3 - "$EMU_LOG" "${1:-0}" <<'PY'
import json, sys
ts = sorted(json.loads(line)["time"] for line in list(open(sys.argv[1]))[int(sys.argv[2]):])
best, j = 0, 0
for i, t in enumerate(ts):
    while ts[j] <= t - 1.0:
        j += 1
    best = max(best, i - j + 1)
print(best)
PY
}

# emu_curl ACTION JSON [CURL-ARGS...] - one TC3-signed call made with curl and
# openssl only (independent of the C library).  Prints the body; curl's exit
# status is returned.  Overrides for negative tests: EMU_CALL_KEY (SecretKey),
# EMU_CALL_ID, EMU_CALL_TS (timestamp), EMU_CALL_VERSION, EMU_CALL_CTYPE
# (Content-Type sent) and EMU_CALL_SIGN_CTYPE (Content-Type signed).
emu_curl() {
	local action=$1 body=$2
	shift 2
	local key=${EMU_CALL_KEY:-$EMU_SECRET_KEY} sid=${EMU_CALL_ID:-$EMU_SECRET_ID}
	local ts=${EMU_CALL_TS:-$(date +%s)} ver=${EMU_CALL_VERSION:-2020-10-02}
	local ctype=${EMU_CALL_CTYPE:-application/json} host="localhost:$EMU_PORT"
	local sctype=${EMU_CALL_SIGN_CTYPE:-$ctype} day hbody hcanon k sig
	day=$(date -u -d "@$ts" +%Y-%m-%d)
	# "openssl dgst -r" prints "HEX *stdin"; ${x%% *} keeps the hex.
	hbody=$(printf '%s' "$body" | openssl dgst -sha256 -r)
	hcanon=$(printf 'POST\n/\n\ncontent-type:%s\nhost:%s\n\ncontent-type;host\n%s' \
		"${sctype,,}" "$host" "${hbody%% *}" | openssl dgst -sha256 -r)
	k=$(printf '%s' "$day" | openssl dgst -sha256 -mac HMAC -macopt "key:TC3$key" -r)
	k=$(printf '%s' ses | openssl dgst -sha256 -mac HMAC -macopt "hexkey:${k%% *}" -r)
	k=$(printf '%s' tc3_request | openssl dgst -sha256 -mac HMAC -macopt "hexkey:${k%% *}" -r)
	sig=$(printf 'TC3-HMAC-SHA256\n%s\n%s/ses/tc3_request\n%s' "$ts" "$day" "${hcanon%% *}" |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:${k%% *}" -r)
	sig=${sig%% *}
	curl -sS --cacert "$EMU_CA" "https://$host/" -H "Content-Type: $ctype" \
		-H "X-TC-Action: $action" -H "X-TC-Version: $ver" -H "X-TC-Region: ap-guangzhou" \
		-H "X-TC-Timestamp: $ts" \
		-H "Authorization: TC3-HMAC-SHA256 Credential=$sid/$day/ses/tc3_request, SignedHeaders=content-type;host, Signature=$sig" \
		--data-binary "$body" "$@"
}
