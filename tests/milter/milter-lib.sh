# tests/milter/milter-lib.sh - run the real sesverify-milter for a TAP test (sourced).
#
# Owns: a private directory with the test DNS server, the SES emulator, a
# config file and a foreground sesverify-milter on a Unix socket; helpers to
# drive it with miltertest (tests/milter/msg.lua) and to read its log.
#
#   ml_setup [SCENARIO]     mktmp + dns_start + emu_start; sets ML_DIR
#   ml_conf [LINES...]      write $ML_CONF: emulator + DNS + sockets + LINES
#   ml_start                start the milter (-f); sets ML_PID ML_SOCK ML_CTL ML_LOG
#   ml_stop                 SIGTERM and wait; sets ML_STATUS
#   ml_worker               pid of the current worker child
#   ml_new_worker OLD       wait until a worker other than OLD is ready; its pid
#   ml_reload SIG           send SIG to the supervisor, wait for the reload line
#   ml_msg DESC VAR=VAL...  one miltertest run of msg.lua: one TAP point; sets
#                           ML_MARK (the log offset before the message) first
#   ml_mark                 ML_MARK=the log's size now (before an action)
#   ml_log_since [OFFSET]   the log written after OFFSET (default $ML_MARK)
#   ml_log_wait REGEX [SECS] [OFFSET] wait until the milter log (the part
#                           after OFFSET, default: all of it) matches
#   ml_expect_death PID     PID (a worker killed on purpose) may die: its
#                           "worker died" line and its own sanitizer report
#                           are not failures; every other pid's still are
#   ml_scan_log             the sanitizer and worker-death scan of the log
#                           written since the last scan (ml_stop runs it)
#   ml_ctl LINE             one raw control-socket exchange, answer on stdout
#                           (ML_CTL_AS: a command prefix, e.g. setpriv ...;
#                           ML_CTL_PY: the python3 to run)
#   ml_signal_wait SIG REGEX send SIG to the supervisor; 0 when a new log
#                           line matches REGEX within 10 s
#   ml_faketime FILE [wall] the milter started from now on runs under
#                           libfaketime, its clocks offset by FILE's content
#                           (ml_clock_step); "wall": the wall clock only,
#                           CLOCK_MONOTONIC stays real.  1 without libfaketime
#   ml_clock_step FILE OFFSET  the offset ("+61s", "-8h"), re-read on every call
. "$top_srcdir/tests/dns/dns-lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"

ML_MARK=0
ML_SCANNED=0
ML_DEATHS_OK=
ML_BIN=$top_builddir/milter/sesverify-milter
ML_LUA=$top_srcdir/tests/milter/msg.lua

ml_setup() {
	command -v miltertest >/dev/null || skip_all "miltertest not installed (Debian package miltertest)"
	command -v nsd >/dev/null || skip_all "nsd not installed"
	[ -x "$ML_BIN" ] || skip_all "sesverify-milter not built"
	ML_DIR=$(mktmp)
	dns_start "$ML_DIR" || { echo "Bail out! DNS server did not start"; exit 1; }
	emu_start "$ML_DIR" ${1:+"$1"} || { echo "Bail out! SES emulator did not start"; exit 1; }
	ML_SOCK=$ML_DIR/milter.sock
	ML_CTL=$ML_DIR/control.sock
	ML_LOG=$ML_DIR/milter.log
	ML_CONF=$ML_DIR/milter.conf
	: >"$ML_LOG"
}

# ml_conf [LINES...] - the config file, mode 0600 (it holds SecretKey); pass
# only keys not written here.
ml_conf() {
	(
		umask 077
		{
		cat "$EMU_CONF"
		cat <<CONF
Socket unix:$ML_SOCK
ControlSocket unix:$ML_CTL
Nameserver $DNS_NAMESERVERS
CacheFile $ML_DIR/cache
PidFile $ML_DIR/milter.pid
LogLevel debug
CONF
		for l in "$@"; do printf '%s\n' "$l"; done
		} >"$ML_CONF.new"
	) && mv -f "$ML_CONF.new" "$ML_CONF"
}

ml_start() {
	rm -f "$ML_SOCK"
	"$ML_BIN" -f -c "$ML_CONF" >>"$ML_LOG" 2>&1 &
	ML_PID=$!
	at_exit "ml_stop"
	milter_ready "$ML_PID" "$ML_SOCK" "$ML_CTL" "$ML_LOG"
}

ml_stop() {
	[ -n "${ML_PID:-}" ] || return 0
	# SIGKILL only after 15 s: the supervisor stops its worker first
	kill_wait "$ML_PID" 15
	ML_STATUS=$?
	ML_PID=
	ml_scan_log
}

# ml_expect_death PID - the worker PID is about to be killed (or stopped)
# on purpose: its death and a sanitizer report of that pid alone are
# expected.  Call it right before the kill.
ml_expect_death() {
	ML_DEATHS_OK="$ML_DEATHS_OK $1"
}

