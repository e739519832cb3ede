#!/bin/bash
# test-redis-rl.sh - the account's rate limit shared through a real
# redis-server (lib/redis_rl.c): three processes never exceed the budget in
# any sliding second, a process killed with -9 holding grants frees them
# after the lease, NOSCRIPT is survived, a penalty slows every process,
# garbage in the keys is reported,
# AUTH with requirepass and ACL users, unreachable and hung Redis.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/redis/redis-lib.sh"
dir=$(mktmp)
PW=rl-test-pw-DO-NOT-LOG-41
redis_start "$dir/r1" || { not_ok "redis-server starts"; tap_done; }
ok "redis-server starts (private unix socket)"
URL=unix:$REDIS_SOCK

# 1. three processes, 4 threads each, 4 seconds at rate 20, lease 1.5 s;
# the script is flushed (NOSCRIPT) in the middle
for p in 1 2 3; do
	RL_KEY=burst "$RL_DRIVE" "$URL" 20 1500 burst 4 4 >"$dir/burst$p" 2>"$dir/burst$p.err" &
	eval "bp$p=\$!"
done
sleep 1.5
rcli SCRIPT FLUSH >/dev/null
wait "$bp1"; r1=$?
wait "$bp2"; r2=$?
wait "$bp3"; r3=$?
is "$r1$r2$r3" 000 "three burst processes ran to the end (SCRIPT FLUSH survived: NOSCRIPT reloads)"
max=$(max_per_second "$dir"/burst[123])
total=$(cat "$dir"/burst[123] | awk '$1=="A"' | wc -l)
[ "$max" -le 20 ]
tap_ok $? "never more than 20 arrivals in any sliding second across 3 processes (busiest: $max, total $total)"
# at 20/s for 4 s the three share about 80; without sharing they would do 240
[ "$total" -ge 40 ] && [ "$total" -le 105 ]
tap_ok $? "the budget is shared and used: $total grants in 4 s (40..105)"
for p in 1 2 3; do
	[ "$(awk '$1=="A"' "$dir/burst$p" | wc -l)" -ge 5 ] || break
done
tap_ok $? "every process got grants"

# 2. a holder killed with -9: its leases free after the lease time, not before
RL_KEY=kill "$RL_DRIVE" "$URL" 20 1500 hold >"$dir/hold" 2>&1 &
hp=$!
for i in $(seq 1 100); do grep -q '^held' "$dir/hold" && break; sleep 0.1; done
held=$(awk '$1=="held" {print $2}' "$dir/hold")
kill -9 "$hp"
wait "$hp" 2>/dev/null
RL_KEY=kill "$RL_DRIVE" "$URL" 20 1500 one >"$dir/one" 2>&1
granted=$(awk '$1=="granted" {print $2}' "$dir/one")
ok_=0
[ -n "$held" ] && [ -n "$granted" ] && ok_=1
tap_ok $((1 - ok_)) "holder took 20 tickets, then the other process got one"
gap=$(((${granted:-0} - ${held:-0}) / 1000))
[ "$gap" -ge 1300 ] && [ "$gap" -le 6000 ]
tap_ok $? "grant came after the dead holder's lease (1.5 s) ran out: ${gap} ms after it held them"

# 3. a penalty (RequestLimitExceeded) halves the shared rate
RL_KEY=pen "$RL_DRIVE" "$URL" 20 1500 penalize >"$dir/pen" 2>&1
n=$(awk '$1=="N" {print $2}' "$dir/pen")
[ -n "$n" ] && [ "$n" -ge 4 ] && [ "$n" -le 14 ]
tap_ok $? "after a penalty the next second grants about 10-12, not 20 (got $n)"

