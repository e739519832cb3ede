#!/bin/bash
# tests/run-all.sh - build sesverify and run its whole test suite.
#
# On a fresh Debian 12 machine, as root, this installs the packages listed
# in tests/debian-packages.txt, then builds twice out of tree:
#   _build/normal  -Werror build with gcov instrumentation (--enable-coverage,
#                  -O0), "make check", then "make coverage-report": the
#                  line and branch coverage of lib/ and milter/
#   _build/asan    AddressSanitizer + UndefinedBehaviorSanitizer, "make check"
# The phases overlap where the two cores would idle (the tests mostly wait
# on sockets): the ASan tree is configured and compiled, at nice 10, while
# the normal build's tests run, and the Debian package test (which compiles
# the packages twice) runs, at nice 10, while the ASan build's tests run.
# Per build it prints (tests/check-summary.sh) the checks passed, failed
# and skipped, apart from the "tooling and format" points (fuzz replays,
# clang-format per file, self-tests of the emulator and loadgen), and every
# skip: a skip not on tests/skip-allow.txt counts as a failure.  The last
# line is "N passed, M failed", counting every TAP test point of both runs,
# plus one for "make distcheck".  Exit status 0 only when nothing failed.
#
# Environment: SV_NO_INSTALL=1 skips apt-get; SV_NO_ASAN=1 skips the
# sanitizer build; SV_NO_PACKAGE=1 skips the Debian package test;
# SV_NO_DISTCHECK=1 skips distcheck; SV_NO_COVERAGE=1 builds the normal
# build without coverage; SV_ALLOW_SKIPS=1 accepts every skip (a machine
# without some component); JOBS=N sets make's parallelism (default: nproc).
set -u
srcdir=$(cd "$(dirname "$0")/.." && pwd)
cd "$srcdir" || exit 2
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
logdir="$srcdir/_build/logs"

if [ "$(id -u)" = 0 ] && [ "${SV_NO_INSTALL:-0}" != 1 ]; then
	echo "== installing Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	# postfix must not ask questions nor be configured as a system MTA here.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
	pkgs=$(grep -v '^#' tests/debian-packages.txt | tr '\n' ' ')
	# Node.js and npm (for the cross-check against the official signer): the
	# machine may already carry a Node.js build that bundles npm and conflicts
	# with Debian's npm package, so only install them when absent.
	command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
	command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
	apt-get update -qq >/dev/null 2>&1 || apt-get update
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $pkgs >"${TMPDIR:-/tmp}/sesverify-apt.log" 2>&1 || {
		tail -n 30 "${TMPDIR:-/tmp}/sesverify-apt.log"
		echo "0 passed, 1 failed"
		exit 1
	}
fi

mkdir -p "$logdir"
echo "== autoreconf"
autoreconf -fi >"$logdir/autoreconf.log" 2>&1 || {
	cat "$logdir/autoreconf.log"
	echo "0 passed, 1 failed"
	exit 1
}

total_pass=0
total_fail=0
# test-sendmail.sh downloads sendmail-bin once for the three builds
# (normal, asan, distcheck) instead of once per build tree
export SM_DEB_CACHE=${SM_DEB_CACHE:-$srcdir/_build/debs}

# build_tree NAME CONFIGURE-ARGS... : configure and build in _build/NAME;
# status 1 (after printing why) when either failed
build_tree() {
	local name=$1
	shift
	local dir="$srcdir/_build/$name"
	rm -rf "$dir"
	mkdir -p "$dir"
	echo "== $name: configure $*"
	if ! (cd "$dir" && "$srcdir/configure" "$@" >"$logdir/$name-configure.log" 2>&1); then
		tail -n 20 "$logdir/$name-configure.log"
		return 1
	fi
	echo "== $name: make"
	if ! make -C "$dir" -j"$jobs" >"$logdir/$name-make.log" 2>&1; then
		grep -E 'error|warning' "$logdir/$name-make.log" | head -n 40
		# libtool hides the second (non-PIC) compile's diagnostics: redo the
		# failed part serially and loudly so CI shows the real message.
		make -C "$dir" -k 'CFLAGS=-g -O2 -no-suppress' 2>&1 | grep -E -A4 'error:|warning:' | head -n 40
		return 1
	fi
}

# build_tree_bg NAME CONFIGURE-ARGS... : build_tree in the background at
# nice 10 (the tests running meanwhile keep the CPU first); its output
# waits in a file until build_tree_wait NAME prints it
declare -A bg_pid=()
build_tree_bg() {
	local name=$1
	rm -f "$logdir/$name-build.rc"
	(
		renice -n 10 -p "$BASHPID" >/dev/null 2>&1
		build_tree "$@"
		echo $? >"$logdir/$name-build.rc"
	) >"$logdir/$name-build.out" 2>&1 &
	bg_pid[$name]=$!
}

