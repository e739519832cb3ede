# tests/e2e/sendmail-lib.sh - a private Sendmail instance for end-to-end tests (sourced).
#
# Owns: unpacking Debian's sendmail-bin into a private prefix, generating its
# .cf with the sendmail-cf m4 macros, and starting/stopping it plus the
# smtp-sink it relays to.  It does not own the milter (the caller starts it),
# and it installs nothing: sendmail-bin conflicts with the postfix package
# (mail-transport-agent), so it is fetched with "apt-get download" and
# unpacked with "dpkg -x"; no maintainer script runs, nothing under /etc
# changes.  sendmail-cf (m4 macros only, no conflict) is a normal package.
#
#   sm_available          can this host run it? (prints the reason when not)
#   sm_init DIR MILTER    unpack, write DIR/etc/sendmail.{mc,cf}; MILTER in
#                         Sendmail syntax (inet:PORT@127.0.0.1 or local:/path)
#   sm_start              start smtp-sink and the daemon; registers sm_stop
#   sm_stop               stop both by PID, wait for them
#   sm_up DIR MILTER      sm_init + sm_start, up to 3 times with fresh ports
#   sm_run ARGS...        the private binary with the private .cf (-bp, -bt, -q)
#   sm_queue_count        messages in the private queue
# (the sink and queue waits: e2e-lib.sh's e2e_mta_* with MTA "sm")
#
# After sm_init: SM_DIR, SM_PORT (SMTP on 127.0.0.1), SM_SINK_PORT, SM_SINK,
# SM_TRANSCRIPT (-X log of every SMTP dialogue; there may be no syslog).
# SM_DEB_CACHE (default $top_builddir/tests/e2e/debs) keeps the downloaded
# .deb between runs.
#
# Pitfalls handled (see tests/e2e/README.md):
# - the binary is setgid mail; a setgid program ignores LD_LIBRARY_PATH and
#   LD_PRELOAD, so the private copy loses the bit (root needs none);
# - sendmail sleeps 60 s at start when the host name is unqualified and
#   /etc/hosts gives no dotted alias: it runs in its own UTS + mount
#   namespace with a dotted host name and a private /etc/hosts bind-mounted
#   (only that process sees them);
# - paths under /tmp are "unsafe" to sendmail: no alias file, no help file;
# - sendmail refuses connections (RefuseLA) or only queues (QueueLA) when
#   the load average is high, as on a CI machine running tests in
#   parallel: both limits are raised out of reach;
# - recipients in $=w (localhost, the host name) would be local: tests use
#   other domains, which all go to the sink.

# sink and polling helpers (e2e_sink_file, e2e_wait)
. "$top_srcdir/tests/e2e/e2e-lib.sh"

SM_HOSTNAME=${SM_HOSTNAME:-mta.test.invalid}
SM_SMTP_SINK=${SM_SMTP_SINK:-/usr/sbin/smtp-sink}
SM_CF_M4=${SM_CF_M4:-/usr/share/sendmail/cf/m4/cf.m4}

# sm_available - root, m4, sendmail-cf, smtp-sink, apt-get, unshare
sm_available() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root"
		return 1
	fi
	if ! command -v m4 >/dev/null; then
		echo "m4 missing (apt-get install m4)"
		return 1
	fi
	if [ ! -f "$SM_CF_M4" ]; then
		echo "$SM_CF_M4 missing (apt-get install sendmail-cf)"
		return 1
	fi
	if [ ! -x "$SM_SMTP_SINK" ]; then
		echo "$SM_SMTP_SINK missing (apt-get install postfix)"
		return 1
	fi
	if ! unshare --uts --mount true 2>/dev/null; then
		echo "unshare --uts --mount refused (needs CAP_SYS_ADMIN); sendmail would sleep 60 s"
		return 1
	fi
}

