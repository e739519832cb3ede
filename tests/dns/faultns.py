#!/usr/bin/env python3
# tests/dns/faultns.py - scripted fault DNS server for the pre-check tests.
#
# Owns: the broken and hostile DNS behaviours that a real authoritative
# server (nsd, see dns-lib.sh) cannot produce: SERVFAIL, silence, malformed
# packets, wrong IDs/questions, CNAME loops, oversized answers.  It serves
# only the names below and answers REFUSED to everything else, so that it
# can sit behind nsd in one Nameserver list (nsd refers these names here).
#
# Why not ldns-testns (ldnsutils): it binds 0.0.0.0 only (ldns 1.8.3
# examples/ldns-testns.c bind_port uses INADDR_ANY) and the test suite
# must never bind anything but 127.0.0.1.  This server binds 127.0.0.1.
#
#   servfail.test and below        SERVFAIL
#   timeout.test and below         never answers (UDP dropped, TCP held open)
#   *.hostile.test SOA             NOERROR NODATA, SOA of hostile.test in authority
#   bigtxt.hostile.test TXT        UDP: TC; TCP: one 5000-byte TXT in 20 strings
#   many.hostile.test TXT          UDP: TC; TCP: 300 TXT records
#   many70.hostile.test TXT        UDP: TC; TCP: 70 TXT records
#   loop.hostile.test TXT          CNAME loop loop -> loop2 -> loop
#   chain.hostile.test TXT         12-hop CNAME chain ending in an SPF TXT
#   wrongtype.hostile.test TXT     an A record instead
#   wrongid.hostile.test           reply ID differs from the query's
#   wrongq.hostile.test            reply question names another name
#   malformed.hostile.test         truncated packet (ancount 1, no RR)
#   garbage.hostile.test           12 bytes of header with qdcount 9, nothing else
#   outside.hostile.test TXT       CNAME to target.hostile.test only (re-query needed)
#   target.hostile.test TXT        "v=spf1 include:qcloudmail.com ~all"
#   nultxt.hostile.test TXT        an SPF-looking TXT with an embedded NUL
#   tcponly.hostile.test TXT       UDP: TC; TCP: the SPF record
#   alwaystc.hostile.test TXT      TC, over UDP and over TCP
#   notcp.hostile.test TXT         UDP: TC; TCP: the connection is closed unanswered
#   nosoa.hostile.test SOA         NOERROR with empty answer and authority
#   notqr.hostile.test             reply without the QR (response) bit
#   noq.hostile.test               reply with no question section (qdcount 0)
#   rcode11.hostile.test           rcode 11, which has no name
#   twocname.hostile.test          two CNAMEs at one name (to target and to outside)
#   hopN.hostile.test              CNAME to hop(N+1) only: every answer needs a re-query
#
# Usage: faultns.py PORT   (prints "ready" on stdout once listening)
import os
import socket
import struct
import sys
import threading

QR, AA, TC, RD = 0x8000, 0x0400, 0x0200, 0x0100
T_A, T_NS, T_CNAME, T_SOA, T_TXT = 1, 2, 5, 6, 16
SPF = b"v=spf1 include:qcloudmail.com ~all"
HANGUP = b""  # answer(): close the TCP connection without a reply


def enc_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def rr(name, rtype, rdata):
    return enc_name(name) + struct.pack("!HHIH", rtype, 1, 300, len(rdata)) + rdata


def txt(name, *strings):
    data = b"".join(bytes([len(s)]) + s for s in strings)
    return rr(name, T_TXT, data)


def cname(name, target):
    return rr(name, T_CNAME, enc_name(target))


def soa(name):
    rdata = enc_name("ns.fault.test") + enc_name("hostmaster.fault.test")
    return rr(name, T_SOA, rdata + struct.pack("!IIIII", 1, 3600, 600, 86400, 300))


def parse_query(pkt):
    """(id, flags, qname_lower, qtype, question_bytes) or None."""
    if len(pkt) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", pkt[:6])
    if qd != 1:
        return None
    pos, labels = 12, []
    while True:
        if pos >= len(pkt):
            return None
        n = pkt[pos]
        pos += 1
        if n == 0:
            break
        if n > 63 or pos + n > len(pkt):
            return None
        labels.append(pkt[pos:pos + n].decode("latin-1"))
        pos += n
    if pos + 4 > len(pkt):
        return None
    qtype = struct.unpack("!H", pkt[pos:pos + 2])[0]
    return qid, flags, ".".join(labels).lower(), qtype, pkt[12:pos + 4]


def reply(q, rcode=0, flags=QR | AA, answer=(), authority=(), question=None, qid=None):
    qid0, qflags, _, _, qbytes = q
    hdr = struct.pack("!HHHHHH", q[0] if qid is None else qid,
                      flags | (qflags & RD) | rcode, 1, len(answer), len(authority), 0)
    return hdr + (qbytes if question is None else question) + b"".join(answer) + b"".join(authority)


def under(name, zone):
    return name == zone or name.endswith("." + zone)


