#!/bin/bash
# tests/cli/test-cli-cafile.sh - CAFile replaces the system trust store (issue 12 item 14).
#
# A CAFile holding only an unrelated CA makes the emulator's certificate fail
# with an error that names CAFile; the emulator's own CA works.  (The
# emulator's self-signed certificate is in no system store, so the first
# point passes only through CAFile.)
. "$top_srcdir/tests/cli/cli-lib.sh"

emu_start "$CLI_TMP/emu" || { echo "Bail out! the SES emulator did not start"; exit 1; }
conf=$CLI_TMP/sesverify.conf
cp "$EMU_CONF" "$conf"
echo "ApiTimeout 2s" >>"$conf"
chmod 600 "$conf"

sv -c "$conf" check --no-dns verified.test
is_rc 0 "CAFile with the emulator's CA: the certificate is trusted"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$CLI_TMP/other-key.pem" \
	-out "$CLI_TMP/other.pem" -days 2 -subj /CN=unrelated-ca >/dev/null 2>&1
sed "s|^CAFile .*|CAFile $CLI_TMP/other.pem|" "$conf" >"$CLI_TMP/otherca.conf"
chmod 600 "$CLI_TMP/otherca.conf"
before=$(emu_count '*')
sv -c "$CLI_TMP/otherca.conf" check --no-dns verified.test
is_rc 3 "CAFile with an unrelated CA only: exit 3"
like "$OUT$ERR" "Transport.TLS" "unrelated CA: a TLS error"
like "$OUT$ERR" "CAFile $CLI_TMP/other.pem" "unrelated CA: the error names CAFile and its path"
like "$OUT$ERR" "replaces the system" "unrelated CA: the error says CAFile replaces the system store"
is "$(emu_count '*')" "$before" "unrelated CA: no request reached the emulator"

# a CAFile that holds no certificate at all
: >"$CLI_TMP/empty.pem"
sed "s|^CAFile .*|CAFile $CLI_TMP/empty.pem|" "$conf" >"$CLI_TMP/emptyca.conf"
chmod 600 "$CLI_TMP/emptyca.conf"
sv -c "$CLI_TMP/emptyca.conf" check --no-dns verified.test
is_rc 3 "empty CAFile: exit 3"
like "$OUT$ERR" "CAFile $CLI_TMP/empty.pem" "empty CAFile: the error names CAFile"

for page in sesverify-milter.conf.5 sesverify.1; do
	like "$(grep -A12 '^\.B CAFile' "$top_srcdir/milter/$page" | tr '\n' ' ')" 'CAFile.{0,300}replaces the system store' \
		"$page says CAFile replaces the system store"
done
like "$(grep -B3 '^#CAFile' "$top_srcdir/contrib/sesverify-milter.conf.sample")" 'replaces the system store' \
	"the sample config says CAFile replaces the system store"

cli_no_secret
cli_done
