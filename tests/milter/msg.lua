-- tests/milter/msg.lua - one SMTP session against sesverify-milter (miltertest).
--
-- Driven by globals given with "miltertest -D name=value":
--   socket        milter socket (required)
--   ip, host      client address and name (default 127.0.0.1, client.test)
--   daemon        {daemon_name} macro at connect
--   auth          {auth_authen} macro at MAIL
--   from          envelope sender, e.g. <a@verified.test>
--   expect_mail   continue | accept | reply (custom 4xx/5xx) | reject | tempfail
--   hfrom, hfrom2 From: header value(s); nofrom=1 sends none
--   expect_eoh    like expect_mail, for the end of headers (default continue)
--   expect_hdr    exact X-SESVerify value added at end of message
--   from2, expect_mail2  a second message on the same connection
--   hfrom_2, expect_eoh2  its From: header and end-of-headers answer
--   between       shell command run between the two messages (e.g. a reload)
--   steps=header  check the negotiated protocol steps (the milter asks for
--                 headers and EOH whatever CheckFrom says; steps=envelope
--                 would expect neither)
--   rset=1        abort (RSET) after the first message's headers
local function opt(name, default)
	local v = _G[name]
	if v == nil or v == "" then
		return default
	end
	return v
end

local codes = {
	continue = SMFIR_CONTINUE,
	accept = SMFIR_ACCEPT,
	reply = SMFIR_REPLYCODE,
	reject = SMFIR_REJECT,
	tempfail = SMFIR_TEMPFAIL,
}

local function expect(conn, what, stage)
	local got = mt.getreply(conn)
	local want = codes[what]
	if want == nil then
		error("bad expectation " .. tostring(what))
	end
	if got ~= want then
		error(string.format("%s: got reply %q, expected %s (%q)", stage,
			string.char(got), what, string.char(want)))
	end
	mt.echo(stage .. ": " .. what)
end

mt.set_timeout(20)
local conn = mt.connect(opt("socket"), 50, 0.1)
if conn == nil then
	error("cannot connect to " .. tostring(opt("socket")))
end
if opt("daemon") then
	mt.macro(conn, SMFIC_CONNECT, "{daemon_name}", opt("daemon"))
end
if mt.conninfo(conn, opt("host", "client.test"), opt("ip", "127.0.0.1")) ~= nil then
	error("conninfo failed")
end

-- negotiation: only the steps the configuration needs
if opt("steps") then
	local function need(flag, name, want)
		if mt.test_option(conn, flag) ~= want then
			error(string.format("negotiation: %s %s", name, want and "not requested" or "requested"))
		end
	end
	need(SMFIP_NOHELO, "SMFIP_NOHELO", true)
	need(SMFIP_NORCPT, "SMFIP_NORCPT", true)
	need(SMFIP_NOBODY, "SMFIP_NOBODY", true)
	need(SMFIP_NOUNKNOWN, "SMFIP_NOUNKNOWN", true)
	need(SMFIP_NODATA, "SMFIP_NODATA", true)
	need(SMFIP_NOHDRS, "SMFIP_NOHDRS", opt("steps") == "envelope")
	need(SMFIP_NOEOH, "SMFIP_NOEOH", opt("steps") == "envelope")
	if not mt.test_action(conn, SMFIF_ADDHDRS) then
		error("negotiation: SMFIF_ADDHDRS not requested")
	end
	mt.echo("negotiated steps fit CheckFrom " .. opt("steps"))
end

-- one message; returns true when the filter wants the rest of it
local function message(from, expect_mail, qid)
	if opt("auth") then
		mt.macro(conn, SMFIC_MAIL, "{auth_authen}", opt("auth"), "i", qid)
	else
		mt.macro(conn, SMFIC_MAIL, "i", qid)
	end
	if mt.mailfrom(conn, from) ~= nil then
		error("mailfrom failed")
	end
	expect(conn, expect_mail, "MAIL FROM " .. from)
	return expect_mail == "continue"
end

if message(opt("from", "<alice@verified.test>"), opt("expect_mail", "continue"), "QID1") then
	if not mt.test_option(conn, SMFIP_NORCPT) then
		mt.rcptto(conn, "<bob@example.net>")
	end
	if not mt.test_option(conn, SMFIP_NOHDRS) then
		if opt("nofrom") == nil then
			mt.header(conn, "From", opt("hfrom", "Alice <alice@verified.test>"))
		end
		if opt("hfrom2") then
			mt.header(conn, "From", opt("hfrom2"))
		end
		mt.header(conn, "Subject", "test")
	end
	local go_on = opt("rset") == nil -- RSET right after the headers
	if go_on and not mt.test_option(conn, SMFIP_NOEOH) then
		if mt.eoh(conn) ~= nil then
			error("eoh failed")
		end
		expect(conn, opt("expect_eoh", "continue"), "EOH")
		go_on = opt("expect_eoh", "continue") == "continue"
	end
	if go_on then
		if mt.eom(conn) ~= nil then
			error("eom failed")
		end
		local want = opt("expect_hdr")
		local got = mt.getheader(conn, "X-SESVerify", 0)
		if want ~= nil and got ~= want then
			error(string.format("X-SESVerify: got %q, expected %q", tostring(got), want))
		end
		if want == nil and got ~= nil then
			error("unexpected X-SESVerify: " .. got)
		end
		mt.echo("X-SESVerify: " .. tostring(got))
	end
end

if opt("from2") then
	if opt("rset") then
		mt.abort(conn)
	end
	if opt("between") then
		mt.echo("between the messages: " .. opt("between"))
		if not os.execute(opt("between")) then
			error("command between the messages failed: " .. opt("between"))
		end
	end
	if message(opt("from2"), opt("expect_mail2", "continue"), "QID2") and opt("hfrom_2") then
		-- an MTA sends no headers and no EOH that were not negotiated:
		-- then the From: of this message is never seen by the filter
		if mt.test_option(conn, SMFIP_NOHDRS) or mt.test_option(conn, SMFIP_NOEOH) then
			error("second message: headers/EOH not negotiated on this connection, From: unchecked")
		end
		mt.header(conn, "From", opt("hfrom_2"))
		if mt.eoh(conn) ~= nil then
			error("eoh failed")
		end
		expect(conn, opt("expect_eoh2", "continue"), "EOH (second message)")
	end
end
mt.disconnect(conn)