def answer(q, tcp):
    """The reply bytes for a query, or None to stay silent."""
    _, _, name, qtype, _ = q
    if under(name, "timeout.test"):
        return None
    if under(name, "servfail.test"):
        return reply(q, rcode=2, flags=QR)
    if not under(name, "hostile.test"):
        return reply(q, rcode=5, flags=QR)
    if qtype == T_SOA and name == "nosoa.hostile.test":
        return reply(q)  # NOERROR, nothing at all (a forwarder that drops authority)
    if qtype == T_SOA:
        # NODATA below the apex, as a real authoritative server answers
        if name == "hostile.test":
            return reply(q, answer=[soa("hostile.test")])
        return reply(q, authority=[soa("hostile.test")])
    h = name[: -len(".hostile.test")] if name != "hostile.test" else ""
    if h == "alwaystc":
        return reply(q, flags=QR | AA | TC)
    if h == "notcp":
        return reply(q, flags=QR | AA | TC) if not tcp else HANGUP
    if h in ("bigtxt", "many", "many70", "tcponly") and not tcp:
        return reply(q, flags=QR | AA | TC)
    if h == "bigtxt":
        return reply(q, answer=[txt(name, *([b"x" * 250] * 20))])
    if h == "many":
        return reply(q, answer=[txt(name, b"record-%03d" % i) for i in range(300)])
    if h == "many70":
        return reply(q, answer=[txt(name, b"record-%03d" % i) for i in range(70)])
    if h == "tcponly":
        return reply(q, answer=[txt(name, SPF)])
    if h in ("loop", "loop2"):
        return reply(q, answer=[cname("loop.hostile.test", "loop2.hostile.test"),
                                cname("loop2.hostile.test", "loop.hostile.test")])
    if h == "chain":
        hops = [cname("chain.hostile.test", "c1.hostile.test")]
        hops += [cname("c%d.hostile.test" % i, "c%d.hostile.test" % (i + 1)) for i in range(1, 12)]
        return reply(q, answer=hops + [txt("c12.hostile.test", SPF)])
    if h == "wrongtype":
        return reply(q, answer=[rr(name, T_A, bytes([192, 0, 2, 1]))])
    if h == "wrongid":
        return reply(q, answer=[txt(name, SPF)], qid=q[0] ^ 0x5A5A)
    if h == "wrongq":
        other = enc_name("other.hostile.test") + struct.pack("!HH", qtype, 1)
        return reply(q, answer=[txt("other.hostile.test", SPF)], question=other)
    if h == "malformed":
        return struct.pack("!HHHHHH", q[0], QR | AA, 1, 1, 0, 0) + q[4] + b"\xc0\x0c\x00"
    if h == "garbage":
        return struct.pack("!HHHHHH", q[0], QR | AA, 9, 0, 0, 0)
    if h == "notqr":
        return reply(q, flags=AA, answer=[txt(name, SPF)])
    if h == "noq":
        return struct.pack("!HHHHHH", q[0], QR | AA | (q[1] & RD), 0, 1, 0, 0) + txt(name, SPF)
    if h == "rcode11":
        return reply(q, rcode=11, flags=QR)
    if h == "twocname":
        return reply(q, answer=[cname(name, "target.hostile.test"), cname(name, "outside.hostile.test")])
    if h.startswith("hop") and h[3:].isdigit():
        return reply(q, answer=[cname(name, "hop%d.hostile.test" % (int(h[3:]) + 1))])
    if h == "outside":
        return reply(q, answer=[cname(name, "target.hostile.test")])
    if h == "target":
        return reply(q, answer=[txt(name, SPF)])
    if h == "nultxt":
        return reply(q, answer=[txt(name, b"v=spf1 include:qcloudmail.com\0 ~all")])
    return reply(q, rcode=3, authority=[soa("hostile.test")])


def serve_udp(sock):
    while True:
        pkt, peer = sock.recvfrom(65535)
        q = parse_query(pkt)
        if q is None:
            continue
        out = answer(q, False)
        if out is not None:
            sock.sendto(out, peer)


def serve_tcp_conn(conn):
    held = []
    try:
        while True:
            head = conn.recv(2, socket.MSG_WAITALL)
            if len(head) < 2:
                return
            n = struct.unpack("!H", head)[0]
            pkt = conn.recv(n, socket.MSG_WAITALL)
            q = parse_query(pkt)
            if q is None:
                return
            out = answer(q, True)
            if out is None:
                held.append(q)  # keep the connection open and silent
                continue
            if out == HANGUP:
                return
            conn.sendall(struct.pack("!H", len(out)) + out)
    except OSError:
        pass
    finally:
        conn.close()


def serve_tcp(sock):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn,), daemon=True).start()


def bind_pair(port):
    """UDP and TCP sockets on one port of 127.0.0.1.  Port 0: the kernel
    picks the UDP port (never one in use), TCP takes the same number, and
    another is tried when that one is taken for TCP."""
    for _ in range(50 if port == 0 else 1):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", port))
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            t.bind(("127.0.0.1", u.getsockname()[1]))
        except OSError:
            u.close()
            t.close()
            if port:
                raise
            continue
        return u, t
    raise OSError("no port free for both UDP and TCP")


def main():
    # faultns.py PORT [PORT-FILE]: PORT 0 picks a free one; PORT-FILE then
    # receives its number (written once both sockets are bound)
    u, t = bind_pair(int(sys.argv[1]))
    t.listen(64)
    port = u.getsockname()[1]
    if len(sys.argv) > 2:
        with open(sys.argv[2] + ".new", "w") as f:
            f.write("%d\n" % port)
        os.replace(sys.argv[2] + ".new", sys.argv[2])
    threading.Thread(target=serve_tcp, args=(t,), daemon=True).start()
    print("ready", port, flush=True)
    serve_udp(u)


if __name__ == "__main__":
    main()
