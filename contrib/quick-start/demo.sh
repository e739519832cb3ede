#!/bin/bash
# contrib/quick-start/demo.sh - see sesverify stop unverified senders, on one machine, in a minute.
#
# On a fresh Debian 12 machine, as root:
#     contrib/quick-start/demo.sh
# installs the packages it needs (tests/debian-packages.txt), builds
# sesverify in _build/demo, then starts, all on 127.0.0.1 and all private to
# this run:
#     a test DNS server with the sender domains' records (tests/dns),
#     a local emulator of the Tencent Cloud SES API (tests/emulator),
#     sesverify-milter, configured for both,
#     a private Postfix (own config and queue under a temp dir) that uses
#     the milter and relays to a local SMTP sink instead of the Internet,
# sends one message from each of a verified, an unverified, an unknown (DNS
# just fixed, not yet re-checked by SES) and a not-set-up sender domain with swaks, prints what happened
# to each, and stops everything it started.  The system's own Postfix
# configuration, if any, is not touched.  No real SES account is used.
#
# Options:
#   --no-install      do not apt-get install anything
#   --builddir DIR    use an existing build (configure + make already done)
#   --keep            keep the temp dir (logs, configs) and print its path
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
install=1 builddir='' keep=0
while [ $# -gt 0 ]; do
	case $1 in
	--no-install) install=0 ;;
	--builddir)
		builddir=${2:?--builddir needs a directory}
		shift
		;;
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "demo.sh: unknown option $1 (try --help)" >&2
		exit 2
		;;
	esac
	shift
done

