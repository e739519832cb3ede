#!/bin/bash
# tests/cli/test-cli-usage.sh - sesverify usage errors, configuration errors and the
# "cache" client of the control-socket protocol (against a fake server).
. "$top_srcdir/tests/cli/cli-lib.sh"

# --- usage
sv
is_rc 2 "no command: exit 2"
like "$ERR" '^sesverify: no COMMAND given' "no command: says so"
like "$ERR" 'usage: sesverify' "no command: usage text on stderr"
is "$OUT" "" "no command: nothing on stdout"
sv frobnicate
is_rc 2 "unknown command: exit 2"
like "$ERR" "unknown command 'frobnicate'" "unknown command: named"
sv -x check a.test
is_rc 2 "unknown global option: exit 2"
sv check --bogus a.test
is_rc 2 "unknown command option: exit 2"
like "$ERR" "unknown option '--bogus'" "unknown command option: named"
sv list --expect TXT,a,b
is_rc 2 "--expect belongs to precheck only"
sv -c
is_rc 2 "-c without a file: exit 2"
sv -h
is_rc 0 "-h: exit 0"
like "$OUT" 'usage: sesverify' "-h: usage on stdout"
sv -V
is_rc 0 "-V: exit 0"
like "$OUT" '^sesverify [0-9]+\.[0-9]+\.[0-9]+ \(libsesverify [0-9.]+\)$' "-V: version"

# --- configuration errors: FILE:LINE: message, exit 2
printf 'ApiTimeout 5s\nBogusKey 1\nApiTimeout soon\n' >"$CLI_TMP/bad.conf"
sv -c "$CLI_TMP/bad.conf" list
is_rc 2 "bad config: exit 2"
like "$ERR" "^$CLI_TMP/bad.conf:2: " "bad config: first error as FILE:LINE: message"
like "$ERR" "$CLI_TMP/bad.conf:3: " "bad config: every error is reported"
sv -c "$CLI_TMP/missing.conf" list
is_rc 2 "missing config file: exit 2"
like "$ERR" "missing.conf" "missing config file: named"

# --- precheck argument checks (the DNS paths are in test-cli-dns.sh)
sv precheck --expect 'SRV,a.test,x' a.test
is_rc 2 "--expect with a bad type: exit 2"
like "$ERR" "type must be TXT, MX, CNAME or A" "--expect bad type: reason"
sv precheck --expect 'TXT,a.test' a.test
is_rc 2 "--expect without a value: exit 2"
sv precheck --expect 'TXT,other.test,v=spf1' a.test
is_rc 2 "--expect for a name under no DOMAIN: exit 2"
like "$ERR" "not under any DOMAIN" "--expect orphan: reason"
sv precheck 'bad domain.test'
is_rc 2 "precheck: bad domain: exit 2"

# --- cache: the control-socket client against a fake server
sock=$CLI_TMP/control.sock
printf 'ControlSocket unix:%s\n' "$sock" >"$CLI_TMP/ctl.conf"
sv -c "$CLI_TMP/ctl.conf" cache list
is_rc 3 "cache: no server: exit 3"
like "$ERR" "cannot connect to control socket $sock" "cache: no server: names the socket"

python3 "$top_srcdir/tests/cli/control-fake.py" "$sock" "$CLI_TMP/ctl-requests" 2>/dev/null &
fake=$!
at_exit "kill_wait $fake"
for ((i = 0; i < 100; i++)); do [ -S "$sock" ] && break; sleep 0.05; done

sv -c "$CLI_TMP/ctl.conf" cache list
is_rc 0 "cache list: OK → exit 0"
is "$OUT" "verified.test verified
unverified.test unverified" "cache list: body printed"
sv -c "$CLI_TMP/ctl.conf" cache list --json
is_rc 0 "cache list --json: exit 0"
json_check 'j[0]["domain"] == "verified.test" and j[0]["verified"] is True' "cache list --json: the server's JSON as is"
sv -c "$CLI_TMP/ctl.conf" cache show Verified.Test.
is_rc 0 "cache show: exit 0"
sv -c "$CLI_TMP/ctl.conf" cache show absent.test
is_rc 1 "cache show: NOTFOUND → exit 1"
like "$ERR" 'absent.test: not in the cache' "cache show NOTFOUND: says so"
sv -c "$CLI_TMP/ctl.conf" cache refresh busy.test
is_rc 3 "cache refresh: ERR → exit 3"
like "$ERR" 'refresh queue is full' "cache refresh ERR: the server's message on stderr"
sv -c "$CLI_TMP/ctl.conf" cache forget verified.test
is_rc 0 "cache forget: exit 0"
sv -c "$CLI_TMP/ctl.conf" cache stats --json
is_rc 0 "cache stats --json: exit 0"
json_check 'j["api.calls"] == 3' "cache stats --json: counters"
sv -c "$CLI_TMP/ctl.conf" cache show garbage.test
is_rc 3 "cache: malformed answer → exit 3"
like "$ERR" 'malformed answer' "cache: malformed answer reported"
sv -c "$CLI_TMP/ctl.conf" cache show silent.test
is_rc 3 "cache: no answer → exit 3"
is "$(cat "$CLI_TMP/ctl-requests")" "list
list json
show verified.test
show absent.test
refresh busy.test
forget verified.test
stats json
show garbage.test
show silent.test" "cache: the request lines sent (normalised domains, json flag)"

n=$(wc -l <"$CLI_TMP/ctl-requests")
sv -c "$CLI_TMP/ctl.conf" cache show 'bad_domain!'
is_rc 2 "cache show: bad domain: exit 2"
sv -c "$CLI_TMP/ctl.conf" cache show
is_rc 2 "cache show without DOMAIN: exit 2"
sv -c "$CLI_TMP/ctl.conf" cache list extra.test
is_rc 2 "cache list with a DOMAIN: exit 2"
sv -c "$CLI_TMP/ctl.conf" cache flush
is_rc 2 "cache: unknown verb: exit 2"
is "$(wc -l <"$CLI_TMP/ctl-requests")" "$n" "cache usage errors: nothing sent to the server"

cli_done
