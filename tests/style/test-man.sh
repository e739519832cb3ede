#!/bin/bash
# tests/style/test-man.sh - the man pages render without a single groff
# warning (groff -man -ww), and man -l formats them.
. "$top_srcdir/tests/lib.sh"
command -v groff >/dev/null 2>&1 || skip_all "groff not installed"
[ -n "${SV_SANITIZE:-}" ] && skip_all "checked in the normal build"
for page in milter/sesverify.1 milter/sesverify-milter.8 milter/sesverify-milter.conf.5; do
	f="$top_srcdir/$page"
	if [ ! -f "$f" ]; then
		not_ok "$page exists"
		continue
	fi
	warn=$(groff -man -ww -z "$f" 2>&1)
	is "$warn" "" "$page: groff -man -ww reports nothing"
	if command -v man >/dev/null 2>&1; then
		lines=$(MANWIDTH=80 man -l "$f" 2>/dev/null | wc -l)
		if [ "$lines" -gt 20 ]; then ok "$page: man -l renders $lines lines"; else not_ok "$page: man -l renders ($lines lines)"; fi
	fi
done
tap_done
