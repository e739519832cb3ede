#!/bin/bash
# tests/fuzz/test-libfuzzer.sh - build every libFuzzer harness with clang and
# run each one for FUZZ_TIME seconds (default 60) from its seed corpus.
#
# Owns: the clang build of the library sources (instrumented with
# -fsanitize=fuzzer-no-link,address,undefined) under
# $top_builddir/tests/fuzz/libfuzzer, and the timed runs.  Does not own the
# harnesses' invariants (each fuzz_*.c documents them) nor the corpora.
#
# Two harnesses run at a time (the CI machine has two cores).  New inputs
# go to a scratch corpus, never into the committed one; a crash, leak,
# timeout (-timeout) or out-of-memory fails the run, and the reproducer is
# kept as tests/fuzz/libfuzzer/artifacts/<harness>-crash-* and shown here:
# add it to tests/fuzz/corpus/<dir>/ as regress-<what> once fixed.
#
# Skipped under SV_SANITIZE=1 (the sanitizer build must not repeat it) and
# when clang cannot link -fsanitize=fuzzer (Debian: clang, libclang-rt-14-dev).
# Environment: FUZZ_TIME=N seconds per harness, FUZZ_JOBS=N in parallel,
# FUZZ_ONLY="json addr" to run only those.
. "$top_srcdir/tests/lib.sh"

[ "${SV_SANITIZE:-0}" = 1 ] && skip_all "the sanitizer build does not repeat the fuzz runs"
[ "${SV_SKIP_SLOW:-0}" = 1 ] && skip_all "SV_SKIP_SLOW=1 (the fuzz runs belong to the main build, not to distcheck)"
CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null || skip_all "clang not installed (Debian package clang)"
env_file=$top_builddir/tests/fuzz/fuzz-build.env
[ -r "$env_file" ] || skip_all "$env_file missing (run through make check)"
. "$env_file"

time_each=${FUZZ_TIME:-60}
jobs=${FUZZ_JOBS:-2}
out=$top_builddir/tests/fuzz/libfuzzer
mkdir -p "$out/obj" "$out/artifacts"
tmp=$(mktmp)

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=c11 -w $SAN"
INC="-I$top_builddir -I$top_srcdir/lib -I$top_srcdir/util -I$top_srcdir/milter -I$top_srcdir/tests/fuzz"

printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}\n' >"$tmp/probe.c"
"$CLANG" -fsanitize=fuzzer,address,undefined -o "$tmp/probe" "$tmp/probe.c" >"$tmp/probe.log" 2>&1 ||
	skip_all "clang cannot link -fsanitize=fuzzer (Debian package libclang-rt-14-dev): $(head -c 200 "$tmp/probe.log")"

# harness table: name, source, corpus directory, -max_len
harnesses=(
	"json fuzz_json.c json 65536"
	"dnsnorm fuzz_dnsnorm.c dnsnorm 8192"
	"addr fuzz_addr.c addr 4096"
	"config fuzz_config.c config 8192"
	"domain fuzz_domain.c domain 1024"
	"snapshot fuzz_snapshot.c snapshot 16384"
)

