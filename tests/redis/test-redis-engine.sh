#!/bin/bash
# test-redis-engine.sh - real engines (tests/core/engine-drive) share the
# account's budget through a private redis-server, and so does "sesverify
# check" (sv_pacer_new_shared), and the answers (a third engine asks SES nothing the
# others answered): two processes with
# ApiRate 20 together stay within 20 requests per second at the SES
# emulator; Redis unreachable -> each falls back to RedisDownApiRate; Redis
# coming up later -> sharing resumes without a restart.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/core/core-lib.sh"
. "$top_srcdir/tests/redis/redis-lib.sh"
core_init
dir=$(mktmp)

core_scenario "$dir/scen.json" 290 r unverified none
emu_start "$dir/emu" "$dir/scen.json" || { not_ok "emulator starts"; tap_done; }
ok "emulator starts"
redis_start "$dir/redis" || { not_ok "redis-server starts"; tap_done; }
ok "redis-server starts (private unix socket)"

# 1. two engines, 60 new domains each, ApiRate 20 each: one budget of 20/s
for p in a b; do
	core_conf "$dir/$p.conf" "ApiRate 20" "WarmUp no" "RefreshWorkers 8" "CacheFile $dir/$p.cache" \
		"Nameserver $(dead_ns)" "DnsTimeout 100ms" "Redis unix:$REDIS_SOCK"
done
for i in $(seq 0 59); do printf 'r%03d.test\n' "$i"; done >"$dir/a.domains"
for i in $(seq 60 119); do printf 'r%03d.test\n' "$i"; done >"$dir/b.domains"
n0=$(wc -l <"$EMU_LOG")
"$DRIVE" -c "$dir/a.conf" -f "$dir/a.domains" -t 30000 -q -S >"$dir/a.out" 2>"$dir/a.err" &
pa=$!
"$DRIVE" -c "$dir/b.conf" -f "$dir/b.domains" -t 30000 -q -S >"$dir/b.out" 2>"$dir/b.err" &
pb=$!
wait "$pa"; ra=$?
wait "$pb"; rb=$?
is "$ra$rb" 00 "both engines ran"
is "$(awk '$1=="count" && $2=="unverified" {s+=$3} END {print s+0}' "$dir/a.out" "$dir/b.out")" 120 "all 120 answered"
max=$(emu_max_per_second "$n0")
[ "$max" -le 20 ]
tap_ok $? "at most 20 requests in any sliding second for both together (saw $max)"
is "$(emu_count_code RequestLimitExceeded)" 0 "zero RequestLimitExceeded"
ea=$(awk '$1=="elapsed" {print $2}' "$dir/a.out")
eb=$(awk '$1=="elapsed" {print $2}' "$dir/b.out")
awk -v a="$ea" -v b="$eb" 'BEGIN { m = a > b ? a : b; exit !(m >= 5.0 && m <= 20) }'
tap_ok $? "one budget: 120 calls took $ea s and $eb s (the slower >= 5 s at 20/s together; alone each could do it in 3 s)"
grep -q '^stat redis.up 1$' "$dir/a.out"
tap_ok $? "cache stats show Redis up"
like "$(grep '^stat redis.commands ' "$dir/a.out")" '^stat redis.commands [1-9][0-9]*$' "grants went through Redis"

# 1a. a third engine (its own empty cache) meets 40 of those domains: it
# takes the answers the others stored in Redis, no API call
core_conf "$dir/s.conf" "ApiRate 20" "WarmUp no" "RefreshWorkers 8" "CacheFile $dir/s.cache" \
	"Nameserver $(dead_ns)" "DnsTimeout 100ms" "Redis unix:$REDIS_SOCK"
u0=$(emu_count UpdateEmailIdentity)
{ head -n 20 "$dir/a.domains"; head -n 20 "$dir/b.domains"; } >"$dir/s.domains"
"$DRIVE" -c "$dir/s.conf" -f "$dir/s.domains" -t 30000 -q -S >"$dir/s.out" 2>"$dir/s.err"
tap_ok $? "a third engine ran"
is "$(awk '$1=="count" && $2=="unverified" {print $3}' "$dir/s.out")" 40 "  all 40 answered (unverified)"
is "$(($(emu_count UpdateEmailIdentity) - u0))" 0 "  with no UpdateEmailIdentity call: the answers came from Redis"
is "$(awk '$1=="stat" && $2=="redis.answers.used" {print $3}' "$dir/s.out")" 40 "  redis.answers.used 40"
is "$(awk '$1=="stat" && $2=="redis.answers.stored" {s+=$3} END {print s+0}' "$dir/a.out" "$dir/b.out")" 120 \
	"  the first two stored their 120 answers"

