#!/bin/bash
# precheck-savings.sh - API calls spent re-checking 1,000 unverified domains whose DNS
# lacks the expected records, with the DNS pre-check and without it (Nameserver where
# nothing answers), over ROUNDS refresh rounds (UnverifiedTTL 1 s); plus NXDOMAIN
# domains, which must cost zero calls.  Own nsd zone "bench." (A records only).
# Run from a build tree: top_builddir=BUILD top_srcdir=SRC tests/bench/precheck-savings.sh [N] [ROUNDS]
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/core/core-lib.sh"
core_init
command -v nsd >/dev/null || { echo "nsd missing"; exit 1; }
n=${1:-1000}
rounds=${2:-3}
dir=$(mktmp)
port=$(free_port)
mkdir -p "$dir/nsd"
python3 - "$dir" "$n" "$port" <<'PY'
import json, sys
d, n, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
z = ["$ORIGIN bench.", "$TTL 300", "@ IN SOA ns.bench. h.bench. 1 3600 600 86400 300",
     "@ IN NS ns.bench.", "ns IN A 127.0.0.1"]
scen = {"domains": {"*": {"state": "not_exist"}}, "list": {}, "global": {"fault_rate": 0}}
for i in range(n):
    name = "d%05d.bench" % i
    z.append("d%05d IN A 192.0.2.1" % i)
    scen["domains"][name] = {"state": "unverified", "attributes": [
        {"Type": "TXT", "SendDomain": name, "ExpectedValue": "v=spf1 include:qcloudmail.com ~all"},
        {"Type": "TXT", "SendDomain": "qcloud._domainkey." + name, "ExpectedValue": "v=DKIM1; k=rsa; p=AAAA"},
        {"Type": "MX", "SendDomain": name, "ExpectedValue": "mxbiz1.qq.com."}]}
for i in range(100):
    scen["domains"]["nx%03d.bench" % i] = {"state": "unverified"}
open(d + "/nsd/bench.zone", "w").write("\n".join(z) + "\n")
open(d + "/scen.json", "w").write(json.dumps(scen))
o = d + "/nsd"
open(o + "/nsd.conf", "w").write("\n".join([
    "server:", "    ip-address: 127.0.0.1", "    port: %s" % port, "    do-ip6: no",
    '    username: ""', '    chroot: ""', '    zonesdir: "%s"' % o, '    database: ""',
    '    zonelistfile: "%s/nsd.zonelist"' % o, '    xfrdfile: "%s/nsd.xfrd.state"' % o,
    '    xfrdir: "%s"' % o, '    pidfile: "%s/nsd.pid"' % o, '    logfile: "%s/nsd.log"' % o,
    "    server-count: 1", "    rrl-ratelimit: 0", "    rrl-whitelist-ratelimit: 0",
    "remote-control:", "    control-enable: no",
    "zone:", '    name: "bench."', '    zonefile: "bench.zone"']) + "\n")
PY
nsd -d -c "$dir/nsd/nsd.conf" >"$dir/nsd/out" 2>&1 &
nsd_pid=$!
at_exit "kill_wait $nsd_pid"
wait_port "$port" 10 "$nsd_pid" || { cat "$dir/nsd/out"; exit 1; }
for ((i = 0; i < n; i++)); do printf 'd%05d.bench\n' "$i"; done >"$dir/domains"
for i in $(seq 0 99); do printf 'nx%03d.bench\n' "$i"; done >"$dir/nx"
EMU_ARGS="--rate 100"
run() { # NAME NAMESERVER
	emu_start "$dir/emu-$1" "$dir/scen.json" || exit 1
	core_conf "$dir/$1.conf" "ApiRate 100" "WarmUp no" "RefreshWorkers 16" "UnverifiedTTL 1s" \
		"Nameserver $2" "DnsTimeout 200ms" "CacheFile $dir/$1.cache"
	"$DRIVE" -c "$dir/$1.conf" -f "$dir/domains" -t 120000 -q -r "$rounds" -i 1100 -S \
		>"$dir/$1.out" 2>"$dir/$1.err"
	first=$n
	total=$(emu_count UpdateEmailIdentity)
	echo "$1: UpdateEmailIdentity total $total, of which re-checks $((total - first)) over $((rounds - 1)) refresh rounds; $(grep -E '^elapsed' "$dir/$1.out")"
	eval "recheck_$1=$((total - first))"
	if [ "$1" = precheck ]; then
		"$DRIVE" -c "$dir/$1.conf" -f "$dir/nx" -t 20000 -q >"$dir/nx.out" 2>&1
		echo "NXDOMAIN: $(awk '$1=="count" && $2=="not_exist" {print $3}' "$dir/nx.out") of 100 not_exist, UpdateEmailIdentity calls: $(( $(emu_count UpdateEmailIdentity) - total ))"
	fi
	emu_stop
}
run precheck "127.0.0.1@$port"
run noprecheck "$(dead_ns)"
awk -v a="$recheck_precheck" -v b="$recheck_noprecheck" \
	'BEGIN { printf "re-check API calls with pre-check: %d, without: %d (%.1f%%)\n", a, b, b ? 100 * a / b : 0 }'
