#!/bin/bash
# test-faults-daemon.sh - signals at bad moments.
#
# - SIGHUP / SIGUSR1 with a broken configuration (unknown key, bad value,
#   missing file, binary junk, a value cut off, mode 0644 with SecretKey in
#   it): the old configuration is kept, the worker is not restarted, and the
#   decisions afterwards are the same as before (accept, 550 reply, monitor
#   header absent).  A worker killed while the file on disk is broken is
#   restarted with the last good configuration.
# - SIGTERM under load (tests/bench/loadgen, 8 connections): every message
#   loadgen sent got a right answer or a connection error (which an MTA
#   turns into a tempfail) - never a wrong accept or reject; each answer
#   was logged as a decision; the milter exits 0 within its grace period
#   and writes the snapshot.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/faults/faults-lib.sh"

LG=$top_builddir/tests/bench/loadgen
[ -x "$LG" ] || skip_all "tests/bench/loadgen not built"
ml_setup
ml_conf "CheckFrom envelope" "DnsTimeout 300ms"
cp "$ML_CONF" "$ML_DIR/good.conf"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
worker=$(ml_worker)

# decisions TAG - the same three decisions every time
decisions() {
	ml_msg "$1: verified.test accepted" from='<a@verified.test>' expect_mail=accept
	ml_msg "$1: unverified.test refused" from='<a@unverified.test>' expect_mail=reply
	like "$(fl_decision unverified.test)" 'action=reject reply="550 5\.7\.1 unverified\.test' \
		"$1: unverified.test: 550 5.7.1 (Mode enforce, not monitor)"
	ml_msg "$1: notexist.test refused" from='<a@notexist.test>' expect_mail=reply
}
decisions "before"

# broken NAME SIGNAL - the file is broken already; reload must keep the old one
broken() {
	local name=$1 sig=$2 n i
	n=$(ml_log_count 'keeping the old configuration')
	kill "-$sig" "$ML_PID"
	for ((i = 0; i < 100; i++)); do
		[ "$(ml_log_count 'keeping the old configuration')" -gt "$n" ] && break
		sleep 0.05
	done
	[ "$(ml_log_count 'keeping the old configuration')" -gt "$n" ]
	tap_ok $? "$name ($sig): logged, old configuration kept"
	is "$(ml_worker)" "$worker" "$name ($sig): the worker was not restarted"
	kill -0 "$ML_PID" 2>/dev/null
	tap_ok $? "$name ($sig): the supervisor runs"
	decisions "after $name"
}
# Each broken file also switches to Mode monitor, which must not take effect.
{ cat "$ML_DIR/good.conf"; echo "Mode monitor"; echo "NoSuchKey 1"; } >"$ML_CONF"
broken "unknown key" HUP
{ cat "$ML_DIR/good.conf"; echo "Mode sideways"; } >"$ML_CONF"
broken "bad value" USR1
rm -f "$ML_CONF"
broken "missing file" HUP
head -c 2000 /dev/urandom >"$ML_CONF"
broken "binary junk" USR1
{ cat "$ML_DIR/good.conf"; echo "Mode monitor"; printf 'ApiTimeout'; } >"$ML_CONF"
broken "value cut off" HUP
{ cat "$ML_DIR/good.conf"; echo "Mode monitor"; } >"$ML_CONF"
chmod 0644 "$ML_CONF"
broken "mode 0644 with SecretKey" USR1

# The file is still broken (world-readable): a crashed worker must come
# back with the last good configuration, and keep filtering.  Only this
# worker's death is expected; the log scan checks every other pid.
ml_expect_death "$worker"
kill -9 "$worker"
new=$(ml_new_worker "$worker")
tap_ok $? "worker killed while the file is broken: restarted ($worker -> $new)"
worker=$new
decisions "restarted worker"

# A good file again: reloaded, and now Mode monitor is in force (proves the
# reload path works and the checks above could see a change).
{ cat "$ML_DIR/good.conf"; echo "Mode monitor"; } >"$ML_CONF"
chmod 0600 "$ML_CONF"
ml_reload HUP
ml_msg "good file: Mode monitor now in force" from='<a@unverified.test>' expect_mail=continue \
	expect_hdr='unverified; source=envelope; domain=unverified.test; would=reject'
cp "$ML_DIR/good.conf" "$ML_CONF"
ml_reload USR1
ml_msg "back to enforce" from='<a@unverified.test>' expect_mail=reply

# --- SIGTERM under load ------------------------------------------------------------
rm -f "$ML_DIR/cache"
dec0=$(ml_log_count ' action=')
"$LG" -s "unix:$ML_SOCK" -c 8 -m 100000 -t 8 -T 15 -S 5 -n term -v \
	-d verified.test:60,unverified.test:25,notexist.test:15 >"$ML_DIR/lg.out" 2>&1 &
lg_pid=$!
at_exit "kill -9 $lg_pid 2>/dev/null"
sleep 1.5
t0=$(date +%s%N)
ml_mark
kill -TERM "$ML_PID"
for ((i = 0; i < 400; i++)); do
	kill -0 "$ML_PID" 2>/dev/null || break
	sleep 0.05
