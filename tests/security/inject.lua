-- tests/security/inject.lua - one message with hostile sender text (miltertest).
-- Globals ("miltertest -D name=value"): socket; from_file (file holding the
-- raw envelope sender: CR, LF, NUL and long values do not survive -D);
-- hfrom_file (From: header value, optional); qid.  Prints the reply at MAIL and,
-- when the message goes on, at end of headers as "REPLY <stage> <code>".
local function slurp(path)
	local f = assert(io.open(path, "rb"))
	local s = f:read("*a")
	f:close()
	return s
end

local names = {
	[SMFIR_CONTINUE] = "continue", [SMFIR_ACCEPT] = "accept",
	[SMFIR_REPLYCODE] = "reply", [SMFIR_REJECT] = "reject",
	[SMFIR_TEMPFAIL] = "tempfail", [SMFIR_DISCARD] = "discard",
}

mt.set_timeout(20)
local conn = mt.connect(socket, 50, 0.1)
if conn == nil then
	error("cannot connect to " .. tostring(socket))
end
if mt.conninfo(conn, "client.test", "127.0.0.1") ~= nil then
	error("conninfo failed")
end
mt.macro(conn, SMFIC_MAIL, "i", qid or "QIDX")
if mt.mailfrom(conn, slurp(from_file)) ~= nil then
	error("mailfrom failed")
end
local r = mt.getreply(conn)
mt.echo("REPLY mail " .. (names[r] or string.char(r)))
if r == SMFIR_CONTINUE then
	if not mt.test_option(conn, SMFIP_NORCPT) then
		mt.rcptto(conn, "<bob@example.net>")
	end
	if not mt.test_option(conn, SMFIP_NOHDRS) then
		mt.header(conn, "From", hfrom_file and slurp(hfrom_file) or "a@verified.test")
		mt.header(conn, "Subject", "test")
	end
	if not mt.test_option(conn, SMFIP_NOEOH) then
		if mt.eoh(conn) ~= nil then
			error("eoh failed")
		end
		r = mt.getreply(conn)
		mt.echo("REPLY eoh " .. (names[r] or string.char(r)))
	end
end
mt.disconnect(conn)
