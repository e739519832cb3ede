#!/bin/bash
# tests/valgrind/test-memcheck.sh - valgrind memcheck over every C unit test
# program (tests/unit/test_*) and over one real milter scenario.
#
# Owns: the valgrind runs and their verdicts; not the programs under test.
# A program passes when it exits 0 (its own TAP verdict) and memcheck
# reports zero errors, zero definitely lost blocks (--errors-for-leak-kinds=
# definite turns those into errors).  The milter is started in the
# foreground under valgrind (the supervisor and its forked worker are both
# traced), filters one message of each kind, gets SIGTERM and must report
# the same.  Suppressions (memcheck.supp) cover only libraries' one-time
# allocations, each explained there.
#
# Skipped under SV_SANITIZE=1 (ASan and valgrind do not mix) and when
# valgrind is missing.  VALGRIND_JOBS=N runs N unit programs at a time.
. "$top_srcdir/tests/lib.sh"

[ "${SV_SANITIZE:-0}" = 1 ] && skip_all "sanitizer build: memcheck runs in the normal build only"
[ "${SV_SKIP_SLOW:-0}" = 1 ] && skip_all "SV_SKIP_SLOW=1 (memcheck belongs to the main build, not to distcheck)"
command -v valgrind >/dev/null || skip_all "valgrind not installed (Debian package valgrind)"

tmp=$(mktmp)
jobs=${VALGRIND_JOBS:-2}
LIBTOOL=$top_builddir/libtool
[ -x "$LIBTOOL" ] || LIBTOOL=libtool
VG=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
	--errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=30
	--suppressions="$top_srcdir/tests/valgrind/memcheck.supp")

# verdict DESC RC LOGS... - one TAP point from the program's exit status and
# every memcheck log it wrote.  Exit 99 is memcheck's error exit, >= 128 a
# signal (crash); a program's own failed TAP points (exit 1) are shown but
# do not count here: they are timing checks upset by valgrind's slowness,
# and the program's own "make check" entry judges them.
verdict() {
	local desc=$1 rc=$2 bad=0 l errs
	shift 2
	for l in "$@"; do
		errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$l" | tail -n 1)
		if [ -z "$errs" ] || [ "$errs" != 0 ]; then
			bad=1
		fi
	done
	if [ "$rc" = 1 ]; then
		diag "$desc: the program's own TAP failures under valgrind (not memcheck's):"
		rc=0
	fi
	if [ "$rc" = 0 ] && [ "$bad" = 0 ] && [ $# -gt 0 ]; then
		ok "$desc"
		return
	fi
	not_ok "$desc (exit $rc)"
	for l in "$@"; do
		grep -E -A20 '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and|Argument)|definitely lost in' "$l" |
			head -n 40 | sed 's/^/#   /'
		grep 'ERROR SUMMARY' "$l" | sed 's/^/#   /'
	done
}

# 1. the unit test programs (a few at a time)
progs=()
for p in "$top_builddir"/tests/unit/test_*; do
	case $p in *.c | *.o | *.log | *.trs | *.sh | *.js) continue ;; esac
	[ -f "$p" ] && [ -x "$p" ] && progs+=("$p")
done
[ ${#progs[@]} -gt 0 ] || skip_all "no unit test programs built"
start=$(date +%s)
run_unit() {
	local p=$1 n
	n=$(basename "$p")
	(cd "$tmp" && "$LIBTOOL" --mode=execute "${VG[@]}" --log-file="$tmp/$n.vg" "$p" \
		>"$tmp/$n.out" 2>&1)
	echo $? >"$tmp/$n.rc"
}
report_unit() {
	local n
	n=$(basename "$1")
	verdict "memcheck: $n ($(grep -c '^ok' "$tmp/$n.out") TAP points inside)" \
		"$(cat "$tmp/$n.rc")" "$tmp/$n.vg"
	if [ "$(cat "$tmp/$n.rc")" != 0 ] && [ "$(cat "$tmp/$n.rc")" != 99 ]; then
		grep -E '^not ok' "$tmp/$n.out" | head -n 5 | sed 's/^/#     /'
	fi
}
run_pool "$jobs" run_unit report_unit "${progs[@]}"
diag "unit programs under memcheck: $(( $(date +%s) - start )) s"

# 2. one milter scenario under valgrind
. "$top_srcdir/tests/milter/milter-lib.sh"
command -v miltertest >/dev/null && command -v nsd >/dev/null && [ -x "$ML_BIN" ] || {
	skip "memcheck: sesverify-milter scenario" "miltertest, nsd or sesverify-milter missing" 7
	tap_done
}
ml_setup
start=$(date +%s)
real_bin=$ML_BIN
ML_BIN=$ML_DIR/milter-under-valgrind
cat >"$ML_BIN" <<WRAP
#!/bin/sh
exec "$LIBTOOL" --mode=execute ${VG[*]} --log-file="$ML_DIR/vg.%p.log" "$real_bin" "\$@"
WRAP
chmod +x "$ML_BIN"
ml_conf "CheckFrom envelope"
# ml_start gives a plain milter 10 s; under valgrind, give it 60
rm -f "$ML_SOCK"
"$ML_BIN" -f -c "$ML_CONF" >>"$ML_LOG" 2>&1 &
ML_PID=$!
at_exit "ml_stop"
for ((i = 0; i < 600; i++)); do
	[ -S "$ML_SOCK" ] && [ -S "$ML_CTL" ] && grep -q 'ready on' "$ML_LOG" && break
	kill -0 "$ML_PID" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q 'ready on' "$ML_LOG"; then
	not_ok "sesverify-milter starts under valgrind"
	sed 's/^/#   /' "$ML_LOG" | tail -n 20
	tap_done
fi
ok "sesverify-milter starts under valgrind ($(( $(date +%s) - start )) s)"
# under valgrind on a busy machine the warm-up (identity list) takes a while;
# until it is done verified.test may still be "unknown"
ml_log_wait 'warm-up:' 60 || diag "no warm-up line within 60 s"
ml_msg "under valgrind: verified.test accepted" from='<a@verified.test>' expect_mail=accept
ml_msg "under valgrind: unverified.test rejected" from='<b@unverified.test>' expect_mail=reply
ml_msg "under valgrind: notexist.test rejected" from='<c@notexist.test>' expect_mail=reply
ml_stop
is "$ML_STATUS" 0 "milter under valgrind stops cleanly on SIGTERM"
logs=("$ML_DIR"/vg.*.log)
[ ${#logs[@]} -ge 2 ]
tap_ok $? "memcheck logs of the supervisor and the worker (${#logs[@]} processes)"
verdict "memcheck: sesverify-milter scenario, zero errors and zero definite leaks" "$ML_STATUS" "${logs[@]}"
diag "milter scenario under memcheck: $(( $(date +%s) - start )) s"
tap_done
