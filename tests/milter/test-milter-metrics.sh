#!/bin/bash
# test-milter-metrics.sh - MetricsSocket: GET /metrics in the Prometheus text
# format (promtool check metrics), "sesverify stats --prometheus" printing the
# same families, counters that move by the expected amounts as messages are
# decided, and hostile HTTP clients that stop neither the daemon nor the mail
# path.  Also: MetricsSocket validation by -n, and the contrib alert rules.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

command -v promtool >/dev/null || skip_all "promtool not installed (Debian package prometheus)"
command -v curl >/dev/null || skip_all "curl not installed"
ml_setup
# The identity list fails throughout, so each never-seen domain costs exactly
# one UpdateEmailIdentity (as in test-milter-outage.sh): the API deltas below
# are exact.  bigdkim.test exists in DNS and its API call fails (InternalError).
python3 - "$EMU_SCENARIO" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["list"] = {"error": "InternalError"}
d["domains"]["bigdkim.test"] = {"error": "InternalError"}
json.dump(d, open(sys.argv[1], "w"))
PY
PORT=$(free_port)
URL=http://127.0.0.1:$PORT/metrics
CLI=$top_builddir/milter/sesverify

# scrape - the body of GET /metrics (empty on failure)
scrape() { curl -s --max-time 10 "$URL"; }

# scrape_wait - poll (20 s) until a scrape answers; status 0 when it did
scrape_wait() {
	local i
	for ((i = 0; i < 200; i++)); do
		scrape | grep -q '^sesverify_build_info' && return 0
		sleep 0.1
	done
	return 1
}

# metric TEXT SERIES - the value of one exact series line, or "absent"
metric() {
	awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "absent" }' <<<"$1"
}

# --- -n: MetricsSocket is validated with FILE:LINE ---
for bad in 'inet:9167' 'inet:0@127.0.0.1' 'inet:70000@127.0.0.1' 'inet:9167@localhost' \
	'inet6:9167@127.0.0.1' 'unix:/tmp/m.sock' 'inet:9167@[::1]'; do
	ml_conf "MetricsSocket $bad"
	out=$("$ML_BIN" -n -c "$ML_CONF" 2>&1)
	rc=$?
	line=$(grep -n '^MetricsSocket' "$ML_CONF" | cut -d: -f1)
	is "$rc" 1 "-n refuses MetricsSocket $bad"
	like "$out" "^$ML_CONF:$line: .*bad socket" "-n names FILE:LINE for MetricsSocket $bad"
done
for good in "inet:$PORT@127.0.0.1" "inet6:$PORT@::1"; do
	ml_conf "MetricsSocket $good"
	"$ML_BIN" -n -c "$ML_CONF" >/dev/null 2>&1
	is "$?" 0 "-n accepts MetricsSocket $good"
done

ml_conf "CheckFrom envelope" "MetricsSocket inet:$PORT@127.0.0.1" "UnknownWait 4s"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
wait_port "$PORT" 5 || { echo "Bail out! nothing listens on MetricsSocket"; exit 1; }
like "$(grep 'metrics: GET /metrics on' "$ML_LOG")" "inet:$PORT@127.0.0.1" "the log names MetricsSocket"

hdr=$(curl -s -D - -o "$ML_DIR/m0" --max-time 10 "$URL")
like "$hdr" '^HTTP/1\.[01] 200' "GET /metrics: 200"
like "$hdr" '^[Cc]ontent-[Tt]ype: text/plain; version=0\.0\.4; charset=utf-8.$' "Content-Type of format 0.0.4"
out=$(promtool check metrics <"$ML_DIR/m0" 2>&1)
tap_ok $? "promtool check metrics: HTTP output" || diag "$out"

hdr=$(curl -s -I -o /dev/null -D - --max-time 10 "$URL")
like "$hdr" '^HTTP/1\.[01] 200' "HEAD /metrics: 200"

# --- snapshot age: from CacheFile's time, absent while there is none ---
is "$(metric "$(scrape)" sesverify_snapshot_age_seconds)" absent "no CacheFile yet: no snapshot age"
touch -d "@$(($(date +%s) - 1000))" "$ML_DIR/cache"
age=$(metric "$(scrape)" sesverify_snapshot_age_seconds)
like "$age" '^10[0-9][0-9]\.[0-9]{3}$' "CacheFile written 1000 s ago: snapshot age 1000-1099 s ($age)"
rm -f "$ML_DIR/cache"

