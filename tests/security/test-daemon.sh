#!/bin/bash
# test-daemon.sh - the daemon's own defences.
#   - the milter socket and the ControlSocket are created mode 0660 even
#     when started under umask 000; the CacheFile is 0600;
#   - UserID naming root is refused; as root with UserID, the worker's real,
#     effective, saved and filesystem uids and gids are all the user's;
#   - no shell is ever invoked: no system()/popen()/exec*() in lib/ or
#     milter/, and under strace the milter runs no execve() at all;
#   - the daemon makes itself non-dumpable (prctl PR_SET_DUMPABLE 0).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup

# 1. no shell in the code (comments aside)
hits=$(grep -n -E '\b(system|popen|execl|execlp|execle|execv|execvp|execvpe|execve|posix_spawnp?)[[:space:]]*\(|"/bin/sh' \
	"$top_srcdir"/lib/*.c "$top_srcdir"/milter/*.c 2>/dev/null | grep -v -E ':[0-9]+:[[:space:]]*(/?\*|//)')
is "$hits" "" "no system(), popen(), exec*(), posix_spawn() or /bin/sh in lib/ and milter/"

# 2. socket modes under a permissive umask
ml_conf "CheckFrom envelope"
(
	umask 000
	ml_start
) || true
# ml_start ran in a subshell: find the daemon by its socket
for ((i = 0; i < 100; i++)); do
	[ -S "$ML_SOCK" ] && [ -S "$ML_CTL" ] && grep -q 'ready on' "$ML_LOG" && break
	sleep 0.1
done
ML_PID=$(cat "$ML_DIR/milter.pid" 2>/dev/null)
[ -n "$ML_PID" ] && at_exit "kill -TERM $ML_PID 2>/dev/null"
is "$(stat -c %a "$ML_SOCK" 2>&1)" 660 "milter socket mode 0660 under umask 000"
is "$(stat -c %a "$ML_CTL" 2>&1)" 660 "ControlSocket mode 0660 under umask 000"
ml_msg "filtering works" from='<a@verified.test>' expect_mail=accept
kill -TERM "$ML_PID"
for ((i = 0; i < 100; i++)); do kill -0 "$ML_PID" 2>/dev/null || break; sleep 0.1; done
is "$(stat -c %a "$ML_DIR/cache" 2>&1)" 600 "CacheFile mode 0600 under umask 000"
ML_PID=

# 3. root
ml_conf "CheckFrom envelope" "UserID root"
: >"$ML_LOG"
timeout 20 "$ML_BIN" -f -c "$ML_CONF" >>"$ML_LOG" 2>&1
is "$?" 1 "UserID root: refuses to run (exit 1)"
like "$(cat "$ML_LOG")" 'UserID root is root; refusing to run as root' "... and says why"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 1777 "$ML_DIR"
	ml_conf "CheckFrom envelope" "UserID nobody"
	: >"$ML_LOG"
	ml_start || { echo "Bail out! milter did not start"; exit 1; }
	w=$(ml_worker)
	uid=$(id -u nobody)
	gid=$(id -g nobody)
	is "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$w/status")" "$uid $uid $uid $uid" \
		"worker: real, effective, saved and fs uid are nobody's"
	is "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$w/status")" "$gid $gid $gid $gid" \
		"worker: all four gids are nobody's"
	is "$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$w/status" | tr -d ' ')" \
		"$(id -G nobody | tr ' ' '\n' | sort -n | tr -d '\n ')" "worker: supplementary groups are nobody's only"
	ml_msg "filtering works as nobody" from='<a@verified.test>' expect_mail=accept
	ml_stop
	chmod 700 "$ML_DIR"
else
	skip "UserID nobody: the drop itself" "needs root and a user nobody" 4
fi

# 4. under strace: no execve after the start, prctl(PR_SET_DUMPABLE, 0)
if command -v strace >/dev/null; then
	ml_conf "CheckFrom envelope"
	: >"$ML_LOG"
	real=$ML_BIN
	ML_BIN=$ML_DIR/milter-under-strace
	# LeakSanitizer cannot run under ptrace: the sanitizer build checks
	# leaks in every other milter run, not in this traced one.
	# In the build tree the milter is libtool's wrapper script (it links the
	# shared libsesverify): libtool --mode=execute runs the real program
	# under strace, with the library's path set, so the trace starts at it.
	lt=
	[ -x "$top_builddir/libtool" ] && lt="\"$top_builddir/libtool\" --mode=execute"
	printf '#!/bin/sh\nASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"; export ASAN_OPTIONS\nexec %s strace -f -qq -o "%s" -e trace=execve,prctl "%s" "$@"\n' \
		"$lt" "$ML_DIR/strace.out" "$real" >"$ML_BIN"
	chmod +x "$ML_BIN"
	if ml_start; then
		ml_msg "under strace: verified.test accepted" from='<a@verified.test>' expect_mail=accept
		ml_msg "under strace: unverified.test rejected" from='<b@unverified.test>' expect_mail=reply
		kill -HUP "$ML_PID" # reload too: still no shell
		ml_log_wait 'reloading' 5
		ml_msg "under strace: after a reload" from='<c@notexist.test>' expect_mail=reply
		# SIGTERM to strace would only detach it and leave the milter
		# running: stop the milter itself; strace ends with it
		traced=$(cat "$ML_DIR/milter.pid" 2>/dev/null)
		[ -n "$traced" ] && kill -TERM "$traced"
		for ((i = 0; i < 200; i++)); do
			kill -0 "$ML_PID" 2>/dev/null || break
			sleep 0.1
		done
		ml_stop
		[ -n "$traced" ] && ! kill -0 "$traced" 2>/dev/null
		tap_ok $? "the traced milter stopped (nothing left running)"
		is "$(grep -c 'execve(' "$ML_DIR/strace.out")" 1 "only strace's own execve of the milter; no shell, no helper"
		grep -E 'execve\(' "$ML_DIR/strace.out" | sed 's/^/#   /' | head -n 5
		grep -q 'prctl(PR_SET_DUMPABLE, SUID_DUMP_DISABLE' "$ML_DIR/strace.out"
		tap_ok $? "prctl(PR_SET_DUMPABLE, 0): no core dump, no ptrace by same-uid processes"
	else
		not_ok "sesverify-milter starts under strace"
	fi
	ML_BIN=$real
else
	skip "under strace: execve/prctl" "strace not installed (Debian package strace)" 6
fi
tap_done
