#!/bin/bash
# tests/bench/redis-cached.sh - the cached mail path with Redis set vs
# unset, in the same run: two sesverify-milter processes on one SES
# emulator (one with Redis, one without), sender verified.test warmed into
# both caches, then loadgen rounds alternating between them.  Prints the
# msg/s ratio (Redis / none), MAIL FROM p50/p99 of each (medians of the
# rounds), and the Redis commands the Redis milter sent per cached decision
# (its redis.commands counter before and after the rounds; must be 0).
# Not a test (figures only; not run by make check).  Run from a build tree:
#   top_builddir=BUILD top_srcdir=SRC tests/bench/redis-cached.sh [ROUNDS] [MSGS] [CONNS]
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/redis/redis-lib.sh"
rounds=${1:-5} msgs=${2:-20000} conns=${3:-8}
lg=$top_builddir/tests/bench/loadgen
ML_BIN=$top_builddir/milter/sesverify-milter
CLI=$top_builddir/milter/sesverify
LUA=$top_srcdir/tests/redis/fleet-mail.lua
API_TIMEOUT=5
[ -x "$lg" ] || { echo "redis-cached: $lg not built" >&2; exit 1; }
D=$(mktmp)
emu_start "$D/emu" >/dev/null || { echo "redis-cached: emulator did not start" >&2; exit 1; }
redis_start "$D/redis" || { echo "redis-cached: redis-server did not start" >&2; exit 1; }
DEAD_NS=127.0.0.1@$(free_port)
. "$top_srcdir/tests/redis/fleet-lib.sh"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
host_conf 1
FLEET_NO_REDIS=1 host_conf 2
for h in 1 2; do
	host_start "$h" || exit 1
	# warm: the first message is deferred (UnknownAction tempfail) and
	# queues the refresh; then verified.test is cached
	for ((i = 0; i < 40; i++)); do
		"$lg" -s "unix:$D/h$h/milter.sock" -m 1 -T 10 -d verified.test:1 >"$D/warm$h" 2>&1
		grep -q '^OUTCOME verified.test accept' "$D/warm$h" && break
		sleep 0.25
	done
done
stat_of() { HOME=$D "$CLI" -c "$D/h$1/milter.conf" cache stats | awk -v k="$2" '$1 == k { print $2 }'; }
c0=$(stat_of 1 redis.commands)
m=$(((msgs + conns - 1) / conns))
for ((r = 1; r <= rounds; r++)); do
	for h in 1 2; do
		name=$([ "$h" = 1 ] && echo redis || echo none)
		"$lg" -s "unix:$D/h$h/milter.sock" -c "$conns" -m "$m" -t 120 -n "$name" \
			-d verified.test:1 >"$D/lg-$name-$r" 2>&1
		grep '^RESULT' "$D/lg-$name-$r" | sed "s/^/[$r] /"
	done
done
c1=$(stat_of 1 redis.commands)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$D" "$rounds" "$c0" "$c1" <<'PY'
import re, statistics, sys
d, rounds, c0, c1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fig = {}
for name in ("redis", "none"):
    rows = []
    for r in range(1, rounds + 1):
        line = [l for l in open("%s/lg-%s-%d" % (d, name, r)) if l.startswith("RESULT")][0]
        rows.append(dict(re.findall(r"(\w+)=(\S+)", line)))
    fig[name] = {k: statistics.median(float(x[k]) for x in rows) for k in ("rate", "mail_p50", "mail_p99", "msgs", "errors")}
    fig[name]["total"] = sum(float(x["msgs"]) for x in rows)
for name in ("none", "redis"):
    f = fig[name]
    print("%-5s  msg/s %8.1f  MAIL p50 %7.1f us  p99 %7.1f us  errors %d (medians of %d rounds)"
          % (name, f["rate"], f["mail_p50"], f["mail_p99"], f["errors"], rounds))
print("ratio redis/none msg/s: %.3f   MAIL p99 redis/none: %.3f"
      % (fig["redis"]["rate"] / fig["none"]["rate"], fig["redis"]["mail_p99"] / fig["none"]["mail_p99"]))
print("Redis commands during %d cached decisions: %d (%.4f per decision)"
      % (fig["redis"]["total"], c1 - c0, (c1 - c0) / fig["redis"]["total"]))
PY
