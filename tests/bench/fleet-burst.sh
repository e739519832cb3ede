#!/bin/bash
# tests/bench/fleet-burst.sh - the fleet burst for 1, 2 and 4 hosts: N
# sesverify-milter processes on one Redis and one SES emulator, each fed
# the same NB listed-not-enabled domains at once (every domain reaches every
# host).  From the emulator's log: API calls per domain (goal 1.00 whatever
# N), budget use (UpdateEmailIdentity per second over the backlog's life,
# from the first request to the last domain's answer, as % of 20/s; goal
# >= 90 %), the busiest sliding second and RequestLimitExceeded.
# Not a test (figures only; not run by make check).  Run from a build tree:
#   top_builddir=BUILD top_srcdir=SRC tests/bench/fleet-burst.sh [NB] [HOSTS...]
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/redis/redis-lib.sh"
command -v miltertest >/dev/null || { echo "fleet-burst: miltertest not installed" >&2; exit 1; }
nb=${1:-300}
shift
hosts_list=${*:-1 2 4}
ML_BIN=$top_builddir/milter/sesverify-milter
LUA=$top_srcdir/tests/redis/fleet-mail.lua
API_TIMEOUT=5
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $hosts_list; do
	D=$(mktmp)
	python3 - "$top_srcdir/tests/emulator/scenarios/default.json" "$D/scen.json" "$nb" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
for i in range(int(sys.argv[3])):
    data["domains"]["fb%04d.test" % i] = {"state": "unverified", "attributes": []}
json.dump(data, open(sys.argv[2], "w"))
PY
	emu_start "$D/emu" "$D/scen.json" >/dev/null || exit 1
	redis_start "$D/redis" || exit 1
	DEAD_NS=127.0.0.1@$(free_port)
	. "$top_srcdir/tests/redis/fleet-lib.sh"
	pids=()
	for ((h = 1; h <= n; h++)); do
		host_conf "$h"
		host_start "$h" || exit 1
		for ((i = 0; i < nb; i++)); do printf 'fb%04d.test\n' "$i"; done | shuf >"$D/list$h"
	done
	wait_emu_quiet
	t0=$(date +%s.%N)
	for ((h = 1; h <= n; h++)); do
		mail "$h" "$D/list$h" &
		pids+=($!)
	done
	wait_answered fb "$nb" 300
	wait "${pids[@]}"
	sleep 1
	r=$(emu_report "$t0" 1e12 fb)
	last=$(field last "$r")
	busy=$(emu_report "$t0" "$(awk -v t="$t0" -v l="$last" 'BEGIN { printf "%.6f", t + l + 0.001 }')" fb)
	awk -v n="$n" -v nb="$nb" -v l="$last" -v c="$(field calls "$r")" -v q="$(field requests "$busy")" \
		-v m="$(field max "$r")" -v x="$(field refused "$r")" -v d="$(field domains "$r")" 'BEGIN {
		printf "hosts %d: %d domains answered in %.2f s; API calls per domain %.2f (UpdateEmailIdentity %d); " \
			"budget use %.1f%% of 20/s (%d requests while the backlog existed); busiest sliding second %d; " \
			"RequestLimitExceeded %d\n", n, d, l, c / nb, c, 100 * q / l / 20, q, m, x }'
	for ((h = 1; h <= n; h++)); do host_stop "$h"; done
	emu_stop
	kill "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
