#!/bin/bash
# test-core-badlist.sh - a malformed ListEmailIdentities answer is an API error,
# never an authoritative list (issue 12 item 4): EmailIdentities missing or
# null, or a Total that disagrees with the identities received.  Each is
# logged and counted, and the domains are asked one by one: verified.test
# (listed, enabled) stays verified through one UpdateEmailIdentity instead of
# becoming "not set up", notexist.test is not_exist because SES says so.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/dns/dns-lib.sh"
. "$top_srcdir/tests/core/core-lib.sh"
core_init
dir=$(mktmp)
core_dns_emu "$dir"

# set_shape SHAPE - the list section of the running scenario
set_shape() {
	python3 - "$EMU_SCENARIO" "$1" <<'PY'
import json, os, sys
path, shape = sys.argv[1:3]
d = json.load(open(path))
d["list"] = {"shape": shape} if shape != "good" else {}
json.dump(d, open(path + ".new", "w"))
os.replace(path + ".new", path)
PY
}

for shape in no_items null_items total_more total_less; do
	set_shape "$shape"
	rm -f "$dir/cache"
	core_conf "$dir/sv.conf" "WarmUp yes" "CacheFile $dir/cache" "Nameserver $DNS_NAMESERVERS"
	before_v=$(emu_count UpdateEmailIdentity verified.test)
	before_n=$(emu_count UpdateEmailIdentity notexist.test)
	"$DRIVE" -c "$dir/sv.conf" -t 10000 -S verified.test notexist.test >"$dir/out.$shape" 2>"$dir/err.$shape"
	tap_ok $? "$shape: driver ran"
	like "$(grep '^verified.test ' "$dir/out.$shape")" '^verified\.test verified ' \
		"$shape: verified.test stays verified"
	is "$(($(emu_count UpdateEmailIdentity verified.test) - before_v))" 1 \
		"$shape: verified.test asked with UpdateEmailIdentity (the list was not trusted)"
	like "$(grep '^notexist.test ' "$dir/out.$shape")" '^notexist\.test not_exist ' \
		"$shape: notexist.test not_exist"
	is "$(($(emu_count UpdateEmailIdentity notexist.test) - before_n))" 1 \
		"$shape: notexist.test not_exist from SES's own answer"
	like "$(grep '^stat api.list_errors ' "$dir/out.$shape")" ' [1-9][0-9]*$' "$shape: counted (api.list_errors)"
	like "$(grep 'ListEmailIdentities' "$dir/err.$shape" | head -n 1)" 'Parse\.InvalidResponse' \
		"$shape: logged as an invalid API response"
done
like "$(cat "$dir/err.total_more")" 'Total [0-9]+, but [0-9]+ identities received' "the log line says what disagrees"
is "$(grep -c 'sesverify-test-secret-DO-NOT-LOG' "$dir"/out.* "$dir"/err.* | awk -F: '{ s += $2 } END { print s }')" 0 \
	"SecretKey never printed"
tap_done
