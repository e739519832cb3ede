# tests/e2e/postfix-lib.sh - a private Postfix instance for end-to-end tests (sourced).
#
# Owns: building, starting and stopping one throw-away Postfix (Debian's
# postfix package, 3.7) and the smtp-sink it relays to.  It does not own the
# milter (the caller starts it) nor the system Postfix: nothing under
# /etc/postfix or /var/spool/postfix is read for configuration or changed.
#
#   pf_init DIR MILTER   write DIR/etc/{main,master}.cf; MILTER in Postfix
#                        syntax (inet:127.0.0.1:PORT or unix:/path)
#   pf_start             start smtp-sink and Postfix; registers pf_stop at exit
#   pf_stop              stop both, wait, kill leftovers of this instance only
#   pf_up DIR MILTER     pf_init + pf_start, up to 3 times with fresh ports
#   pf_sendmail ARGS...  Postfix's sendmail(1) bound to the instance (pickup path)
#   pf_queue_count       messages in maildrop/incoming/active/deferred/hold
#   pf_flush             ask the queue manager to retry deferred mail now
#   pf_sink_file ID      file in the sink holding "X-Test-Id: ID" (status 1: none)
#   pf_wait_sink ID SECS wait until pf_sink_file ID succeeds
#   pf_wait_queue N SECS wait until pf_queue_count is N
#
# After pf_init: PF_DIR, PF_ETC, PF_PORT (SMTP on 127.0.0.1), PF_SINK_PORT,
# PF_SINK (one file per message received by the sink), PF_LOG (Postfix's own
# log: maillog_file + postlogd, because a test host may have no syslog).
#
# Facts this rests on (Debian 12, Postfix 3.7.11, as root):
# - "postfix -c DIR start" works for root with any DIR; only set-gid
#   programs invoked by non-root users need alternate_config_directories.
# - data_directory must be owned by postfix (master.lock), maillog_file must
#   match maillog_file_prefixes, and the queue directory is created and
#   chowned by postfix-script on start.
# - Every service runs unchrooted ("n" in column 5), so milter socket paths
#   and the queue need no copy under a chroot.
# - The sendmail(1) command with -C DIR hands the message to postdrop, which
#   honours MAIL_CONFIG when the real user is root.
# - smtp-sink must drop privileges (-u postfix) and its -d directory must
#   be writable by postfix.

# sink and polling helpers (e2e_sink_file, e2e_wait)
. "$top_srcdir/tests/e2e/e2e-lib.sh"

PF_POSTFIX=${PF_POSTFIX:-/usr/sbin/postfix}
PF_SMTP_SINK=${PF_SMTP_SINK:-/usr/sbin/smtp-sink}

# pf_available - can this host run the instance? (prints the reason when not)
pf_available() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root (Postfix's master runs as root)"
		return 1
	fi
	local p
	for p in "$PF_POSTFIX" "$PF_SMTP_SINK" /usr/sbin/sendmail /usr/sbin/postqueue; do
		if [ ! -x "$p" ]; then
			echo "$p missing (apt-get install postfix)"
			return 1
		fi
	done
	if ! id postfix >/dev/null 2>&1; then
		echo "no postfix user (package postfix not configured)"
		return 1
	fi
}

