#!/bin/bash
# tests/faults/test-faults-restart-rate.sh - ApiRate holds across restarts.
#
# The rate limiter lives in the worker process; the server's budget of 20
# requests per second belongs to the account.  A worker killed with -9
# right after it spent a second's budget is replaced within ~100 ms, and
# the new one must not spend another 20 in that same second; neither
# must a daemon started right after another one stopped.
#
# Set-up: ApiRate 20, UnknownWait 0s, ListEmailIdentities failing and a
# pre-check nameserver where nothing answers (so neither the list nor
# NXDOMAIN settles a never-seen domain: each costs an UpdateEmailIdentity),
# and
# loadgen sending fresh random domains without pause, so the refresher
# always has more work than budget.  The emulator enforces 20 per second
# itself and logs every request with its arrival time.
#
# Checks (TAP): the burst really filled a second (20 requests), the worker
# was really replaced and the new one really called the API; the busiest
# second of the whole run (old and new worker together) had at most 20
# requests, and the emulator refused none for the rate.  Then the same
# across a SIGTERM and an immediate start of a new daemon.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/faults/faults-lib.sh"

LG=$top_builddir/tests/bench/loadgen
[ -x "$LG" ] || skip_all "tests/bench/loadgen not built"

ml_setup
python3 - "$EMU_SCENARIO" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["list"] = {"error": "InternalError"}
json.dump(d, open(sys.argv[1], "w"))
PY
ml_conf "ApiRate 20" "UnknownWait 0s" "UnknownAction tempfail" "DnsTimeout 100ms" \
	"RefreshWorkers 32" "WarmUp no"
sed -i "s/^Nameserver .*/Nameserver 127.0.0.1@$(free_port)/; s/^LogLevel debug$/LogLevel info/" "$ML_CONF"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

# traffic - loadgen runs of fresh random domains until $ML_DIR/stop exists
traffic() {
	local seed=1
	while [ ! -e "$ML_DIR/stop" ]; do
		seed=$((seed + 1))
		"$LG" -s "unix:$ML_SOCK" -c 2 -m 50 -d rand:1 -S "$seed" -T 5 -t 10 >/dev/null 2>&1
		[ $? -eq 0 ] || sleep 0.02 # the worker is being replaced
	done
}

# rate_refused - requests the emulator refused for the rate (not injected)
rate_refused() {
	grep '"code": "RequestLimitExceeded"' "$EMU_LOG" | grep -c '"fault": null'
}

# window_checks WHAT SKIP REFUSED - the busiest second of the requests after
# the first SKIP, and the rate refusals beyond REFUSED: two TAP points
window_checks() {
	local max rc
	max=$(emu_max_per_second "$2")
	[ "$max" -le 20 ]
	rc=$?
	tap_ok $rc "$1 together: at most 20 requests in any second (busiest: $max)"
	[ $rc -eq 0 ] || busiest
	is "$(($(rate_refused) - $3))" 0 "$1: the emulator refused no request for the rate"
}

# busiest - diagnostics: the requests of the busiest second, with the
# milter's restart lines
busiest() {
	python3 - "$EMU_LOG" "$ML_DIR/events" <<'PY'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
for l in open(sys.argv[2]):
    t, what = l.split(" ", 1)
    rs.append({"time": float(t), "action": "--- " + what.strip(), "domain": "", "code": "", "result": ""})
rs.sort(key=lambda r: r["time"])
best, at, j = 0, 0, 0
for i, r in enumerate(rs):
    while rs[j]["time"] <= r["time"] - 1.0:
        j += 1
    if i - j + 1 > best:
        best, at = i - j + 1, j
t0 = rs[at]["time"]
for r in rs[at:at + best]:
    print("#   +%.3f %s %s %s" % (r["time"] - t0, r["action"], r["domain"][:24], r["code"] or r["result"]))
PY
	grep -E 'worker died|restarted worker|ms ago: no API|ready on|stopping' "$ML_LOG" | sed 's/^/#   /'
}

# requests - how many requests the emulator has logged
requests() { wc -l <"$EMU_LOG"; }

# wait_requests N SECS - until the emulator has logged N requests
wait_requests() {
	local i
	for ((i = 0; i < $2 * 100; i++)); do
		[ "$(requests)" -ge "$1" ] && return 0
		sleep 0.01
	done
	return 1
}

# --- kill -9 of the worker right after it spent a second ----------------------
worker=$(ml_worker)
rm -f "$ML_DIR/stop"
traffic &
tpid=$!
at_exit "touch $ML_DIR/stop; kill $tpid 2>/dev/null"
wait_requests 20 10
tap_ok $? "kill -9: the worker sent 20 requests (the budget of its first second)"
ml_mark
kill_mark=$ML_MARK
ml_expect_death "$worker" # this worker only: any other death still fails
kill -9 "$worker"
echo "$(date +%s.%N) kill -9" >>"$ML_DIR/events"
killed_at=$(requests)
ml_new_worker "$worker" >/dev/null
tap_ok $? "kill -9: the supervisor started a new worker"
wait_requests $((killed_at + 30)) 10
tap_ok $? "kill -9: the new worker called the API too ($(($(requests) - killed_at)) requests so far)"
sleep 1
touch "$ML_DIR/stop"
wait "$tpid"
window_checks "kill -9: old and new worker" 0 0
ml_log_wait 'restarted worker: no API request until' 1 "$kill_mark"
tap_ok $? "kill -9: the new worker logged why it waited"

# --- SIGTERM, and a new daemon at once ---------------------------------------
sleep 1.1 # a quiet second, so the counts below are this part's only
before=$(requests)
refused_before=$(rate_refused)
rm -f "$ML_DIR/stop"
traffic &
tpid=$!
wait_requests $((before + 20)) 10
tap_ok $? "restart: the daemon sent 20 requests in its second"
echo "$(date +%s.%N) SIGTERM" >>"$ML_DIR/events"
ml_stop
echo "$(date +%s.%N) stopped" >>"$ML_DIR/events"
is "$ML_STATUS" 0 "restart: the daemon stopped cleanly"
ml_mark
start_mark=$ML_MARK
# The hold depends on the file's age alone.  The stop above can take most
# of a second on a loaded machine (drain, final save, exit), so date the
# file "just written" for the point below instead of racing the clock; the
# window checks still measure the real stop and start.
touch -c "$ML_DIR/cache"
ml_start || not_ok "restart: the new daemon started"
echo "$(date +%s.%N) started" >>"$ML_DIR/events"
wait_requests $((before + 50)) 10
tap_ok $? "restart: the new daemon called the API ($(($(requests) - before)) requests since the stop's second)"
touch "$ML_DIR/stop"
wait "$tpid"
window_checks "restart: old and new daemon" "$before" "$refused_before"
ml_log_wait 'written [0-9]+ ms ago: no API request for' 1 "$start_mark"
rc=$?
tap_ok $rc "restart: the new daemon held its API requests after the recent save"
[ $rc -eq 0 ] || ml_log_since "$start_mark" | grep -E 'snapshot|ready on|ms ago' | sed 's/^/#   /'
ml_stop
tap_done
