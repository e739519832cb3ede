# tests/core/core-lib.sh - shared setup of the engine integration tests (sourced
# after tests/lib.sh and tests/emulator/emulator-lib.sh).
#
#   core_init              skip unless the driver is built; sets DRIVE
#   core_conf FILE LINES   EMU_CONF (endpoint, CA, credentials) plus LINES
#   core_scenario OUT N PREFIX STATE [ATTRS]  a scenario listing N domains
#                          PREFIXnnn.test of STATE (plus default.json's)
#   dead_ns                "127.0.0.1@PORT" where no DNS server listens
#   core_dns_emu DIR       (tests/dns/dns-lib.sh sourced) skip unless nsd; the test DNS
#                          and the emulator with the default scenario; one TAP point

core_init() {
	DRIVE=$top_builddir/tests/core/engine-drive
	[ -x "$DRIVE" ] || skip_all "engine-drive not built"
	command -v python3 >/dev/null || skip_all "python3 missing"
	command -v openssl >/dev/null || skip_all "openssl missing"
}

core_conf() {
	local out=$1
	shift
	: >"$out" && chmod 600 "$out"
	{
		cat "$EMU_CONF"
		printf '%s\n' "$@"
	} >>"$out"
}

core_scenario() {
	python3 - "$top_srcdir/tests/emulator/scenarios/default.json" "$@" <<'PY'
import json, sys
base, out, n, prefix, state = sys.argv[1:6]
attrs = sys.argv[6] if len(sys.argv) > 6 else None
data = json.load(open(base))
for i in range(int(n)):
    d = "%s%03d.test" % (prefix, i)
    spec = {"state": state}
    if attrs == "none":
        spec["attributes"] = []
    elif attrs == "dkim":
        spec["attributes"] = [
            {"Type": "TXT", "SendDomain": d, "ExpectedValue": "v=spf1 include:qcloudmail.com ~all"},
            {"Type": "TXT", "SendDomain": "qcloud._domainkey." + d, "ExpectedValue": "v=DKIM1; k=rsa; p=AAAA"}]
    data["domains"][d] = spec
json.dump(data, open(out, "w"), indent=1)
PY
}

dead_ns() {
	echo "127.0.0.1@$(free_port)"
}

core_dns_emu() {
	command -v nsd >/dev/null || skip_all "nsd missing"
	dns_start "$1" || { not_ok "test DNS starts"; tap_done; }
	emu_start "$1/emu" || { not_ok "emulator starts"; tap_done; }
	ok "DNS and emulator start"
}
