#!/bin/bash
# tests/bench/test-loadgen.sh - smoke test of the milter load generator (TAP).
#
# Owns: proving that tests/bench/loadgen speaks the milter protocol and
# counts replies right, against the null milter (every message accepted;
# with -r, one domain refused with 550 5.7.1) and, when it has been built,
# against sesverify-milter with the SES emulator (unverified.test -> 550).
# Does not own: the null milter, the emulator, the test DNS or the milter;
# the benchmark figures themselves come from run-bench.sh ("make bench").
. "$top_srcdir/tests/lib.sh"

lg=$top_builddir/tests/bench/loadgen
nm=$top_builddir/tests/bench/null-milter
milter=$top_builddir/milter/sesverify-milter
[ -x "$lg" ] || skip_all "loadgen not built"
[ -x "$nm" ] || skip_all "null-milter not built"
tmp=$(mktmp)

# stop_null - libmilter polls its stop flag only every few seconds: KILL it
stop_null() {
	if [ -n "${nm_pid:-}" ]; then
		kill -9 "$nm_pid" 2>/dev/null
		wait "$nm_pid" 2>/dev/null
		nm_pid=
	fi
	return 0
}
at_exit stop_null

# start_null SOCKET [ARGS] - run the null milter, wait for its socket
start_null() {
	local sock=$1 i
	shift
	"$nm" -p "unix:$sock" "$@" 2>"$tmp/null.err" &
	nm_pid=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$sock" ] && return 0
		sleep 0.05
	done
	return 1
}

# field NAME FILE - a NAME=value field of loadgen's RESULT line
field() {
	sed -n "s/^RESULT .* $1=\([^ ]*\).*/\1/p" "$2"
}

# outcome CLASS CODE FILE - count of OUTCOME lines for class and code
outcome() {
	local n
	n=$(awk -v c="$1" -v k="$2" '$1 == "OUTCOME" && $2 == c {
		key = $3; for (i = 4; i < NF; i++) key = key " " $i
		if (key == k) print $NF }' "$3")
	echo "${n:-0}"
}

start_null "$tmp/null.sock"
tap_ok $? "null milter listens"

"$lg" -s "unix:$tmp/null.sock" -c 4 -m 50 -n null -T 10 >"$tmp/a.out" 2>&1
tap_ok $? "loadgen exits 0 against the null milter"
is "$(field msgs "$tmp/a.out")" 200 "200 messages answered"
is "$(outcome verified.test accept "$tmp/a.out")" 200 "all 200 accepted"
is "$(field errors "$tmp/a.out")" 0 "no protocol errors"
like "$(cat "$tmp/a.out")" "negotiated: version 6, actions 0x0, protocol 0x31a" \
	"honours the null milter's negotiation (no HELO, RCPT, DATA, body)"
like "$(cat "$tmp/a.out")" "replies: 'a' 200 'c' 1604$" \
	"1 connect + 8 steps per message answered continue, EOM accept"
stop_null

# A refusing filter: the decisions must be counted per domain and code.
start_null "$tmp/null-r.sock" -r unverified.test
"$lg" -s "unix:$tmp/null-r.sock" -c 2 -m 100 -S 7 -T 10 \
	-d verified.test:50,unverified.test:50 >"$tmp/b.out" 2>&1
tap_ok $? "loadgen exits 0 with a mix"
v=$(outcome verified.test accept "$tmp/b.out")
u=$(outcome unverified.test "550 5.7.1" "$tmp/b.out")
is "$((v + u))" 200 "every message is accepted or refused with 550 5.7.1 ($v + $u)"
[ "$u" -gt 40 ] && [ "$v" -gt 40 ]
tap_ok $? "the mix sends both domains"
like "$(cat "$tmp/b.out")" "decided at: MAIL $u " "the refusals happen at MAIL FROM"
stop_null

