#!/bin/bash
# tests/cli/test-cli-milter.sh - "sesverify cache ..." against the real
# sesverify-milter's ControlSocket (both sides of the control protocol).
. "$top_srcdir/tests/cli/cli-lib.sh"
[ -f "$top_srcdir/tests/milter/milter-lib.sh" ] || skip_all "tests/milter/milter-lib.sh not present"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
ml_conf "WarmUp no" "ApiTimeout 2s"
ml_start || { echo "Bail out! sesverify-milter did not start"; exit 1; }

# wait_state DOMAIN STATE - poll "cache show --json" until the entry has STATE (5 s)
wait_state() {
	local i
	for ((i = 0; i < 50; i++)); do
		sv -c "$ML_CONF" cache show --json "$1"
		if [ "$RC" = 0 ] && printf '%s' "$OUT" |
			python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["state"] != sys.argv[1])' "$2" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

sv -c "$ML_CONF" cache show verified.test
is_rc 1 "cache show of a never-seen domain: exit 1 (NOTFOUND)"
like "$ERR" 'verified.test: not in the cache' "NOTFOUND is reported"

sv -c "$ML_CONF" cache refresh verified.test
is_rc 0 "cache refresh verified.test: exit 0"
wait_state verified.test verified
tap_ok $? "the refresh reached the emulator and the entry became verified"
json_check 'j["domain"] == "verified.test" and j["verified"] is True and len(j["request_id"]) == 36' \
	"cache show --json: the entry with its RequestId"
sv -c "$ML_CONF" cache refresh unverified.test
wait_state unverified.test unverified
tap_ok $? "unverified.test refreshed to unverified"

sv -c "$ML_CONF" cache show verified.test
is_rc 0 "cache show (text): exit 0"
like "$OUT" 'verified' "cache show (text): the state"
sv -c "$ML_CONF" cache list
is_rc 0 "cache list: exit 0"
like "$OUT" 'verified\.test' "cache list: verified.test"
like "$OUT" 'unverified\.test' "cache list: unverified.test"
sv -c "$ML_CONF" cache list --json
json_check 'sorted(o["domain"] for o in j) == ["unverified.test", "verified.test"]' "cache list --json: both entries"
sv -c "$ML_CONF" cache stats --json
is_rc 0 "cache stats --json: exit 0"
json_check 'isinstance(j, dict) and all(isinstance(v, (int, float)) for v in j.values()) and len(j) > 0' \
	"cache stats --json: named numeric counters"
sv -c "$ML_CONF" cache stats
is_rc 0 "cache stats (text): exit 0"

sv -c "$ML_CONF" cache forget verified.test
is_rc 0 "cache forget verified.test: exit 0"
sv -c "$ML_CONF" cache show verified.test
is_rc 1 "forgotten entry: cache show exit 1"
sv -c "$ML_CONF" cache forget verified.test
is_rc 1 "forgetting it again: exit 1"

ml_stop
sv -c "$ML_CONF" cache list
is_rc 3 "milter stopped: exit 3"
like "$ERR" "control socket $ML_CTL" "milter stopped: the message names the socket"

cli_no_secret "$EMU_LOG" "$ML_LOG"
cli_done
