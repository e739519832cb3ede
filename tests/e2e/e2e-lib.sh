# tests/e2e/e2e-lib.sh - milter and SMTP client helpers shared by the e2e tests and the demo (sourced).
#
# Owns: starting/stopping sesverify-milter (or the null milter) for an MTA
# test, reading swaks transcripts, what both MTA libraries do alike (the
# retried start, the smtp-sink, reaping leftovers, sink and queue waits:
# e2e_mta_*), and running the scenario table (scenarios.txt).  Does not own
# each MTA's own setup (postfix-lib.sh, sendmail-lib.sh), the SES emulator
# (tests/emulator/emulator-lib.sh) or the test DNS (tests/dns/dns-lib.sh).
#
#   e2e_milter_conf DIR PORT     write DIR/milter.conf from the emulator's
#                                EMU_CONF plus Socket, Nameserver, CacheFile...
#   e2e_milter_start DIR PORT    start sesverify-milter -f on inet:PORT@127.0.0.1;
#                                sets E2E_MILTER_PID, log in DIR/milter.log
#   e2e_null_milter_start DIR PORT [ARGS]  the null milter instead
#   e2e_milter_stop              SIGTERM, wait until the port is closed
#   e2e_milter_up DIR            conf + start on a free port, up to 3 ports;
#                                sets E2E_PORT
#   e2e_dns_up DIR               dns_start in DIR/dnsN, up to 3 tries; sets
#                                E2E_DNS_DIR (for dns_set_later_dkim)
#   e2e_swaks PORT FROM ID [SWAKS-ARGS...]  one SMTP transaction to x@dest.test
#                                (header "X-Test-Id: ID"); prints the transcript
#   e2e_reply_to CMD TRANSCRIPT  the server's reply line to the command
#                                starting with CMD (e.g. "MAIL FROM", "DATA"
#                                for the end-of-data reply: the last reply)
#   e2e_ms_since T0              milliseconds since T0 ($(date +%s%N))
#   e2e_sink_file DIR ID         the sink file whose own header has "X-Test-Id: ID"
#   e2e_wait SECS CMD [ARGS...]  run CMD every 0.1 s until it succeeds, for up to SECS
#   e2e_traversable DIR          o+x on DIR and its ancestors (for MTA daemons)
#   e2e_stack_up DIR             test DNS + emulator (later.test pending) +
#                                sesverify-milter, as TAP points; sets E2E_PORT
#   e2e_mta_up MTA DIR MILTER    MTA_init + MTA_start, up to 3 tries (MTA: pf, sm)
#   e2e_mta_sink_start MTA       the MTA's smtp-sink; sets MTA_SINK_PID
#   e2e_mta_reap MTA             kill what the MTA's stop left, stop its sink
#   e2e_mta_sink_file MTA ID     the sink file of message ID
#   e2e_mta_wait_sink MTA ID SECS   wait for message ID in the sink
#   e2e_mta_wait_queue MTA N SECS   wait until the MTA's queue holds N
#   e2e_scenarios MTA PORT DIR MPORT  the scenarios of tests/e2e/scenarios.txt
#                                against the MTA listening on PORT (and its
#                                MTA_hook_* functions); DIR and MPORT: the
#                                milter's (e2e_stack_up's DIR and E2E_PORT)

E2E_MILTER=${E2E_MILTER:-$top_builddir/milter/sesverify-milter}
E2E_NULL_MILTER=${E2E_NULL_MILTER:-$top_builddir/tests/bench/null-milter}

# e2e_milter_conf - the milter's configuration for one test directory
e2e_milter_conf() {
	local dir=$1 port=$2
	(
		umask 077
		exec >"$dir/milter.conf"
		cat "$EMU_CONF"
		cat <<EOF
# e2e additions (tests/e2e/e2e-lib.sh)
Socket inet:$port@127.0.0.1
ControlSocket unix:$dir/control.sock
Nameserver ${DNS_NAMESERVERS:-127.0.0.1@${DNS_PORT:-53}}
CacheFile $dir/cache
# No warm-up: the first message from each domain meets an unknown entry,
# which is what the "unknown becomes verified within UnknownWait" case needs.
WarmUp no
UnknownAction wait
UnknownWait 5s
LogLevel debug
EOF
		# E2E_MILTER_EXTRA: more "Key value" lines (newline-separated)
		[ -z "${E2E_MILTER_EXTRA:-}" ] || printf '%s\n' "$E2E_MILTER_EXTRA"
	)
}

