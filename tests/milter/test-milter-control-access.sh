#!/bin/bash
# test-milter-control-access.sh - issue 12 item 12, the ControlSocket's edges:
#   - SO_PEERCRED: forget/refresh only for root and the milter's user; a
#     member of the socket's group gets "ERR permission denied" for them but
#     may list, show and stats;
#   - per-client deadlines: a client that sends nothing, or half a line,
#     holds nobody else up and is dropped (its half line never runs);
#   - forced refreshes are bounded: beyond the bound, an ERR reply.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (clients of other uids)"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"
command -v setpriv >/dev/null || skip_all "setpriv not installed (util-linux)"
[ -x /usr/bin/python3 ] || skip_all "no /usr/bin/python3 (run as other uids)"
ml_setup
chmod 1777 "$ML_DIR"
ml_conf "CheckFrom envelope" "UserID nobody"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
ml_msg "unverified.test looked up" from='<a@unverified.test>' expect_mail=reply
grp=$(stat -c %g "$ML_CTL")

# ctl_as UID GID LINE - one exchange as that uid/gid (no other groups)
ctl_as() {
	ML_CTL_AS="setpriv --reuid=$1 --regid=$2 --clear-groups" ML_CTL_PY=/usr/bin/python3 \
		ml_ctl "$3" 2>&1
}

# --- SO_PEERCRED ---------------------------------------------------------------
member=4242 # not the milter's user, but in the socket's group
out=$(ctl_as $member "$grp" $'forget verified.test\n')
like "$out" '^ERR permission denied' "group member: forget refused with \"permission denied\""
like "$out" 'root and nobody' "... the reply says who may"
out=$(ctl_as $member "$grp" $'refresh verified.test\n')
like "$out" '^ERR permission denied' "group member: refresh refused"
like "$(ml_ctl $'show verified.test\n')" $'^OK\ndomain: verified.test\n' "verified.test still cached"
like "$(ctl_as $member "$grp" $'list\n')" $'^OK\n' "group member: list allowed"
like "$(ctl_as $member "$grp" $'show unverified.test\n')" $'^OK\ndomain: unverified.test' \
	"group member: show allowed"
like "$(ctl_as $member "$grp" $'stats\n')" $'^OK\n' "group member: stats allowed"
like "$(ctl_as $member 4243 $'list\n')" 'PermissionError' "neither user nor group: cannot connect at all"
like "$(ctl_as "$(id -u nobody)" "$(id -g nobody)" $'forget later.test\n')" '^OK' \
	"the milter's user may forget"
like "$(ml_ctl $'forget spfwrong.test\n')" '^OK' "root may forget"

# --- per-client deadlines -------------------------------------------------------
# A silent client and a half-line client are connected first; a second
# client must be answered while they are still connected; they are
# dropped later, and the half line ("forget notexist.test" without its
# newline) never runs.
ml_msg "notexist.test looked up (cached, not in the identity list)" from='<a@notexist.test>' \
	expect_mail=reply
like "$(ml_ctl $'show notexist.test\n')" $'^OK\ndomain: notexist.test\n' "notexist.test is cached"
out=$(python3 - "$ML_CTL" <<'PY'
import selectors, socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s
sel = selectors.DefaultSelector()
t0 = time.monotonic()
clients = {"silent": conn(), "half": conn()}
clients["half"].sendall(b"forget notexist.test")
time.sleep(0.2)
clients["second"] = conn()
clients["second"].sendall(b"stats\n")
got, done = {}, {}
for name, s in clients.items():
    got[name] = b""
    sel.register(s, selectors.EVENT_READ, name)
while len(done) < 3 and time.monotonic() - t0 < 60:
    for key, _ in sel.select(timeout=1):
        name = key.data
        try:
            b = key.fileobj.recv(65536)
        except OSError:
            b = b""
        if b:
            got[name] += b
        else:
            done[name] = time.monotonic() - t0
            sel.unregister(key.fileobj)
for name in ("second", "silent", "half"):
    print(name, "%.2f" % done.get(name, -1), repr(got[name].split(b"\n")[0].decode()))
a = done.get("second", 1e9)
print("second_first" if a < done.get("silent", -1) and a < done.get("half", -1) else "second_not_first")
PY
)
diag "$(tr '\n' ' ' <<<"$out")"
like "$out" "second [0-9.]+ 'OK'" "a second client is answered"
like "$out" 'second_first' "... while a silent and a half-line client are still connected"
like "$out" "silent [0-9.]+ 'ERR [^']*deadline" "the silent client is dropped with an ERR about the deadline"
like "$out" "half [0-9.]+ 'ERR [^']*deadline" "the half-line client too"
is "$(ml_log_count 'control: forgot notexist\.test')" 0 \
	"the half line (forget notexist.test) was not run (no \"control: forgot\" log line)"

# --- refresh bound -------------------------------------------------------------
okn=0
errline=
for ((i = 0; i < 30; i++)); do
	a=$(ml_ctl $'refresh verified.test\n')
	case $a in
	OK*) okn=$((okn + 1)) ;;
	ERR*) errline=$(head -n 1 <<<"$a"); break ;;
	esac
done
diag "refreshes accepted before the bound: $okn"
[ "$okn" -ge 1 ] && [ "$okn" -lt 30 ]
tap_ok $? "forced refreshes are bounded ($okn accepted)"
like "$errline" '^ERR refresh limit' "beyond the bound: an ERR reply"
ml_msg "mail still answered" from='<a@unverified.test>' expect_mail=reply
ml_stop
tap_done
