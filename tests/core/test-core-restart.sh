#!/bin/bash
# test-core-restart.sh - persistence and outages: a restart from the snapshot
# makes no API call for fresh entries; a corrupt snapshot is ignored (start
# empty, no crash); with the API down a stale verified entry stays verified
# (serve-stale) and a never-seen domain ends in error.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/emulator/emulator-lib.sh"
. "$top_srcdir/tests/core/core-lib.sh"
core_init
dir=$(mktmp)

core_scenario "$dir/scen.json" 50 s verified none
emu_start "$dir/emu" "$dir/scen.json" || { not_ok "emulator starts"; tap_done; }
ok "emulator starts"
ns=$(dead_ns)
core_conf "$dir/sv.conf" "WarmUp no" "CacheFile $dir/cache" "Nameserver $ns" "DnsTimeout 100ms"
for i in $(seq 0 49); do printf 's%03d.test\n' "$i"; done >"$dir/domains"
echo unverified.test >>"$dir/domains"
echo notexist.test >>"$dir/domains"

# warm-up: the identity list answers listed domains; enabled ones cost no UpdateEmailIdentity
core_conf "$dir/warm.conf" "WarmUp yes" "CacheFile $dir/cache-warm" "Nameserver $ns" "DnsTimeout 100ms"
"$DRIVE" -c "$dir/warm.conf" -t 5000 -S verified.test unverified.test notlisted.test >"$dir/outw" 2>"$dir/errw"
tap_ok $? "warm-up run"
like "$(grep '^verified.test ' "$dir/outw")" '^verified.test verified ' "warm-up: listed and enabled is verified"
is "$(emu_count UpdateEmailIdentity verified.test)" 0 "... without an UpdateEmailIdentity"
like "$(grep '^unverified.test ' "$dir/outw")" '^unverified.test unverified ' "listed, not enabled: asked, unverified"
is "$(emu_count UpdateEmailIdentity unverified.test)" 1 "... with one UpdateEmailIdentity"
like "$(grep '^notlisted.test ' "$dir/outw")" '^notlisted.test not_exist ' "absent from the list: not_exist"
is "$(emu_count UpdateEmailIdentity notlisted.test)" 0 "... without an UpdateEmailIdentity"

"$DRIVE" -c "$dir/sv.conf" -f "$dir/domains" -q >"$dir/out1" 2>"$dir/err1"
tap_ok $? "first run"
is "$(awk '$1=="count" && $2=="verified" {print $3}' "$dir/out1")" 50 "50 verified"
ok_mode=$(stat -c %a "$dir/cache" 2>/dev/null)
is "$ok_mode" 600 "snapshot written at exit, mode 0600"
head -1 "$dir/cache" | grep -q '^sesverify-cache	1	'
tap_ok $? "snapshot has the documented header"
calls1=$(emu_count UpdateEmailIdentity)

"$DRIVE" -c "$dir/sv.conf" -f "$dir/domains" -q -S >"$dir/out2" 2>"$dir/err2"
tap_ok $? "restart"
is "$(emu_count UpdateEmailIdentity)" "$calls1" "restart from the snapshot: zero UpdateEmailIdentity"
is "$(awk '$1=="count" && $2=="verified" {print $3}' "$dir/out2")" 50 "answers come from the snapshot"
is "$(awk '$1=="count" && $2=="not_exist" {print $3}' "$dir/out2")" 1 "not_exist kept too"
is "$(awk '$1=="count" && $2=="unverified" {print $3}' "$dir/out2")" 1 "unverified kept too"

# a snapshot of 100,000 fresh entries: no API call at all after the restart
core_conf "$dir/big.conf" "WarmUp no" "CacheFile $dir/cache-big" "Nameserver $ns" "MaxEntries 200000"
"$DRIVE" -c "$dir/big.conf" -G 100000 >"$dir/outg" 2>"$dir/errg"
like "$(cat "$dir/outg")" '^generated 100000$' "snapshot of 100,000 records written"
seq -f 'g%06g.test' 0 99999 >"$dir/big-domains"
before=$(emu_count '*')
"$DRIVE" -c "$dir/big.conf" -f "$dir/big-domains" -t 100 -q -S >"$dir/outb" 2>"$dir/errb"
tap_ok $? "restart with 100,000 records"
is "$(awk '$1=="count" && $2=="verified" {print $3}' "$dir/outb")" 100000 "all 100,000 answered from the snapshot"
is "$(($(emu_count '*') - before))" 0 "zero API requests of any kind"
diag "$(grep -E '^elapsed' "$dir/outb")"

# corrupt and foreign snapshots are logged and ignored
for kind in truncate garbage future; do
	cp "$dir/cache" "$dir/cache.good"
	case $kind in
	truncate) head -c 300 "$dir/cache.good" >"$dir/cache" ;;
	garbage) head -c 4096 /dev/urandom >"$dir/cache" ;;
	future) sed '1s/^sesverify-cache	1	/sesverify-cache	9	/' "$dir/cache.good" >"$dir/cache" ;;
	esac
	"$DRIVE" -c "$dir/sv.conf" -t 1 -q s000.test >"$dir/out-$kind" 2>"$dir/err-$kind"
	tap_ok $? "$kind snapshot: no crash"
	grep -q 'snapshot ignored' "$dir/err-$kind"
	tap_ok $? "$kind snapshot: logged and ignored ($(grep -o 'ignored.*' "$dir/err-$kind" | head -c 80))"
	cp "$dir/cache.good" "$dir/cache"
done

# API down: a fresh entry answers, a stale verified one keeps serving, a new one errors
core_conf "$dir/short.conf" "WarmUp no" "CacheFile $dir/cache2" "Nameserver $ns" "DnsTimeout 100ms" \
	"VerifiedTTL 1s" "ErrorTTL 1s" "ApiTimeout 1s"
"$DRIVE" -c "$dir/short.conf" -q s001.test >/dev/null 2>&1
emu_stop
sleep 1.2
"$DRIVE" -c "$dir/sv.conf" -t 3000 s002.test >"$dir/out5" 2>"$dir/err5"
like "$(grep '^s002.test ' "$dir/out5")" '^s002.test verified stale=0' "API down, fresh entry: verified"
"$DRIVE" -c "$dir/short.conf" -t 3000 -r 2 -i 300 s001.test >"$dir/out6" 2>"$dir/err6"
like "$(grep '^s001.test ' "$dir/out6")" '^s001.test verified stale=1 code=[A-Za-z]' \
	"API down, stale verified entry: still verified, error recorded"
"$DRIVE" -c "$dir/sv.conf" -t 8000 brand-new.test >"$dir/out7" 2>"$dir/err7"
like "$(grep '^brand-new.test ' "$dir/out7")" '^brand-new.test error ' "API down, no entry: error"
tap_done