# build_tree_wait NAME : wait for build_tree_bg NAME, print its output; its status
build_tree_wait() {
	local name=$1
	[ -n "${bg_pid[$name]:-}" ] && wait "${bg_pid[$name]}"
	cat "$logdir/$name-build.out" 2>/dev/null
	[ "$(cat "$logdir/$name-build.rc" 2>/dev/null)" = 0 ]
}

# check_tree NAME : make check in _build/NAME, its summary, the coverage
# report of the normal build
check_tree() {
	local name=$1
	local dir="$srcdir/_build/$name"
	echo "== $name: make check"
	make -C "$dir" -j"$jobs" check >"$logdir/$name-check.log" 2>&1
	grep -E '^(FAIL|ERROR|XPASS):' "$logdir/$name-check.log" | head -n 60
	local p f e x
	p=$(sed -n 's/^# PASS: *//p' "$logdir/$name-check.log" | tail -n 1)
	f=$(sed -n 's/^# FAIL: *//p' "$logdir/$name-check.log" | tail -n 1)
	e=$(sed -n 's/^# ERROR: *//p' "$logdir/$name-check.log" | tail -n 1)
	x=$(sed -n 's/^# XPASS: *//p' "$logdir/$name-check.log" | tail -n 1)
	if [ -z "$p" ]; then
		echo "$name: make check produced no summary" >&2
		tail -n 30 "$logdir/$name-check.log"
		total_fail=$((total_fail + 1))
		return
	fi
	echo "$name: ${p} passed, $((f + e + x)) failed"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f + e + x))
	# what the points were: checks, tooling and format, skips (allowed?)
	local sum bad
	bash "$srcdir/tests/check-summary.sh" "$dir" "$name" >"$logdir/$name-summary.log" 2>&1
	grep -v '^SUMMARY ' "$logdir/$name-summary.log"
	bad=$(awk '$1 == "SUMMARY" { print $4 }' "$logdir/$name-summary.log")
	total_fail=$((total_fail + ${bad:-1}))
	if [ "$name" = normal ] && [ "${SV_NO_COVERAGE:-0}" != 1 ]; then
		if make -C "$dir" coverage-report >"$logdir/coverage.log" 2>&1; then
			sed -n '/^coverage (/,$p' "$logdir/coverage.log"
			cp "$dir/coverage/lines.txt" "$dir/coverage/branches.txt" "$logdir/" 2>/dev/null
		else
			tail -n 20 "$logdir/coverage.log"
			total_fail=$((total_fail + 1))
		fi
	fi
	# keep the logs of failed tests where CI shows them
	if [ $((f + e + x)) -gt 0 ]; then
		find "$dir/tests" -name '*.log' -newer "$logdir/$name-make.log" -print0 2>/dev/null |
			xargs -0 grep -l -E '^not ok|^ERROR' 2>/dev/null | head -n 10 | while read -r l; do
				echo "---- $l"
				grep -v '^ok ' "$l" | head -n 40
			done
	fi
}

