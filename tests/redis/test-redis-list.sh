#!/bin/bash
# test-redis-list.sh - the identity list fetched by one host for the fleet:
# two real sesverify-milter processes ("hosts" A and B) warm up at the same
# moment with one private redis-server and one SES emulator; the emulator
# sees one ListEmailIdentities, the other host reads the list from Redis
# (redis.list.used) and both know the listed domains.  A list in Redis that
# is garbage is refused with a log line and the host fetches its own.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"
. "$top_srcdir/tests/redis/redis-lib.sh"
. "$top_srcdir/tests/redis/hosts-lib.sh"
ml_setup
redis_start "$ML_DIR/redis" || { echo "Bail out! redis-server did not start"; exit 1; }
for h in a b c; do
	host_conf $h "CheckFrom envelope" "UnknownWait 4s" "WarmUp yes" "RedisPrefix mta:"
done
host_launch a
host_launch b
host_ready a && host_ready b
tap_ok $? "hosts A and B started together (both warm up)"
known() { host_ctl "$1" 'show verified.test' | grep -q 'state: verified'; }
for ((i = 0; i < 200; i++)); do
	known a && known b && break
	sleep 0.05
done
known a && known b
tap_ok $? "both know verified.test (listed, SendingEnabled) from the warm-up"
sleep 1 # a second fetch would come now
is "$(emu_count ListEmailIdentities)" 1 "the emulator saw one ListEmailIdentities for both hosts"
is "$(($(host_stat a redis.list.used) + $(host_stat b redis.list.used)))" 1 "  one host read the list from Redis (redis.list.used)"
like "$(rcli GET mta:list | head -n 1)" '^sesverify-list 1 [0-9]+ [0-9]+$' "the list is in Redis with its fetch time"
for h in a b; do
	for ((i = 0; i < 100; i++)); do
		host_ctl $h 'show unverified.test' | grep -q 'state: unverified' && break
		sleep 0.05
	done
	like "$(host_ctl $h 'show unverified.test')" 'state: unverified' "host $h: unverified.test (listed, not enabled) refreshed"
done

# garbage in the shared list: refused, the host fetches its own
rcli SET mta:list "sesverify-list 1 $(date +%s%3N) 2
E verified.test
? bad line" >/dev/null
host_launch c
host_ready c
tap_ok $? "host C started with a garbage list in Redis"
for ((i = 0; i < 200; i++)); do
	known c && break
	sleep 0.05
done
known c
tap_ok $? "  C knows verified.test all the same"
grep -q 'the shared identity list mta:list is unusable; ignored' "$(host_log c)"
tap_ok $? "  C's log says the shared list is unusable"
is "$(emu_count ListEmailIdentities)" 2 "  C fetched its own list"
for h in a b c; do host_stop $h; done
tap_done