# e2e_milter_start - start sesverify-milter in the foreground (logs to stderr)
e2e_milter_start() {
	local dir=$1 port=$2
	"$E2E_MILTER" -f -c "$dir/milter.conf" >>"$dir/milter.log" 2>&1 &
	E2E_MILTER_PID=$!
	at_exit e2e_milter_stop
	wait_port "$port" 15 "$E2E_MILTER_PID"
}

# e2e_null_milter_start - the null milter, for harness checks and baselines
e2e_null_milter_start() {
	local dir=$1 port=$2
	shift 2
	"$E2E_NULL_MILTER" -p "inet:$port@127.0.0.1" "$@" >>"$dir/milter.log" 2>&1 &
	E2E_MILTER_PID=$!
	at_exit e2e_milter_stop
	wait_port "$port" 15 "$E2E_MILTER_PID"
}

# e2e_milter_stop - stop the milter gracefully and wait for it to exit
e2e_milter_stop() {
	local pid=${E2E_MILTER_PID:-}
	[ -n "$pid" ] || return 0
	E2E_MILTER_PID=
	# libmilter takes up to ~5 s to leave smfi_main after SIGTERM; a
	# supervisor parent must get the time to stop its child too, so
	# SIGKILL only after 15 s.
	kill_wait "$pid" 15
	return 0
}

# Why the retries below: free_port only finds a port that is free now.
# Under a parallel "make check" another test may bind it before our server
# does; a fresh port is the cure, not a failed test.

# e2e_milter_up - write the config and start the milter; retry on a new port
e2e_milter_up() {
	local dir=$1 i
	for ((i = 0; i < 3; i++)); do
		E2E_PORT=$(free_port)
		e2e_milter_conf "$dir" "$E2E_PORT"
		e2e_milter_start "$dir" "$E2E_PORT" && return 0
		e2e_milter_stop
		printf '# e2e_milter_up: no listener on %s, retrying\n' "$E2E_PORT" >&2
	done
	return 1
}

# e2e_dns_up - start the test DNS (tests/dns/dns-lib.sh); retry in a new directory
e2e_dns_up() {
	local dir=$1 i
	for ((i = 0; i < 3; i++)); do
		E2E_DNS_DIR=$dir/dns$i
		dns_start "$E2E_DNS_DIR" >"$dir/dns$i.out" 2>&1 && return 0
		sed 's/^/# /' "$dir/dns$i.out" >&2
	done
	return 1
}

# e2e_swaks - one SMTP transaction from FROM to x@dest.test, transcript on stdout
e2e_swaks() {
	local port=$1 from=$2 id=$3
	shift 3
	swaks --server 127.0.0.1 --port "$port" --helo client.test --timeout 30 \
		--from "$from" --to x@dest.test --header "X-Test-Id: $id" \
		--header "Subject: sesverify e2e $id" "$@" 2>&1
}

# e2e_reply_to - first server reply after the client line starting with CMD
e2e_reply_to() {
	local cmd=$1 transcript=$2
	# swaks: " -> CMD" client lines, "<-  " good and "<** " error replies;
	# the message body is sent as " -> " lines too, so DATA's second reply
	# (end of data) is the last reply before QUIT.
	if [ "$cmd" = "EOD" ]; then
		printf '%s\n' "$transcript" | awk '/^ -> QUIT/ { exit } /^<(-|\*\*) / { r = $0 } END { print r }' |
			sed -E 's/^<(-|\*\*) +//'
		return
	fi
	printf '%s\n' "$transcript" | awk -v c=" -> $cmd" '
		index($0, c) == 1 { want = 1; next }
		want && /^<(-|\*\*) / { print; exit }' | sed -E 's/^<(-|\*\*) +//'
}

# e2e_ms_since - elapsed milliseconds since T0 (nanoseconds from date +%s%N)
e2e_ms_since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