# pf_init - write the private configuration; pick free ports
pf_init() {
	PF_DIR=$1
	local milter=$2
	PF_ETC=$PF_DIR/etc
	PF_SINK=$PF_DIR/sink
	PF_LOG=$PF_DIR/maillog
	PF_PORT=${PF_PORT:-$(free_port)}
	PF_SINK_PORT=${PF_SINK_PORT:-$(free_port)}
	while [ "$PF_SINK_PORT" = "$PF_PORT" ]; do PF_SINK_PORT=$(free_port); done
	mkdir -p "$PF_ETC" "$PF_DIR/queue" "$PF_DIR/data" "$PF_SINK"
	# smtp-sink and the Postfix daemons run as "postfix" and must reach
	# their directories; the test's temp dir is 0700 by default.
	chmod 755 "$PF_DIR"
	e2e_traversable "$PF_DIR" || return 1
	chown postfix "$PF_DIR/data" "$PF_SINK"
	cat >"$PF_ETC/main.cf" <<EOF
# Private Postfix test instance written by tests/e2e/postfix-lib.sh.
compatibility_level = 3.6
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
maillog_file = $PF_LOG
maillog_file_prefixes = $PF_DIR
myhostname = mta.test.invalid
mydomain = test.invalid
myorigin = \$myhostname
# No local delivery at all: every domain is remote and goes to the sink.
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 no local delivery in the test instance
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [127.0.0.1]:$PF_SINK_PORT
# The relayhost is an address literal; no lookup of any kind.
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no
biff = no
# The milter under test, for SMTP and for the sendmail(1)/pickup path.
smtpd_milters = $milter
non_smtpd_milters = $milter
# Postfix 3.7's default, stated so a newer Postfix (default "shutdown")
# keeps the behaviour the tests assert: milter down = 4xx, mail kept.
milter_default_action = tempfail
milter_connect_timeout = 5s
# Retry deferred mail quickly: a test waits for it.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtpd_banner = \$myhostname ESMTP private test instance
EOF
	# Column 5 "n": no chroot; pickup wakes every second (the "milter
	# down" test waits for maildrop mail to be retried).
	cat >"$PF_ETC/master.cf" <<EOF
# Private Postfix test instance written by tests/e2e/postfix-lib.sh.
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n - n 1 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 1 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
}

# pf_master_pid - PID of the running master, empty when none
pf_master_pid() {
	local f=$PF_DIR/queue/pid/master.pid pid
	[ -f "$f" ] || return 0
	pid=$(tr -dc 0-9 <"$f")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		echo "$pid"
	fi
}

# pf_start - start the sink, then Postfix, and wait for both to listen
pf_start() {
	e2e_mta_sink_start pf || return 1
	if ! "$PF_POSTFIX" -c "$PF_ETC" start >"$PF_DIR/start.log" 2>&1; then
		echo "pf_start: postfix start failed" >&2
		cat "$PF_DIR/start.log" "$PF_LOG" >&2 2>/dev/null
		return 1
	fi
	PF_MASTER_PID=$(pf_master_pid)
	if ! wait_port "$PF_PORT" 10 "$PF_MASTER_PID"; then
		echo "pf_start: Postfix did not listen on $PF_PORT" >&2
		cat "$PF_LOG" >&2 2>/dev/null
		return 1
	fi
}

# pf_up - init and start; on failure (a port taken meanwhile) retry with new ports
pf_up() { e2e_mta_up pf "$@"; }

# pf_instance_pids - live processes of this instance (master's children too)
pf_instance_pids() {
	# Postfix daemons inherit MAIL_CONFIG from master (import_environment);
	# one grep over all environments (NUL-separated entries).
	grep -lzxF "MAIL_CONFIG=$PF_ETC" /proc/[0-9]*/environ 2>/dev/null |
		sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p'
}

# pf_stop - stop Postfix and the sink; kill anything of this instance left over
pf_stop() {
	local pid
	[ -n "${PF_ETC:-}" ] || return 0
	pid=$(pf_master_pid)
	if [ -n "$pid" ]; then
		"$PF_POSTFIX" -c "$PF_ETC" stop >/dev/null 2>&1
		kill_wait "$pid"
	fi
	e2e_mta_reap pf
}

# pf_sendmail - submit through the sendmail(1) command: postdrop, maildrop, pickup
pf_sendmail() {
	/usr/sbin/sendmail -C "$PF_ETC" "$@"
}

# pf_queue_count - messages anywhere in the queue (maildrop included)
pf_queue_count() {
	local q=$PF_DIR/queue
	find "$q/maildrop" "$q/incoming" "$q/active" "$q/deferred" "$q/hold" -type f 2>/dev/null |
		wc -l
}

# pf_flush - retry deferred mail now and make pickup scan maildrop
pf_flush() {
	/usr/sbin/postqueue -c "$PF_ETC" -f >/dev/null 2>&1
}

# pf_sink_file ID, pf_wait_sink ID SECS, pf_wait_queue N SECS: e2e-lib.sh's
# e2e_mta_* for this instance
pf_sink_file() { e2e_mta_sink_file pf "$@"; }
pf_wait_sink() { e2e_mta_wait_sink pf "$@"; }
pf_wait_queue() { e2e_mta_wait_queue pf "$@"; }