# --- the counters move as messages are decided ---
before=$(scrape)
ml_msg "verified.test accepted" from='<a@verified.test>' expect_mail=accept
ml_msg "unverified.test rejected" from='<a@unverified.test>' expect_mail=reply
ml_msg "bigdkim.test: API fault, tempfail" from='<a@bigdkim.test>' expect_mail=reply
like "$(grep 'domain=bigdkim.test' "$ML_LOG" | tail -n 1)" 'state=error action=tempfail' \
	"the API fault gave state error, tempfail"
after=$(scrape)
# delta SERIES - after minus before
delta() { echo $(($(metric "$after" "$1") - $(metric "$before" "$1"))); }
is "$(delta 'sesverify_decisions_total{state="verified",action="accept"}')" 1 "decisions: verified/accept +1"
is "$(delta 'sesverify_decisions_total{state="unverified",action="reject"}')" 1 "decisions: unverified/reject +1"
is "$(delta 'sesverify_decisions_total{state="error",action="tempfail"}')" 1 "decisions: error/tempfail +1"
is "$(delta 'sesverify_decisions_total{state="not_exist",action="reject"}')" 0 "decisions: not_exist/reject +0"
is "$(delta 'sesverify_api_requests_total{action="UpdateEmailIdentity",result="ok"}')" 2 \
	"API requests: UpdateEmailIdentity ok +2"
is "$(delta 'sesverify_api_requests_total{action="UpdateEmailIdentity",result="retryable"}')" 1 \
	"API requests: UpdateEmailIdentity retryable (InternalError) +1"
is "$(delta 'sesverify_api_request_duration_seconds_count{action="UpdateEmailIdentity"}')" 3 \
	"API latency histogram: 3 more UpdateEmailIdentity observations"
is "$(delta 'sesverify_api_request_duration_seconds_bucket{action="UpdateEmailIdentity",le="+Inf"}')" 3 \
	"API latency histogram: +Inf bucket +3"
is "$(metric "$after" 'sesverify_api_requests_total{action="ListEmailIdentities",result="retryable"}')" \
	"$(emu_count ListEmailIdentities)" "ListEmailIdentities failures: as many as the emulator answered"
is "$(metric "$after" 'sesverify_cache_entries{state="error"}')" 1 "cache entries: 1 in state error"
like "$(metric "$after" 'sesverify_build_info{version="'"$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")"'"}')" '^1$' \
	"build_info carries the package version"
grep -Eq '^sesverify_[a-z_]+\{[^}]*(\.test|domain=)' <<<"$after"
is "$?" 1 "no domain name in any label"

# RequestLimitExceeded: every such answer the emulator gave is counted
emu_domain upper.test '{"error": "RequestLimitExceeded"}'
before=$after
ml_msg "upper.test: RequestLimitExceeded, tempfail" from='<a@upper.test>' expect_mail=reply
# the refresher retries in the background: poll (10 s) until the counter
# has caught up with the emulator's log
for ((i = 0; i < 100; i++)); do
	after=$(scrape)
	n_rl=$(emu_count UpdateEmailIdentity upper.test)
	[ "$(delta 'sesverify_api_request_limit_exceeded_total')" = "$n_rl" ] && break
	sleep 0.1
done
like "$n_rl" '^[1-9][0-9]*$' "the emulator answered RequestLimitExceeded ($n_rl times)"
is "$(delta 'sesverify_api_request_limit_exceeded_total')" "$n_rl" \
	"sesverify_api_request_limit_exceeded_total: + as many as the emulator answered"
is "$(delta 'sesverify_api_requests_total{action="UpdateEmailIdentity",result="rate_limited"}')" \
	"$n_rl" "API requests: UpdateEmailIdentity rate_limited + as many"
is "$(delta 'sesverify_decisions_total{state="error",action="tempfail"}')" 1 "decisions: error/tempfail +1"

