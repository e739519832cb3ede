#!/bin/bash
# tests/e2e/test-demo.sh - the README's quick-start demo runs and tells the truth (TAP).
#
# Runs contrib/quick-start/demo.sh without its install and build steps
# (--no-install --builddir $top_builddir) and checks the table it prints:
# verified and unknown senders accepted and delivered, unverified and
# not-set-up senders rejected with 550 5.7.1, and nothing left running.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/e2e/postfix-lib.sh"

why=$(pf_available) || skip_all "$why"
command -v swaks >/dev/null || skip_all "swaks missing"
[ -x "$top_builddir/milter/sesverify-milter" ] || skip_all "sesverify-milter not built"
[ -f "$top_srcdir/tests/dns/dns-lib.sh" ] || skip_all "tests/dns/dns-lib.sh not available"

t0=$(date +%s)
out=$(bash "$top_srcdir/contrib/quick-start/demo.sh" --no-install --builddir "$top_builddir" --keep 2>&1)
rc=$?
secs=$(($(date +%s) - t0))
printf '%s\n' "$out" | sed 's/^/# /'
is "$rc" 0 "demo.sh exits 0 (${secs} s)"

kept=$(printf '%s\n' "$out" | sed -n 's/^demo files kept in //p')
[ -n "$kept" ] && at_exit "rm -rf '$kept'"

row() { printf '%s\n' "$out" | grep -E "^$1 "; }
reply_after() { printf '%s\n' "$out" | grep -A1 -E "^$1 " | sed -n 's/^    SMTP reply: //p'; }

like "$(row alice@verified.test)" ' accepted +yes ' "verified sender: accepted and delivered"
like "$(reply_after alice@verified.test)" '^250 ' "verified sender: 250 reply shown"
like "$(row bob@unverified.test)" ' rejected +no ' "unverified sender: rejected, not delivered"
like "$(reply_after bob@unverified.test)" '^550 5\.7\.1 .*unverified\.test' "unverified sender: 550 5.7.1 reply shown"
like "$(row carol@later.test)" ' accepted +yes ' "unknown sender: accepted and delivered after the lookup"
like "$(row dave@notexist.test)" ' rejected +no ' "not-set-up sender: rejected"
like "$(reply_after dave@notexist.test)" '^550 5\.7\.1 ' "not-set-up sender: 550 5.7.1 reply shown"
like "$out" 'Delivered messages are in the sink: 2 file' "exactly the two accepted messages reached the sink"
# the metrics excerpt (MetricsSocket): one decision per message, by state
metric_line() { printf '%s\n' "$out" | grep -Fx -- "    $1" >/dev/null; }
metric_line 'sesverify_decisions_total{state="verified",action="accept"} 2'
tap_ok $? "metrics: 2 verified senders accepted"
metric_line 'sesverify_decisions_total{state="unverified",action="reject"} 1'
tap_ok $? "metrics: 1 unverified sender rejected"
metric_line 'sesverify_decisions_total{state="not_exist",action="reject"} 1'
tap_ok $? "metrics: 1 not-set-up sender rejected"
[ "$secs" -lt 60 ]
tap_ok $? "demo finishes within a minute"

# Nothing of the demo keeps running.
left=0
if [ -n "$kept" ]; then
	for p in /proc/[0-9]*; do
		if tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qF "MAIL_CONFIG=$kept/" ||
			tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$kept/"; then
			left=$((left + 1))
			diag "left running: $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
		fi
	done
fi
is "$left" 0 "no process of the demo left running"

tap_done
