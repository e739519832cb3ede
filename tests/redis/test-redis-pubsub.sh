#!/bin/bash
# test-redis-pubsub.sh - two real sesverify-milter processes ("hosts" A and
# B) share one private redis-server and one SES emulator.  A domain host A
# refreshes reaches host B's memory through Redis pub/sub, fast (the delay
# is measured and printed) and with no API call from B; B then answers mail
# for it.  Garbage on the channel or in a record is counted and logged once,
# nothing stored; an older shared answer never replaces B's newer one; an
# answer published while B's subscription was down is caught up after it
# reconnects; both stop cleanly (ASan build: no report).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"
. "$top_srcdir/tests/redis/redis-lib.sh"
. "$top_srcdir/tests/redis/hosts-lib.sh"
ml_setup
redis_start "$ML_DIR/redis" || { echo "Bail out! redis-server did not start"; exit 1; }

for h in a b; do
	host_conf $h "CheckFrom envelope" "UnknownWait 4s" "WarmUp no" "RedisPrefix mta:"
done
host_start a || { echo "Bail out! host a did not start"; exit 1; }
host_start b || { echo "Bail out! host b did not start"; exit 1; }
for h in a b; do
	for ((i = 0; i < 100; i++)); do
		grep -q 'redis pub/sub: up' "$(host_log $h)" && break
		sleep 0.05
	done
	grep -q 'redis pub/sub: up' "$(host_log $h)"
	tap_ok $? "host $h subscribed (its own connection: 'redis pub/sub: up')"
done

# 1. A refreshes verified.test; B's memory has it, fast, without asking SES
like "$(host_ctl b 'show verified.test')" '^NOTFOUND' "B does not know verified.test"
out=$(python3 - "$ML_DIR/a/control.sock" "$ML_DIR/b/control.sock" verified.test "$EMU_LOG" "$top_srcdir/tests/redis" <<'PY'
import json, sys, time
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, sys.argv[5])
from ctl import ctl
a, b, dom, emulog = sys.argv[1:5]
ctl(a, "refresh " + dom)
deadline = time.time() + 15
seen = None
while time.time() < deadline:
    r = ctl(b, "show " + dom)
    if r.startswith("OK") and "state: verified" in r:
        seen = time.time()
        break
    time.sleep(0.002)
asked = [json.loads(l)["time"] for l in open(emulog)
         if json.loads(l)["action"] == "UpdateEmailIdentity" and json.loads(l)["domain"] == dom]
if seen is None or not asked:
    print("none %d" % len(asked))
else:
    # from A's request reaching SES (before A had its answer) to B's memory
    print("%d %d" % (round((seen - asked[0]) * 1000), len(asked)))
PY
)
ms=${out% *}
is "${out#* }" 1 "one UpdateEmailIdentity for verified.test at the emulator (A's)"
[ "$ms" != none ] && [ "$ms" -le 100 ]
tap_ok $? "B's memory had A's answer ${ms} ms after A's request reached SES (<= 100 ms; includes A's own answer time)"
diag "pub/sub delay figure: ${ms} ms from A's request at SES to B's memory"
host_msg b "B accepts mail from verified.test" from='<a@verified.test>' expect_mail=accept
is "$(emu_count UpdateEmailIdentity verified.test)" 1 "  still one UpdateEmailIdentity: B asked SES nothing"
[ "$(host_stat b redis.pubsub.received)" -ge 1 ]
tap_ok $? "B's cache stats: redis.pubsub.received >= 1"
[ "$(host_stat b redis.pubsub.applied)" -ge 1 ]
tap_ok $? "B's cache stats: redis.pubsub.applied >= 1"

# 2. garbage: a non-domain on the channel, an unusable record
bad0=$(host_stat b redis.pubsub.bad)
rcli PUBLISH mta:answers 'NOT A DOMAIN!!' >/dev/null
rcli HSET mta:d:junk.test v 1 state verified fetched yesterday >/dev/null
rcli PUBLISH mta:answers junk.test >/dev/null
for ((i = 0; i < 100; i++)); do
	[ "$(host_stat b redis.pubsub.bad)" -ge $((bad0 + 2)) ] && break
	sleep 0.05
