#!/bin/bash
# test-milter-control.sh - the ControlSocket: the raw line protocol (list,
# show, refresh, forget, stats, json, errors) and "sesverify cache ..."
# against the running daemon.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
ml_conf "CheckFrom envelope"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
ml_msg "unverified.test looked up" from='<a@unverified.test>' expect_mail=reply

is "$(stat -c %a "$ML_CTL")" 660 "ControlSocket mode 0660"
is "$(stat -c %a "$ML_SOCK")" 660 "milter socket mode 0660"

out=$(ml_ctl $'list\n')
like "$(head -n 1 <<<"$out")" '^OK$' "list: OK"
like "$out" $'\nverified\\.test +verified ' "list: verified.test (from the warm-up list)"
like "$out" $'\nunverified\\.test +unverified ' "list: unverified.test"

out=$(ml_ctl $'show unverified.test\n')
like "$out" $'^OK\ndomain: unverified.test\nstate: unverified\n' "show: text"
like "$out" 'failing_record: TXT qcloud\._domainkey\.unverified\.test missing' "show: failing record"

out=$(ml_ctl $'show Unverified.TEST json\n')
json=$(tail -n +2 <<<"$out")
python3 -c '
import json, sys
e = json.loads(sys.argv[1])
assert e["domain"] == "unverified.test" and e["state"] == "unverified" and e["verified"] is False
assert set(e) >= {"domain","state","verified","stale","refreshing","fetched_at","expires_at","api_checked_at","request_id","attributes","error"}
assert e["attributes"][0]["type"] == "TXT" and e["attributes"][0]["status"] is False
' "$json"
tap_ok $? "show json: entry object with every key (domain normalised)"

out=$(ml_ctl $'list json\n')
python3 -c 'import json,sys; a=json.loads(sys.argv[1]); assert isinstance(a,list) and any(e["domain"]=="unverified.test" for e in a)' \
	"$(tail -n +2 <<<"$out")"
tap_ok $? "list json: an array of entries"

out=$(ml_ctl $'stats json\n')
python3 -c '
import json, sys
s = json.loads(sys.argv[1])
assert s["decision.reject"] >= 1, s
assert s["cache.entries.unverified"] >= 1, s
assert all(isinstance(v, int) for v in s.values())
' "$(tail -n +2 <<<"$out")"
tap_ok $? "stats json: decisions and entries by state"
like "$(ml_ctl $'stats\n')" $'\ndecision\\.reject [1-9]' "stats text"

is "$(ml_ctl $'show nothere.test\n')" "NOTFOUND nothere.test" "show of an absent domain: NOTFOUND"
like "$(ml_ctl $'refresh verified.test\n')" '^OK' "refresh: OK"
is "$(ml_ctl $'forget unverified.test\n')" "OK" "forget: OK"
is "$(ml_ctl $'forget unverified.test\n')" "NOTFOUND unverified.test" "forget again: NOTFOUND"
like "$(ml_ctl $'frobnicate\n')" '^ERR unknown command' "unknown verb: ERR"
like "$(ml_ctl $'show\n')" '^ERR usage: show DOMAIN' "missing argument: ERR"
like "$(ml_ctl $'show a b c\n')" '^ERR' "too many words: ERR"
like "$(ml_ctl $'show [192.0.2.1]\n')" '^ERR bad domain' "IP literal: ERR"
like "$(ml_ctl "show $(printf 'a%.0s' {1..600}).test")" '^ERR line too long' "over-long line: ERR"
like "$(ml_ctl $'show a\x01b.test\n')" '^ERR malformed' "control character: ERR"
like "$(ml_ctl '')" '^ERR no command' "empty connection: ERR"

cli=$top_builddir/milter/sesverify
if [ -x "$cli" ]; then
	out=$("$cli" -c "$ML_CONF" cache list 2>&1)
	tap_ok $? "sesverify cache list: exit 0"
	like "$out" 'verified\.test' "sesverify cache list shows verified.test"
	out=$("$cli" -c "$ML_CONF" cache show verified.test --json 2>&1)
	tap_ok $? "sesverify cache show --json: exit 0"
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d = d[0] if isinstance(d, list) else d; assert d["domain"]=="verified.test"' "$out"
	tap_ok $? "sesverify cache show --json: parseable, right domain"
	"$cli" -c "$ML_CONF" cache refresh verified.test >/dev/null 2>&1
	tap_ok $? "sesverify cache refresh: exit 0"
	"$cli" -c "$ML_CONF" cache forget verified.test >/dev/null 2>&1
	tap_ok $? "sesverify cache forget: exit 0"
	"$cli" -c "$ML_CONF" cache show verified.test >/dev/null 2>&1
	is "$?" 1 "sesverify cache show after forget: not in the cache"
	out=$("$cli" -c "$ML_CONF" cache stats 2>&1)
	like "$out" 'decision\.reject' "sesverify cache stats"
	# the worker's heap (mallinfo2): non-zero, except under ASan whose
	# allocator glibc's figures do not see
	if [ "${SV_SANITIZE:-}" = 1 ]; then
		like "$out" 'mem\.heap_in_use' "sesverify cache stats: mem.heap_in_use"
	else
		like "$out" 'mem\.heap_in_use[[:space:]]+[1-9][0-9]*' "sesverify cache stats: mem.heap_in_use, non-zero"
	fi
else
	skip "sesverify cache list/show/refresh/forget/stats" "milter/sesverify (the CLI) not built" 9
fi
ml_stop
is "$ML_STATUS" 0 "stopped cleanly"
tap_done
