#!/bin/bash
# tests/e2e/test-systemd-unit.sh - contrib/systemd/sesverify-milter.service passes systemd-analyze verify (TAP).
#
# systemd-analyze verify checks the unit's syntax, that every key is known,
# that ExecStart's binary exists and that the Documentation= man pages can
# be found.  The unit names installed paths (/usr/local/...), so a copy with
# ExecStart pointed at the built binary is verified, with MANPATH pointed at
# the man pages of the source tree.
. "$top_srcdir/tests/lib.sh"

unit=$top_srcdir/contrib/systemd/sesverify-milter.service
command -v systemd-analyze >/dev/null || skip_all "systemd-analyze not installed"

T=$(mktmp)
bin=$top_builddir/milter/sesverify-milter
[ -x "$bin" ] || bin=/bin/true # the unit is checked even before the milter is built
mkdir -p "$T/man/man5" "$T/man/man8"
for m in milter/sesverify-milter.8 milter/sesverify-milter.conf.5; do
	[ -f "$top_srcdir/$m" ] && cp "$top_srcdir/$m" "$T/man/man${m##*.}/"
done
sed -e "s|^ExecStart=/usr/local/sbin/sesverify-milter|ExecStart=$bin|" "$unit" >"$T/sesverify-milter.service"
if [ ! -f "$T/man/man8/sesverify-milter.8" ] || [ ! -f "$T/man/man5/sesverify-milter.conf.5" ]; then
	diag "man pages not in the tree yet: Documentation= not checked"
	sed -i '/^Documentation=/d' "$T/sesverify-milter.service"
fi

out=$(cd "$T" && MANPATH=$T/man SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$T/sesverify-milter.service" 2>&1)
rc=$?
is "$rc" 0 "systemd-analyze verify exits 0"
is "$out" "" "systemd-analyze verify prints no warning"

# The unit keeps the properties the README promises.
for key in 'User=sesverify' 'RuntimeDirectory=sesverify' 'StateDirectory=sesverify' \
	'ProtectSystem=strict' 'NoNewPrivileges=yes' 'CapabilityBoundingSet=$' \
	'ExecReload=/bin/kill -USR1 \$MAINPID' 'ExecStart=.* -f '; do
	grep -Eq "^$key" "$unit"
	tap_ok $? "unit has $key"
done

# The check itself can fail: an unknown key is reported.
printf '[Service]\nNoSuchKey=1\n' >>"$T/sesverify-milter.service"
out=$(cd "$T" && MANPATH=$T/man systemd-analyze verify "$T/sesverify-milter.service" 2>&1)
like "$out" 'NoSuchKey' "systemd-analyze verify reports an unknown key (the check can fail)"

tap_done
