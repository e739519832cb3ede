#!/bin/bash
# test-milter-signals.sh - the supervisor: SIGHUP and SIGUSR1 reload (a broken
# file is logged and the old config kept), kill -9 of the worker is survived,
# SIGTERM stops gracefully and writes the cache snapshot.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
ml_conf "CheckFrom envelope"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
is "$(cat "$ML_DIR/milter.pid")" "$ML_PID" "PidFile holds the supervisor's pid"
worker=$(ml_worker)
ok_worker=0
[ -n "$worker" ] && [ "$worker" != "$ML_PID" ] && ok_worker=1
tap_ok $((1 - ok_worker)) "a worker child runs under the supervisor ($worker)"

ml_msg "enforce: unverified rejected" from='<a@unverified.test>' expect_mail=reply

# SIGHUP (log rotation) must reload, never stop.
ml_conf "CheckFrom envelope" "Mode monitor"
ml_mark
kill -HUP "$ML_PID"
ml_log_wait 'configuration reloaded' 5 "$ML_MARK"
tap_ok $? "SIGHUP: configuration reloaded"
ml_msg "after SIGHUP: Mode monitor in force" from='<a@unverified.test>' expect_mail=continue \
	expect_hdr='unverified; source=envelope; domain=unverified.test; would=reject'
is "$(ml_worker)" "$worker" "SIGHUP did not restart the worker"

# A broken file: every error logged, the old config kept.
printf 'Mode sideways\nNoSuchKey 1\n' >>"$ML_CONF"
ml_mark
kill -USR1 "$ML_PID"
ml_log_wait 'keeping the old configuration' 5 "$ML_MARK"
tap_ok $? "SIGUSR1 with a broken file: old configuration kept"
like "$(ml_log_since)" "milter\.conf:[0-9]+: Mode" "the error names file and line"
ml_msg "still Mode monitor" from='<a@unverified.test>' expect_mail=continue \
	expect_hdr='unverified; source=envelope; domain=unverified.test; would=reject'

# Back to enforce with SIGUSR1.
ml_conf "CheckFrom envelope"
ml_reload USR1
ml_msg "SIGUSR1: enforce again" from='<a@unverified.test>' expect_mail=reply

# kill -9 of the worker: the supervisor starts a new one.  Only this
# worker's death is expected (the log scan at the end checks every other).
ml_mark
ml_expect_death "$worker"
kill -9 "$worker"
new=$(ml_new_worker "$worker")
tap_ok $? "worker killed with SIGKILL: restarted ($worker -> $new)"
like "$(ml_log_since)" "worker died \\(signal 9 .*, pid $worker\\)" "the crash is logged with its pid"
ml_msg "new worker answers" from='<a@verified.test>' expect_mail=accept
kill -0 "$ML_PID" 2>/dev/null
tap_ok $? "supervisor still running"

# SIGHUP sent to the worker itself (e.g. "pkill -HUP"): libmilter stops it
# gracefully, the supervisor starts another; filtering goes on.
worker=$new
ml_expect_death "$worker"
kill -HUP "$worker"
new=$(ml_new_worker "$worker")
tap_ok $? "SIGHUP straight to the worker: a new worker runs ($worker -> $new)"
ml_msg "and answers" from='<a@unverified.test>' expect_mail=reply

# SIGTERM: graceful stop, snapshot written.
rm -f "$ML_DIR/cache"
ml_stop
is "$ML_STATUS" 0 "SIGTERM: exit status 0"
[ -s "$ML_DIR/cache" ]
tap_ok $? "cache snapshot written at stop"
grep -q 'verified.test' "$ML_DIR/cache"
tap_ok $? "snapshot holds the looked-up domain"
[ ! -e "$ML_DIR/milter.pid" ]
tap_ok $? "PidFile removed"
[ ! -e "$ML_CTL" ]
tap_ok $? "ControlSocket removed"
is "$(pgrep -f "$ML_CONF" | wc -l)" 0 "no process left behind"
tap_done
