-- tests/redis/fleet-mail.lua - one MAIL FROM per domain of a file, each on a
-- connection of its own, against one sesverify-milter (miltertest).
--
-- Globals ("miltertest -D name=value"):
--   socket   milter socket (required)
--   list     file of domains, one a line; each is sent as <a@DOMAIN>
-- Prints "DOMAIN REPLY" per domain (REPLY: the libmilter reply letter, or
-- "fail" when the session broke); never stops at one failure: the test
-- judges the decisions from the milter's log.
mt.set_timeout(30)
local n = 0
for dom in io.lines(socket and list or error("socket and list required")) do
	local conn = mt.connect(socket, 50, 0.1)
	local got = "fail"
	if conn ~= nil and mt.conninfo(conn, "client.test", "127.0.0.1") == nil then
		n = n + 1
		mt.macro(conn, SMFIC_MAIL, "i", string.format("Q%06d", n))
		if mt.mailfrom(conn, "<a@" .. dom .. ">") == nil then
			got = string.char(mt.getreply(conn))
		end
	end
	print(dom .. " " .. got)
	if conn ~= nil then
		mt.disconnect(conn)
	end
end
