#!/bin/bash
# tests/dns/test-precheck-cli.sh - "sesverify precheck" against the test DNS servers.
#
# Every zone case through the CLI (`sesverify -c CONF precheck --json --expect
# TYPE,NAME,VALUE ... DOMAIN`, expected values from tests/dns/expected.tsv):
# verdict, per-record status, exit status (DESIGN.md: 0 all good, 1
# unverified / not set up, 3 DNS error), and the human table.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/dns/dns-lib.sh"

CLI=$top_builddir/milter/sesverify
[ -x "$CLI" ] || skip_all "milter/sesverify not built"
"$CLI" --help 2>&1 | grep -q precheck || skip_all "sesverify has no precheck command yet"
command -v nsd >/dev/null || skip_all "nsd not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"

T=$(mktmp)
dns_start "$T" || {
	not_ok "test DNS servers start"
	tap_done
}
TSV=$top_srcdir/tests/dns/expected.tsv
CONF=$T/sesverify.conf
cat >"$CONF" <<EOF
Nameserver $DNS_NAMESERVERS
DnsTimeout 400ms
EOF

# expects DOMAIN - the --expect arguments of a domain, one per line
expects() { awk -F'\t' -v d="$1" '!/^#/ && $1 == d { printf "--expect\n%s,%s,%s\n", $2, $3, $4 }' "$TSV"; }

# pcli DOMAIN [ARGS...] - run the CLI with the domain's expectations; sets OUT and RC
pcli() {
	local d=$1 args=()
	shift
	mapfile -t args < <(expects "$d")
	OUT=$("$CLI" -c "$CONF" precheck "$@" "${args[@]}" "$d" 2>"$T/err")
	RC=$?
}
# js PYEXPR - evaluate on the parsed JSON (r = the first object)
js() { printf '%s' "$OUT" | python3 -c 'import json,sys; a=json.load(sys.stdin); r=a[0]; print(eval(sys.argv[1]))' "$1" 2>&1; }

while IFS=' ' read -r d verdict state rc bad; do
	pcli "$d" --json
	is "$(js 'r["verdict"]')" "$verdict" "cli $d: $verdict"
	is "$(js 'r["state"]')" "$state" "cli $d: state $state"
	is "$RC" "$rc" "cli $d: exit $rc"
	if [ "$bad" != - ]; then
		is "$(js '",".join(a["type"] + " " + a["send_domain"] for a in r["attributes"] if not a["status"])')" \
			"$bad" "cli $d: failing records: $bad"
	fi
done <<'EOF'
verified.test dns_matches_expected verified 0 -
unverified.test dns_lacks_records unverified 1 TXT qcloud._domainkey.unverified.test
spfwrong.test dns_lacks_records unverified 1 TXT spfwrong.test
mxwrong.test dns_lacks_records unverified 1 MX mxwrong.test
bigdkim.test dns_matches_expected verified 0 -
upper.test dns_matches_expected verified 0 -
cname.test dns_matches_expected verified 0 -
later.test dns_lacks_records unverified 1 TXT qcloud._domainkey.later.test
notexist.test dns_matches_expected verified 0 -
nxdomain.test domain_does_not_exist not_exist 1 -
servfail.test dns_unavailable error 3 -
timeout.test dns_unavailable error 3 -
EOF

pcli bigdkim.test --json
is "$(js '[a["current"] for a in r["attributes"] if a["send_domain"].startswith("qcloud.")][0]')" \
	"$(awk -F'\t' '$3 == "qcloud._domainkey.bigdkim.test" { print $4 }' "$TSV")" \
	"cli bigdkim.test: DKIM current value (TCP answer) equals the expected one"
pcli spfwrong.test --json
is "$(js '[a["current"] for a in r["attributes"] if a["send_domain"] == "spfwrong.test" and a["type"] == "TXT"][0]')" \
	"v=spf1 include:spf.elsewhere.test ~all" "cli spfwrong.test: current SPF shown"
pcli servfail.test --json
like "$(js 'r["error"]["message"]')" "SERVFAIL" "cli servfail.test: error message names SERVFAIL"

dns_set_later_dkim "$T"
pcli later.test --json
is "$(js 'r["verdict"]') $RC" "dns_matches_expected 0" "cli later.test: matches once the zone gains DKIM"

# without expectations: existence and SPF advice
OUT=$("$CLI" -c "$CONF" precheck --json verified.test spfwrong.test nxdomain.test 2>"$T/err")
RC=$?
is "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(" ".join("%s:%s:%s" % (r["domain"], r["verdict"], r["spf_has_include"]) for r in json.load(sys.stdin)))')" \
	"verified.test:domain_exists:True spfwrong.test:domain_exists:False nxdomain.test:domain_does_not_exist:False" \
	"cli without --expect: existence and SPF advice for three domains"
is "$RC" 1 "cli without --expect: exit 1 when a domain does not exist"

# human output: one table row per record
pcli mxwrong.test
is "$RC" 1 "cli human mxwrong.test: exit 1"
like "$OUT" "mxwrong.test: dns_lacks_records" "cli human: verdict line"
like "$OUT" "MX +mxwrong.test +mismatch" "cli human: MX row says mismatch"
like "$OUT" "mx\.elsewhere\.test" "cli human: current MX shown"

tap_done
