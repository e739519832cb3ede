#!/bin/bash
# test-milter-cli.sh - sesverify-milter's command line: -V, -n on the sample
# and on a broken config (every "FILE:LINE: message"), usage errors, and a
# socket that cannot be opened (the supervisor gives up, exit 1).
. "$top_srcdir/tests/lib.sh"

bin=$top_builddir/milter/sesverify-milter
[ -x "$bin" ] || skip_all "sesverify-milter not built"
dir=$(mktmp)

like "$("$bin" -V)" '^sesverify-milter [0-9]+\.[0-9]+\.[0-9]+' "-V prints the version"

sample=$top_srcdir/contrib/sesverify-milter.conf.sample
if [ -f "$sample" ]; then
	out=$(TENCENTCLOUD_SECRET_ID=AKIDcli0test TENCENTCLOUD_SECRET_KEY=cli-n-secret-key "$bin" -n -c "$sample" 2>&1)
	rc=$?
	is "$rc" 0 "-n on the sample config, credentials in the environment: exit 0"
	is "$out" "" "-n on the sample config: silent"
	# no credentials from any source: the unit's ExecStartPre (-n) must refuse
	out=$(env -u TENCENTCLOUD_SECRET_ID -u TENCENTCLOUD_SECRET_KEY "$bin" -n -c "$sample" 2>&1)
	rc=$?
	is "$rc" 1 "-n without any credentials: exit 1"
	like "$out" "^$sample: no API credentials: set SecretId and SecretKey, or CredentialsFile" "-n without credentials says which keys to set"
	out=$(env -u TENCENTCLOUD_SECRET_ID TENCENTCLOUD_SECRET_KEY=cli-n-secret-key "$bin" -n -c "$sample" 2>&1)
	rc=$?
	is "$rc" 1 "-n with TENCENTCLOUD_SECRET_KEY alone: exit 1"
	like "$out" "TENCENTCLOUD_SECRET_KEY is set but TENCENTCLOUD_SECRET_ID is not" "-n names the missing variable"
	[[ $out != *cli-n-secret-key* ]]
	tap_ok $? "-n does not print the key"
else
	skip "-n on the sample config" "contrib/sesverify-milter.conf.sample missing" 7
fi

cat >"$dir/bad.conf" <<'CONF'
# a broken config
Mode sideways
UnknownWait 5 parsecs
NoSuchKey yes
ErrorAction reject
CONF
out=$("$bin" -n -c "$dir/bad.conf" 2>&1)
rc=$?
is "$rc" 1 "-n on a broken config: exit 1"
like "$out" "^$dir/bad\.conf:2: " "first error names file and line 2"
like "$out" "$dir/bad\.conf:3: " "second error: line 3"
like "$out" "$dir/bad\.conf:4: " "third error: line 4"
is "$(grep -c . <<<"$out")" 3 "exactly one line per error"

"$bin" -n -c "$dir/missing.conf" >/dev/null 2>&1
is "$?" 1 "-n on a missing file: exit 1"
"$bin" -x >/dev/null 2>&1
is "$?" 2 "unknown option: exit 2"
"$bin" -n -c "$dir/bad.conf" extra >/dev/null 2>&1
is "$?" 2 "stray argument: exit 2"

# the socket cannot be created: the worker says why, the supervisor gives up
cat >"$dir/ok.conf" <<CONF
ControlSocket unix:$dir/control.sock
CacheFile $dir/cache
WarmUp no
CONF
out=$(timeout 20 "$bin" -f -c "$dir/ok.conf" -p "unix:$dir/no/such/dir/m.sock" 2>&1)
rc=$?
is "$rc" 1 "unusable -p socket: exit 1 (no restart loop)"
like "$out" "cannot listen on milter socket unix:$dir/no/such/dir/m\.sock" "and says which socket"
# without -f: detach, PidFile holds the supervisor, SIGTERM removes it
cat >"$dir/d.conf" <<CONF
Socket unix:$dir/d-milter.sock
ControlSocket unix:$dir/d-control.sock
CacheFile $dir/d-cache
PidFile $dir/d.pid
WarmUp no
CONF
"$bin" -c "$dir/d.conf" >"$dir/d.out" 2>&1
is "$?" 0 "daemon start: the foreground process exits 0"
for ((i = 0; i < 100; i++)); do [ -s "$dir/d.pid" ] && [ -S "$dir/d-control.sock" ] && break; sleep 0.05; done
pid=$(cat "$dir/d.pid" 2>/dev/null)
at_exit "kill -9 $pid"
ppid=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')
[ -n "$ppid" ] && [ "$ppid" != "$$" ] && [ "$(ps -o tty= -p "$pid" | tr -d ' ')" = "?" ]
tap_ok $? "detached: not our child, no terminal"
[ -n "$(pgrep -P "$pid")" ]
tap_ok $? "the supervisor runs a worker"
kill -TERM "$pid"
for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null
tap_ok $((1 - $?)) "SIGTERM stops the daemon"
[ ! -e "$dir/d.pid" ] && [ -s "$dir/d-cache" ]
tap_ok $? "PidFile removed, snapshot written"
tap_done
