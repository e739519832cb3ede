# tests/redis/fleet-lib.sh - several real sesverify-milter processes on one
# Redis and one SES emulator, and figures from the emulator's own log
# (sourced by tests/redis/test-fleet.sh, tests/cli/test-cli-budget.sh and
# tests/bench/*.sh after tests/lib.sh and emulator.sh with emu_start done,
# and redis-lib.sh with redis_start done when the hosts use Redis).
# Needs D (a private directory), ML_BIN, LUA (tests/redis/fleet-mail.lua),
# DEAD_NS and API_TIMEOUT set.
#
#   host_conf H [LINES...]   D/hH/milter.conf: emulator, own sockets and
#                            CacheFile, Redis; LINES added
#   host_start H / host_stop H   the milter of host H (HPID[H]: supervisor)
#   mail H LIST [OUT]        one MAIL FROM per domain of LIST to host H
#   emu_report FROM TO PREFIX  "max N refused N dups N domains N last T
#                            calls N requests N"
#   field KEY TEXT           the word after KEY in TEXT
#   wait_answered PREFIX N SECS  until N PREFIX domains have an answer
#   wait_emu_quiet           until the emulator's log stops growing

# host_conf H [LINES...] - the config of host H (FLEET_NO_REDIS=1: without Redis)
host_conf() {
	local h=$D/h$1
	mkdir -p "$h"
	(
		umask 077
		{
		cat "$EMU_CONF"
		cat <<CONF
Socket unix:$h/milter.sock
ControlSocket unix:$h/control.sock
CacheFile $h/cache
PidFile $h/milter.pid
LogLevel info
CheckFrom envelope
UnknownAction tempfail
WarmUp no
Nameserver $DEAD_NS
DnsTimeout 100ms
ApiRate 20
ApiTimeout ${API_TIMEOUT}s
RefreshWorkers 24
${FLEET_NO_REDIS:+# no }Redis unix:${REDIS_SOCK:-}
RedisDownApiRate 5
CONF
			shift
			for l in "$@"; do printf '%s\n' "$l"; done
		} >"$h/milter.conf"
	)
}

# host_start H - start host H's milter; HPID[H] its supervisor
declare -a HPID
host_start() {
	local h=$D/h$1
	rm -f "$h/milter.sock"
	"$ML_BIN" -f -c "$h/milter.conf" >>"$h/milter.log" 2>&1 &
	HPID[$1]=$!
	at_exit "host_stop $1"
	milter_ready "${HPID[$1]}" "$h/milter.sock" "$h/control.sock" "$h/milter.log"
}

# host_stop H - SIGTERM its supervisor (the worker follows), wait
host_stop() {
	[ -n "${HPID[$1]:-}" ] || return 0
	kill_wait "${HPID[$1]}"
	wait "${HPID[$1]}" 2>/dev/null
	HPID[$1]=
}

# mail H LIST [OUT] - one MAIL FROM per domain of LIST to host H
mail() {
	miltertest -s "$LUA" -D "socket=unix:$D/h$1/milter.sock" -D "list=$2" >"${3:-/dev/null}" 2>&1
}

# emu_report FROM TO PREFIX - figures from the emulator's log for requests
# logged at FROM <= time < TO: "max N refused N dups N domains N last T"
# (max: most requests of any kind in a sliding second; dups: extra
# UpdateEmailIdentity calls of PREFIX domains; last: when the last PREFIX
# domain got its first answer, seconds after FROM; calls: UpdateEmailIdentity
# of PREFIX domains; requests: all requests logged in the window)
emu_report() {
	python3 - "$EMU_LOG" "$1" "$2" "$3" <<'PY'
import json, sys
frm, to, prefix = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ev = [e for e in map(json.loads, open(sys.argv[1])) if frm <= e["time"] < to]
ts = sorted(e["time"] for e in ev)
best, j = 0, 0
for i, t in enumerate(ts):
    while ts[j] <= t - 1.0:
        j += 1
    best = max(best, i - j + 1)
calls, first = {}, {}
for e in ev:
    d = e["domain"]
    if e["action"] == "UpdateEmailIdentity" and d.startswith(prefix):
        calls[d] = calls.get(d, 0) + 1
        if e["result"] in ("verified", "unverified") and d not in first:
            first[d] = e["time"]
refused = sum(1 for e in ev if e["code"] == "RequestLimitExceeded")
dups = sum(n - 1 for n in calls.values())
last = max(first.values()) - frm if first else -1
print("max %d refused %d dups %d domains %d last %.2f calls %d requests %d"
      % (best, refused, dups, len(first), last, sum(calls.values()), len(ev)))
PY
}
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$2"; }

# wait_answered PREFIX N SECS - until N PREFIX domains have an answer logged
wait_answered() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(field domains "$(emu_report 0 1e12 "$1")")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

wait_emu_quiet() {
	local n=-1 m i
	for ((i = 0; i < 50; i++)); do
		m=$(wc -l <"$EMU_LOG")
		[ "$m" = "$n" ] && return 0
		n=$m
		sleep 1.1
	done
}
