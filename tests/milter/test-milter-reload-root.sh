#!/bin/bash
# test-milter-reload-root.sh - issue 12 item 11: started as root with UserID,
# the worker runs as that user, yet the configuration and the
# CredentialsFile are root-owned, mode 0600.  The root supervisor reads
# them and hands them to the worker, at start and at every reload:
#   - filtering works (API calls signed with the file's key);
#   - SIGHUP applies a changed key of the config, and a changed
#     credentials file (a wrong key shows as AuthFailure, the right one
#     heals it);
#   - a broken config, a broken credentials file or a SkipDomains @FILE
#     the worker cannot read: logged, the old configuration kept by both
#     supervisor and worker (a restarted worker runs the old one too);
#   - -n fails on the @FILE that UserID cannot read.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"
ml_setup
chmod 1777 "$ML_DIR"
CRED=$ML_DIR/credentials
sid=$(awk '$1 == "SecretId" { print $2 }' "$EMU_CONF")
skey=$(awk '$1 == "SecretKey" { print $2 }' "$EMU_CONF")

# creds KEY - the credentials file, root-owned 0600
creds() {
	(umask 077 && printf '[default]\nsecret_id = %s\nsecret_key = %s\n' "$sid" "$1" >"$CRED.new")
	mv -f "$CRED.new" "$CRED"
}
# conf [LINES...] - the config, root-owned 0600, keys from CredentialsFile
conf() {
	ml_conf "CheckFrom envelope" "UserID nobody" "CredentialsFile $CRED" "$@"
	sed -i '/^Secret\(Id\|Key\) /d' "$ML_CONF"
}
# refreshed DOMAIN REGEX - force a refresh; 0 when the next API log line
# for DOMAIN matches REGEX
refreshed() {
	local n i
	n=$(ml_log_count "UpdateEmailIdentity $1 ")
	like "$(ml_ctl "refresh $1"$'\n')" '^OK' "refresh $1 queued" || return 1
	for ((i = 0; i < 200; i++)); do
		[ "$(ml_log_count "UpdateEmailIdentity $1 ")" -gt "$n" ] && break
		sleep 0.05
	done
	grep "UpdateEmailIdentity $1 " "$ML_LOG" | tail -n 1 | grep -Eq -- "$2" && return 0
	diag "last API line for $1: $(grep "UpdateEmailIdentity $1 " "$ML_LOG" | tail -n 1)"
	return 1
}
# kept WHAT - the next reload keeps the old configuration
kept() {
	ml_signal_wait HUP 'keeping the old configuration'
	tap_ok $? "$1: logged, old configuration kept"
}

creds "$skey"
conf
is "$(stat -c '%U %a' "$ML_CONF") $(stat -c '%U %a' "$CRED")" "root 600 root 600" \
	"config and credentials file: root-owned, mode 0600"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
worker=$(ml_worker)
is "$(ps -o user= -p "$worker" | tr -d ' ')" nobody "worker runs as nobody"
ml_msg "start: unverified.test gets a reply" from='<a@unverified.test>' expect_mail=reply
like "$(grep 'domain=unverified.test ' "$ML_LOG" | tail -n 1)" 'action=reject' \
	"start: ... 550, from an API answer signed with the file's key"
refreshed verified.test '-> verified'
tap_ok $? "start: a forced refresh reaches the API"

# a key of the config changed
conf "Mode monitor"
ml_reload HUP
tap_ok $? "SIGHUP: configuration reloaded"
ml_msg "after SIGHUP: Mode monitor in force" from='<a@unverified.test>' expect_mail=continue \
	expect_hdr='unverified; source=envelope; domain=unverified.test; would=reject'
refreshed verified.test '-> verified'
tap_ok $? "after SIGHUP: the new API clients still have the key"

# the credentials file changed: a wrong key, then the right one
creds "wrong${skey}"
ml_reload HUP
tap_ok $? "credentials changed: reloaded"
refreshed verified.test '-> error'
tap_ok $? "the new (wrong) key is in use: the refresh fails"
ml_log_wait 'AuthFailure\.SignatureFailure' 5
tap_ok $? "... with AuthFailure.SignatureFailure"
creds "$skey"
ml_reload USR1
refreshed verified.test '-> verified'
tap_ok $? "the right key again: verified"

# broken files: the old configuration (Mode monitor) stays, everywhere
conf "Mode sideways"
kept "broken config"
like "$(cat "$ML_LOG")" 'milter\.conf:[0-9]+: Mode' "the error names file and line"
conf
chmod 0644 "$CRED"
kept "credentials file readable by others"
chmod 0600 "$CRED"
(umask 077 && echo "skipped.test" >"$ML_DIR/skip")
conf "SkipDomains @$ML_DIR/skip"
kept "SkipDomains @FILE that UserID cannot read"
ml_msg "still Mode monitor" from='<a@unverified.test>' expect_mail=continue \
	expect_hdr='unverified; source=envelope; domain=unverified.test; would=reject'
ml_expect_death "$worker" # this worker only: any other death still fails
kill -9 "$worker"
new=$(ml_new_worker "$worker")
tap_ok $? "worker killed: restarted ($worker -> $new)"
ml_msg "the restarted worker runs the same (old) configuration: Mode monitor" \
	from='<a@unverified.test>' expect_mail=continue \
	expect_hdr='unverified; source=envelope; domain=unverified.test; would=reject'

out=$(timeout 20 "$ML_BIN" -n -c "$ML_CONF" 2>&1)
is "$?" 1 "-n: a file UserID cannot read is an error"
like "$out" "skip.*(Permission denied|UserID)" "-n: names the file"

conf
out=$(timeout 20 "$ML_BIN" -n -c "$ML_CONF" 2>&1)
is "$?:$out" "0:" "-n: the good root-owned 0600 files pass, silently"
ml_reload HUP
tap_ok $? "a good file again: reloaded"
ml_msg "enforce again" from='<a@unverified.test>' expect_mail=reply
ml_stop
is "$ML_STATUS" 0 "stopped cleanly"
tap_done
