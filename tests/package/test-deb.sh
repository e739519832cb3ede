#!/bin/bash
# tests/package/test-deb.sh - the Debian packages, built, installed, run,
# upgraded and purged on this machine (TAP; needs root).
#
#	Builds the packages with contrib/debian/build.sh (and, in the
#	background, a rebuild with a changed version), checks lintian's
#	verdict, installs them with dpkg -i, checks the service user, owners
#	and modes, that the unit is neither enabled nor started and that its
#	ExecStartPre (sesverify-milter -n) refuses the unconfigured conffile;
#	builds a program against libsesverify-dev; then edits the conffile
#	as an admin would, runs the installed daemon as the service user
#	against the SES emulator (two messages through miltertest, one
#	"sesverify cache show" over the control socket), upgrades to the
#	rebuilt version (the edited conffile and the CacheFile survive and
#	the new daemon serves from that snapshot) and purges: no file of the
#	packages is left; the system user stays, as Debian does it.
#
#	Run by tests/run-all.sh after the two builds, not by "make check":
#	it installs into the system.  Whatever happens, the exit handler
#	purges the packages again and removes the user if the test made it.
. "$top_srcdir/tests/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "not root: the test installs packages into the system"
for c in dpkg-buildpackage lintian setpriv miltertest nsd; do
	command -v "$c" >/dev/null 2>&1 || skip_all "$c not installed (tests/debian-packages.txt)"
done
PKGS="sesverify-milter libsesverify0 libsesverify-dev"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' installed$'; }
present() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -Eqv 'not-installed|^$'; }
for p in $PKGS; do
	present "$p" && skip_all "$p is already installed: this test would purge it"
done
. "$top_srcdir/tests/milter/milter-lib.sh"
. "$top_srcdir/tests/cli/cli-lib.sh"

CONF=/etc/sesverify-milter.conf
UNIT=/lib/systemd/system/sesverify-milter.service
V2=0.1.0+pkgtest1
T=$(mktmp)
user_existed=no
getent passwd sesverify >/dev/null && user_existed=yes

# cleanup - leave the machine as it was, also after a failure
cleanup() {
	ml_stop
	[ -n "${BUILD2_PID:-}" ] && kill -- -"$BUILD2_PID" 2>/dev/null
	for p in $PKGS; do present "$p" && dpkg --purge "$p" </dev/null >/dev/null 2>&1; done
	dpkg-statoverride --list "$CONF" >/dev/null 2>&1 && dpkg-statoverride --remove "$CONF"
	if [ "$user_existed" = no ]; then
		getent passwd sesverify >/dev/null && deluser --quiet --system sesverify
		getent group sesverify >/dev/null && delgroup --quiet --system sesverify
	fi
	rm -rf /var/lib/sesverify
}
at_exit cleanup

