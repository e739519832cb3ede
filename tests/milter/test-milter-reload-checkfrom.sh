#!/bin/bash
# test-milter-reload-checkfrom.sh - a CheckFrom changed by a reload applies to
# every message after the reload: on connections opened before it (the
# milter always negotiates the header steps and decides per message from the
# configuration current at MAIL FROM) and on new ones.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/milter-lib.sh"

ml_setup
ml_conf "CheckFrom envelope"
ml_start || { echo "Bail out! milter did not start"; exit 1; }

# reload_to LINE... - a script (run by msg.lua between two messages of one
# connection) that installs a config with LINE... and reloads the milter
reload_to() {
	local conf=$ML_DIR/next.conf
	cp "$ML_CONF" "$ML_CONF.keep"
	ml_conf "$@"
	mv -f "$ML_CONF" "$conf"
	mv -f "$ML_CONF.keep" "$ML_CONF"
	cat >"$ML_DIR/reload.sh" <<SH
#!/bin/bash
n=\$(grep -c 'configuration reloaded' '$ML_LOG')
mv -f '$conf' '$ML_CONF'
kill -USR1 $ML_PID
for ((i = 0; i < 200; i++)); do
	[ "\$(grep -c 'configuration reloaded' '$ML_LOG')" -gt "\$n" ] && exit 0
	sleep 0.05
done
echo "no reload within 10 s" >&2
exit 1
SH
	chmod +x "$ML_DIR/reload.sh"
}

ml_msg "CheckFrom envelope: verified envelope accepted at MAIL FROM" \
	from='<a@verified.test>' expect_mail=accept

# envelope -> envelope,header between two messages of one connection
reload_to "CheckFrom envelope,header"
ml_msg "reload to envelope,header between two messages: the second one's From: is checked" \
	from='<a@verified.test>' expect_mail=accept between="$ML_DIR/reload.sh" \
	from2='<b@verified.test>' expect_mail2=continue hfrom_2='Bob <bob@unverified.test>' \
	expect_eoh2=reply
like "$(grep 'from=header domain=unverified.test' "$ML_LOG" | tail -n 1)" \
	'qid=QID2 .*state=unverified action=reject reply="550 5\.7\.1 ' \
	"same connection: the From: decision after the reload is logged"
ml_msg "new connection after the reload: From: unverified.test rejected" \
	from='<a@verified.test>' hfrom='x@unverified.test' expect_eoh=reply
ml_msg "new connection after the reload: From: verified.test accepted" \
	from='<a@verified.test>' hfrom='x@verified.test' expect_eoh=accept

# envelope,header -> envelope: the From: is no longer looked at
reload_to "CheckFrom envelope"
n=$(ml_log_count 'from=header')
ml_msg "reload to envelope between two messages: the second one accepted at MAIL FROM" \
	from='<a@verified.test>' hfrom='x@unverified.test' expect_eoh=reply \
	between="$ML_DIR/reload.sh" from2='<b@verified.test>' expect_mail2=accept
ml_msg "new connection after the reload: accepted at MAIL FROM, From: not read" \
	from='<a@verified.test>' hfrom='x@unverified.test' expect_mail=accept
is "$(ml_log_count 'from=header')" "$((n + 1))" "after the reload no From: decision (only the one before it)"

# header only -> envelope,header: the envelope is checked from the next message on
ml_stop
ml_conf "CheckFrom header"
: >"$ML_LOG"
ml_start || { echo "Bail out! milter did not start"; exit 1; }
reload_to "CheckFrom envelope,header"
ml_msg "reload header -> envelope,header: unverified envelope of the next message rejected" \
	from='<a@unverified.test>' hfrom='x@verified.test' expect_eoh=accept \
	between="$ML_DIR/reload.sh" from2='<b@unverified.test>' expect_mail2=reply
ml_stop
is "$ML_STATUS" 0 "stopped cleanly"
tap_done
