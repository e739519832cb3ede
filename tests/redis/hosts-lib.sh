# tests/redis/hosts-lib.sh - several real sesverify-milter processes ("hosts")
# sharing one private redis-server and one SES emulator (sourced after
# tests/lib.sh, tests/milter/milter-lib.sh and tests/redis/redis-lib.sh,
# once ml_setup and redis_start have run).
#
#   host_conf H [LINES...]  write $ML_DIR/H/milter.conf: emulator + DNS + own
#                           Socket, ControlSocket, CacheFile + Redis + LINES
#   host_start H            start H's milter (-f); 1 when it did not start
#   host_launch H, host_ready H  the same in two steps (start several at once)
#   host_stop H             SIGTERM, wait; a sanitizer report in its log or an
#                           unclean exit is a "not ok" point
#   host_kill9 H            SIGKILL H's worker and supervisor
#   host_ctl H LINE         one control-socket exchange with H
#   host_msg H DESC VAR=VAL one miltertest message to H (a TAP point)
#   host_stat H NAME        the value of counter NAME in H's "cache stats"
#   host_log H              H's log file
declare -A HOST_PID

host_conf() {
	local h=$1 d=$ML_DIR/$1
	shift
	mkdir -p "$d"
	(
		umask 077
		{
			cat "$EMU_CONF"
			cat <<CONF
Socket unix:$d/milter.sock
ControlSocket unix:$d/control.sock
Nameserver ${HOST_NS:-$DNS_NAMESERVERS}
CacheFile $d/cache
PidFile $d/milter.pid
LogLevel debug
Redis unix:$REDIS_SOCK
CONF
			for l in "$@"; do printf '%s\n' "$l"; done
		} >"$d/milter.conf"
	)
}

host_log() { echo "$ML_DIR/$1/milter.log"; }

host_launch() {
	local h=$1 d=$ML_DIR/$1
	rm -f "$d/milter.sock"
	: >"$d/milter.log"
	"$ML_BIN" -f -c "$d/milter.conf" >>"$d/milter.log" 2>&1 &
	HOST_PID[$h]=$!
	at_exit "host_stop $h >/dev/null"
}

host_ready() {
	local d=$ML_DIR/$1
	milter_ready "${HOST_PID[$1]}" "$d/milter.sock" "$d/control.sock" "$d/milter.log" 300
}

host_start() { host_launch "$1" && host_ready "$1"; }

host_stop() {
	local h=$1 pid=${HOST_PID[$1]:-} i rc log
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	HOST_PID[$h]=
	log=$(host_log "$h")
	if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:|supervisor: worker died' "$log"; then
		not_ok "host $h: no sanitizer report, no worker death"
		grep -E -A12 'AddressSanitizer|LeakSanitizer|runtime error:|supervisor: worker died' "$log" | sed 's/^/#   /' | head -n 40
		return 1
	fi
	is "$rc" 0 "host $h stopped cleanly (no sanitizer report)"
}

host_kill9() {
	local h=$1 pid=${HOST_PID[$1]:-} kids
	[ -n "$pid" ] || return 0
	# the supervisor first (it would start a new worker), then its worker
	kids=$(pgrep -P "$pid")
	kill -9 "$pid" 2>/dev/null
	# shellcheck disable=SC2086 # one pid per word
	[ -z "$kids" ] || kill -9 $kids 2>/dev/null
	wait "$pid" 2>/dev/null
	HOST_PID[$h]=
}

host_ctl() {
	python3 "$top_srcdir/tests/redis/ctl.py" "$ML_DIR/$1/control.sock" "$2"
}

# host_msg H DESC VAR=VAL... - ml_msg to host H's socket
host_msg() {
	local h=$1
	shift
	ML_SOCK=$ML_DIR/$h/milter.sock ml_msg "$@"
}

host_stat() {
	host_ctl "$1" stats | awk -v n="$2" '{ sub(/:$/, "", $1) } $1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}
