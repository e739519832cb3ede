#!/bin/bash
# test-socket-swap.sh - issue 12 item 10: started as root with UserID, the
# worker gives the milter socket and the ControlSocket to the user.  A user
# who owns the socket directory can swap a symlink in right after the bind
# (done here by an LD_PRELOAD shim around bind()); the root process must not
# follow it: the symlink's target keeps its owner and mode, and the worker
# refuses to run with a socket it could not secure.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"
SHIM=$top_builddir/tests/security/.libs/libswapshim.so
[ -f "$SHIM" ] || skip_all "swap shim not built ($SHIM)"
ml_setup
chmod 1777 "$ML_DIR"

# swapped NAME PATH - one run with PATH swapped for a symlink to a root file
swapped() {
	local name=$1 path=$2 target=$ML_DIR/target-$1
	printf 'root data\n' >"$target"
	chown root:root "$target"
	chmod 0644 "$target"
	ml_conf "CheckFrom envelope" "UserID nobody"
	: >"$ML_LOG"
	rm -f "$ML_SOCK" "$ML_CTL" "$ML_SOCK.moved" "$ML_CTL.moved"
	SV_SWAP_PATHS=$path SV_SWAP_TARGET=$target LD_PRELOAD=$SHIM \
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		timeout 20 "$ML_BIN" -f -c "$ML_CONF" >>"$ML_LOG" 2>&1
	local rc=$?
	grep -q "swapshim: $path is now a symlink" "$ML_LOG"
	tap_ok $? "$name: the symlink was swapped in after the bind"
	is "$(stat -c '%U:%G %a' "$target")" "root:root 644" \
		"$name: the symlink's target keeps owner and mode"
	is "$rc" 1 "$name: the daemon refuses to run (exit 1)"
	like "$(cat "$ML_LOG")" "$path.*(not the socket|not a socket)" "$name: and says why"
}
swapped milter "$ML_SOCK"
swapped control "$ML_CTL"

# Without a swap the sockets still go to the user, mode 0660.
ml_conf "CheckFrom envelope" "UserID nobody"
: >"$ML_LOG"
rm -f "$ML_SOCK" "$ML_CTL"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
is "$(stat -c '%U %a' "$ML_SOCK")" "nobody 660" "no swap: milter socket nobody, 0660"
is "$(stat -c '%U %a' "$ML_CTL")" "nobody 660" "no swap: ControlSocket nobody, 0660"
ml_msg "filtering works" from='<a@unverified.test>' expect_mail=reply
ml_stop
tap_done