# --- the CLI prints the same families ---
if [ -x "$CLI" ]; then
	cli_out=$("$CLI" -c "$ML_CONF" stats --prometheus 2>&1)
	tap_ok $? "sesverify stats --prometheus: exit 0"
	out=$(promtool check metrics <<<"$cli_out" 2>&1)
	tap_ok $? "promtool check metrics: CLI output" || diag "$out"
	http_out=$(scrape)
	is "$(grep '^# TYPE' <<<"$cli_out")" "$(grep '^# TYPE' <<<"$http_out")" \
		"CLI and HTTP: the same families, same types, same order"
	s='sesverify_decisions_total{state="unverified",action="reject"}'
	is "$(metric "$cli_out" "$s")" "$(metric "$http_out" "$s")" "CLI and HTTP: the same figures"
	"$CLI" -c "$ML_CONF" stats --prometheus --json >/dev/null 2>&1
	is "$?" 2 "stats --prometheus --json: usage error"
	like "$("$CLI" -c "$ML_CONF" stats 2>&1)" '^decision\.reject [1-9]' "sesverify stats: the counters"
	# contrib's textfile writer: atomic, nothing left behind
	tf=$ML_DIR/textfile
	mkdir -p "$tf"
	SESVERIFY=$CLI sh "$top_srcdir/contrib/prometheus/sesverify-textfile.sh" "$tf" "$ML_CONF"
	tap_ok $? "sesverify-textfile.sh: exit 0"
	out=$(promtool check metrics <"$tf/sesverify.prom" 2>&1)
	tap_ok $? "promtool check metrics: the textfile" || diag "$out"
	is "$(stat -c %a "$tf/sesverify.prom")" 644 "the textfile is world-readable (node_exporter)"
	is "$(ls -A "$tf")" "sesverify.prom" "no temporary file left"
	echo old >"$tf/sesverify.prom"
	SESVERIFY=$CLI sh "$top_srcdir/contrib/prometheus/sesverify-textfile.sh" "$tf" "$ML_DIR/nothere.conf" 2>/dev/null
	isnt_rc=$?
	is "$([ $isnt_rc -ne 0 ] && echo failed)" failed "sesverify-textfile.sh with a bad config: non-zero"
	is "$(cat "$tf/sesverify.prom")" old "a failed run leaves the old file as it was"
	is "$(ls -A "$tf")" "sesverify.prom" "a failed run leaves no temporary file"
else
	skip "sesverify stats --prometheus and sesverify-textfile.sh" "milter/sesverify (the CLI) not built" 13
fi

# --- hostile HTTP clients ---
# status REQUEST - the status line's code of a raw request, or "closed"
status() {
	python3 - "$PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    s.sendall(sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1"))
    data = s.recv(4096)
except OSError:
    data = b""
line = data.split(b"\r\n", 1)[0].decode("latin-1")
print(line.split(" ")[1] if line.startswith("HTTP/") else "closed")
PY
}
is "$(status 'GET /other HTTP/1.1\r\nHost: x\r\n\r\n')" 404 "GET /other: 404"
is "$(status 'GET /metrics/x HTTP/1.1\r\nHost: x\r\n\r\n')" 404 "GET /metrics/x: 404"
is "$(status 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')" 405 "POST /metrics: 405"
is "$(status 'DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n')" 405 "DELETE /metrics: 405"
like "$(curl -s -D - -o /dev/null -X PUT "$URL")" '^[Aa]llow: GET, HEAD' "405 names the allowed methods"
is "$(status 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello')" 413 "GET with a body: 413"
big=$(head -c 100000 /dev/zero | tr '\0' a)
code=$(status "GET /metrics HTTP/1.1\\r\\nHost: x\\r\\nX-Big: $big\\r\\n\\r\\n")
like "$code" '^(4[0-9][0-9]|closed)$' "a 100 kB header: 4xx or cut off (got $code)"
code=$(status 'garbage\r\n\r\n')
like "$code" '^(4[0-9][0-9]|closed)$' "a malformed request line: 4xx or cut off (got $code)"

