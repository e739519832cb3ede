#!/bin/bash
# tests/security/soak.sh - load and soak under injected API faults (run by
# hand, not in "make check": a few minutes of full load).
#
# usage: top_builddir=BUILD top_srcdir=SRC tests/security/soak.sh
#	[CONNS [MESSAGES [FAULT_RATE]]]   (default 500 100000 0.1)
#
# Starts the real sesverify-milter (Mode enforce, CheckFrom envelope)
# against the test DNS server and the SES emulator, whose global
# fault_rate makes that share of API requests fail (HTTP 500, TCP reset,
# RequestLimitExceeded), then drives it with tests/bench/loadgen: a warm-up
# of 10% of the messages, then the rest, over CONNS concurrent milter
# connections and a mix of verified, unverified and not-set-up domains.
#
# Checks (TAP):
#   - every message got a final reply (loadgen exit 0, no timeout);
#   - zero wrong decisions against the scenario's truth: a verified domain
#     is never refused with 5xx; an unverified or not-set-up domain is
#     never accepted (in enforce mode; a 4xx tempfail is allowed for both
#     while the API is failing);
#   - zero crashes: the same worker pid from start to end, no "worker
#     died", no sanitizer report in the log;
#   - heap growth after warm-up below 5%: the worker's malloc heap in use
#     (mem.heap_in_use of the control socket's "stats", glibc's mallinfo2
#     over every arena), read between two loadgen rounds when no
#     connection is open, median of the main phase's last quarter against
#     its first quarter (glibc's tcache off: see SOAK_TCACHE below).  RSS and the heap are also sampled every second
#     under load and printed, but they swing by 10-40% with the
#     connections' transient buffers (and RSS with pages free() keeps),
#     so they cannot show a 5% leak;
#   - the API was really exercised: at least one request per second of the
#     run on average, and some of them faulted.
#
# By default (SOAK_PRECHECK=silent) the pre-check's nameserver is a port
# where nothing answers (DnsTimeout 100ms), so no refresh is settled by DNS
# and every expiry costs an UpdateEmailIdentity into the faulty API, as in
# production when the pre-check cannot decide.  SOAK_PRECHECK=dns uses the
# test DNS server instead: the pre-check then settles most refreshes and
# the API sees few requests.
# Prints the figures (msg/s, outcome counts, heap, RSS, API) as "#" lines;
# SOAK_KEEP=DIR keeps the per-second samples and the logs there.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

conns=${1:-500}
total=${2:-100000}
rate=${3:-0.1}
LG=$top_builddir/tests/bench/loadgen
[ -x "$LG" ] || skip_all "tests/bench/loadgen not built (make check builds it)"
ulimit -n 65536 2>/dev/null || ulimit -n 4096

ml_setup
python3 - "$EMU_SCENARIO" "$rate" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d.setdefault("global", {})
d["global"]["fault_rate"] = float(sys.argv[2])
d["global"]["faults"] = ["http500", "reset", "ratelimit"]
json.dump(d, open(sys.argv[1], "w"))
PY
# short TTLs: the refresher keeps asking the (faulty) API during the run
precheck=()
if [ "${SOAK_PRECHECK:-silent}" = silent ]; then
	precheck=("DnsTimeout 100ms")
fi
ml_conf "${precheck[@]}" "Mode enforce" "CheckFrom envelope" "Outgoing auth,internal" \
	"VerifiedTTL ${SOAK_TTL:-2s}" "UnverifiedTTL ${SOAK_TTL:-2s}" "NotExistTTL ${SOAK_TTL:-2s}" \
	"ErrorTTL 1s" "MaxApiAge ${SOAK_MAX_API_AGE:-1m}" \
	"MaxEntries 2000" "UnknownWait 0s" "UnknownAction tempfail"
# milter-lib's LogLevel debug would write a few lines per message
sed -i 's/^LogLevel debug$/LogLevel notice/' "$ML_CONF"
if [ "${SOAK_PRECHECK:-silent}" = silent ]; then
	sed -i "s/^Nameserver .*/Nameserver 127.0.0.1@$(free_port)/" "$ML_CONF"
