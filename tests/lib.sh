# tests/lib.sh - shared shell helpers for the TAP test scripts (sourced).
#
#   tap_ok COND-EXIT DESC     record a test point from an exit status
#   ok DESC / not_ok DESC     explicit pass / fail
#   is GOT WANT DESC          string equality, shows both on failure
#   like GOT REGEX DESC       extended-regex match
#   skip_all REASON           "1..0 # SKIP reason", exit 0
#   skip DESC REASON [N]      N (default 1) points "ok - DESC # SKIP REASON": a
#                             missing component still shows its points
#   tap_done                  print the plan, exit 0/1
#   free_port                 print a free TCP+UDP port on 127.0.0.1
#   wait_port PORT SECS [PID] wait until 127.0.0.1:PORT accepts TCP
#   at_exit CMD               run CMD (eval'd) when the script exits
#   mktmp                     a private temp directory removed at exit
#   log_mark FILE             FILE's size now: a byte offset for log_since
#   log_since FILE OFFSET     what was written to FILE after log_mark gave OFFSET
#   run_pool JOBS RUN REPORT ITEM...  RUN each ITEM in the background,
#                             JOBS at a time; REPORT each, in order, when done
#   kill_wait PID [SECS]      SIGTERM, SIGKILL after SECS (5), reap: PID's status
#
# Scripts find the tree through $top_srcdir and $top_builddir (set by
# "make check"; default: the source tree itself).
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

_tap_n=0
_tap_failed=0
_at_exit=()

ok() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $*"
}
not_ok() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $*"
}
tap_ok() {
	local rc=$1
	shift
	if [ "$rc" -eq 0 ]; then ok "$@"; else not_ok "$@"; fi
}
is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		printf '#   got:      %s\n#   expected: %s\n' "$1" "$2"
	fi
}
like() {
	local m
	# grep takes a newline in a pattern as "or" (an empty part matches
	# anything): a pattern spanning lines is matched against the whole text
	if [[ $2 == *$'\n'* ]]; then
		printf '%s' "$1" | python3 -c 'import re, sys; sys.exit(0 if re.search(sys.argv[1], sys.stdin.read(), re.M) else 1)' "$2"
	else
		printf '%s' "$1" | grep -Eq -- "$2"
	fi
	m=$?
	if [ "$m" = 0 ]; then
		ok "$3"
	else
		not_ok "$3"
		printf '#   got:      %s\n#   expected to match: %s\n' "$1" "$2" | head -n 20
	fi
}
diag() { printf '# %s\n' "$*"; }
skip() {
	local i
	for ((i = 0; i < ${3:-1}; i++)); do ok "$1 # SKIP $2"; done
}
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}
tap_done() {
	# the exit handlers' checks (ml_stop's log scans) are test points too:
	# run them before the plan, with their output kept
	_run_at_exit
	_at_exit=()
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
	exit $?
}

_run_at_exit() {
	local i
	for ((i = ${#_at_exit[@]} - 1; i >= 0; i--)); do
		eval "${_at_exit[$i]}" || true
	done
}
trap _run_at_exit EXIT
trap 'exit 130' INT TERM
at_exit() { _at_exit+=("$*"); }

# Every mktmp directory lives under one root made here, in the test's own
# shell, so that its removal is registered there: "d=$(mktmp)" runs mktmp
# in a subshell, where an at_exit would be lost.  The root is searchable
# (0711) because unprivileged MTA daemons must reach their queue inside.
_sv_tmproot=$(mktemp -d "${TMPDIR:-/tmp}/sesverify-test.XXXXXX") && chmod 0711 "$_sv_tmproot"
at_exit "rm -rf '$_sv_tmproot'"
# milter_ready PID SOCK CTL LOG [TRIES] - wait (TRIES x 50 ms, default 200) until
# the milter PID has both sockets and logged "ready on"; else print its
# log's tail and return 1 (at once when it died)
milter_ready() {
	local i
	for ((i = 0; i < ${5:-200}; i++)); do
		[ -S "$2" ] && [ -S "$3" ] && grep -q 'ready on' "$4" && return 0
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	echo "# sesverify-milter ($4) did not start:"
	sed 's/^/#   /' "$4" | tail -n 30
	return 1
}

mktmp() {
	mktemp -d "$_sv_tmproot/t.XXXXXX"
}

# free_port - a port free for both TCP and UDP on 127.0.0.1
free_port() {
	python3 - <<'PY'
import socket, random
for _ in range(200):
    p = random.randint(20000, 60000)
    try:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.bind(("127.0.0.1", p))
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p))
        t.close(); u.close(); print(p); break
    except OSError:
        pass
PY
}

# wait_port PORT SECONDS [PID] - wait until a TCP listener answers
wait_port() {
	local port=$1 secs=$2 pid=${3:-} i
	for ((i = 0; i < secs * 20; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.05
	done
	return 1
}

# log_mark FILE - the byte offset where FILE's next line will start
log_mark() {
	stat -c %s "$1" 2>/dev/null || echo 0
}

# log_since FILE OFFSET - the part of FILE written after log_mark returned
# OFFSET: a check of a log looks only at lines its own action caused
log_since() {
	tail -c +"$((${2:-0} + 1))" "$1" 2>/dev/null
}

# run_pool JOBS RUN REPORT ITEM... - "RUN ITEM" in the background, at most
# JOBS at once; "REPORT ITEM" in the foreground (TAP output stays in ITEM
# order) as soon as that ITEM's run has ended
run_pool() {
	local jobs=$1 run=$2 report=$3 item r
	local -a running=()
	shift 3
	for item in "$@"; do
		"$run" "$item" &
		running+=("$!:$item")
		if [ ${#running[@]} -ge "$jobs" ]; then
			wait "${running[0]%%:*}"
			"$report" "${running[0]#*:}"
			running=("${running[@]:1}")
		fi
	done
	for r in "${running[@]}"; do
		wait "${r%%:*}"
		"$report" "${r#*:}"
	done
}

# kill_wait PID [SECS] - the one TERM-poll-KILL stop: SIGTERM, poll until
# PID is gone, SIGKILL after SECS (default 5); then reap it.  Status: PID's
# exit status when it is a child of this shell (127 when it is not).
kill_wait() {
	local pid=$1 secs=${2:-5} i
	kill "$pid" 2>/dev/null
	for ((i = 0; i < secs * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}
