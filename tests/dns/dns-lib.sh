# tests/dns/dns-lib.sh - test DNS servers for the pre-check, milter and e2e tests (sourced).
#
# Needs tests/lib.sh sourced first.  Starts, on 127.0.0.1 and free ports:
#   nsd         the real zones generated from tests/dns/expected.tsv (mkzones.py)
#   faultns.py  SERVFAIL, silence and hostile answers (servfail.test, timeout.test,
#               *.hostile.test); nsd refers those names to it
#
#   dns_start DIR          start both; sets DNS_PORT, FAULT_DNS_PORT and
#                          DNS_NAMESERVERS ("127.0.0.1@DNS_PORT,127.0.0.1@FAULT_DNS_PORT",
#                          the value for the Nameserver config key: it reaches every
#                          test name); cleanup is registered with at_exit
#   dns_set_later_dkim [DIR] the zones' later state: later.test and strictspf.test gain
#                          their DKIM record, vanish.test and vanishu.test are gone
#                          (NXDOMAIN); nsd reloads (DIR as given to dns_start;
#                          default: the last one started)
#   dns_zone_add_later_dkim  the same (name used by the emulator's self-test)
#   dns_query NAME TYPE    drill against nsd (for test scripts and debugging)
#
# Returns non-zero (after printing the server log) when a server does not come up.

: "${DNS_SRCDIR:=$top_srcdir/tests/dns}"

# dns_wait_answer PORT NAME TYPE PID - wait until a server listens and answers
# (any rcode); fails at once when PID has died (a port taken by another
# process must not be queried for minutes)
dns_wait_answer() {
	local port=$1 name=$2 type=$3 pid=$4 i
	wait_port "$port" 10 "$pid" || return 1
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		if timeout 3 drill -p "$port" "$name" @127.0.0.1 "$type" 2>/dev/null | grep -q 'rcode:'; then
			kill -0 "$pid" 2>/dev/null
			return
		fi
		sleep 0.1
	done
	return 1
}

# dns_start DIR - generate zones, start nsd and the fault server.  The
# fault server binds port 0 and reports the port it got (no race); nsd
# needs its port in its config, so a start that fails (the port was taken
# between free_port and nsd's bind) is retried on another port.
dns_start() {
	local dir=$1 zdir i try
	zdir="$dir/dns"
	mkdir -p "$zdir"
	rm -f "$zdir/faultns.port"
	python3 "$DNS_SRCDIR/faultns.py" 0 "$zdir/faultns.port" >"$zdir/faultns.out" 2>&1 &
	DNS_FAULT_PID=$!
	at_exit "kill_wait $DNS_FAULT_PID"
	for ((i = 0; i < 200; i++)); do
		[ -s "$zdir/faultns.port" ] && break
		kill -0 "$DNS_FAULT_PID" 2>/dev/null || break
		sleep 0.05
	done
	FAULT_DNS_PORT=$(cat "$zdir/faultns.port" 2>/dev/null)
	if [ -z "$FAULT_DNS_PORT" ] || ! dns_wait_answer "$FAULT_DNS_PORT" x.hostile.test SOA "$DNS_FAULT_PID"; then
		echo "# faultns.py did not start:" >&2
		sed 's/^/#   /' "$zdir/faultns.out" >&2
		return 1
	fi
	for ((try = 1; ; try++)); do
		DNS_PORT=$(free_port)
		while [ "$DNS_PORT" = "$FAULT_DNS_PORT" ]; do DNS_PORT=$(free_port); done
		python3 "$DNS_SRCDIR/mkzones.py" "$DNS_SRCDIR/expected.tsv" "$zdir" "$DNS_PORT" "$FAULT_DNS_PORT" || return 1
		nsd -d -c "$zdir/nsd.conf" >"$zdir/nsd.out" 2>&1 &
		DNS_NSD_PID=$!
		at_exit "kill_wait $DNS_NSD_PID"
		dns_wait_answer "$DNS_PORT" verified.test SOA "$DNS_NSD_PID" && break
		kill_wait "$DNS_NSD_PID"
		wait "$DNS_NSD_PID" 2>/dev/null
		if [ "$try" -ge 5 ]; then
			echo "# nsd did not start ($try attempts):" >&2
			sed 's/^/#   /' "$zdir/nsd.out" "$zdir/nsd.log" >&2 2>/dev/null
			return 1
		fi
		echo "# nsd did not start on port $DNS_PORT (attempt $try), trying another:" >&2
		sed 's/^/#   /' "$zdir/nsd.out" >&2 2>/dev/null
	done
	DNS_DIR=$zdir
	DNS_NAMESERVERS="127.0.0.1@$DNS_PORT,127.0.0.1@$FAULT_DNS_PORT"
	export DNS_PORT FAULT_DNS_PORT DNS_NAMESERVERS DNS_DIR
}

# dns_serial DOMAIN - the SOA serial nsd serves now
dns_serial() {
	drill -p "$DNS_PORT" "$1" @127.0.0.1 SOA 2>/dev/null |
		awk '$4 == "SOA" && $0 !~ /^;/ { print $7; exit }'
}

# dns_set_later_dkim [DIR] - later.test gains its DKIM record; waits for nsd to serve it
dns_set_later_dkim() {
	local zdir=${1:+$1/dns} i want
	zdir=${zdir:-$DNS_DIR}
	python3 "$DNS_SRCDIR/mkzones.py" "$DNS_SRCDIR/expected.tsv" "$zdir" "$DNS_PORT" "$FAULT_DNS_PORT" --later-dkim || return 1
	want=$(awk '/IN SOA/ { print $6; exit }' "$zdir/later.test.zone")
	kill -HUP "$DNS_NSD_PID" || return 1
	for ((i = 0; i < 100; i++)); do
		[ "$(dns_serial later.test)" = "$want" ] && return 0
		sleep 0.05
	done
	echo "# nsd did not reload later.test (want serial $want)" >&2
	return 1
}

dns_zone_add_later_dkim() { dns_set_later_dkim "$@"; }

# dns_query NAME TYPE - ask nsd
dns_query() {
	drill -p "$DNS_PORT" "$1" @127.0.0.1 "$2"
}
