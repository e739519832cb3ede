# tests/cli/cli-lib.sh - shared set-up of the sesverify CLI tests (sourced).
#
# Owns: finding the built CLI, running it with its output captured, and the
# secret-leak check over everything a test saw.  Does not own the emulator
# (tests/emulator/emulator-lib.sh) or the DNS server (tests/dns/dns-lib.sh).
#
#   SV            path of the built sesverify binary
#   sv ARGS...    run it; sets OUT (stdout), ERR (stderr), RC; appends both
#                 to $CLI_SEEN so cli_no_secret can grep them at the end
#   cli_no_secret FILE...  one test point: the test SecretKey appears nowhere
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"

SV=$top_builddir/milter/sesverify
[ -x "$SV" ] || skip_all "milter/sesverify not built"
command -v openssl >/dev/null || skip_all "openssl not installed"
command -v curl >/dev/null || skip_all "curl not installed"

CLI_TMP=$(mktmp)
CLI_SEEN=$CLI_TMP/seen.txt
: >"$CLI_SEEN"

# The tests must not pick up credentials or a config from the machine.
unset TENCENTCLOUD_SECRET_ID TENCENTCLOUD_SECRET_KEY TENCENTCLOUD_SESSION_TOKEN TENCENTCLOUD_TOKEN
export HOME=$CLI_TMP

# sv ARGS... - run the CLI, capture stdout/stderr/status
sv() {
	"$SV" "$@" >"$CLI_TMP/out" 2>"$CLI_TMP/err"
	RC=$?
	OUT=$(cat "$CLI_TMP/out")
	ERR=$(cat "$CLI_TMP/err")
	{
		printf '%s\n' "== sesverify $*" "$OUT" "$ERR"
	} >>"$CLI_SEEN"
	return 0
}

# is_rc WANT DESC - the last sv's exit status, with its output on failure
is_rc() {
	if [ "$RC" = "$1" ]; then
		ok "$2"
	else
		not_ok "$2"
		printf '#   exit %s, expected %s\n' "$RC" "$1"
		printf '%s\n%s\n' "$OUT" "$ERR" | head -n 15 | sed 's/^/#   /'
	fi
}

# cli_no_secret FILE... - the test SecretKey appears in none of them
cli_no_secret() {
	if grep -lF "$EMU_SECRET_KEY" "$CLI_SEEN" "$@" 2>/dev/null | grep -q .; then
		not_ok "the SecretKey appears in no output and no log"
		grep -lF "$EMU_SECRET_KEY" "$CLI_SEEN" "$@" | sed 's/^/#   found in /'
	else
		ok "the SecretKey appears in no output and no log ($(wc -l <"$CLI_SEEN") lines checked)"
	fi
}

# json_check PYEXPR DESC - evaluate PYEXPR over the parsed $OUT (variable j)
json_check() {
	local got
	got=$(printf '%s' "$OUT" | python3 -c '
import json, sys
try:
    j = json.load(sys.stdin)
except Exception as e:
    print("NOT-JSON: %s" % e); sys.exit(0)
try:
    print(eval(sys.argv[1]))
except Exception as e:
    print("EXCEPTION: %r" % e)' "$1")
	is "$got" True "$2"
}

# cli_done - one last point: no sanitizer report in anything the CLI printed
# (UBSan reports do not change the exit status), then the plan
cli_done() {
	if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$CLI_SEEN"; then
		not_ok "no sanitizer report in the CLI's output"
		grep -E -B2 -A10 'AddressSanitizer|LeakSanitizer|runtime error:' "$CLI_SEEN" | head -n 40 | sed 's/^/#   /'
	else
		ok "no sanitizer report in the CLI's output"
	fi
	tap_done
}
