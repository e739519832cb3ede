#!/bin/bash
# test-redis-answers.sh - lib/redis_answers.c (shared records, pub/sub,
# refresh lease) against a private redis-server: runs answers-test.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/redis/redis-lib.sh"
dir=$(mktmp)
redis_start "$dir/r" || { echo "1..1"; echo "not ok 1 - redis-server starts"; exit 1; }
"$top_builddir/tests/redis/answers-test" "unix:$REDIS_SOCK"