done
el=$((($(date +%s%N) - t0) / 1000000))
wait "$ML_PID"
st=$?
ML_PID=
is "$st" 0 "SIGTERM under load: exit status 0"
[ "$el" -lt 15000 ]
tap_ok $? "SIGTERM under load: stopped in ${el} ms (callbacks get at most 10 s)"
for ((i = 0; i < 200; i++)); do
	kill -0 "$lg_pid" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$lg_pid" 2>/dev/null && kill -INT "$lg_pid"
wait "$lg_pid"
grep -Ev '^OUTCOME' "$ML_DIR/lg.out" | sed 's/^/# loadgen: /' | head -n 30
grep '^OUTCOME' "$ML_DIR/lg.out" | sed 's/^/# /'

# outcome CLASS REGEX - messages of CLASS whose answer matches REGEX
outcome() {
	awk -v c="$1" -v re="$2" '$1 == "OUTCOME" && $2 == c {
		key = $3; for (i = 4; i < NF; i++) key = key " " $i
		if (key ~ re) s += $NF } END { print s + 0 }' "$ML_DIR/lg.out"
}
total=$(awk '$1 == "OUTCOME" { s += $NF } END { print s + 0 }' "$ML_DIR/lg.out")
errs=$(sed -n 's/^RESULT .* errors=\([0-9]*\).*/\1/p' "$ML_DIR/lg.out")
[ "$total" -gt 100 ]
tap_ok $? "SIGTERM under load: $total messages answered before and during the stop"
# right answers, or a tempfail (4xx): anything else is a wrong decision
is "$(outcome verified.test '^(accept|tempfail|4[0-9][0-9] .*)$')" "$(outcome verified.test .)" \
	"SIGTERM under load: verified.test only accepted (or deferred), never refused"
is "$(outcome unverified.test '^(550 5\.7\.1|tempfail|4[0-9][0-9] .*)$')" "$(outcome unverified.test .)" \
	"SIGTERM under load: unverified.test only refused with 550 5.7.1 (or deferred), never accepted"
is "$(outcome notexist.test '^(550 5\.7\.1|tempfail|4[0-9][0-9] .*)$')" "$(outcome notexist.test .)" \
	"SIGTERM under load: notexist.test only refused with 550 5.7.1 (or deferred), never accepted"
# A connection that failed lost at most its one message in flight, which
# the MTA defers (milter_default_action=tempfail); loadgen counts one
# error per failed connection at most.
[ "${errs:-99}" -le 8 ]
tap_ok $? "SIGTERM under load: $errs connection errors (at most one per connection, each an MTA tempfail)"
# the connection errors: the milter closed them, nothing hung
is "$(grep -c '^error: connection [0-9]*:' "$ML_DIR/lg.out")" "$(grep -c '^error: connection [0-9]*: \(connection closed\|write:\)' "$ML_DIR/lg.out")" \
	"SIGTERM under load: every connection error is a closed connection, none a hang (no reply within -T)"
dec=$(($(ml_log_count ' action=') - dec0))
tf=$(awk '$1 == "OUTCOME" && $3 == "tempfail" { s += $NF } END { print s + 0 }' "$ML_DIR/lg.out")
[ "$dec" -ge "$((total - tf))" ]
tap_ok $? "SIGTERM under load: every accept and reject was a logged decision ($dec logged, $((total - tf)) answered)"
# While draining, new messages are deferred; each deferral is a logged
# decision too (milterfuncs.c defer_stopping).
if [ "$dec" -ge "$total" ]; then
	ok "SIGTERM under load: the deferrals while draining are logged too"
else
	not_ok "SIGTERM under load: the deferrals while draining are logged too ($((total - dec)) of $tf tempfails unlogged)"
fi
like "$(ml_log_since | grep 'cache snapshot' | tail -n 1)" 'cache snapshot saved: [1-9]' \
	"SIGTERM under load: the snapshot was saved"
[ -s "$ML_DIR/cache" ] && head -c 16 "$ML_DIR/cache" | grep -q '^sesverify-cache'
tap_ok $? "SIGTERM under load: CacheFile written"
[ ! -e "$ML_DIR/milter.pid" ]
tap_ok $? "SIGTERM under load: PidFile removed"
[ ! -S "$ML_CTL" ]
tap_ok $? "SIGTERM under load: ControlSocket removed"
# libmilter removes the milter socket only when not running as root
# (sesverify-milter(8), PRIVILEGES AND SOCKETS)
if [ "$(id -u)" != 0 ]; then
	[ ! -S "$ML_SOCK" ]
	tap_ok $? "SIGTERM under load: milter socket removed"
else
	skip "SIGTERM under load: milter socket removed" "running as root: libmilter keeps its socket"
fi
# ML_PID was cleared above (this script stopped the milter itself): the
# sanitizer and worker-death scan of the whole log, SIGTERM phase included
ml_scan_log && ok "no sanitizer report, no unexpected worker death in the milter log"
grep -q "$EMU_SECRET_KEY" "$ML_LOG" "$ML_DIR/lg.out"
tap_ok $((!$?)) "the SecretKey is in no log"
[ -n "${FL_KEEP:-}" ] && cp "$ML_LOG" "$ML_DIR/lg.out" "$FL_KEEP/"
tap_done
