#!/bin/bash
# tests/cli/test-cli-json-utf8.sh - "sesverify ... --json" writes valid JSON in
# valid UTF-8 whatever bytes reach it.  The one place where arbitrary bytes
# reach the CLI's JSON is an --expect VALUE of precheck (domain arguments are
# validated first; API answers pass the library's strict JSON reader): it is
# echoed as "expected".  Octets that start no valid UTF-8 sequence become
# U+FFFD, valid UTF-8 is kept, control octets are escaped (the rules of the
# library's writer, sv_json_quote).
. "$top_srcdir/tests/cli/cli-lib.sh"

[ -f "$top_srcdir/tests/dns/dns-lib.sh" ] || skip_all "tests/dns/dns-lib.sh not present"
command -v nsd >/dev/null || skip_all "nsd not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"
. "$top_srcdir/tests/dns/dns-lib.sh"
dns_start "$CLI_TMP/dns" >"$CLI_TMP/dns-start.log" 2>&1 || { echo "Bail out! the test DNS server did not start"; sed "s/^/# /" "$CLI_TMP/dns-start.log"; exit 1; }
conf=$CLI_TMP/sesverify.conf
printf '%s\n' "Nameserver $DNS_NAMESERVERS" "DnsTimeout 2s" >"$conf"

# strict_json PYEXPR DESC - stdout must decode as UTF-8 (strict) and parse as
# JSON; then PYEXPR over it (j) must hold
strict_json() {
	local got
	got=$(python3 -c '
import json, sys
raw = open(sys.argv[1], "rb").read()
try:
    text = raw.decode("utf-8", "strict")
except UnicodeDecodeError as e:
    print("NOT-UTF-8: %s" % e); sys.exit(0)
try:
    j = json.loads(text)
except Exception as e:
    print("NOT-JSON: %s" % e); sys.exit(0)
try:
    print("yes" if eval(sys.argv[2]) else "no: %r" % j)
except Exception as e:
    print("ERROR: %s: %r" % (e, j))
' "$CLI_TMP/out" "$1")
	is "$got" "yes" "$2"
}

bad=$(printf 'v=spf1 \xff\xfe include:\xc3 x\xe2\x82 \xed\xa0\x80 ok')
sv -c "$conf" precheck --json --expect "TXT,verified.test,$bad" verified.test
is_rc 1 "precheck --json with an invalid UTF-8 --expect value: exit 1 (record lacking)"
strict_json 'True' "precheck --json: the output is valid UTF-8 and valid JSON"
strict_json '[i["expected"] for i in j[0]["attributes"] if i["type"] == "TXT"] == ["v=spf1 \ufffd\ufffd include:\ufffd x\ufffd\ufffd \ufffd\ufffd\ufffd ok"]' \
	"precheck --json: each octet that starts no valid UTF-8 sequence is U+FFFD"

good=$(printf 'caf\xc3\xa9 \xe4\xbe\x8b \xf0\x9f\x98\x80 tab\there "q" \\')
sv -c "$conf" precheck --json --expect "TXT,verified.test,$good" verified.test
strict_json 'True' "precheck --json with valid UTF-8, a tab, quotes and a backslash: valid JSON"
strict_json '[i["expected"] for i in j[0]["attributes"] if i["type"] == "TXT"] == ["caf\u00e9 \u4f8b \U0001F600 tab\there \"q\" \\"]' \
	"precheck --json: valid UTF-8 kept, tab, quote and backslash round-trip"
tap_done
