#!/bin/bash
# test-redis-lease.sh - one refresh per domain for the fleet: two real
# sesverify-milter processes ("hosts" A and B), one private redis-server,
# one SES emulator.  Both warm up at the same moment and meet the same 50
# listed-not-enabled domains (each costs one UpdateEmailIdentity): the
# per-domain lease makes one host ask, the other takes its answer; the
# emulator counts the asks per domain (duplicates <= 1%, figure printed).
# A host killed -9 while it holds leases (RefreshWorkers 4: three at once): the other waits for it (asks
# nothing while the lease lives) and answers those domains itself within
# ApiTimeout + 1 s (figure printed); mail meanwhile waits UnknownWait only.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"
. "$top_srcdir/tests/redis/redis-lib.sh"
. "$top_srcdir/tests/redis/hosts-lib.sh"
. "$top_srcdir/tests/core/core-lib.sh"
scen=$(mktmp)/scen.json
python3 - "$top_srcdir/tests/emulator/scenarios/default.json" "$scen" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
for i in range(50):
    # listed, not enabled: unknown until one UpdateEmailIdentity; slow enough
    # that both hosts would have the same domains in flight without a lease
    data["domains"]["l%03d.test" % i] = {"state": "unverified", "attributes": [], "fault": "delay:0.5"}
for i in range(3):
    # not in the list (no warm-up); SES answers late: A still asks when killed
    data["domains"]["k%03d.test" % i] = {"state": "unverified", "attributes": [], "unlisted": True,
                                         "fault": "delay:8"}
json.dump(data, open(sys.argv[2], "w"), indent=1)
PY
ml_setup "$scen"
redis_start "$ML_DIR/redis" || { echo "Bail out! redis-server did not start"; exit 1; }
HOST_NS=$(dead_ns) # no DNS pre-check: every listed domain costs one API call
for h in a b; do
	host_conf $h "CheckFrom envelope" "UnknownWait 1s" "WarmUp yes" "RedisPrefix mta:" \
		"DnsTimeout 100ms" "ApiTimeout 5s" "RefreshWorkers 4" "ApiRate 20"
done
host_launch a
host_launch b
host_ready a && host_ready b
tap_ok $? "hosts A and B started together (both warm up)"

# 1. the same 50 listed-not-enabled domains on both hosts at once
done_both() {
	local h n
	for h in a b; do
		n=$(host_ctl $h list | grep -c '^l0[0-9][0-9]\.test.*unverified')
		[ "$n" -ge 50 ] || return 1
	done
}
for ((i = 0; i < 600; i++)); do
	done_both && break
	sleep 0.1
done
done_both
tap_ok $? "both hosts know all 50 domains (unverified)"
read -r asks dup worst < <(python3 - "$EMU_LOG" <<'PY'
import json, sys, collections
c = collections.Counter()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["action"] == "UpdateEmailIdentity" and e["domain"].startswith("l0"):
        c[e["domain"]] += 1
print(sum(c.values()), sum(v - 1 for v in c.values()), max(c.values() or [0]))
PY
)
diag "fleet refresh: $asks UpdateEmailIdentity for 50 domains on 2 hosts, $dup duplicate(s), at most $worst per domain"
[ "$asks" -ge 50 ]
tap_ok $? "every domain was asked ($asks asks)"
awk -v d="$dup" 'BEGIN { exit !(d / 50 <= 0.01) }'
tap_ok $? "duplicate asks <= 1% of the domains ($dup of 50)"
[ "$(host_stat a redis.lease.waited)" -ge 1 ] || [ "$(host_stat b redis.lease.waited)" -ge 1 ]
tap_ok $? "a host waited on the other's lease (redis.lease.waited)"

# 2. A holds the leases of three domains and is killed -9
for i in 0 1 2; do host_ctl a "refresh k00$i.test" >/dev/null; done
for ((i = 0; i < 100; i++)); do
	[ "$(rcli --scan --pattern 'mta:lease:k00*' | wc -l)" -ge 3 ] && break
	sleep 0.05
done
is "$(rcli --scan --pattern 'mta:lease:k00*' | wc -l)" 3 "A holds the three leases"
holder=$(rcli GET mta:lease:k000.test)
like "$holder" ":$(pgrep -P "${HOST_PID[a]}" | head -n 1):" "  the lease names A's worker process"
w0=$(host_stat b redis.lease.waited)
for i in 0 1 2; do host_ctl b "refresh k00$i.test" >/dev/null; done
for ((i = 0; i < 100; i++)); do
	[ "$(host_stat b redis.lease.waited)" -ge $((w0 + 3)) ] && break
	sleep 0.05
done
is "$(host_stat b redis.lease.waited)" $((w0 + 3)) "B waits on A's three leases"
asked=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["domain"].startswith("k00")))' "$EMU_LOG")
is "$asked" 3 "  SES was asked three times (A's), B asked nothing"
s0=$(date +%s%3N)
host_msg b "mail to B for k001.test waits UnknownWait (1 s), not the lease: 451" from='<a@k001.test>' expect_mail=reply
ms=$(($(date +%s%3N) - s0))
[ "$ms" -le 2500 ]
tap_ok $? "  decided in $ms ms (UnknownWait 1 s plus miltertest's own time, <= 2500)"
for i in 0 1 2; do emu_domain k00$i.test '{"state": "unverified", "attributes": [], "unlisted": true}'; done
t0=$(date +%s%3N)
host_kill9 a
answered() {
	local i
	for i in 0 1 2; do
		host_ctl b "show k00$i.test" | grep -q 'state: unverified' || return 1
	done
}
for ((i = 0; i < 200; i++)); do
	answered && break
	sleep 0.05
done
answered
tap_ok $? "B answered the three domains after A died"
ms=$(($(date +%s%3N) - t0))
diag "A killed -9 holding three leases: B had all three answers ${ms} ms later (leases: ApiTimeout 5 s + 1 s)"
[ "$ms" -le 6000 ]
tap_ok $? "  within ApiTimeout + 1 s of the kill ($ms ms <= 6000)"
[ "$(host_stat b redis.lease.expired)" -ge 3 ]
tap_ok $? "  B took the expired leases (redis.lease.expired >= 3)"
host_msg b "B decides mail for k000.test (unverified: rejected)" from='<a@k000.test>' expect_mail=reply
host_stop b
tap_done