# debs DIR - the binary packages (no debug symbols) built into DIR
debs() { ls "$1"/sesverify-milter_*.deb "$1"/libsesverify0_*.deb "$1"/libsesverify-dev_*.deb 2>/dev/null; }
# owner PATH - "user:group mode"
owner() { stat -c '%U:%G %a' "$1" 2>&1; }
# as_sesverify CMD... - run CMD as the service user, like the unit's User=
as_sesverify() { setpriv --reuid=sesverify --regid=sesverify --init-groups -- "$@"; }
# dpkg_i DIR DESC - install DIR's packages, dependencies from apt; one point
dpkg_i() {
	local out rc p
	# shellcheck disable=SC2046
	out=$(dpkg -i $(debs "$1") </dev/null 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		out+=$(DEBIAN_FRONTEND=noninteractive apt-get -f install -y -q </dev/null 2>&1)
		rc=0
		for p in $PKGS; do installed "$p" || rc=1; done
	fi
	tap_ok $rc "$2"
	[ $rc -eq 0 ] || printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
	return $rc
}

export DEB_BUILD_OPTIONS="nocheck parallel=2"
start=$SECONDS
"$top_srcdir/contrib/debian/build.sh" "$T/v1" >"$T/v1.log" 2>&1
rc=$?
tap_ok $rc "contrib/debian/build.sh builds the packages ($((SECONDS - start)) s)"
if [ $rc -ne 0 ] || [ "$(debs "$T/v1" | wc -l)" -ne 3 ]; then
	tail -n 30 "$T/v1.log" | sed 's/^/#   /'
	echo "Bail out! no packages built"
	exit 1
fi
# the upgrade: a real rebuild with a changed version, while v1 is tested
setsid env SV_DEB_VERSION=$V2 "$top_srcdir/contrib/debian/build.sh" "$T/v2" >"$T/v2.log" 2>&1 &
BUILD2_PID=$!

lintian --tag-display-limit 0 "$T/v1"/sesverify_*.changes >"$T/lintian.txt" 2>&1
is "$(grep -E '^[EW]: ' "$T/lintian.txt")" "" "lintian: no error and no warning"
is "$(grep 'dpkg-gensymbols: warning' "$T/v1.log")" "" "libsesverify0.symbols matches the exported symbols"

# ---- install
dpkg_i "$T/v1" "dpkg -i installs the three packages" || {
	echo "Bail out! not installed"
	exit 1
}
like "$(/usr/sbin/sesverify-milter -V)" '^sesverify-milter 0\.1\.0 \(libsesverify 0\.1\.0\)$' "installed daemon: version 0.1.0"
like "$(getent passwd sesverify)" '^sesverify:x:[0-9]+:[0-9]+:[^:]*:/var/lib/sesverify:/usr/sbin/nologin$' \
	"user sesverify: home /var/lib/sesverify, no login shell"
uid=$(id -u sesverify)
[ "$uid" -lt 1000 ]
tap_ok $? "sesverify is a system user (uid $uid)"
is "$(owner $CONF)" "sesverify:sesverify 600" "$CONF: mode 0600, owned by the service user"
is "$(owner /var/lib/sesverify)" "sesverify:sesverify 750" "/var/lib/sesverify: owned by the service user"
is "$(dpkg-query -W -f='${Conffiles}' sesverify-milter | awk 'NF { print $1 }')" "$CONF" "$CONF is the package's conffile"
for m in man1/sesverify.1 man5/sesverify-milter.conf.5 man8/sesverify-milter.8; do
	[ -f "/usr/share/man/$m.gz" ]
	tap_ok $? "man page /usr/share/man/$m.gz installed"
done
[ ! -e /etc/systemd/system/multi-user.target.wants/sesverify-milter.service ]
tap_ok $? "the unit is not enabled on installation"
! pgrep -f '^/usr/sbin/sesverify-milter' >/dev/null
tap_ok $? "nothing started on installation"
if command -v systemd-analyze >/dev/null 2>&1; then
	out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$UNIT" 2>&1)
	is "$?:$out" "0:" "systemd-analyze verify $UNIT: clean"
fi
pre=$(sed -n 's/^ExecStartPre=//p' "$UNIT")
is "$pre" "/usr/sbin/sesverify-milter -n -c $CONF" "the unit checks the configuration first (ExecStartPre)"
# shellcheck disable=SC2086
out=$(as_sesverify env -u TENCENTCLOUD_SECRET_ID -u TENCENTCLOUD_SECRET_KEY $pre 2>&1)
is "$?" 1 "ExecStartPre on the unconfigured conffile fails: the unit does not start"
like "$out" "^$CONF: no API credentials: set SecretId and SecretKey, or CredentialsFile" "... and says why"

# ---- libsesverify-dev: a program builds against the public API only
is "$(pkg-config --modversion sesverify)" "0.1.0" "pkg-config sesverify: 0.1.0"
like "$(ldd /usr/bin/sesverify)" 'libsesverify\.so\.0 => (/usr)?/lib/[^ ]*/libsesverify\.so\.0 ' \
	"the CLI uses the installed libsesverify.so.0"
like "$(ldd /usr/sbin/sesverify-milter)" 'libsesverify\.so\.0 => (/usr)?/lib/[^ ]*/libsesverify\.so\.0 ' \
	"the daemon uses the installed libsesverify.so.0"
printf '#include <stdio.h>\n#include <sesverify.h>\nint main(void) { puts(sv_version()); return 0; }\n' >"$T/pub.c"
out=
# shellcheck disable=SC2046
cc -o "$T/pub" "$T/pub.c" $(pkg-config --cflags --libs sesverify) 2>"$T/cc.err" && out=$("$T/pub")
is "${out:-$(cat "$T/cc.err")}" "0.1.0" "a program built with pkg-config sesverify runs"
printf 'void sv_buf_init(void *, unsigned long);\nint main(void) { sv_buf_init(0, 0); return 0; }\n' >"$T/int.c"
# shellcheck disable=SC2046
cc -o "$T/int" "$T/int.c" $(pkg-config --libs sesverify) >"$T/cc2.err" 2>&1
is "$?" 1 "an internal function (sv_buf_init) cannot be linked"

# ---- the admin configures it; the installed daemon runs as sesverify
ml_setup
RUN=$(mktmp)
cp "$EMU_CA" "$RUN/ca.pem"
chown -R sesverify:sesverify "$RUN"
{
	echo
	echo "# admin's settings (tests/package/test-deb.sh)"
	echo "Endpoint $EMU_URL"
	echo "CAFile $RUN/ca.pem"
	echo "SecretId $EMU_SECRET_ID"
	echo "SecretKey $EMU_SECRET_KEY"
	echo "Socket unix:$RUN/milter.sock"
	echo "ControlSocket unix:$RUN/control.sock"
	echo "Nameserver $DNS_NAMESERVERS"
	echo "LogLevel debug"
} >>"$CONF"
cp "$CONF" "$T/conf.edited"
# shellcheck disable=SC2086
out=$(as_sesverify $pre 2>&1)
is "$?:$out" "0:" "ExecStartPre passes once the credentials are set"
printf '#!/bin/sh\nexec setpriv --reuid=sesverify --regid=sesverify --init-groups -- /usr/sbin/sesverify-milter "$@"\n' >"$T/as-sesverify"
chmod 755 "$T/as-sesverify"
ML_BIN=$T/as-sesverify ML_CONF=$CONF ML_SOCK=$RUN/milter.sock ML_CTL=$RUN/control.sock
SV=/usr/bin/sesverify
if ml_start; then
	ok "the installed daemon starts as sesverify with the installed conffile"
	# the default CheckFrom envelope,header: the envelope passes at MAIL, the
	# header From: at the end of the headers
	ml_msg "installed milter: verified.test accepted" from='<alice@verified.test>' \
		expect_mail=continue expect_eoh=accept ||
		{ diag "miltertest status $?"; tail -n 20 "$ML_LOG" | sed 's/^/#   /'; }
	ml_msg "installed milter: unverified.test rejected" from='<bob@unverified.test>' expect_mail=reply
	sv cache show verified.test
	is_rc 0 "sesverify cache show verified.test (default config $CONF): exit 0"
	like "$OUT" 'verified' "... the daemon holds it as verified"
	ml_stop
	is "$ML_STATUS" 0 "the daemon stops cleanly on SIGTERM"
else
	not_ok "the installed daemon starts as sesverify with the installed conffile"
fi
is "$(owner /var/lib/sesverify/cache)" "sesverify:sesverify 600" "CacheFile /var/lib/sesverify/cache written by the service user"
cp /var/lib/sesverify/cache "$T/cache.v1" 2>/dev/null

# ---- upgrade to a rebuilt package with another version
wait "$BUILD2_PID"
rc=$?
BUILD2_PID=
tap_ok $rc "rebuild as version $V2"
[ $rc -eq 0 ] || tail -n 30 "$T/v2.log" | sed 's/^/#   /'
dpkg_i "$T/v2" "dpkg -i upgrades to $V2"
is "$(dpkg-query -W -f='${Version} ' $PKGS)" "$V2 $V2 $V2 " "all three packages at $V2"
cmp -s "$CONF" "$T/conf.edited"
tap_ok $? "the admin's edited conffile survives the upgrade"
is "$(owner $CONF)" "sesverify:sesverify 600" "... still 0600 sesverify:sesverify"
is "$(ls /etc/sesverify-milter.conf.* 2>/dev/null)" "" "no .dpkg-new/.dpkg-dist/.dpkg-old left"
cmp -s /var/lib/sesverify/cache "$T/cache.v1"
tap_ok $? "the CacheFile survives the upgrade"
updates=$(emu_count UpdateEmailIdentity verified.test)
if ml_start; then
	sv cache show verified.test
	is_rc 0 "the upgraded daemon serves verified.test from the snapshot"
	is "$(emu_count UpdateEmailIdentity verified.test)" "$updates" "... without asking the API again"
	ml_stop
else
	not_ok "the upgraded daemon starts"
fi

# ---- purge
for p in $PKGS; do dpkg-query -L "$p"; done 2>/dev/null | sort -u | while read -r f; do
	[ -d "$f" ] || printf '%s\n' "$f"
done >"$T/files"
n=$(grep -c . "$T/files")
[ "$n" -ge 15 ]
tap_ok $? "the packages' file lists read before purging ($n files)"
# shellcheck disable=SC2086
out=$(dpkg --purge $PKGS </dev/null 2>&1)
tap_ok $? "dpkg --purge removes the three packages"
printf '%s\n' "$out" | grep -v '^(Reading\|^Removing\|^Purging' | sed 's/^/# /'
left=$(while read -r f; do if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done <"$T/files")
is "$left" "" "no file of the packages left"
left=$(ls -d /etc/sesverify-milter.conf* /var/lib/sesverify /usr/share/doc/sesverify-milter \
	/usr/share/doc/libsesverify0 /usr/share/doc/libsesverify-dev /var/lib/dpkg/info/sesverify-milter.* \
	/var/lib/dpkg/info/libsesverify* 2>/dev/null)
is "$left" "" "conffile, /var/lib/sesverify (CacheFile), docs and dpkg's records gone"
is "$(dpkg-statoverride --list "$CONF")" "" "the conffile's statoverride is gone"
is "$(find /etc /lib/systemd /var/lib/systemd -name '*sesverify*' 2>/dev/null)" "" "no systemd state left"
getent passwd sesverify >/dev/null
tap_ok $? "the system user stays (Debian's practice; the exit handler removes it)"
diag "total $((SECONDS - start)) s"
tap_done