fi
# glibc's per-thread caches (tcache) hold freed chunks that mallinfo2
# counts as in use; they fill over minutes as threads meet new sizes and
# look like slow growth.  Without them, mem.heap_in_use is exactly the
# program's live allocations.  SOAK_TCACHE=1 keeps them.
[ "${SOAK_TCACHE:-0}" = 1 ] || export GLIBC_TUNABLES=glibc.malloc.tcache_count=0
ml_start || { echo "Bail out! milter did not start"; exit 1; }
unset GLIBC_TUNABLES
worker=$(ml_worker)

good="verified.test bigdkim.test upper.test cname.test"
bad="unverified.test spfwrong.test mxwrong.test notexist.test nxdomain.test"
mix=""
for d in $good; do mix+="$d:15,"; done
for d in $bad; do mix+="$d:8,"; done
# a fresh random domain now and then: each one is an API call (through the
# rate limiter, into the faults) while the MTA gets an immediate tempfail;
# MaxEntries keeps the cache, and so the RSS, bounded
mix+="rand:${SOAK_RAND_WEIGHT:-1}"

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$worker/status" 2>/dev/null; }
# heap - the worker's malloc heap in use, kB (from the control socket)
heap() { ml_ctl stats | awk '$1 == "mem.heap_in_use" { printf "%d", $2 / 1024 }'; }
[ -n "$(heap)" ] || skip_all "no mem.heap_in_use counter (built without mallinfo2)"
threads() { awk '/^Threads:/ { print $2 }' "/proc/$worker/status" 2>/dev/null; }

# run NAME MSGS_PER_CONN - one loadgen run; output in $ML_DIR/NAME.out
run() {
	"$LG" -s "unix:$ML_SOCK" -c "$conns" -m "$2" -d "$mix" -n "$1" -T 60 -t 3600 -S 42 \
		>"$ML_DIR/$1.out" 2>&1
}

warm_msgs=$(((total / 10 + conns - 1) / conns))
warm_msgs=$(((warm_msgs + 19) / 20 * 20)) # whole rounds of 20
# (the main phase repeats rounds too, for at least SOAK_SECS seconds)
main_msgs=$(((total - warm_msgs * conns + conns - 1) / conns))
diag "$conns connections; warm-up $((warm_msgs * conns)) + main $((main_msgs * conns)) messages; API fault rate $rate; mix $mix"
rss0=$(rss)
heap0=$(heap)
start=$(date +%s)
# the worker's RSS and heap every second, labelled with the phase
echo warm >"$ML_DIR/phase"
(
	while sleep 1; do echo "$(cat "$ML_DIR/phase") $(rss) $(heap)"; done
) >"$ML_DIR/rss.samples" &
sampler=$!
at_exit "kill $sampler 2>/dev/null"
# warm-up: the same shape as the main phase (rounds of 20 messages per
# connection), a tenth of the run in messages and in time, so that thread
# stacks, malloc arenas and per-connection buffers reach their working size
warm_ok=0
r=0
while [ "$r" -lt "$((warm_msgs / 20))" ] || [ $(($(date +%s) - start)) -lt "$((${SOAK_SECS:-60} / 10))" ]; do
	r=$((r + 1))
	run "warmup$r" 20 || warm_ok=1
done
warm_sent=$((r * 20 * conns))
tap_ok "$warm_ok" "warm-up: $r rounds, $((r * 20 * conns)) messages, every message answered (loadgen exit 0)"
rss1=$(rss)
diag "RSS: at start ${rss0} kB, after warm-up ${rss1} kB; heap in use ${heap0} kB, then $(heap) kB; threads $(threads)"
echo main >"$ML_DIR/phase"

