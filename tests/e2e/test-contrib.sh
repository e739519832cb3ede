#!/bin/bash
# tests/e2e/test-contrib.sh - the contrib/ Postfix and Sendmail snippets say what they claim (TAP).
#
# Postfix: Debian's stock main.cf/master.cf plus contrib/postfix/*.snippet
# parse without warnings, and postconf shows the milter on submission and
# submissions, for sendmail(1) mail, and NOT on port 25.  Sendmail:
# contrib/sendmail/sesverify.mc compiles with the sendmail-cf macros into an
# X line with F=T and the timeouts it documents.
. "$top_srcdir/tests/lib.sh"

T=$(mktmp)
c=$top_srcdir/contrib

if command -v postconf >/dev/null && [ -f /usr/share/postfix/master.cf.dist ]; then
	cp /usr/share/postfix/main.cf.dist "$T/main.cf"
	cat "$c/postfix/main.cf.snippet" >>"$T/main.cf"
	cp /usr/share/postfix/master.cf.dist "$T/master.cf"
	cat "$c/postfix/master.cf.snippet" >>"$T/master.cf"
	err=$(postconf -c "$T" -n 2>&1 >/dev/null; postconf -c "$T" -M 2>&1 >/dev/null)
	is "$err" "" "postconf parses main.cf + master.cf with the snippets, no warning"
	for svc in submission submissions; do
		is "$(postconf -c "$T" -Phx "$svc/inet/smtpd_milters" 2>&1)" "unix:/sesverify/milter.sock" \
			"$svc: smtpd_milters is the sesverify socket"
		is "$(postconf -c "$T" -Phx "$svc/inet/milter_macro_daemon_name" 2>&1)" "ORIGINATING" \
			"$svc: {daemon_name} is ORIGINATING"
	done
	is "$(postconf -c "$T" -hx smtpd_milters)" "" "port 25 (main.cf smtpd_milters) has no milter"
	is "$(postconf -c "$T" -hx non_smtpd_milters)" "unix:/sesverify/milter.sock" \
		"sendmail(1) mail goes through the milter"
	is "$(postconf -c "$T" -hx milter_default_action)" "tempfail" "milter_default_action = tempfail"
else
	skip "Postfix snippets" "postfix not installed (Debian package postfix)" 8
fi

if command -v m4 >/dev/null && [ -f /usr/share/sendmail/cf/m4/cf.m4 ]; then
	{
		printf 'divert(-1)\ndivert(0)dnl\nOSTYPE(`linux'"'"')dnl\n'
		cat "$c/sendmail/sesverify.mc"
		printf 'MAILER(`smtp'"'"')dnl\n'
	} >"$T/test.mc"
	m4 /usr/share/sendmail/cf/m4/cf.m4 "$T/test.mc" >"$T/test.cf" 2>"$T/m4.err"
	is "$?:$(cat "$T/m4.err")" "0:" "sesverify.mc compiles with the sendmail-cf macros"
	is "$(grep '^Xsesverify' "$T/test.cf")" \
		"Xsesverify, S=local:/run/sesverify/milter.sock, F=T, T=C:10s;S:30s;R:30s;E:1m" \
		"sendmail.cf gets the filter with F=T and the documented timeouts"
	like "$(grep '^O InputMailFilters' "$T/test.cf")" '=sesverify$' "the filter is in InputMailFilters"
else
	skip "Sendmail snippet" "m4 or sendmail-cf not installed (Debian packages m4, sendmail-cf)" 3
fi

[ "$_tap_n" -gt 0 ] || skip_all "neither postfix nor sendmail-cf installed"
tap_done