# hold N PART SECS OUT - N connections that each send PART (may be empty),
# then hang on for SECS; "held COUNT" goes to OUT once all are open; the
# seconds each stayed open (from its connect until the server cut it) to
# OUT.cut when SECS end.
hold() {
	python3 - "$PORT" "$1" "$2" "$3" "$4" <<'PY'
import socket, sys, time, select
port, n, part, secs, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
socks, since = [], {}
for _ in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        since[s] = time.monotonic()
        if part:
            s.sendall(part.encode())
        socks.append(s)
    except OSError:
        pass
open(out, "w").write("held %d\n" % len(socks))
t0, cut, open_ = time.monotonic(), [], list(socks)
while open_ and time.monotonic() - t0 < secs:
    r, _, _ = select.select(open_, [], [], 0.2)
    for s in r:
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:
            cut.append(time.monotonic() - since[s])
            open_.remove(s)
open(out + ".cut", "w").write(" ".join("%.1f" % c for c in cut) + "\n")
PY
}

# wait_file FILE - poll (20 s) until FILE exists
wait_file() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# A slow client: half a request line, then nothing.  Mail and scrapes go
# on meanwhile; the server cuts it after its 5 s idle timeout.
hold 1 'GET /metr' 30 "$ML_DIR/slow" &
slowpid=$!
wait_file "$ML_DIR/slow"
is "$(cat "$ML_DIR/slow")" "held 1" "a slow HTTP client is connected"
ml_msg "a slow HTTP client connected: mail still decided" from='<a@verified.test>' expect_mail=accept
like "$(scrape | head -n 1)" '^# HELP' "a slow HTTP client connected: scrapes still answered"
wait "$slowpid"
cut=$(cat "$ML_DIR/slow.cut")
like "$cut" '^([4-9]|1[0-9])\.[0-9]$' "the slow client was cut off by the 5 s connection timeout (after ${cut:-never} s)"

# Many idle connections, more than the limits (32 in all, 8 per address).
hold 80 '' 8 "$ML_DIR/flood" &
floodpid=$!
wait_file "$ML_DIR/flood"
like "$(cat "$ML_DIR/flood")" '^held [0-9]+$' "80 idle HTTP connections attempted ($(cat "$ML_DIR/flood"))"
ml_msg "80 idle HTTP connections: mail still decided" from='<a@unverified.test>' expect_mail=reply
ml_msg "80 idle HTTP connections: another message decided" from='<a@verified.test>' expect_mail=accept
kill -0 "$(ml_worker)" 2>/dev/null
tap_ok $? "the worker is alive during the flood"
wait "$floodpid"
# the per-address limit (8) refuses the others at once; only 8 are served
# until the 5 s idle timeout cuts them
n_long=$(tr ' ' '\n' <"$ML_DIR/flood.cut" | awk '$1 != "" && $1 >= 4 { n++ } END { print n + 0 }')
n_all=$(wc -w <"$ML_DIR/flood.cut")
is "$n_long" 8 "80 connections from one address: 8 served until the idle timeout"
is "$n_all" 80 "80 connections from one address: all 80 closed by the server"
scrape_wait
tap_ok $? "after the flood: /metrics answers again"

# A worker that dies is replaced; the new one binds MetricsSocket again.
old_worker=$(ml_worker)
ml_expect_death "$old_worker" # this worker only: any other death still fails
kill -KILL "$old_worker"
new_worker=$(ml_new_worker "$old_worker")
tap_ok $? "a killed worker is replaced ($old_worker -> $new_worker)"
scrape_wait
tap_ok $? "the new worker serves /metrics on the same port"
ml_msg "the new worker decides mail" from='<a@verified.test>' expect_mail=accept

# Reload: MetricsSocket is applied at restart only; the old one keeps serving.
ml_conf "CheckFrom envelope" "MetricsSocket inet:$(free_port)@127.0.0.1" "UnknownWait 4s"
ml_reload USR1
tap_ok $? "reload with a new MetricsSocket"
ml_log_wait 'reload: MetricsSocket changed; restart to apply it'
tap_ok $? "reload: MetricsSocket change logged as needing a restart"
like "$(scrape | head -n 1)" '^# HELP' "after the reload: the old MetricsSocket still serves"

ml_stop
is "$ML_STATUS" 0 "stopped cleanly"
if grep -q 'sesverify-test-secret' "$ML_DIR"/m0 "$ML_LOG"; then
	not_ok "the SecretKey appears in neither the metrics nor the log"
else
	ok "the SecretKey appears in neither the metrics nor the log"
fi
tap_done
