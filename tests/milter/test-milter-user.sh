#!/bin/bash
# test-milter-user.sh - started as root with UserID: sockets opened first and
# given to the user (mode 0660), then the worker runs as that user; a UserID
# that does not exist is refused.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"
ml_setup
# the worker (as nobody) writes the snapshot and libmilter may remove its socket
chmod 1777 "$ML_DIR"
ml_conf "CheckFrom envelope" "UserID nobody"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
worker=$(ml_worker)
is "$(ps -o user= -p "$worker" | tr -d ' ')" nobody "worker runs as nobody"
is "$(ps -o user= -p "$ML_PID" | tr -d ' ')" root "supervisor keeps root (to restart workers)"
is "$(stat -c '%U %a' "$ML_SOCK")" "nobody 660" "milter socket owned by nobody, mode 0660"
is "$(stat -c '%U %a' "$ML_CTL")" "nobody 660" "ControlSocket owned by nobody, mode 0660"
ml_msg "filtering works as nobody" from='<a@unverified.test>' expect_mail=reply
ml_stop
is "$ML_STATUS" 0 "stopped cleanly"
[ -s "$ML_DIR/cache" ]
tap_ok $? "snapshot written by the unprivileged worker"

ml_conf "CheckFrom envelope" "UserID no-such-user-sesverify"
: >"$ML_LOG"
timeout 20 "$ML_BIN" -f -c "$ML_CONF" >>"$ML_LOG" 2>&1
is "$?" 1 "unknown UserID: refuses to run (exit 1)"
like "$(cat "$ML_LOG")" 'UserID no-such-user-sesverify: no such user' "and says why"
tap_done