# The twin negotiates no-reply for CONNECT and headers and accepts at EOH:
# loadgen must not wait for the replies it negotiated away.
tw=$top_builddir/tests/bench/twin-milter
if [ -x "$tw" ]; then
	"$tw" -p "unix:$tmp/twin.sock" 2>/dev/null &
	nm_pid=$!
	for ((i = 0; i < 100; i++)); do [ -S "$tmp/twin.sock" ] && break; sleep 0.05; done
	"$lg" -s "unix:$tmp/twin.sock" -c 2 -m 50 -T 10 >"$tmp/t.out" 2>&1
	tap_ok $? "loadgen exits 0 against the twin milter (SMFIP_NR_CONN, SMFIP_NR_HDR)"
	like "$(cat "$tmp/t.out")" "replies: 'a' 100 'c' 100$" "one reply to MAIL, one to EOH"
	stop_null
fi

# A dead socket must be an error, not a hang or a success.
"$lg" -s "unix:$tmp/nothing.sock" -c 1 -m 1 -T 2 >"$tmp/c.out" 2>&1
is "$?" 1 "a missing filter is exit 1"
"$lg" -s "inet:25@192.0.2.1" -m 1 >"$tmp/d.out" 2>&1
is "$?" 2 "a non-loopback socket is refused (exit 2)"

# The real milter, when it has been built and the emulator is there.
if [ ! -x "$milter" ]; then
	ok "sesverify-milter: accepts verified.test # SKIP milter/sesverify-milter not built yet"
	ok "sesverify-milter: 550 for unverified.test # SKIP milter/sesverify-milter not built yet"
	tap_done
fi
. "$top_srcdir/tests/emulator/emulator-lib.sh"
if [ -f "$top_srcdir/tests/dns/dns-lib.sh" ]; then
	. "$top_srcdir/tests/dns/dns-lib.sh"
	dns_start "$tmp/dns" >/dev/null 2>&1 || diag "test DNS did not start; going on without"
fi
emu_start "$tmp/emu" || {
	not_ok "emulator starts"
	tap_done
}
{
	cat "$EMU_CONF"
	echo "Socket unix:$tmp/milter.sock"
	echo "ControlSocket unix:$tmp/control.sock"
	echo "CacheFile $tmp/cache"
	echo "PidFile $tmp/milter.pid"
	[ -n "${DNS_PORT:-}" ] && echo "Nameserver 127.0.0.1@$DNS_PORT"
	echo "UnknownWait 5s"
} >"$tmp/milter.conf"
chmod 600 "$tmp/milter.conf"
"$milter" -f -c "$tmp/milter.conf" >"$tmp/milter.log" 2>&1 &
m_pid=$!
at_exit "kill_wait $m_pid"
for ((i = 0; i < 100; i++)); do
	[ -S "$tmp/milter.sock" ] && break
	sleep 0.05
done
# One message per domain first: the first one waits for the API answer.
"$lg" -s "unix:$tmp/milter.sock" -m 1 -T 10 -d verified.test:1 >/dev/null 2>&1
"$lg" -s "unix:$tmp/milter.sock" -m 1 -T 10 -d unverified.test:1 >/dev/null 2>&1
"$lg" -s "unix:$tmp/milter.sock" -c 2 -m 50 -S 11 -T 10 \
	-d verified.test:80,unverified.test:20 >"$tmp/e.out" 2>&1
sed 's/^/# /' "$tmp/e.out" | grep -v '^# OUTCOME'
v=$(outcome verified.test accept "$tmp/e.out")
u=$(outcome unverified.test "550 5.7.1" "$tmp/e.out")
vt=$(awk '$1 == "OUTCOME" && $2 == "verified.test" { s += $NF } END { print s + 0 }' "$tmp/e.out")
ut=$(awk '$1 == "OUTCOME" && $2 == "unverified.test" { s += $NF } END { print s + 0 }' "$tmp/e.out")
[ "$v" -gt 0 ] && [ "$v" = "$vt" ]
tap_ok $? "sesverify-milter: accepts verified.test ($v of $vt)"
[ "$u" -gt 0 ] && [ "$u" = "$ut" ]
tap_ok $? "sesverify-milter: 550 for unverified.test ($u of $ut)"
grep -q "$EMU_SECRET_KEY" "$tmp/e.out" "$tmp/milter.log" && not_ok "secret in output" || true
tap_done
