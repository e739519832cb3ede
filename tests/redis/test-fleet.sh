#!/bin/bash
# test-fleet.sh - one account, one Redis, three real sesverify-milter
# processes (each with its own Socket, ControlSocket and CacheFile) plus the
# CLI, judged from the SES emulator's own request log:
#  1. a burst of 300 listed-not-enabled domains spread over the three hosts,
#     every domain reaching two of them, with "sesverify check" of other
#     domains at the same time: <= 20 requests in every sliding second,
#     no RequestLimitExceeded, duplicate UpdateEmailIdentity calls <= 1% of
#     the domains, all answered within 10% of 300/20 s;
#  2. Redis killed (SIGKILL) in the middle of a burst: no wrong decision,
#     <= 20 requests in every sliding second with three hosts on the
#     RedisDownApiRate 5 fallback; Redis restarted on the same socket:
#     sharing resumes without restarting a milter;
#  3. a host killed -9 while it holds the whole budget in grants: the
#     others get grants again within ApiTimeout + 1 s.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/redis/redis-lib.sh"
command -v miltertest >/dev/null || skip_all "miltertest not installed (Debian package miltertest)"
ML_BIN=$top_builddir/milter/sesverify-milter
CLI=$top_builddir/milter/sesverify
LUA=$top_srcdir/tests/redis/fleet-mail.lua
[ -x "$ML_BIN" ] || skip_all "sesverify-milter not built"
D=$(mktmp)
[ -z "${FLEET_KEEP:-}" ] || at_exit "cp -r '$D' '$FLEET_KEEP'" # keep the logs for a look
NB=300 # burst domains
NR=150 # domains of the Redis-kill burst
API_TIMEOUT=3

# The scenario: fb* (burst) and fc* (the CLI's) are listed but not enabled,
# so each costs one UpdateEmailIdentity; fr* alternate unverified / verified
# (the verified ones listed as enabled: decided from the list); fs* answer
# after 6 s (longer than ApiTimeout: they hold their grants); fk* are plain.
python3 - "$top_srcdir/tests/emulator/scenarios/default.json" "$D/scen.json" "$NB" "$NR" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
dom = data["domains"]
for i in range(int(sys.argv[3])):
    dom["fb%03d.test" % i] = {"state": "unverified", "attributes": []}
for i in range(10):
    dom["fc%02d.test" % i] = {"state": "unverified", "attributes": []}
for i in range(int(sys.argv[4])):
    if i % 2:
        dom["fr%03d.test" % i] = {"state": "verified", "attributes": []}
    else:
        dom["fr%03d.test" % i] = {"state": "unverified", "attributes": []}
for i in range(30):
    dom["fs%02d.test" % i] = {"state": "unverified", "attributes": [], "fault": "delay:6"}
for i in range(10):
    dom["fk%02d.test" % i] = {"state": "unverified", "attributes": []}
json.dump(data, open(sys.argv[2], "w"))
PY
emu_start "$D/emu" "$D/scen.json" || { echo "Bail out! SES emulator did not start"; exit 1; }
redis_start "$D/redis" || { echo "Bail out! redis-server did not start"; exit 1; }
DEAD_NS=127.0.0.1@$(free_port) # the DNS pre-check finds nothing: every domain costs a call
. "$top_srcdir/tests/redis/fleet-lib.sh"

# wrong_decisions PREFIX - decision lines of PREFIX domains, in every host's
# log, that contradict the emulator's truth (fr: odd verified, even
# unverified; fb: unverified); a 451 (tempfail) is never wrong
wrong_decisions() {
	cat "$D"/h*/milter.log | awk -v p="$1" '
		match($0, / domain=[^ ]+/) {
			d = substr($0, RSTART + 8, RLENGTH - 8)
			if (index(d, p) != 1 || !match($0, / action=[a-z]+/)) next
			a = substr($0, RSTART + 8, RLENGTH - 8)
			n = substr(d, length(p) + 1, 3) + 0
			truth = (p == "fr" && n % 2) ? "accept" : "reject"
			if (a != "tempfail" && a != truth) print d, a, "(truth: " truth ")"
		}'
}

for h in 1 2 3; do
	host_conf "$h"
	host_start "$h" || { echo "Bail out! milter $h did not start"; exit 1; }