# 1b. an engine and "sesverify check" at the same moment: one budget
SV=$top_builddir/milter/sesverify
for i in $(seq 200 259); do printf 'r%03d.test\n' "$i"; done >"$dir/c.domains"
rm -f "$dir/a.cache"
n0=$(wc -l <"$EMU_LOG")
"$DRIVE" -c "$dir/a.conf" -f "$dir/c.domains" -t 30000 -q -S >"$dir/c.out" 2>"$dir/c.err" &
pa=$!
HOME=$dir "$SV" -c "$dir/b.conf" check --no-dns $(seq -f 'r%03g.test' 260 289) >"$dir/cli.out" 2>"$dir/cli.err"
rc=$?
wait "$pa"
tap_ok $? "engine ran"
[ "$rc" -le 1 ] && [ "$(grep -c ': unverified' "$dir/cli.out")" -eq 30 ]
tap_ok $? "sesverify check answered its 30 domains (rc $rc)"
max=$(emu_max_per_second "$n0")
[ "$max" -le 20 ]
tap_ok $? "engine and CLI together: at most 20 requests in any sliding second (saw $max)"
is "$(emu_count_code RequestLimitExceeded)" 0 "zero RequestLimitExceeded"

# 2. Redis unreachable: the per-host budget RedisDownApiRate 4
dead=$(free_port)
core_conf "$dir/d.conf" "ApiRate 20" "WarmUp no" "RefreshWorkers 8" "CacheFile $dir/d.cache" \
	"Nameserver $(dead_ns)" "DnsTimeout 100ms" "Redis redis://127.0.0.1:$dead" "RedisDownApiRate 4" \
	"RedisTimeout 100ms"
for i in $(seq 120 139); do printf 'r%03d.test\n' "$i"; done >"$dir/d.domains"
n0=$(wc -l <"$EMU_LOG")
"$DRIVE" -c "$dir/d.conf" -f "$dir/d.domains" -t 30000 -q -S >"$dir/d.out" 2>"$dir/d.err"
tap_ok $? "engine ran with Redis unreachable"
is "$(awk '$1=="count" && $2=="unverified" {print $3}' "$dir/d.out")" 20 "all 20 answered"
max=$(emu_max_per_second "$n0")
[ "$max" -le 4 ]
tap_ok $? "at most RedisDownApiRate (4) requests in any sliding second (saw $max)"
like "$(cat "$dir/d.err")" "redis: down \\(127\\.0\\.0\\.1:$dead/0: connect: " "a log line says Redis is down"
grep -q '^stat redis.up 0$' "$dir/d.out"
tap_ok $? "cache stats show Redis down"

# 3. Redis comes up during the run: sharing resumes without a restart
port=$(free_port)
core_conf "$dir/u.conf" "ApiRate 20" "WarmUp no" "RefreshWorkers 8" "CacheFile $dir/u.cache" \
	"Nameserver $(dead_ns)" "DnsTimeout 100ms" "Redis redis://127.0.0.1:$port" "RedisDownApiRate 2" \
	"RedisTimeout 100ms"
for i in $(seq 140 199); do printf 'r%03d.test\n' "$i"; done >"$dir/u.domains"
"$DRIVE" -c "$dir/u.conf" -f "$dir/u.domains" -t 60000 -q -S >"$dir/u.out" 2>"$dir/u.err" &
pu=$!
sleep 2
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir/redis" \
	--logfile "$dir/redis/u.log" &
rp=$!
at_exit "kill $rp 2>/dev/null"
wait "$pu"
tap_ok $? "engine ran while Redis came up"
is "$(awk '$1=="count" && $2=="unverified" {print $3}' "$dir/u.out")" 60 "all 60 answered"
eu=$(awk '$1=="elapsed" {print $2}' "$dir/u.out")
awk -v e="$eu" 'BEGIN { exit !(e < 15) }'
tap_ok $? "60 calls took $eu s: shared 20/s after Redis came up (at the fallback 2/s: 30 s)"
like "$(cat "$dir/u.err")" "redis: up \\(127\\.0\\.0\\.1:$port/0\\)" "a log line says Redis is up again"
grep -q '^stat redis.up 1$' "$dir/u.out"
tap_ok $? "cache stats show Redis up at the end"
if grep -q "$EMU_SECRET_KEY" "$dir"/*.out "$dir"/*.err 2>/dev/null; then
	not_ok "secret key never printed"
else
	ok "secret key never printed"
fi
tap_done
