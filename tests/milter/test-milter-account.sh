#!/bin/bash
# test-milter-account.sh - another account after a restart or a reload
# (issue 12 item 9): answers learned with one SecretId/Region/Endpoint are
# not served as answers of another.  Account A is Region ap-guangzhou,
# account B Region ap-hongkong (the emulator serves both; the test changes
# what it says about verified.test when it switches).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
decision() { grep "domain=$1" "$ML_LOG" | tail -n 1; }
conf_a() { ml_conf "CheckFrom envelope" "UnknownWait 5s" "$@"; }
conf_b() { ml_conf "CheckFrom envelope" "UnknownWait 5s" "Region ap-hongkong" "$@"; }

# --- restart: CacheFile written under A, read under B
conf_a
ml_start || { echo "Bail out! milter did not start"; exit 1; }
ml_msg "account A: verified.test accepted" from='<a@verified.test>' expect_mail=accept
ml_stop
grep -q 'verified\.test' "$ML_DIR/cache"
tap_ok $? "account A's answer is in CacheFile"
if grep -qF -e "$EMU_SECRET_ID" -e "$EMU_SECRET_KEY" "$ML_DIR/cache"; then
	not_ok "CacheFile names the account without SecretId or SecretKey"
else
	ok "CacheFile names the account without SecretId or SecretKey"
fi
emu_domain verified.test '{"state": "not_exist"}'
conf_b
ml_start || { echo "Bail out! milter did not start"; exit 1; }
ml_msg "restart as account B: verified.test not accepted on A's answer" from='<a@verified.test>' \
	expect_mail=reply
like "$(decision verified.test)" 'state=not_exist action=reject' "account B: not set up (550)"
like "$(cat "$ML_LOG")" 'cache snapshot ignored.*another account' "the snapshot of account A was not used"

# --- reload: B -> A (verified again), then A -> B
emu_domain verified.test '{"state": "verified"}'
conf_a
ml_reload USR1
tap_ok $? "reload to account A"
ml_msg "reload to account A: verified.test accepted, not B's not_exist" from='<a@verified.test>' \
	expect_mail=accept
emu_domain verified.test '{"state": "not_exist"}'
conf_b
ml_reload USR1
ml_msg "reload to account B: verified.test not accepted on A's answer" from='<a@verified.test>' \
	expect_mail=reply
like "$(decision verified.test)" 'state=not_exist action=reject' "account B: not set up (550)"
like "$(cat "$ML_LOG")" 'another account.*answers and the identity list dropped' \
	"the reload logged that the old account's answers were dropped"

# --- a reload that keeps the account keeps the cache (no API call)
n=$(emu_count '*')
drops=$(ml_log_count 'another account')
conf_b "LogLevel info"
ml_reload USR1
ml_msg "same account after reload: verified.test still answered from the cache" \
	from='<a@verified.test>' expect_mail=reply
is "$(emu_count '*')" "$n" "same account: no API request"
is "$(ml_log_count 'another account')" "$drops" "same account: nothing dropped"

ml_stop
is "$ML_STATUS" 0 "stopped cleanly"
tap_done
