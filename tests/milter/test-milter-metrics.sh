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
like "$hdr" $'\n[Cc]ontent-[Tt]ype: text/plain; version=0\\.0\\.4; charset=utf-8' "Content-Type of format 0.0.4"
out=$(promtool check metrics <"$ML_DIR/m0" 2>&1)
tap_ok $? "promtool check metrics: HTTP output" || diag "$out"

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
	like "$("$CLI" -c "$ML_CONF" stats 2>&1)" $'\ndecision\\.reject [1-9]' "sesverify stats: the counters"
else
	diag "sesverify CLI not built; CLI checks skipped"
fi

tap_done