done
is "$(host_stat b redis.pubsub.bad)" $((bad0 + 2)) "two bad messages counted (redis.pubsub.bad)"
is "$(grep -c 'redis pub/sub: ignored a bad message' "$(host_log b)")" 1 "  one log line for both (rate-limited)"
like "$(host_ctl b 'show junk.test')" '^NOTFOUND' "  nothing stored for junk.test"
host_msg b "B still decides mail (verified.test accepted)" from='<a@verified.test>' expect_mail=accept

# 3. an older shared answer never replaces B's newer one
host_ctl b 'refresh unverified.test' >/dev/null
for ((i = 0; i < 100; i++)); do
	host_ctl b 'show unverified.test' | grep -q 'state: unverified' && break
	sleep 0.05
done
like "$(host_ctl b 'show unverified.test')" 'state: unverified' "B refreshed unverified.test itself"
now=$(($(date +%s%3N)))
app0=$(host_stat b redis.pubsub.applied)
rec0=$(host_stat b redis.pubsub.received)
rcli DEL mta:d:unverified.test >/dev/null
rcli HSET mta:d:unverified.test v 1 state verified fetched $((now - 60000)) expires $((now + 600000)) \
	checked $((now - 60000)) flags 0 failures 0 request_id old-one error_code '' error_message '' \
	host elsewhere nattrs 0 >/dev/null
rcli PUBLISH mta:answers unverified.test >/dev/null
for ((i = 0; i < 100; i++)); do
	[ "$(host_stat b redis.pubsub.received)" -gt "$rec0" ] && break
	sleep 0.05
done
[ "$(host_stat b redis.pubsub.received)" -gt "$rec0" ]
tap_ok $? "B received the older answer"
is "$(host_stat b redis.pubsub.applied)" "$app0" "  and did not apply it"
like "$(host_ctl b 'show unverified.test')" 'state: unverified' "  B still holds its newer answer"

# 4. published while B's subscription is down: caught up after it reconnects
host_ctl b 'refresh internal.test' >/dev/null
for ((i = 0; i < 100; i++)); do
	host_ctl b 'show internal.test' | grep -q 'state: error' && break
	sleep 0.05
done
like "$(host_ctl b 'show internal.test')" 'state: error' "B holds an error for internal.test (SES InternalError)"
emu_domain internal.test '{"state": "verified"}'
rcli CONFIG SET requirepass pubsub-test-pw >/dev/null # existing connections stay in
rcli -a pubsub-test-pw --no-auth-warning CLIENT KILL TYPE pubsub >/dev/null
for ((i = 0; i < 100; i++)); do
	grep -q 'redis pub/sub: down' "$(host_log b)" && break
	sleep 0.05
done
grep -q 'redis pub/sub: down' "$(host_log b)"
tap_ok $? "B's subscription is down (log line)"
host_ctl a 'refresh internal.test' >/dev/null
for ((i = 0; i < 200; i++)); do
	rcli -a pubsub-test-pw --no-auth-warning HGET mta:d:internal.test state | grep -q verified && break
	sleep 0.05
done
is "$(rcli -a pubsub-test-pw --no-auth-warning HGET mta:d:internal.test state)" verified "A stored its new answer for internal.test"
like "$(host_ctl b 'show internal.test')" 'state: error' "  B missed the message"
rcli -a pubsub-test-pw --no-auth-warning CONFIG SET requirepass '' >/dev/null
for ((i = 0; i < 200; i++)); do
	host_ctl b 'show internal.test' | grep -q 'state: verified' && break
	sleep 0.05
done
like "$(host_ctl b 'show internal.test')" 'state: verified' "after reconnecting, B caught up: internal.test verified"
[ "$(host_stat b redis.pubsub.caught_up)" -ge 1 ]
tap_ok $? "  redis.pubsub.caught_up >= 1"
is "$(emu_count UpdateEmailIdentity internal.test)" 2 "  two UpdateEmailIdentity for internal.test (B's error, A's answer), none more"

# 5. clean stop
host_stop a
host_stop b
tap_done