done
ok "one redis-server, one emulator, three milters sharing it"

# ---------------------------------------------------------------- 1. burst
# fb domain i goes to hosts i%3 and (i+1)%3, shuffled so that the hosts
# meet each domain at different moments
for h in 1 2 3; do
	for ((i = 0; i < NB; i++)); do
		if [ $((i % 3)) -eq $((h - 1)) ] || [ $(((i + 1) % 3)) -eq $((h - 1)) ]; then
			printf 'fb%03d.test\n' "$i"
		fi
	done | shuf >"$D/burst$h"
done
# a clean second before each phase
wait_emu_quiet
T0=$(date +%s.%N)
JOBS=()
for h in 1 2 3; do
	mail "$h" "$D/burst$h" "$D/burst$h.out" &
	JOBS+=($!)
done
HOME=$D "$CLI" -c "$D/h1/milter.conf" check --no-dns $(printf 'fc%02d.test ' $(seq 0 9)) >"$D/cli.out" 2>&1 &
CLI_PID=$!
wait_answered fb "$NB" 60
tap_ok $? "all $NB burst domains answered"
wait "$CLI_PID"
is "$?" 1 "sesverify check of 10 other domains at the same time: all unverified (exit 1)"
wait "${JOBS[@]}"
T1=$(date +%s.%N)
r=$(emu_report "$T0" "$T1" fb)
diag "burst: $r (seconds after the start)"
max=$(field max "$r")
refused=$(field refused "$r")
dups=$(field dups "$r")
last=$(field last "$r")
diag "busiest sliding second: $max requests; RequestLimitExceeded: $refused; duplicate UpdateEmailIdentity: $dups of $NB domains; all answered after ${last}s"
tap_ok "$([ "$max" -le 20 ])$?" "burst: <= 20 requests in every sliding second (busiest: $max)"
is "$refused" 0 "burst: no RequestLimitExceeded"
tap_ok "$([ $((dups * 100)) -le "$NB" ])$?" "burst: duplicate UpdateEmailIdentity calls <= 1% of $NB domains (got $dups)"
tap_ok "$(awk -v l="$last" 'BEGIN { exit !(l >= 0 && l <= 16.5) }')$?" \
	"burst: all answered within 16.5 s (10% over $NB/20 s): ${last}s"
# every host decides its domains from what it learnt: 550 for all of them
mail_all() { # mail_all NAME [OUT-NAME]: mail NAME$h to every host h at once
	local h pids=()
	for h in 1 2 3; do
		mail "$h" "$D/$1$h" "${2:+$D/$2$h.out}" &
		pids+=($!)
	done
	wait "${pids[@]}"
}
mail_all burst again
is "$(cat "$D"/again?.out | awk '$2 != "y"' | wc -l)" 0 "every host now answers its burst domains with a reply (550)"
is "$(wrong_decisions fb | head -n 5)" "" "no wrong decision in the burst"

# ------------------------------------------------------- 2. Redis killed
for h in 1 2 3; do
	for ((i = 0; i < NR; i++)); do
		if [ $((i % 3)) -eq $((h - 1)) ] || [ $(((i + 1) % 3)) -eq $((h - 1)) ]; then
			printf 'fr%03d.test\n' "$i"
		fi
	done | shuf >"$D/kill$h"
done
for h in 1 2 3; do MARK[$h]=$(log_mark "$D/h$h/milter.log"); done
wait_emu_quiet
T2=$(date +%s.%N)
JOBS=()
for h in 1 2 3; do
	(mail "$h" "$D/kill$h" && mail "$h" "$D/kill$h") &
	JOBS+=($!)