# ml_scan_log - a crash or sanitizer report in the worker must fail the
# test even when the supervisor hid it by starting a new worker.  Scans
# the log written since the previous scan; a pid given to ml_expect_death
# is exempt (ML_EXPECT_DEATHS=1, the old whole-script switch, still exempts
# every worker death, never a sanitizer report).  Status 1 when it
# reported a failure (a "not ok" point); prints nothing when all is well.
ml_scan_log() {
	[ -n "${ML_LOG:-}" ] && [ -f "$ML_LOG" ] || return 0
	local size new p bad_san bad_dead rc=0
	size=$(log_mark "$ML_LOG")
	[ "$ML_SCANNED" -le "$size" ] || ML_SCANNED=0 # the test emptied the log
	new=$(log_since "$ML_LOG" "$ML_SCANNED")
	ML_SCANNED=$size
	bad_san=$(printf '%s\n' "$new" | grep -E -A12 'AddressSanitizer|LeakSanitizer|runtime error:')
	for p in $ML_DEATHS_OK; do
		# ASan and LSan prefix each report line with ==PID==
		bad_san=$(printf '%s\n' "$bad_san" | grep -v "^==$p==")
	done
	if printf '%s\n' "$bad_san" | grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:'; then
		not_ok "no sanitizer report in the milter log"
		printf '%s\n' "$bad_san" | sed 's/^/#   /' | head -n 40
		rc=1
	fi
	[ -n "${ML_EXPECT_DEATHS:-}" ] && return $rc
	bad_dead=$(printf '%s\n' "$new" | grep 'supervisor: worker died')
	for p in $ML_DEATHS_OK; do
		bad_dead=$(printf '%s\n' "$bad_dead" | grep -v "supervisor: worker died (.*, pid $p)")
	done
	if printf '%s\n' "$bad_dead" | grep -q 'supervisor: worker died'; then
		not_ok "no unexpected worker death"
		printf '%s\n' "$bad_dead" | grep 'supervisor: worker died' | sed 's/^/#   /'
		rc=1
	fi
	return $rc
}

ml_worker() {
	pgrep -P "$ML_PID" -x sesverify-milte 2>/dev/null | head -n 1 ||
		pgrep -P "$ML_PID" | head -n 1
}

# ml_new_worker OLD - wait (5 s) until a worker other than OLD has logged
# "ready on"; print its pid (the last one seen), status 0 when it did
ml_new_worker() {
	local i w=
	for ((i = 0; i < 100; i++)); do
		w=$(ml_worker)
		if [ -n "$w" ] && [ "$w" != "$1" ] && grep -q "\[$w\]: notice: .* ready on" "$ML_LOG"; then
			echo "$w"
			return 0
		fi
		sleep 0.05
	done
	echo "$w"
	return 1
}

# ml_reload SIG - send SIG to the supervisor and wait (5 s) for the next
# "configuration reloaded" line; status 0 when it came
ml_reload() {
	local i n
	n=$(ml_log_count 'configuration reloaded')
	kill -"$1" "$ML_PID"
	for ((i = 0; i < 100; i++)); do
		[ "$(ml_log_count 'configuration reloaded')" -gt "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

# ml_msg DESC [name=value...] - run msg.lua with those globals; one TAP point
ml_msg() {
	local desc=$1 out rc
	shift
	local args=(-D "socket=unix:$ML_SOCK")
	for a in "$@"; do args+=(-D "$a"); done
	ml_mark
	out=$(miltertest -s "$ML_LUA" "${args[@]}" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "$desc"
	else
		not_ok "$desc"
		printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 15
	fi
	ML_OUT=$out
	return $rc
}

# ml_mark - ML_MARK=the log's size now: later checks read only what follows
ml_mark() { ML_MARK=$(log_mark "$ML_LOG"); }

# ml_log_since [OFFSET] - the log written after OFFSET (default $ML_MARK,
# set by ml_mark and by every ml_msg)
ml_log_since() { log_since "$ML_LOG" "${1:-$ML_MARK}"; }

# ml_log_wait REGEX [SECS] [OFFSET] - 0 when the log (only the part written
# after OFFSET, when given) matches within SECS (default 5); fails at once
# when the milter has died
ml_log_wait() {
	local re=$1 secs=${2:-5} from=${3:-0} i
	for ((i = 0; i < secs * 20; i++)); do
		log_since "$ML_LOG" "$from" | grep -Eq -- "$re" && return 0
		if [ -n "${ML_PID:-}" ] && ! kill -0 "$ML_PID" 2>/dev/null; then
			log_since "$ML_LOG" "$from" | grep -Eq -- "$re"
			return
		fi
		sleep 0.05
	done
	return 1
}

# ml_signal_wait SIG REGEX - send SIG to the supervisor, wait for a new match
ml_signal_wait() {
	local i n
	n=$(ml_log_count "$2")
	kill -"$1" "$ML_PID"
	for ((i = 0; i < 200; i++)); do
		[ "$(ml_log_count "$2")" -gt "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

# ml_log_count REGEX - matching log lines
ml_log_count() { grep -Ec -- "$1" "$ML_LOG"; }

# ml_ctl LINE - raw control protocol exchange
ml_ctl() {
	# shellcheck disable=SC2086 # ML_CTL_AS is a command prefix, split on purpose
	${ML_CTL_AS:-} "${ML_CTL_PY:-python3}" - "$ML_CTL" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode("latin-1", "replace"))
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode("utf-8", "replace"))
PY
}

# ml_faketime FILE [wall] - ML_BIN becomes a wrapper that preloads libfaketime
ml_faketime() {
	local f lib= real=$ML_BIN
	for f in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
		[ -r "$f" ] && lib=$f && break
	done
	[ -n "$lib" ] || return 1
	ml_clock_step "$1" +0
	ML_BIN=$ML_DIR/sesverify-milter-faketime
	cat >"$ML_BIN" <<SH
#!/bin/sh
# the milter with steppable clocks; the tests' own tools keep the real ones
export LD_PRELOAD="$lib" FAKETIME_TIMESTAMP_FILE="$1" FAKETIME_NO_CACHE=1 NO_FAKE_STAT=1
${2:+export FAKETIME_DONT_FAKE_MONOTONIC=1}
${SV_SANITIZE:+export ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0"}
exec "$real" "\$@"
SH
	chmod +x "$ML_BIN"
}

# ml_clock_step FILE OFFSET - the faked clocks' offset, atomically replaced
ml_clock_step() {
	echo "$2" >"$1.new" && mv -f "$1.new" "$1"
}
