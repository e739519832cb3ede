#!/bin/sh
# contrib/prometheus/sesverify-textfile.sh - write the running milter's
# metrics ("sesverify stats --prometheus") for node_exporter's textfile
# collector, atomically: into a temporary file in the same directory, then
# renamed over sesverify.prom, so the collector never reads half a file.
# On failure the old file is left as it was (its age shows the problem:
# node_textfile_mtime_seconds) and the status is non-zero.
#
# usage: sesverify-textfile.sh [DIR [CONFIG]]
#   DIR     textfile directory (default /var/lib/prometheus/node-exporter,
#           Debian's prometheus-node-exporter)
#   CONFIG  sesverify-milter.conf (default: the CLI's default)
# SESVERIFY=/path/to/sesverify overrides the CLI found in PATH.
set -u
dir=${1:-/var/lib/prometheus/node-exporter}
conf=${2:-}
cli=${SESVERIFY:-sesverify}

tmp=$(mktemp "$dir/.sesverify.prom.XXXXXX") || exit 1
trap 'rm -f "$tmp"' EXIT
if [ -n "$conf" ]; then
	"$cli" -c "$conf" stats --prometheus >"$tmp" || exit 1
else
	"$cli" stats --prometheus >"$tmp" || exit 1
fi
chmod 0644 "$tmp" && mv -f "$tmp" "$dir/sesverify.prom" || exit 1
trap - EXIT
