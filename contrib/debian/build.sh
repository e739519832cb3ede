#!/bin/sh
# contrib/debian/build.sh - build the sesverify Debian packages from this tree.
#
#	contrib/debian/build.sh [OUTDIR]
#
#	Copies the source tree (the files git knows, or all of it outside a
#	git checkout) to a temporary directory, puts contrib/debian there as
#	debian/ and runs "dpkg-buildpackage -us -uc -b".  The .deb, .changes
#	and .buildinfo files land in OUTDIR (default: the current directory).
#	The tree itself is not touched.
#
#	Needs the Build-Depends of contrib/debian/control (dpkg-buildpackage
#	names any that are missing).  DEB_BUILD_OPTIONS is passed on (e.g.
#	nocheck, parallel=N).  SV_DEB_VERSION=V first adds a changelog entry
#	for version V (used by tests/package/test-deb.sh to build an upgrade).
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-.}
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(dpkg-parsechangelog -l "$src/contrib/debian/changelog" -S Version)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sesverify-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
tree="$tmp/sesverify-$version"
mkdir "$tree"

if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# tracked and new (not ignored) files, as they are in the work tree
	git -C "$src" ls-files -z --cached --others --exclude-standard |
		(cd "$src" && xargs -0 sh -c 'for f; do [ -f "$f" ] && printf "%s\n" "$f"; done' sh) |
		tar -C "$src" -cf - -T - | tar -C "$tree" -xf -
else
	tar -C "$src" --exclude=./_build --exclude=./debian -cf - . | tar -C "$tree" -xf -
fi
rm -rf "$tree/debian"
cp -r "$tree/contrib/debian" "$tree/debian"
rm -f "$tree/debian/build.sh" "$tree/debian/README.md"

if [ -n "${SV_DEB_VERSION:-}" ]; then
	{
		printf 'sesverify (%s) unstable; urgency=medium\n\n' "$SV_DEB_VERSION"
		printf '  * Local build of version %s.\n\n' "$SV_DEB_VERSION"
		printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l "$tree/debian/changelog" -S Maintainer)" "$(date -R)"
		cat "$tree/debian/changelog"
	} >"$tree/debian/changelog.new"
	mv "$tree/debian/changelog.new" "$tree/debian/changelog"
fi

(cd "$tree" && dpkg-buildpackage -us -uc -b)
for f in "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.buildinfo; do
	[ -f "$f" ] && cp "$f" "$out/" && echo "$out/${f##*/}"
done