# The Debian packages: build, install, run, upgrade, purge (as root; it
# installs into this system, so not part of "make check").  It builds from
# the source tree and needs nothing of the ASan build, so it runs in the
# background (nice 10) while that build's tests run; package_test_report
# waits for it.  Its TAP points count; a run that dies without a "not ok"
# counts as one failure.
package_pid=
package_test_start() {
	[ "${SV_NO_PACKAGE:-0}" != 1 ] && [ -x "$srcdir/_build/normal/milter/sesverify" ] || return 0
	[ -z "$package_pid" ] || return 0
	echo "== Debian packages (tests/package/test-deb.sh), in the background"
	rm -f "$logdir/package.rc"
	(
		unset SV_SANITIZE ASAN_OPTIONS UBSAN_OPTIONS
		renice -n 10 -p "$BASHPID" >/dev/null 2>&1
		top_srcdir=$srcdir top_builddir=$srcdir/_build/normal bash "$srcdir/tests/package/test-deb.sh"
		echo $? >"$logdir/package.rc"
	) >"$logdir/package.log" 2>&1 &
	package_pid=$!
}
package_test_report() {
	local rc p f
	[ -n "$package_pid" ] || return 0
	wait "$package_pid"
	rc=$(cat "$logdir/package.rc" 2>/dev/null || echo 1)
	grep -E '^(not ok|Bail out|1\.\.0)' "$logdir/package.log" | head -n 20
	p=$(grep -c '^ok ' "$logdir/package.log")
	f=$(grep -c '^not ok ' "$logdir/package.log")
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	echo "package: $p passed, $f failed (log: $logdir/package.log)"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

cov=--enable-coverage
[ "${SV_NO_COVERAGE:-0}" = 1 ] && cov=
asan=0
[ "${SV_NO_ASAN:-0}" != 1 ] && asan=1
if build_tree normal --enable-werror $cov; then
	normal_ok=1
else
	normal_ok=0
	total_fail=$((total_fail + 1))
fi
# the ASan tree compiles while the normal build's tests run
[ "$asan" = 1 ] && build_tree_bg asan --enable-werror \
	CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	LDFLAGS="-fsanitize=address,undefined"
[ "$normal_ok" = 1 ] && check_tree normal
if [ "$asan" = 1 ]; then
	if build_tree_wait asan; then
		# the package test runs while the ASan build's tests run
		[ "$normal_ok" = 1 ] && package_test_start
		(
			export SV_SANITIZE=1
			export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
			export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
			check_tree asan
			echo "$total_pass $total_fail" >"$logdir/asan.totals"
		)
		read -r total_pass total_fail <"$logdir/asan.totals"
	else
		total_fail=$((total_fail + 1))
	fi
fi
# no ASan build (or it failed): the package test alone
[ "$normal_ok" = 1 ] && package_test_start
package_test_report

# The test SecretKey must appear in no log either build left behind (a test
# cannot see the logs of tests still running, so this runs afterwards).
echo "== secrets in test logs"
dirs=()
for d in normal asan; do [ -d "$srcdir/_build/$d/tests" ] && dirs+=("$srcdir/_build/$d"); done
if [ ${#dirs[@]} -gt 0 ]; then
	bash "$srcdir/tests/security/grep-secrets.sh" "${dirs[@]}" >"$logdir/grep-secrets.log" 2>&1
	cat "$logdir/grep-secrets.log"
	total_pass=$((total_pass + $(grep -c '^ok ' "$logdir/grep-secrets.log")))
	total_fail=$((total_fail + $(grep -c '^not ok ' "$logdir/grep-secrets.log")))
fi

# make distcheck: the release tarball builds (every program, the check
# programs too), passes a make check and installs/uninstalls cleanly; then
# the tarball must hold every file git tracks (but .ci/ and .gitignore).
# Its make check runs the unit and fuzz-replay programs and one script per
# test directory and helper library (DIST_TESTS): the whole suite already
# ran twice above from this tree, and the file list is what a tarball can
# get wrong.  Counted as one test point.
DIST_TESTS="$(cd "$srcdir" && ls tests/unit/test_*.c | sed 's/\.c$//' | tr '\n' ' ')
	tests/unit/test-tz.sh tests/unit/test_sesapi_client.sh
	tests/fuzz/replay_addr tests/fuzz/replay_config tests/fuzz/replay_dnsnorm
	tests/fuzz/replay_domain tests/fuzz/replay_json
	tests/style/test-exports.sh tests/style/test-includes.sh tests/style/test-man.sh
	tests/emulator/test-emulator.sh tests/dns/test-precheck.sh tests/core/test-core-rate.sh
	tests/milter/test-milter-basic.sh tests/milter/test-milter-list.sh
	tests/cli/test-cli-check.sh tests/cli/test-cli-budget.sh tests/faults/test-faults-api.sh
	tests/redis/test-redis-rl.sh tests/redis/test-redis-lease.sh
	tests/security/test-secrets.sh tests/bench/test-loadgen.sh
	tests/e2e/test-demo.sh tests/e2e/test-postfix.sh tests/e2e/test-sendmail.sh"
DIST_TESTS=$(echo $DIST_TESTS)
if [ "${SV_NO_DISTCHECK:-0}" != 1 ] && [ -f "$srcdir/_build/normal/Makefile" ]; then
	echo "== distcheck"
	unset SV_SANITIZE ASAN_OPTIONS UBSAN_OPTIONS
	rm -f "$srcdir"/_build/normal/sesverify-*.tar.gz
	# the fuzz and memcheck runs already ran in the normal build
	if SV_SKIP_SLOW=1 make -C "$srcdir/_build/normal" -j"$jobs" distcheck TESTS="$DIST_TESTS" \
		>"$logdir/distcheck.log" 2>&1; then
		missing=
		if [ -d "$srcdir/.git" ] && command -v git >/dev/null; then
			tar tzf "$srcdir"/_build/normal/sesverify-*.tar.gz | sed 's|^[^/]*/||' | sort >"$logdir/dist-files"
			missing=$(git -C "$srcdir" ls-files | grep -v -E '^(\.ci/|\.gitignore$)' | sort |
				comm -23 - "$logdir/dist-files" | tr '\n' ' ')
		fi
		if [ -z "$missing" ]; then
			echo "distcheck: passed ($(wc -w <<<"$DIST_TESTS") test programs and scripts; the tarball holds every tracked file)"
			total_pass=$((total_pass + 1))
		else
			echo "distcheck: FAILED: tracked files missing from the tarball (EXTRA_DIST): $missing"
			total_fail=$((total_fail + 1))
		fi
	else
		grep -E '^(FAIL|ERROR):|rror' "$logdir/distcheck.log" | head -n 30
		echo "distcheck: FAILED (log: $logdir/distcheck.log)"
		total_fail=$((total_fail + 1))
	fi
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
