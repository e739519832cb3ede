#!/bin/bash
# test-secrets.sh - the SecretKey never leaks: refused files, environment,
# argv, children, logs, CLI output.
#
#   - a config holding SecretKey, or a CredentialsFile, that group or
#     others can read is refused by "sesverify-milter -n", by the daemon
#     and by the CLI, with a message that does not echo the key;
#   - with the key in TENCENTCLOUD_SECRET_KEY, the running supervisor and
#     worker show it neither in /proc/PID/environ nor in /proc/PID/cmdline,
#     and a worker restarted after the variable left the environment still
#     signs its API calls (the key was kept in memory);
#   - the milter log, the emulator's request log and everything the CLI
#     printed hold no trace of the key.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

CLI=$top_builddir/milter/sesverify
[ -x "$CLI" ] || skip_all "milter/sesverify not built"
unset TENCENTCLOUD_SECRET_ID TENCENTCLOUD_SECRET_KEY TENCENTCLOUD_SESSION_TOKEN TENCENTCLOUD_TOKEN
ml_setup
KEY=$EMU_SECRET_KEY
SEEN=$ML_DIR/seen.txt # everything the programs printed
: >"$SEEN"

# run_cap NAME CMD... - run, keep stdout+stderr in $OUT and in $SEEN, status in $RC
run_cap() {
	local name=$1
	shift
	OUT=$("$@" 2>&1)
	RC=$?
	printf '== %s\n%s\n' "$name" "$OUT" >>"$SEEN"
}

# 1. group/world-readable secrets are refused
ml_conf "CheckFrom envelope"
for mode in 640 604; do
	chmod "$mode" "$ML_CONF"
	run_cap "milter -n $mode" "$ML_BIN" -n -c "$ML_CONF"
	is "$RC" 1 "sesverify-milter -n: config with SecretKey mode $mode refused (exit 1)"
	like "$OUT" "readable by group/others \\(mode 0$mode\\)" "... and says why"
	run_cap "cli $mode" "$CLI" -c "$ML_CONF" list
	is "$RC" 2 "sesverify CLI: the same config refused (exit 2)"
done
chmod 600 "$ML_CONF"
run_cap "daemon 640" timeout 20 "$ML_BIN" -f -c "$ML_CONF"
chmod 640 "$ML_CONF"
run_cap "daemon 640" timeout 20 "$ML_BIN" -f -c "$ML_CONF"
is "$RC" 1 "the daemon itself refuses to start on it (exit 1)"
chmod 600 "$ML_CONF"

grep -v -i '^Secret' "$EMU_CONF" >"$ML_DIR/nosecret.conf"
printf '[default]\nsecret_id = %s\nsecret_key = %s\n' "$EMU_SECRET_ID" "$KEY" >"$ML_DIR/credentials"
EMU_CONF_ORIG=$EMU_CONF
EMU_CONF=$ML_DIR/nosecret.conf
ml_conf "CheckFrom envelope" "CredentialsFile $ML_DIR/credentials"
chmod 644 "$ML_CONF" # no secret inside: may be world-readable
for mode in 644 640 604; do
	chmod "$mode" "$ML_DIR/credentials"
	run_cap "milter -n cred $mode" "$ML_BIN" -n -c "$ML_CONF"
	is "$RC" 1 "sesverify-milter -n: CredentialsFile mode $mode refused (exit 1)"
	like "$OUT" "mode 0$mode gives access to group/other" "... and says why"
	run_cap "cli cred $mode" "$CLI" -c "$ML_CONF" list
	is "$RC" 2 "sesverify CLI: CredentialsFile mode $mode refused (exit 2)"
done
chmod 600 "$ML_DIR/credentials"
run_cap "milter -n cred 600" "$ML_BIN" -n -c "$ML_CONF"
is "$RC" 0 "CredentialsFile mode 0600 accepted by -n"
run_cap "cli list" "$CLI" -c "$ML_CONF" list
is "$RC" 0 "the CLI lists identities with the 0600 CredentialsFile"
run_cap "cli check" "$CLI" -c "$ML_CONF" check --no-dns unverified.test
is "$RC" 1 "the CLI checks a domain with it (exit 1: unverified)"

# 2. the key from the environment never shows in /proc
ml_conf "CheckFrom envelope"
export TENCENTCLOUD_SECRET_ID=$EMU_SECRET_ID TENCENTCLOUD_SECRET_KEY=$KEY
export -n EMU_SECRET_KEY # emulator-lib.sh exports it for its own helpers
ml_start || { echo "Bail out! milter did not start"; exit 1; }
unset TENCENTCLOUD_SECRET_ID TENCENTCLOUD_SECRET_KEY
worker=$(ml_worker)
ml_msg "env credentials: unverified.test gets its 5xx (API answered)" from='<b@unverified.test>' expect_mail=reply
for p in "$ML_PID" "$worker"; do
	[ -n "$p" ] || { not_ok "worker pid found"; continue; }
	! tr '\0' '\n' <"/proc/$p/environ" | grep -qF -e "$KEY" -e TENCENTCLOUD_SECRET_KEY
	tap_ok $? "pid $p: no SecretKey (nor its variable) in /proc/PID/environ"
	! tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF "$KEY"
	tap_ok $? "pid $p: no SecretKey in /proc/PID/cmdline"
done
# the key's pages are left out of core dumps (VmFlags "dd" = MADV_DONTDUMP);
# /proc/PID/smaps of a non-dumpable process is for root only
if [ -r "/proc/$worker/smaps" ] && [ "$(id -u)" = 0 ]; then
	dd=$(grep -c '^VmFlags:.* dd' "/proc/$worker/smaps")
	[ "$dd" -ge 1 ]
	tap_ok $? "worker: $dd mapping(s) marked MADV_DONTDUMP (the secrets' pages)"
else
	skip "worker: mapping(s) marked MADV_DONTDUMP (the secrets' pages)" \
		"/proc/PID/smaps of a non-dumpable process is for root only"
fi
# a restarted worker must still have the key, though the environment lost it
ml_expect_death "$worker" # this worker only: any other death still fails
kill -9 "$worker"
for ((i = 0; i < 100; i++)); do
	new=$(ml_worker)
	[ -n "$new" ] && [ "$new" != "$worker" ] && grep -c 'ready on' "$ML_LOG" | grep -q '^2$' && break
	sleep 0.1
done
ml_msg "restarted worker: forgotten domain asked anew with the in-memory key" from='<x@later.test>' \
	expect_mail=reply
! tr '\0' '\n' <"/proc/$new/environ" | grep -qF "$KEY"
tap_ok $? "restarted worker: no SecretKey in /proc/PID/environ"
ml_stop
EMU_CONF=$EMU_CONF_ORIG

# 3. nothing anybody printed or logged holds the key
for f in "$ML_LOG" "$EMU_LOG" "$SEEN"; do
	! grep -qF "$KEY" "$f"
	tap_ok $? "no SecretKey in $(basename "$f")"
done
grep -q 'sesverify' "$SEEN" && [ -s "$ML_LOG" ]
tap_ok $? "(the files searched are not empty)"
tap_done
