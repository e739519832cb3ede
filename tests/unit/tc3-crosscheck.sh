#!/bin/bash
# tc3-crosscheck.sh - our TC3 signer against Tencent's official npm signer
#	(tencentcloud-sdk-nodejs-common, Sign.sign3) on generated inputs:
#	unicode domains, empty, long and binary payloads, day boundaries,
#	long keys.  The package is installed once into $top_builddir/_npm.
#	Skips only when node/npm are missing or the registry is unreachable.
. "$top_srcdir/tests/lib.sh"

command -v node >/dev/null 2>&1 || skip_all "npm unavailable (node not installed)"
command -v npm >/dev/null 2>&1 || skip_all "npm unavailable (npm not installed)"
cli="$top_builddir/tests/unit/tc3sign-cli"
[ -x "$cli" ] || { echo "Bail out! $cli not built"; exit 1; }

npmdir="$top_builddir/_npm"
pkg="$npmdir/node_modules/tencentcloud-sdk-nodejs-common"
if [ ! -f "$pkg/package.json" ]; then
	mkdir -p "$npmdir"
	if ! timeout 240 npm install --prefix "$npmdir" --no-audit --no-fund --no-package-lock \
		tencentcloud-sdk-nodejs-common >"$npmdir/install.log" 2>&1; then
		skip_all "npm unavailable (registry not reachable: $(tail -n 1 "$npmdir/install.log"))"
	fi
fi
[ -f "$pkg/package.json" ] || skip_all "npm unavailable (package did not install)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-tc3.XXXXXX")
at_exit "rm -rf '$tmp'"
node "$top_srcdir/tests/unit/tc3-crosscheck.js" "$cli" "$pkg" "$tmp"