# main phase: rounds of 20 messages per connection (each round reconnects
# every connection) until the message count is reached and at least
# SOAK_SECS (default 60) have passed, so that the short TTLs expire many
# times and the refresher meets the faulty API again and again
round=0
sent=0
main_ok=0
main_start=$(date +%s)
# (every 10th round, the heap is also read between two rounds, when no
# connection is open: the quiet samples the growth test uses)
while [ "$sent" -lt "$((main_msgs * conns))" ] || [ $(($(date +%s) - main_start)) -lt "${SOAK_SECS:-60}" ]; do
	round=$((round + 1))
	run "main$round" 20 || main_ok=1
	sent=$((sent + 20 * conns))
	[ $((round % 10)) -eq 1 ] && echo "main $(rss) $(heap)" >>"$ML_DIR/quiet.samples"
done
tap_ok "$main_ok" "main phase: $round rounds, $sent messages, every one answered (loadgen exit 0)"
kill "$sampler" 2>/dev/null
sleep 1
rss2=$(rss)
secs=$(($(date +%s) - start))
peak_warm=$(awk '$1 == "warm" && $2 > m { m = $2 } END { print m + 0 }' "$ML_DIR/rss.samples")
peak_main=$(awk '$1 == "main" && $2 > m { m = $2 } END { print m + 0 }' "$ML_DIR/rss.samples")
diag "RSS: after the main run ${rss2} kB; peak during warm-up ${peak_warm} kB, during the main phase ${peak_main} kB; wall time ${secs} s"
for col in 2:RSS 3:heap; do
	awk -v c="${col%%:*}" -v what="${col#*:}" '$1 == "main" { v[++n] = $c } END { if (n) printf "# %s samples (kB) at 0/25/50/75/100%% of the main phase: %d %d %d %d %d (min %d, max %d)\n", what, v[1], v[int(n / 4) + 1], v[int(n / 2) + 1], v[int(3 * n / 4) + 1], v[n], lo(), hi() }
		function lo(  i, m) { m = v[1]; for (i = 2; i <= n; i++) if (v[i] < m) m = v[i]; return m }
		function hi(  i, m) { m = v[1]; for (i = 2; i <= n; i++) if (v[i] > m) m = v[i]; return m }' "$ML_DIR/rss.samples"
done
grep -h -E '^RESULT' "$ML_DIR"/warmup1.out "$ML_DIR"/main1.out "$ML_DIR/main$round.out" | sed 's/^/# /'
awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "msgs") m += kv[2]; if (kv[1] == "secs") t += kv[2]; if (kv[1] == "errors") e += kv[2] } }
	END { printf "# all runs: %d messages in %.1f s of loadgen time (%.0f msg/s), %d protocol errors\n", m, t, m / t, e }' "$ML_DIR"/warmup*.out "$ML_DIR"/main*.out

# decisions against the truth
wrong=0
answered=0
for f in "$ML_DIR"/warmup*.out "$ML_DIR"/main*.out; do
	while read -r _ class code n; do
		answered=$((answered + n))
		case " $good " in
		*" $class "*) [[ $code == 5* ]] && { diag "WRONG: $class $code x$n"; wrong=$((wrong + n)); } ;;
		*) [ "$code" = accept ] && { diag "WRONG: $class $code x$n"; wrong=$((wrong + n)); } ;; # incl. rand (not set up)
		esac
	done < <(awk '$1 == "OUTCOME" { key = $3; for (i = 4; i < NF; i++) key = key "_" $i; print $1, $2, key, $NF }' "$f")
done
awk '$1 == "OUTCOME"' "$ML_DIR"/warmup*.out "$ML_DIR"/main*.out |
	awk '{ key = $2 " " $3; for (i = 4; i < NF; i++) key = key " " $i; c[key] += $NF } END { for (k in c) print "# outcome " k ": " c[k] }' | sort
