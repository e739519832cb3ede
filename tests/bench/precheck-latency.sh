#!/bin/bash
# tests/bench/precheck-latency.sh - pre-check latency against the local test nsd.
#
# Starts the test DNS (tests/dns/dns-lib.sh) and runs tests/bench/precheck-latency:
# N pre-checks (default 2000) round-robin over the matching test domains, each
# with its expected records from tests/dns/expected.tsv (4 queries per
# pre-check: SOA, SPF TXT, DKIM TXT, MX; bigdkim.test over TCP), first with one
# thread, then with THREADS (default 4).  Prints median / p90 / p99 / max.
#   usage: tests/bench/precheck-latency.sh [N] [THREADS]
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/dns/dns-lib.sh"

N=${1:-2000}
THREADS=${2:-4}
BIN=$top_builddir/tests/bench/precheck-latency
[ -x "$BIN" ] || { echo "build $BIN first (make)" >&2; exit 2; }
T=$(mktmp)
dns_start "$T" >/dev/null || { echo "test DNS did not start" >&2; exit 2; }
DOMS="verified.test unverified.test spfwrong.test mxwrong.test upper.test cname.test notexist.test"
TSV=$top_srcdir/tests/dns/expected.tsv
echo "# nsd on 127.0.0.1:$DNS_PORT; UDP domains: $DOMS"
"$BIN" -n "127.0.0.1@$DNS_PORT" -x "$TSV" -N "$N" -T 1 $DOMS
"$BIN" -n "127.0.0.1@$DNS_PORT" -x "$TSV" -N "$N" -T "$THREADS" $DOMS
echo "# bigdkim.test (DKIM answer > 1232 bytes: UDP truncated, then TCP)"
"$BIN" -n "127.0.0.1@$DNS_PORT" -x "$TSV" -N "$((N / 4))" -T 1 bigdkim.test
