#!/bin/bash
# test-injection.sh - hostile sender text reaches the real milter: CR/LF,
# '%' (printf and libmilter reply escapes), NUL and very long domains in
# MAIL FROM and in From:.  Each message gets a defined answer, the worker
# survives, every decision is exactly one log line, no log line carries a
# raw CR or starts without the program's prefix (no forged lines), no line
# is unbounded, and '%' sequences are logged literally (never formatted).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
LUA=$top_srcdir/tests/security/inject.lua
# raw TEXT FILE - TEXT into FILE, each "@NUL@" as a NUL byte (shell strings
# cannot hold one; miltertest -D values cannot hold long ones: files it is)
raw() { printf '%s' "$1" | sed 's/@NUL@/\x00/g' >"$2"; }
long() { local s="" i; for ((i = 0; i < $2; i++)); do s+=$1; done; printf '%s' "$s"; }
n=0

# send WANT_MAIL WANT_EOH DESC FROM_HEX [HFROM_HEX] - one message, one TAP point
send() {
	local want_mail=$1 want_eoh=$2 desc=$3 out
	n=$((n + 1))
	raw "$4" "$ML_DIR/from.$n"
	local args=(-D "socket=unix:$ML_SOCK" -D "qid=QINJ$n" -D "from_file=$ML_DIR/from.$n")
	if [ -n "${5:-}" ]; then
		raw "$5" "$ML_DIR/hfrom.$n"
		args+=(-D "hfrom_file=$ML_DIR/hfrom.$n")
	fi
	out=$(miltertest -s "$LUA" "${args[@]}" 2>&1)
	local got
	got=$(printf '%s\n' "$out" | sed -n 's/^REPLY //p' | tr '\n' ' ')
	is "$got" "mail $want_mail ${want_eoh:+eoh $want_eoh }" "$desc"
}

ml_conf "CheckFrom envelope"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
worker=$(ml_worker)
send reply "" "MAIL FROM with CR LF and a forged reply line: rejected" \
	$'<a@evil.test\r\n550 5.7.1 injected\r\n>'
send reply "" "MAIL FROM with a bare LF: rejected" $'<a@evil.test\nsesverify-milter[1]: notice: forged>'
send reply "" "MAIL FROM with %s%n%%: rejected, no format expansion" '<a%s%n@ev%sil%n%%.test>'
send reply "" "MAIL FROM with NUL inside the domain: rejected" '<a@veri@NUL@fied.test>'
send reply "" "MAIL FROM with a 300-octet label: rejected" "<a@$(long x 300).test>"
# (miltertest itself overflows a stack buffer on a MAIL FROM argument past
# ~1000 octets; SMTP paths are at most 256, so 900 is plenty hostile)
send reply "" "MAIL FROM with a 900-octet domain: rejected" "<a@$(long abcdefgh. 100)test>"
send reply "" "MAIL FROM local part of 880 octets: answered" "<$(long a 880)@unverified.test>"
send reply "" "MAIL FROM with control characters: rejected" $'<a@ver\x01\x1b[31mified.test>'
send accept "" "a clean verified sender still accepted afterwards" '<a@verified.test>'
is "$(ml_worker)" "$worker" "the worker survived all of it (same pid)"
ml_stop

ml_conf "CheckFrom header"
: >>"$ML_LOG"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
ok_from='<a@verified.test>'
send continue reply "From: with CR LF inside the address: rejected at end of headers" "$ok_from" \
	$'Eve <e@verified.test\r\n550 injected>'
send continue reply "From: with %n%s in the domain: rejected" "$ok_from" 'Eve <e@un%n%sverified.test>'
send continue reply "From: with a 1000-octet domain: rejected" "$ok_from" \
	"Eve <e@$(long abcdefghi. 100)test>"
send continue reply "From: with 12 addresses of long display names: answered" "$ok_from" \
	"$(for ((i = 0; i < 12; i++)); do printf '"%s %%s" <x%d@verified%d.test>, ' "$(long y 40)" $i $i; done)z@verified.test"
send continue reply "unverified domain in From: gets the custom reply" "$ok_from" 'Bob <b@unverified.test>'
ml_stop

# the log: one decision line per message, nothing forged, nothing unbounded
sleep 0.2
wrong=0
for ((i = 1; i <= n; i++)); do
	c=$(grep -c "qid=QINJ$i " "$ML_LOG")
	[ "$c" = 1 ] || { diag "message QINJ$i: $c decision lines"; wrong=$((wrong + 1)); }
done
is "$wrong" 0 "every one of the $n messages has exactly one decision line"
bad=$(grep -c -v '^sesverify-milter\[[0-9]*\]: ' "$ML_LOG")
is "$bad" 0 "no log line without the program's prefix (no forged/continued lines)"
is "$(grep -c $'\r' "$ML_LOG")" 0 "no raw CR in the log"
is "$(grep -c '^sesverify-milter\[1\]' "$ML_LOG")" 0 "the forged log line did not become a line of its own"
longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$ML_LOG")
[ "$longest" -le 2048 ]
tap_ok $? "longest log line $longest octets (bounded, <= 2048)"
grep -q '%s%n' "$ML_LOG"
tap_ok $? "'%s%n' is logged literally (data is never a format)"
replies=$(grep -o 'reply="[^"]*"' "$ML_LOG")
! printf '%s\n' "$replies" | grep -q '[^[:print:]]'
tap_ok $? "every reply text is printable ASCII"
! printf '%s\n' "$replies" | sed 's/%%//g' | grep -q '%'
tap_ok $? "no single '%' in a reply text (libmilter would drop the text)"
like "$(grep 'qid=QINJ'"$n"' ' "$ML_LOG")" 'reply="550 5\.7\.1 unverified\.test: ' "custom reply names the clean domain"
tap_done