# 3b. garbage in the shared keys: a clear error and the local fallback, or
# defaults for unreadable fields; never a crash
rcli SET test:rl:garb:bucket "not a hash" >/dev/null
RL_KEY=garb "$RL_DRIVE" "$URL" 20 1500 down >"$dir/garb" 2>"$dir/garb.err"
is "$(tr '\n' ' ' <"$dir/garb")" "try -1 up 1 " "a budget key of the wrong type: no grant from Redis (the caller falls back), Redis up"
like "$(cat "$dir/garb.err")" 'redis: the shared budget test:rl:garb:bucket failed: .*WRONGTYPE' "  a clear log line"
rcli HSET test:rl:garb2:bucket cur abc tokens '' last -x pen 1e999 >/dev/null
RL_KEY=garb2 "$RL_DRIVE" "$URL" 20 1500 down >"$dir/garb2" 2>"$dir/garb2.err"
is "$(tr '\n' ' ' <"$dir/garb2")" "try 0 up 1 " "unreadable bucket fields: defaults, granted"

# 4. unreachable Redis: -1 at once, state down, a log line without secrets
RL_TIMEOUT_MS=300 "$RL_DRIVE" "redis://:$PW@127.0.0.1:$(free_port)" 20 1500 down >"$dir/down" 2>"$dir/down.err"
is "$(tr '\n' ' ' <"$dir/down")" "try -1 up 0 " "unreachable Redis: try says -1, state down"
like "$(cat "$dir/down.err")" 'redis: down \(127\.0\.0\.1:[0-9]+/0: connect: ' "one log line says where and why"

# 5. requirepass and an ACL user
redis_start "$dir/r2" --requirepass "$PW" || not_ok "redis-server with requirepass starts"
rcli -a "$PW" --no-auth-warning ACL SETUSER ses on ">$PW-acl" '~*' '+@all' >/dev/null
port=$(free_port)
rcli -a "$PW" --no-auth-warning CONFIG SET port "$port" >/dev/null
wait_port "$port" 5
"$RL_DRIVE" "redis://:$PW@127.0.0.1:$port" 20 1500 down >"$dir/auth" 2>"$dir/auth.err"
is "$(tr '\n' ' ' <"$dir/auth")" "try 0 up 1 " "requirepass: right password granted"
RL_KEY=a2 "$RL_DRIVE" "redis://:wrong-$PW@127.0.0.1:$port" 20 1500 down >"$dir/auth2" 2>"$dir/auth2.err"
is "$(tr '\n' ' ' <"$dir/auth2")" "try -1 up 0 " "requirepass: wrong password refused"
like "$(cat "$dir/auth2.err")" 'AUTH refused: WRONGPASS' "  the log says AUTH was refused"
"$RL_DRIVE" "redis://ses:$PW-acl@127.0.0.1:$port/3" 20 1500 down >"$dir/acl" 2>"$dir/acl.err"
is "$(tr '\n' ' ' <"$dir/acl")" "try 0 up 1 " "ACL user with its password granted (db 3)"
is "$(rcli -a "$PW" --no-auth-warning -n 3 EXISTS test:rl:acct:inflight)" 1 "  the budget lives in db 3"
"$RL_DRIVE" "redis://nobody:$PW-acl@127.0.0.1:$port" 20 1500 down >"$dir/acl2" 2>"$dir/acl2.err"
is "$(tr '\n' ' ' <"$dir/acl2")" "try -1 up 0 " "unknown ACL user refused"
if grep -q -- "$PW" "$dir"/*.err; then not_ok "no password in any log line"; else ok "no password in any log line"; fi

# 6. a hung Redis costs at most RedisTimeout
kill -STOP "$REDIS_PID"
t0=$(date +%s%N)
RL_TIMEOUT_MS=300 "$RL_DRIVE" "redis://:$PW@127.0.0.1:$port" 20 1500 down >"$dir/hung" 2>"$dir/hung.err"
t1=$(date +%s%N)
kill -CONT "$REDIS_PID"
is "$(head -1 "$dir/hung")" "try -1" "hung Redis: the try gives up"
ms=$(((t1 - t0) / 1000000))
[ "$ms" -le 2500 ]
tap_ok $? "and returns within the timeout (300 ms; took $ms ms with process start)"
like "$(cat "$dir/hung.err")" 'redis: down .*(timed out|Resource temporarily unavailable|Connection)' "  logged as down: $(head -c 150 "$dir/hung.err")"
tap_done
