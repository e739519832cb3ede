#!/bin/bash
# tests/cli/test-cli-budget.sh - one host without Redis has one API budget:
# while sesverify-milter works through a backlog at ApiRate 20, "sesverify
# check" of 30 more domains takes its grants from the daemon's budget over
# the ControlSocket ("grant"), so the SES emulator never sees more than 20
# requests in a sliding second; with no daemon the CLI paces itself.
. "$top_srcdir/tests/cli/cli-lib.sh"
command -v miltertest >/dev/null || skip_all "miltertest not installed (Debian package miltertest)"
ML_BIN=$top_builddir/milter/sesverify-milter
[ -x "$ML_BIN" ] || skip_all "sesverify-milter not built"
LUA=$top_srcdir/tests/redis/fleet-mail.lua
D=$(mktmp)
NB=200 # the daemon's backlog
NC=30  # the CLI's domains

python3 - "$top_srcdir/tests/emulator/scenarios/default.json" "$D/scen.json" "$NB" "$NC" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
for i in range(int(sys.argv[3])):
    data["domains"]["bb%03d.test" % i] = {"state": "unverified", "attributes": []}
for i in range(int(sys.argv[4])):
    data["domains"]["bc%02d.test" % i] = {"state": "unverified", "attributes": []}
json.dump(data, open(sys.argv[2], "w"))
PY
emu_start "$D/emu" "$D/scen.json" || { echo "Bail out! SES emulator did not start"; exit 1; }
# one host of tests/redis/fleet-lib.sh, without Redis: D/h1
DEAD_NS=127.0.0.1@$(free_port) # the DNS pre-check finds nothing: every domain costs a call
API_TIMEOUT=5
. "$top_srcdir/tests/redis/fleet-lib.sh"
FLEET_NO_REDIS=1 host_conf 1
host_start 1
tap_ok $? "sesverify-milter started (ApiRate 20, no Redis)"

# the daemon's backlog: NB unknown domains, queued by mail
for ((i = 0; i < NB; i++)); do printf 'bb%03d.test\n' "$i"; done >"$D/backlog"
mail 1 "$D/backlog" "$D/mail.out" &
MT_PID=$!
# the CLI starts once the daemon is busy
for ((i = 0; i < 100; i++)); do
	[ "$(emu_count UpdateEmailIdentity)" -ge 10 ] && break
	sleep 0.05
done
sv -c "$D/h1/milter.conf" check --no-dns $(for ((i = 0; i < NC; i++)); do printf 'bc%02d.test ' "$i"; done)
is_rc 1 "check of $NC domains while the daemon works: all unverified (exit 1)"
is "$(grep -c ': unverified' <<<"$OUT")" "$NC" "  every domain answered"
wait "$MT_PID"
busy=$(emu_count UpdateEmailIdentity)
busiest=$(emu_max_per_second)
diag "busiest sliding second: $busiest requests ($busy UpdateEmailIdentity so far, $(emu_count_code RequestLimitExceeded) RequestLimitExceeded)"
tap_ok "$([ "$busiest" -le 20 ])$?" "daemon + CLI: <= 20 requests in every sliding second (busiest: $busiest)"
is "$(emu_count_code RequestLimitExceeded)" 0 "  no RequestLimitExceeded"
sv -c "$D/h1/milter.conf" cache stats
like "$OUT" "control\\.grants[ :=]+$NC\\b" "the daemon granted the CLI's $NC requests (control.grants)"

# a bare "grant" is answered OK, and the grant ends when the client closes
out=$(python3 - "$D/h1/control.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(15)
s.connect(sys.argv[1])
s.sendall(b"grant\n")
print(s.recv(100).decode().strip())
s.close()
PY
)
is "$out" "OK" "grant: OK on the ControlSocket"

# no daemon: the CLI paces itself (and says nothing about it)
host_stop 1
sv -c "$D/h1/milter.conf" check --no-dns bc00.test bc01.test
is_rc 1 "no daemon on the ControlSocket: check still works (own ApiRate)"
is "$ERR" "" "  quietly"
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$D/h1/milter.log"; then
	not_ok "no sanitizer report in the milter's log"
	grep -E -A5 'AddressSanitizer|LeakSanitizer|runtime error:' "$D/h1/milter.log" | head -n 30 | sed 's/^/#   /'
else
	ok "no sanitizer report in the milter's log"
fi
cli_no_secret "$D/h1/milter.log"
tap_done