is "$answered" "$((warm_sent + sent))" "every message has a counted final reply"
is "$wrong" 0 "zero wrong decisions (verified never 5xx; unverified/not set up never accepted)"
is "$(ml_worker)" "$worker" "zero crashes: the same worker from start to end"
is "$(grep -c 'worker died' "$ML_LOG")" 0 "no worker death in the log"
is "$(grep -Ec 'AddressSanitizer|runtime error:' "$ML_LOG")" 0 "no sanitizer report"
# growth: the median of the main phase's last quarter against that of its
# first quarter, for the heap (the test) and for RSS (printed only); single
# samples swing with the connections' transient buffers, a leak moves the
# median, noise does not
quarters() {
	awk -v c="$1" '$1 == "main" && $c != "" { v[++n] = $c }
	function med(a, b,   k, i, j, t, w) { k = 0; for (i = a; i <= b; i++) w[++k] = v[i]
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (w[j] < w[i]) { t = w[i]; w[i] = w[j]; w[j] = t }
		return w[int((k + 1) / 2)] }
	END { q = int(n / 4); if (q < 1) q = 1; print med(1, q), med(n - q + 1, n) }' "$2"
}
read -r r1 r4 < <(quarters 2 "$ML_DIR/rss.samples")
diag "RSS change over the main phase (printed, not tested): $(awk -v a="$r1" -v b="$r4" 'BEGIN { if (a > 0) printf "%+.2f%%", (b - a) * 100 / a; else printf "n/a" }'), median ${r1} kB in its first quarter, ${r4} kB in its last"
read -r h1 h4 < <(quarters 3 "$ML_DIR/rss.samples")
diag "heap change under load (printed, not tested): $(awk -v a="$h1" -v b="$h4" 'BEGIN { if (a > 0) printf "%+.2f%%", (b - a) * 100 / a; else printf "n/a" }'), median ${h1} kB in the first quarter, ${h4} kB in the last"
diag "quiet heap samples (kB, every 10th round): $(awk '{ printf "%s ", $3 }' "$ML_DIR/quiet.samples")"
read -r q1 q4 < <(quarters 3 "$ML_DIR/quiet.samples")
growth=$(awk -v a="$q1" -v b="$q4" 'BEGIN { if (a > 0) printf "%.2f", (b - a) * 100 / a; else printf "n/a" }')
if [ "${SV_SANITIZE:-}" = 1 ]; then
	ok "# SKIP heap growth: ASan's allocator is not glibc's, mallinfo2 does not see it"
else
awk -v g="$growth" 'BEGIN { exit !(g < 5) }'
tap_ok $? "worker heap growth after warm-up ${growth}% (< 5%): median ${q1} kB in use between rounds in the main phase's first quarter, ${q4} kB in its last"
fi
faults=$(grep -c '"fault": "' "$EMU_LOG")
requests=$(wc -l <"$EMU_LOG")
diag "emulator: ${requests} API requests in ${secs} s ($(awk -v r="$requests" -v s="$secs" 'BEGIN { printf "%.1f", r / s }')/s, busiest second $(emu_max_per_second)), ${faults} of them answered with an injected fault"
[ "$faults" -gt 0 ]
tap_ok $? "faults were really injected during the run"
if [ "${SOAK_PRECHECK:-silent}" = silent ]; then
	[ "$requests" -ge "$secs" ]
	tap_ok $? "the API was exercised throughout: ${requests} requests in ${secs} s"
	[ "$(emu_max_per_second)" -le 20 ]
	tap_ok $? "never more than 20 API requests in a second (busiest: $(emu_max_per_second))"
fi
ml_stop
is "$ML_STATUS" 0 "clean stop after the soak"
# SOAK_KEEP=DIR: keep the samples and logs for a closer look
if [ -n "${SOAK_KEEP:-}" ]; then
	mkdir -p "$SOAK_KEEP" && cp "$ML_DIR/rss.samples" "$ML_DIR/quiet.samples" "$ML_LOG" "$EMU_LOG" "$SOAK_KEEP"/ &&
		diag "samples and logs kept in $SOAK_KEEP"
fi
tap_done