done
wait_answered fr 20 20
kill -9 "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
TK=$(date +%s.%N)
diag "Redis killed $(awk -v a="$T2" -v b="$TK" 'BEGIN { printf "%.1f", b - a }') s into the burst"
sleep 3
redis_start "$D/redis" || { echo "Bail out! redis-server did not restart"; exit 1; }
wait_answered fr $((NR / 2)) 60
tap_ok $? "all $((NR / 2)) unverified domains answered across the Redis outage (the verified ones are listed as enabled)"
wait "${JOBS[@]}"
mail_all kill
T3=$(date +%s.%N)
r=$(emu_report "$T2" "$T3" fr)
diag "Redis outage: $r"
max=$(field max "$r")
tap_ok "$([ "$max" -le 20 ])$?" "Redis down: <= 20 requests in every sliding second (busiest: $max)"
is "$(field refused "$r")" 0 "Redis down: no RequestLimitExceeded"
r=$(emu_report "$(awk -v t="$TK" 'BEGIN { printf "%.6f", t + 1.1 }')" "$(awk -v t="$TK" 'BEGIN { printf "%.6f", t + 3 }')" fr)
diag "while Redis was down (from 1.1 s after the kill to the restart): $r"
tap_ok "$([ "$(field max "$r")" -le 15 ])$?" "  three hosts at RedisDownApiRate 5: <= 15 in a sliding second (busiest: $(field max "$r"))"
is "$(wrong_decisions fr | head -n 5)" "" "Redis down: no wrong decision (each reply is SES's truth or a 451)"
for h in 1 2 3; do
	log_since "$D/h$h/milter.log" "${MARK[$h]}" | grep -q 'redis: down'
	tap_ok $? "host $h logged 'redis: down'"
	log_since "$D/h$h/milter.log" "${MARK[$h]}" | grep -q 'redis: up'
	tap_ok $? "host $h logged 'redis: up' after the restart, without a restart of its own"
done
# shared grants are counted in the restarted Redis again
for h in 1 2 3; do printf 'fk%02d.test\n' $((h - 1)); done >"$D/after"
mail 1 "$D/after"
wait_answered fk 3 10
is "$(rcli --scan --pattern 'sesverify:rl:*' | sort | tr '\n' ' ' | sed 's/:[0-9a-f]\{16\}:/:ID:/g')" \
	"sesverify:rl:ap-guangzhou:ID:answered sesverify:rl:ap-guangzhou:ID:bucket " \
	"after the restart grants are counted in Redis again"

# -------------------------------------------- 3. a host killed holding grants
for ((i = 0; i < 30; i++)); do printf 'fs%02d.test\n' "$i"; done >"$D/slow"
for ((i = 3; i < 10; i++)); do printf 'fk%02d.test\n' "$i"; done >"$D/next"
wait_emu_quiet
mail 1 "$D/slow"
# host 1 holds every grant of the second: 20 requests in flight (6 s each)
for ((i = 0; i < 100; i++)); do
	[ "$(grep -c '"domain": "fs' "$EMU_LOG")" -ge 20 ] && break
	sleep 0.05
done
held=$(grep -c '"domain": "fs' "$EMU_LOG")
W1=$(pgrep -P "${HPID[1]}" | head -n 1)
kill -9 "${HPID[1]}" $W1
TK=$(date +%s.%N)
HPID[1]=
is "$held" 20 "host 1 holds the whole budget (20 slow requests in flight) when it is killed -9"
mail 2 "$D/next" &
JOBS=($!)
wait_answered fk 4 20
r=$(python3 - "$EMU_LOG" "$TK" <<'PY'
import json, sys
t = [e["time"] for e in map(json.loads, open(sys.argv[1])) if e["domain"].startswith("fk") and e["time"] > float(sys.argv[2])]
print("%.2f" % (min(t) - float(sys.argv[2])) if t else "none")
PY
)
diag "host 2's first request $r s after host 1 was killed (its grants were leased for ApiTimeout + 1 s = $((API_TIMEOUT + 1)) s)"
tap_ok "$(awk -v r="$r" -v l="$API_TIMEOUT" 'BEGIN { exit !(r != "none" && r <= l + 1 + 0.5) }')$?" \
	"the others go on within ApiTimeout + 1 s of the kill (+0.5 s for polling): ${r}s"
wait "${JOBS[@]}"
for h in 2 3; do host_stop "$h"; done
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$D"/h*/milter.log; then
	not_ok "no sanitizer report in the milters' logs"
	grep -Eh -A5 'AddressSanitizer|LeakSanitizer|runtime error:' "$D"/h*/milter.log | head -n 30 | sed 's/^/#   /'
else
	ok "no sanitizer report in the milters' logs"
fi
tap_done