# sm_fetch_deb - path of a sendmail-bin .deb, downloaded once into the cache
sm_fetch_deb() {
	local cache=${SM_DEB_CACHE:-$top_builddir/tests/e2e/debs} deb
	mkdir -p "$cache"
	deb=$(find "$cache" -maxdepth 1 -name 'sendmail-bin_*.deb' | sort | tail -n 1)
	if [ -z "$deb" ]; then
		# Owned by _apt, apt does not warn "download is performed unsandboxed".
		chown _apt "$cache" 2>/dev/null
		(cd "$cache" && apt-get download -q sendmail-bin) >"$cache/download.log" 2>&1 ||
			{ cat "$cache/download.log" >&2; return 1; }
		deb=$(find "$cache" -maxdepth 1 -name 'sendmail-bin_*.deb' | sort | tail -n 1)
	fi
	[ -n "$deb" ] && echo "$deb"
}

# sm_init - unpack the MTA, write the .mc, compile it to .cf, pick ports
sm_init() {
	SM_DIR=$1
	local milter=$2 deb missing
	SM_ROOT=$SM_DIR/root
	SM_BIN=$SM_ROOT/usr/libexec/sendmail/sendmail
	SM_ETC=$SM_DIR/etc
	SM_SINK=$SM_DIR/sink
	SM_QUEUE=$SM_DIR/spool/mqueue
	SM_TRANSCRIPT=$SM_DIR/transcript.log
	SM_PORT=${SM_PORT:-$(free_port)}
	SM_SINK_PORT=${SM_SINK_PORT:-$(free_port)}
	while [ "$SM_SINK_PORT" = "$SM_PORT" ]; do SM_SINK_PORT=$(free_port); done

	deb=$(sm_fetch_deb) || { echo "sm_init: cannot download sendmail-bin" >&2; return 1; }
	mkdir -p "$SM_ROOT" "$SM_ETC" "$SM_QUEUE" "$SM_SINK"
	dpkg -x "$deb" "$SM_ROOT" || return 1
	chmod g-s "$SM_BIN"
	missing=$(ldd "$SM_BIN" | awk '/not found/ { print $1 }')
	if [ -n "$missing" ]; then
		echo "sm_init: libraries missing for sendmail: $missing" \
			"(install the packages listed in tests/debian-packages.txt)" >&2
		return 1
	fi
	chmod 755 "$SM_DIR"      # smtp-sink runs as postfix and must reach sink/
	e2e_traversable "$SM_DIR" || return 1
	chmod 700 "$SM_QUEUE"    # sendmail refuses a group/world accessible queue
	chown postfix "$SM_SINK" # smtp-sink -u postfix writes one file per message

	printf '127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
		"$SM_HOSTNAME" >"$SM_ETC/hosts"
	printf 'hosts\tfiles\n' >"$SM_ETC/service.switch"
	sm_write_mc "$milter" >"$SM_ETC/sendmail.mc"
	m4 "$SM_CF_M4" "$SM_ETC/sendmail.mc" >"$SM_ETC/sendmail.cf" || return 1
	chmod 644 "$SM_ETC"/*
}

# sm_write_mc - the .mc: SMTP on loopback, one milter with F=T, relay to the sink
sm_write_mc() {
	# OSTYPE(linux), not debian: Debian's ostype hard-wires /etc/mail paths.
	cat <<EOF
divert(-1)dnl
# Private Sendmail test instance written by tests/e2e/sendmail-lib.sh.
divert(0)dnl
VERSIONID(\`sesverify e2e test instance')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`$SM_HOSTNAME')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SM_ETC/service.switch')dnl
define(\`confHOSTS_FILE', \`$SM_ETC/hosts')dnl
define(\`QUEUE_DIR', \`$SM_QUEUE')dnl
define(\`confPID_FILE', \`$SM_DIR/sendmail.pid')dnl
undefine(\`ALIAS_FILE')dnl
define(\`HELP_FILE', \`$SM_ETC/helpfile')dnl
define(\`confCR_FILE', \`-o $SM_ETC/relay-domains')dnl
define(\`confDEAD_LETTER_DROP', \`$SM_DIR/spool/dead.letter')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confLOG_LEVEL', \`14')dnl
dnl A busy test machine (parallel "make check") easily has a load average
dnl above the defaults: sendmail would then refuse connections (RefuseLA)
dnl or only queue mail (QueueLA) instead of delivering it.
define(\`confREFUSE_LA', \`10000')dnl
define(\`confQUEUE_LA', \`10000')dnl
define(\`confDELAY_LA', \`0')dnl
define(\`SMART_HOST', \`relay:[127.0.0.1]')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $SM_SINK_PORT')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Family=inet, Addr=127.0.0.1, Port=$SM_PORT, Name=MTA')dnl
dnl F=T: milter unreachable = 4xx (tempfail), never "pass unfiltered".
INPUT_MAIL_FILTER(\`sesverify', \`S=$milter, F=T, T=C:10s;S:30s;R:30s;E:1m')dnl
MAILER(\`smtp')dnl
EOF
}

# sm_exec - exec the private sendmail in its own UTS + mount namespace
sm_exec() {
	LD_LIBRARY_PATH=$SM_ROOT/usr/lib/$(uname -m)-linux-gnu
	export LD_LIBRARY_PATH
	# shellcheck disable=SC2016 # $1.. expand in the inner sh
	exec unshare --uts --mount sh -c \
		'mount --bind "$1" /etc/hosts && hostname "$2" && shift 2 && exec "$@"' \
		sh "$SM_ETC/hosts" "$SM_HOSTNAME" "$SM_BIN" -C "$SM_ETC/sendmail.cf" "$@"
}

# sm_run - run the private binary once (e.g. -bp, -bt, -q)
sm_run() {
	(sm_exec "$@")
}

# sm_start - start the sink and the daemon; fail if either does not listen
sm_start() {
	e2e_mta_sink_start sm || return 1
	# -bD: foreground daemon, so $! is the daemon (unshare and sh exec).
	# -X: transcript of every SMTP dialogue.  -q30s: retry deferred mail.
	(sm_exec -bD -q30s -X "$SM_TRANSCRIPT") >"$SM_DIR/sendmail.out" 2>&1 &
	SM_PID=$!
	# A foreign listener on the port would fool wait_port; the PID check
	# (wait_port's third argument) catches sendmail dying on "cannot bind".
	if ! wait_port "$SM_PORT" 10 "$SM_PID"; then
		echo "sm_start: sendmail did not listen on $SM_PORT" >&2
		cat "$SM_DIR/sendmail.out" >&2
		return 1
	fi
}

# sm_up - init and start; on failure (a port taken meanwhile) retry with new ports
sm_up() { e2e_mta_up sm "$@"; }

# sm_instance_pids - live processes of this instance (daemon and its children)
sm_instance_pids() {
	[ -n "${SM_QUEUE:-}" ] || return 0 # no instance: "/*" below would match every process
	# sendmail rewrites its environment (proctitle) but always works in
	# its queue directory, which is private to this instance.
	find /proc/[0-9]* -maxdepth 1 -name cwd \( -lname "$SM_QUEUE" -o -lname "$SM_QUEUE/*" \) \
		2>/dev/null | sed -n 's|^/proc/\([0-9]*\)/cwd$|\1|p'
}

# sm_stop - stop the daemon and the sink by PID; kill this instance's leftovers
sm_stop() {
	if [ -n "${SM_PID:-}" ]; then
		kill_wait "$SM_PID"
		SM_PID=
	fi
	e2e_mta_reap sm
}

# sm_queue_count - messages (qf files) in the private queue
sm_queue_count() {
	find "$SM_QUEUE" -name 'qf*' -type f 2>/dev/null | wc -l
}
