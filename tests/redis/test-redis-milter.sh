#!/bin/bash
# test-redis-milter.sh - the real milter with Redis set: -n refuses a
# group-readable file holding a Redis password (without printing it), mail
# is decided with grants from Redis, "sesverify cache stats" and the
# metrics show Redis's state, and with Redis killed mail is still decided
# (from the local RedisDownApiRate budget) and the state says down.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"
. "$top_srcdir/tests/redis/redis-lib.sh"
command -v curl >/dev/null || skip_all "curl not installed"
ml_setup
CLI=$top_builddir/milter/sesverify
PW=milter-redis-pw-DO-NOT-LOG-5
redis_start "$ML_DIR/redis" || { echo "Bail out! redis-server did not start"; exit 1; }

# -n: a Redis password in a file readable by others
printf 'Redis redis://:%s@127.0.0.1:6390\n' "$PW" >"$ML_DIR/pw.conf"
chmod 644 "$ML_DIR/pw.conf"
out=$("$ML_BIN" -n -c "$ML_DIR/pw.conf" 2>&1)
rc=$?
is "$rc" 1 "-n: a 0644 file holding a Redis password is refused"
like "$out" "pw.conf: contains a Redis password but is readable by group/others \\(mode 0644\\)" "  says why"
case $out in *"$PW"*) not_ok "  without the password" ;; *) ok "  without the password" ;; esac

PORT=$(free_port)
ml_conf "CheckFrom envelope" "UnknownWait 4s" "MetricsSocket inet:$PORT@127.0.0.1" \
	"Redis unix:$REDIS_SOCK" "RedisPrefix mta:" "RedisTimeout 200ms"
out=$("$ML_BIN" -n -c "$ML_CONF" 2>&1)
tap_ok $? "-n: the Redis keys are accepted ($out)"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
wait_port "$PORT" 5 || { echo "Bail out! nothing listens on MetricsSocket"; exit 1; }
ml_msg "unverified.test rejected (its API call granted by Redis)" from='<a@unverified.test>' expect_mail=reply
stats=$(HOME=$ML_DIR "$CLI" -c "$ML_CONF" cache stats 2>&1)
like "$stats" 'redis\.up[ :=]+1' "cache stats: redis.up 1"
like "$stats" 'redis\.commands[ :=]+[1-9]' "cache stats: Redis commands were sent"
is "$(curl -s --max-time 10 "http://127.0.0.1:$PORT/metrics" | awk '$1 == "sesverify_redis_up" {print $2}')" 1 "metrics: sesverify_redis_up 1"
is "$(rcli --scan --pattern 'mta:rl:*' | sort | tr '\n' ' ')" "mta:rl:ap-guangzhou:$(printf '%s' "$EMU_SECRET_ID" | sha256sum | cut -c1-16):answered mta:rl:ap-guangzhou:$(printf '%s' "$EMU_SECRET_ID" | sha256sum | cut -c1-16):bucket " \
	"the budget lives under RedisPrefix, named by region and a hash of the SecretId"

# a reload that changes a Redis key says it needs a restart
ml_conf "CheckFrom envelope" "UnknownWait 4s" "MetricsSocket inet:$PORT@127.0.0.1" \
	"Redis unix:$REDIS_SOCK" "RedisPrefix mta2:" "RedisTimeout 200ms"
ml_reload USR1
tap_ok $? "reload with another RedisPrefix"
ml_log_wait 'RedisPrefix.*take effect at the next start' 10
tap_ok $? "  the log says Redis changes take effect at the next start"

# Redis goes away: mail still decided, state down
kill "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
# a forced refresh needs a grant: Redis is found down, the local budget grants it
HOME=$ML_DIR "$CLI" -c "$ML_CONF" cache refresh verified.test >/dev/null 2>&1
ml_log_wait 'redis: down' 10
tap_ok $? "the log says Redis is down"
ml_log_wait 'verified.test: API says verified' 10
tap_ok $? "the refresh was made all the same (RedisDownApiRate)"
ml_msg "verified.test accepted with Redis down" from='<a@verified.test>' expect_mail=accept
stats=$(HOME=$ML_DIR "$CLI" -c "$ML_CONF" cache stats 2>&1)
like "$stats" 'redis\.up[ :=]+0' "cache stats: redis.up 0"
metrics=$(curl -s --max-time 10 "http://127.0.0.1:$PORT/metrics")
is "$(awk '$1 == "sesverify_redis_up" {print $2}' <<<"$metrics")" 0 "metrics: sesverify_redis_up 0"
errs=$(awk '$1 == "sesverify_redis_errors_total" {print $2}' <<<"$metrics")
like "${errs:-none}" '^[1-9][0-9]*$' "metrics: sesverify_redis_errors_total counts the failed operations ($errs)"
if grep -q -- "$PW" "$ML_LOG"; then not_ok "no Redis password in the milter log"; else ok "no Redis password in the milter log"; fi
tap_done
