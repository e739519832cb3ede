#!/bin/bash
# tests/style/test-includes.sh - the library is the boundary: no file under
# milter/ includes a header of lib/ other than the public sesverify.h (what
# both sides share lives in util/), and the daemon and the CLI link the
# shared libsesverify, never the convenience copy with its internals.
. "$top_srcdir/tests/lib.sh"
cd "$top_srcdir" || exit 1

n=0
bad=""
for f in milter/*.c milter/*.h; do
	n=$((n + 1))
	# #include "X" and #include <X>: X is internal when lib/X exists
	for h in $(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([^">]+)[">].*/\1/p' "$f"); do
		if [ "$h" != sesverify.h ] && [ -f "lib/$h" ]; then
			bad="$bad $f:$h"
		fi
	done
done
if [ "$n" -ge 10 ]; then ok "milter/ holds $n sources and headers"; else not_ok "milter/ sources found ($n)"; fi
is "${bad# }" "" "no file under milter/ includes a library-internal header"

# the programs' link lines: milter/milter.am
for prog in milter_sesverify_milter milter_sesverify; do
	ldadd=$(sed -n "/^${prog}_LDADD *=/,/[^\\\\]\$/p" milter/milter.am | tr -d '\\\n')
	like "$ldadd" 'lib/libsesverify\.la' "$prog links lib/libsesverify.la"
	case $ldadd in
	*libsvinternal*) not_ok "$prog does not link lib/libsvinternal.la ($ldadd)" ;;
	*) ok "$prog does not link lib/libsvinternal.la" ;;
	esac
done
tap_done
