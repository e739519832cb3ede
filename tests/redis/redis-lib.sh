# tests/redis/redis-lib.sh - a private redis-server for a test (sourced after tests/lib.sh).
#
#   redis_start DIR [ARGS...]  start redis-server on DIR/redis.sock (and no TCP
#                              port unless ARGS give one); sets REDIS_SOCK and
#                              REDIS_PID; stopped at exit.  Never the system one.
#   rcli ARGS...               redis-cli on $REDIS_SOCK
command -v redis-server >/dev/null 2>&1 || skip_all "redis-server not installed (Debian redis-server)"
grep -q '^#define HAVE_HIREDIS 1' "$top_builddir/config.h" 2>/dev/null ||
	skip_all "built without Redis support (configure --with-redis)"
RL_DRIVE=$top_builddir/tests/redis/rl-drive

redis_start() {
	local dir=$1 i
	shift
	mkdir -p "$dir"
	REDIS_SOCK=$dir/redis.sock
	redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 --save '' \
		--appendonly no --dir "$dir" --logfile "$dir/redis.log" "$@" &
	REDIS_PID=$!
	at_exit "kill -CONT $REDIS_PID 2>/dev/null; kill $REDIS_PID 2>/dev/null"
	for i in $(seq 1 100); do
		[ -S "$REDIS_SOCK" ] && return 0
		sleep 0.1
	done
	return 1
}

rcli() {
	redis-cli -s "$REDIS_SOCK" "$@"
}

# max_per_second FILE - the most "A US" lines in any sliding second
max_per_second() {
	awk '$1=="A" {print $2}' "$@" | sort -n | awk '
		{ t[NR] = $1 }
		END { j = 1; m = 0
		      for (i = 1; i <= NR; i++) { while (t[i] - t[j] >= 1000000) j++; if (i - j + 1 > m) m = i - j + 1 }
		      print m }'
}