# 1. the library objects (and milter/addr.c), rebuilt only when older than
#    their source or than any header next to it
start=$(date +%s)
objs=()
failed_objs=0
newest_h=$(find "$top_srcdir/lib" "$top_srcdir/milter" "$top_builddir/config.h" -name '*.h' -newer "$out/obj" 2>/dev/null | head -n 1)
pids=()
for src in $FUZZ_LIB_SOURCES $FUZZ_ADDR_SOURCES; do
	o=$out/obj/$(echo "$src" | tr / _).o
	objs+=("$o")
	if [ -n "$newest_h" ] || [ ! -s "$o" ] || [ "$top_srcdir/$src" -nt "$o" ]; then
		# shellcheck disable=SC2086
		"$CLANG" $CFLAGS -fsanitize=fuzzer-no-link $FUZZ_CPPFLAGS $INC -c -o "$o" "$top_srcdir/$src" \
			>"$o.log" 2>&1 &
		pids+=($!)
		if [ ${#pids[@]} -ge "$jobs" ]; then
			wait "${pids[0]}" || failed_objs=$((failed_objs + 1))
			pids=("${pids[@]:1}")
		fi
	fi
done
for p in "${pids[@]}"; do wait "$p" || failed_objs=$((failed_objs + 1)); done
touch "$out/obj"
if [ "$failed_objs" -eq 0 ]; then
	ok "library sources compiled with clang and fuzzer instrumentation ($(( $(date +%s) - start )) s)"
else
	not_ok "library sources compiled with clang and fuzzer instrumentation"
	cat "$out"/obj/*.log | grep -E -A3 'error' | head -n 30 | sed 's/^/#   /'
	tap_done
fi

# 2. each harness
for h in "${harnesses[@]}"; do
	set -- $h
	bin=$out/fuzz_$1
	# shellcheck disable=SC2086
	if "$CLANG" $CFLAGS -fsanitize=fuzzer $FUZZ_CPPFLAGS $INC -o "$bin" "$top_srcdir/tests/fuzz/$2" \
		"${objs[@]}" $FUZZ_LIBS >"$bin.log" 2>&1; then
		ok "fuzz_$1 links with libFuzzer"
	else
		not_ok "fuzz_$1 links with libFuzzer"
		sed 's/^/#   /' "$bin.log" | head -n 20
	fi
done

# 3. the timed runs; run_one NAME DIR MAXLEN -> $tmp/NAME.rc and .log
run_one() {
	local name=$1 dir=$2 maxlen=$3 work=$tmp/corpus-$1
	mkdir -p "$work"
	rm -f "$out/artifacts/$name-"*
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$out/fuzz_$name" -max_total_time="$time_each" -max_len="$maxlen" -timeout=10 \
		-rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 -close_fd_mask=1 \
		-artifact_prefix="$out/artifacts/$name-" \
		"$work" "$top_srcdir/tests/fuzz/corpus/$dir" >"$tmp/$name.log" 2>&1
	echo $? >"$tmp/$name.rc"
}
report_one() {
	local name=$1 rc execs cov
	rc=$(cat "$tmp/$name.rc" 2>/dev/null || echo 99)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$name.log" | tail -n 1)
	cov=$(grep -Eo 'cov: [0-9]+' "$tmp/$name.log" | tail -n 1)
	if [ "$rc" = 0 ]; then
		ok "fuzz_$name: ${time_each}s, ${execs:-?} runs, ${cov:-cov: ?}, no crash/leak/timeout"
	else
		not_ok "fuzz_$name: exit $rc after ${execs:-?} runs"
		grep -E -A25 '==ERROR|runtime error|invariant failed|deadly signal|Test unit written' \
			"$tmp/$name.log" | head -n 60 | sed 's/^/#   /'
		for a in "$out/artifacts/$name-"*; do
			[ -f "$a" ] && diag "reproducer: $a ($(wc -c <"$a") bytes): $(head -c 120 "$a" | od -An -c | head -n 2 | tr -s ' ')"
		done
	fi
}
# a harness spec is "NAME SOURCE DIR MAXLEN" (the table above)
run_spec() {
	set -- $1
	run_one "$1" "$3" "$4"
}
report_spec() {
	set -- $1
	report_one "$1"
}
specs=()
for h in "${harnesses[@]}"; do
	set -- $h
	[ -x "$out/fuzz_$1" ] || continue
	if [ -n "${FUZZ_ONLY:-}" ] && [[ " $FUZZ_ONLY " != *" $1 "* ]]; then continue; fi
	specs+=("$h")
done
run_pool "$jobs" run_spec report_spec "${specs[@]}"
diag "total wall time $(( $(date +%s) - start )) s"
tap_done