# e2e_sink_file - the file in sink DIR whose own header has "X-Test-Id: ID"
e2e_sink_file() {
	local f
	# Only the top-level header counts: a bounce quotes the original
	# message, X-Test-Id included, in its body.
	for f in "$1"/*; do
		[ -f "$f" ] || continue
		if awk -v h="X-Test-Id: $2" '/^\r?$/ { exit } $0 == h || $0 == h "\r" { m = 1; exit } END { exit !m }' "$f"; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

# e2e_wait - poll a command (output discarded) until it succeeds or SECS pass
e2e_wait() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# e2e_traversable - let unprivileged MTA daemons reach DIR: o+x on it and its ancestors
e2e_traversable() {
	local d
	d=$(cd "$1" && pwd) || return 1
	# A test's private temp dir is 0700; search permission (not read) is
	# all the MTA's own daemons need to reach their files below it.
	while [ "$d" != / ]; do
		[ -n "$(find "$d" -maxdepth 0 -perm -o+x)" ] || chmod o+x "$d" || return 1
		d=$(dirname "$d")
	done
}

# e2e_stack_up - everything an MTA scenario needs before the MTA itself
e2e_stack_up() {
	local dir=$1
	e2e_dns_up "$dir" || {
		not_ok "test DNS starts"
		tap_done
	}
	emu_start "$dir/emu" || {
		not_ok "SES emulator starts"
		tap_done
	}
	# later.test: its DKIM record has just been published, but SES has not
	# re-checked it, so the identity list shows it with SendingEnabled=false:
	# unknown to the milter.  Its UpdateEmailIdentity answer (now verified)
	# takes a second, so the milter must hold MAIL FROM (UnknownWait 5s) and
	# then let the message through.
	dns_set_later_dkim "$E2E_DNS_DIR" >>"$dir/dns.out" 2>&1
	tap_ok $? "later.test gains its DKIM record in the test DNS"
	emu_domain later.test '{"state": "dns", "fault": "delay:1"}'
	if ! e2e_milter_up "$dir"; then
		sed 's/^/# /' "$dir/milter.log"
		not_ok "sesverify-milter listens"
		tap_done
	fi
	ok "sesverify-milter listens on inet:$E2E_PORT@127.0.0.1"
}

# The MTA libraries (postfix-lib.sh: pf, sendmail-lib.sh: sm) provide
# MTA_init DIR MILTER, MTA_start, MTA_stop, MTA_queue_count and set
# MTA_SINK (upper case: PF_SINK, SM_SINK); the e2e_mta_* helpers build on them.

# e2e_mta_up MTA DIR MILTER - init and start; on failure (a port taken
# meanwhile) stop, and retry with new ports, up to 3 times
e2e_mta_up() {
	local mta=$1 dir=$2 milter=$3 i
	for ((i = 0; i < 3; i++)); do
		unset "${mta^^}_PORT" "${mta^^}_SINK_PORT"
		"${mta}_init" "$dir" "$milter" && "${mta}_start" && return 0
		"${mta}_stop"
		rm -rf "$dir"
	done
	return 1
}

# e2e_mta_sink_start MTA - Postfix's smtp-sink (MTA_SMTP_SINK) on
# 127.0.0.1:MTA_SINK_PORT, one file per message in MTA_SINK, log in
# MTA_DIR/sink.log; sets MTA_SINK_PID and registers MTA_stop at exit
e2e_mta_sink_start() {
	local up=${1^^}
	local bin=${up}_SMTP_SINK port=${up}_SINK_PORT sink=${up}_SINK dir=${up}_DIR pid
	"${!bin}" -u postfix -d "${!sink}/%M." "127.0.0.1:${!port}" 100 >"${!dir}/sink.log" 2>&1 &
	pid=$!
	printf -v "${up}_SINK_PID" '%s' "$pid"
	at_exit "${1}_stop"
	if ! wait_port "${!port}" 10 "$pid"; then
		echo "${1}_start: smtp-sink did not listen on ${!port}" >&2
		cat "${!dir}/sink.log" >&2
		return 1
	fi
}

# e2e_mta_reap MTA - after the MTA's own stop: SIGKILL whatever of its
# instance is left (MTA_instance_pids), stop its sink (MTA_SINK_PID)
e2e_mta_reap() {
	local pid sink=${1^^}_SINK_PID
	for pid in $("${1}_instance_pids"); do
		kill -9 "$pid" 2>/dev/null
	done
	if [ -n "${!sink:-}" ]; then
		kill_wait "${!sink}"
		printf -v "$sink" '%s' ''
	fi
}

# e2e_mta_sink_file MTA ID - the MTA's sink file of message ID
e2e_mta_sink_file() {
	local sink=${1^^}_SINK
	e2e_sink_file "${!sink}" "$2"
}

# e2e_mta_wait_sink MTA ID SECS - wait up to SECS for message ID in the sink
e2e_mta_wait_sink() {
	e2e_wait "$3" e2e_mta_sink_file "$1" "$2"
}

# e2e_mta_queue_is MTA N - the MTA's queue holds exactly N messages
e2e_mta_queue_is() {
	[ "$("${1}_queue_count")" -eq "$2" ]
}

# e2e_mta_wait_queue MTA N SECS - wait up to SECS until the queue holds N
e2e_mta_wait_queue() {
	e2e_wait "$3" e2e_mta_queue_is "$1" "$2"
}

# e2e_trim - VAR without blanks around it (a scenarios.txt field)
e2e_trim() {
	local v=$1
	v=${v#"${v%%[![:blank:]]*}"}
	printf '%s' "${v%"${v##*[![:blank:]]}"}"
}

# e2e_scenarios - run tests/e2e/scenarios.txt against one MTA (see there)
e2e_scenarios() {
	local mta=$1 port=$2 dir=$3 mport=$4 id from hfrom check arg desc out= ms=0 t0 n rows
	local -a hdr
	rows=$(grep -v -E '^[[:blank:]]*(#|$)' "$top_srcdir/tests/e2e/scenarios.txt") || {
		not_ok "tests/e2e/scenarios.txt has scenarios"
		return 1
	}
	# the rows on fd 3: the MTA's tools and the hooks keep their stdin
	while IFS='|' read -r -u 3 id from hfrom check arg desc; do
		id=$(e2e_trim "$id") from=$(e2e_trim "$from") hfrom=$(e2e_trim "$hfrom")
		check=$(e2e_trim "$check") arg=$(e2e_trim "$arg") desc=$(e2e_trim "$desc")
		if [ -n "$from" ]; then
			hdr=()
			[ -z "$hfrom" ] || hdr=(--header "From: $hfrom")
			t0=$(date +%s%N)
			out=$(e2e_swaks "$port" "$from" "$id-$$" "${hdr[@]}" </dev/null)
			ms=$(e2e_ms_since "$t0")
			diag "$id: reply to $check: $(e2e_reply_to "$check" "$out")"
		fi
		case $check in
		"MAIL FROM" | EOD)
			like "$(e2e_reply_to "$check" "$out")" "$arg" "$desc"
			;;
		held)
			[ "$ms" -ge "${arg%-*}" ] && [ "$ms" -lt "${arg#*-}" ]
			tap_ok $? "$desc ($ms ms)"
			;;
		asked)
			n=$(emu_count UpdateEmailIdentity "$arg")
			[ "$n" -ge 1 ]
			tap_ok $? "$desc (UpdateEmailIdentity x$n)"
			;;
		delivered)
			e2e_mta_wait_sink "$mta" "$id-$$" 10
			tap_ok $? "$desc"
			;;
		undelivered)
			! e2e_mta_sink_file "$mta" "$id-$$" >/dev/null
			tap_ok $? "$desc"
			;;
		queue)
			e2e_mta_wait_queue "$mta" "$arg" 5
			tap_ok $? "$desc"
			;;
		milter-stop) e2e_milter_stop ;;
		milter-start)
			e2e_milter_start "$dir" "$mport"
			tap_ok $? "$desc"
			;;
		hook)
			! declare -F "${mta}_hook_$arg" >/dev/null || "${mta}_hook_$arg"
			;;
		*) not_ok "scenarios.txt: unknown check '$check' (row $id)" ;;
		esac
	done 3<<<"$rows"
}
