#!/bin/bash
# tests/cli/test-cli-dns.sh - "sesverify check" with the live DNS column and
# "sesverify precheck", against the SES emulator and the test DNS server
# (tests/dns/dns-lib.sh: nsd with the zones of tests/dns/expected.tsv).
. "$top_srcdir/tests/cli/cli-lib.sh"

[ -f "$top_srcdir/tests/dns/dns-lib.sh" ] || skip_all "tests/dns/dns-lib.sh not present"
command -v nsd >/dev/null || skip_all "nsd not installed"
. "$top_srcdir/tests/dns/dns-lib.sh"
dns_start "$CLI_TMP/dns" >"$CLI_TMP/dns-start.log" 2>&1 || { echo "Bail out! the test DNS server did not start"; sed "s/^/# /" "$CLI_TMP/dns-start.log"; exit 1; }
# DNS_PORT is set: the emulator answers "dns" domains from the same zones.
emu_start "$CLI_TMP/emu" || { echo "Bail out! the SES emulator did not start"; exit 1; }
conf=$CLI_TMP/sesverify.conf
cp "$EMU_CONF" "$conf"
printf '%s\n' "ApiTimeout 2s" "Nameserver $DNS_NAMESERVERS" "DnsTimeout 500ms" >>"$conf"
chmod 600 "$conf"

# expect_args DOMAIN - --expect options for DOMAIN's rows of expected.tsv
expect_args() {
	awk -F'\t' -v d="$1" '$1 == d { printf "--expect\n%s,%s,%s\n", $2, $3, $4 }' \
		"$top_srcdir/tests/dns/expected.tsv"
}

# --- check: API answer plus the live DNS
sv -c "$conf" check verified.test
is_rc 0 "check verified.test: exit 0"
like "$OUT" 'DNS NOW' "check: live DNS column shown"
is "$(printf '%s\n' "$OUT" | grep -c ' match$')" 3 "check verified.test: all three records match in DNS"

sv -c "$conf" check unverified.test
is_rc 1 "check unverified.test: exit 1 (the zone lacks DKIM)"
like "$OUT" 'TXT +qcloud._domainkey.unverified.test +FAIL .* missing' "check unverified.test: DKIM missing in DNS too"
like "$OUT" 'dns now: +\(none\)' "check unverified.test: live value line"
like "$OUT" '  dns: dns_lacks_records' "check unverified.test: overall DNS verdict line"

sv -c "$conf" check --json spfwrong.test
is_rc 1 "check spfwrong.test: exit 1"
json_check '[a["dns"]["verdict"] for a in j[0]["attributes"] if a["send_domain"] == "spfwrong.test" and a["type"] == "TXT"] == ["mismatch"]' \
	"check --json spfwrong.test: SPF mismatch in the live DNS"
json_check '[a["current"] for a in j[0]["attributes"] if a["send_domain"] == "spfwrong.test" and a["type"] == "TXT"][0].startswith("v=spf1")' \
	"check --json spfwrong.test: SES's CurrentValue is the live SPF record (emulator read the zone)"
json_check 'j[0]["dns_verdict"] == "dns_lacks_records"' "check --json: overall DNS verdict"

# --- an unverified domain becomes verified when the zone gains its record
sv -c "$conf" check later.test
is_rc 1 "check later.test before its DKIM record: exit 1"
dns_set_later_dkim "$CLI_TMP/dns" >/dev/null 2>&1
tap_ok $? "the zone gains later.test's DKIM record"
sv -c "$conf" check later.test
is_rc 0 "check later.test after: verified, exit 0"
is "$(printf '%s\n' "$OUT" | grep -c ' match$')" 3 "check later.test: live DNS matches too"

# --- precheck
sv -c "$conf" precheck verified.test
is_rc 0 "precheck without --expect on an existing domain: exit 0"
like "$OUT" 'spf: v=spf1 include:qcloudmail.com ~all \(has include:qcloudmail.com\)' "precheck: SPF advice"
mapfile -t ex < <(expect_args verified.test)
sv -c "$conf" precheck "${ex[@]}" verified.test
is_rc 0 "precheck verified.test with its expected records: exit 0"
like "$OUT" '^verified.test: dns_matches_expected' "precheck verified.test: dns_matches_expected"
mapfile -t ex < <(expect_args mxwrong.test)
sv -c "$conf" precheck --json "${ex[@]}" mxwrong.test
is_rc 1 "precheck mxwrong.test: exit 1"
json_check 'j[0]["verdict"] == "dns_lacks_records" and [a["verdict"] for a in j[0]["attributes"] if a["type"] == "MX"] == ["mismatch"]' \
	"precheck --json mxwrong.test: MX mismatch"
json_check 'all({"domain","state","verified","request_id","attributes","error"} <= set(o) for o in j)' \
	"precheck --json: the common fields"
sv -c "$conf" precheck nxdomain.test
is_rc 1 "precheck nxdomain.test: exit 1"
like "$OUT" 'domain_does_not_exist' "precheck nxdomain.test: does not exist"
sv -c "$conf" precheck servfail.test
is_rc 3 "precheck servfail.test: exit 3 (DNS error)"
like "$OUT" 'dns_unavailable' "precheck servfail.test: dns_unavailable"
mapfile -t ex < <(expect_args verified.test)
sv -c "$conf" precheck "${ex[@]}" verified.test nxdomain.test servfail.test
is_rc 3 "precheck: worst of 0, 1, 3 is 3"

cli_no_secret "$EMU_LOG"
cli_done