say() { printf '== %s\n' "$*"; }
die() {
	printf 'demo.sh: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "run as root: the private Postfix instance needs it"

# 1. packages
if [ "$install" = 1 ]; then
	say "installing Debian packages (tests/debian-packages.txt)"
	export DEBIAN_FRONTEND=noninteractive
	# Install postfix without making it the system's configured MTA.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -qq >/dev/null || die "apt-get update failed"
	# shellcheck disable=SC2046 # one package per word
	apt-get install -y -qq --no-install-recommends $(grep -v '^#' "$srcdir/tests/debian-packages.txt") \
		>/tmp/sesverify-demo-apt.log 2>&1 || {
		tail -n 20 /tmp/sesverify-demo-apt.log >&2
		die "apt-get install failed (log: /tmp/sesverify-demo-apt.log)"
	}
fi

# 2. build
if [ -z "$builddir" ]; then
	builddir=$srcdir/_build/demo
	say "building in $builddir"
	if [ ! -x "$srcdir/configure" ]; then
		(cd "$srcdir" && autoreconf -fi) >/tmp/sesverify-demo-build.log 2>&1 ||
			die "autoreconf failed (log: /tmp/sesverify-demo-build.log)"
	fi
	mkdir -p "$builddir"
	(cd "$builddir" && { [ -f Makefile ] || "$srcdir/configure" -q; } && make -j"$(nproc)") \
		>>/tmp/sesverify-demo-build.log 2>&1 ||
		die "build failed (log: /tmp/sesverify-demo-build.log)"
fi
builddir=$(cd "$builddir" && pwd) || die "no build directory $builddir"
[ -x "$builddir/milter/sesverify-milter" ] || die "$builddir/milter/sesverify-milter not built"

# 3. the pieces, all on loopback
export top_srcdir=$srcdir top_builddir=$builddir
. "$srcdir/tests/lib.sh"
. "$srcdir/tests/e2e/e2e-lib.sh"
. "$srcdir/tests/e2e/postfix-lib.sh"
. "$srcdir/tests/emulator/emulator-lib.sh"
. "$srcdir/tests/dns/dns-lib.sh"

if [ "$keep" = 1 ]; then
	T=$(mktemp -d /tmp/sesverify-demo.XXXXXX)
	echo "demo files kept in $T"
else
	T=$(mktmp)
	at_exit "rm -rf '$T'" # mktmp's own at_exit ran in the $(...) subshell
fi
why=$(pf_available) || die "$why"

say "starting the test DNS server"
e2e_dns_up "$T" || die "test DNS did not start"
say "starting the SES API emulator"
emu_start "$T/emu" >"$T/emu.out" 2>&1 || { cat "$T/emu.out" >&2; die "SES emulator did not start"; }
# later.test has just published its DKIM record; SES has not re-checked it
# yet, so sesverify does not know it and asks.  The answer takes a second,
# so the wait is visible.
dns_set_later_dkim "$E2E_DNS_DIR" >>"$T/dns.out" 2>&1 || die "dns_set_later_dkim failed"
emu_domain later.test '{"state": "dns", "fault": "delay:1"}'
say "starting sesverify-milter"
METRICS_PORT=$(free_port)
E2E_MILTER_EXTRA="MetricsSocket inet:$METRICS_PORT@127.0.0.1"
e2e_milter_up "$T" || { cat "$T/milter.log" >&2; die "sesverify-milter did not start"; }
say "starting a private Postfix on 127.0.0.1 (smtpd_milters = inet:127.0.0.1:$E2E_PORT)"
pf_up "$T/postfix" "inet:127.0.0.1:$E2E_PORT" || die "Postfix did not start"

# 4. one message per sender domain
senders=(alice@verified.test bob@unverified.test carol@later.test dave@notexist.test)
notes=("verified in SES" "DNS record missing" "unknown: DNS just fixed" "not set up in SES")
say "sending one message from each sender to x@dest.test via 127.0.0.1:$PF_PORT"
declare -a result reply took delivered
for i in "${!senders[@]}"; do
	id=demo-$i-$$
	t0=$(date +%s%N)
	out=$(e2e_swaks "$PF_PORT" "${senders[$i]}" "$id")
	took[$i]=$(e2e_ms_since "$t0")
	reply[$i]=$(e2e_reply_to EOD "$out")
	case ${reply[$i]} in
	2*) result[$i]=accepted ;;
	4*) result[$i]="deferred (4xx)" ;;
	5*) result[$i]=rejected ;;
	*) result[$i]="no answer" ;;
	esac
	if [ "${result[$i]}" = accepted ] && pf_wait_sink "$id" 10; then
		delivered[$i]=yes
	elif pf_sink_file "$id" >/dev/null; then
		delivered[$i]=yes
	else
		delivered[$i]=no
	fi
done

# 5. what happened
echo
printf '%-22s %-25s %-10s %-9s %s\n' SENDER "SENDER DOMAIN" RESULT DELIVERED TIME
for i in "${!senders[@]}"; do
	printf '%-22s %-25s %-10s %-9s %s ms\n' "${senders[$i]}" "${notes[$i]}" "${result[$i]}" \
		"${delivered[$i]}" "${took[$i]}"
	printf '    SMTP reply: %s\n' "${reply[$i]}"
done
echo
echo "Delivered messages are in the sink: $(find "$PF_SINK" -type f | wc -l) file(s)."
echo "sesverify-milter's log, one line per decision (shortened):"
# Keep the fields that explain the decision: the cache state the message
# met, the action taken and how long MAIL FROM waited for the answer.
grep -E ' action=' "$T/milter.log" | tail -n 8 |
	sed -nE 's/.* (from=[^ ]+ domain=[^ ]+ state=[^ ]+ action=[^ ]+).* (waited=[^ ]+).*/    \1 \2/p'
echo
echo "Its Prometheus metrics (curl http://127.0.0.1:$METRICS_PORT/metrics; the non-zero"
echo "decisions and API requests):"
curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
	grep -E '^sesverify_(decisions_total|api_requests_total)\{' | grep -v ' 0$' | sed 's/^/    /'
echo
say "stopping Postfix, the milter, the emulator and the DNS server"
pf_stop
e2e_milter_stop
exit 0
