#!/usr/bin/env python3
# tests/dns/mkzones.py - generate the nsd test zones from expected.tsv.
#
# Owns: the zone files and nsd.conf used by tests/dns/dns-lib.sh.  The record
# values come only from tests/dns/expected.tsv, so that the zones, the SES
# emulator and the tests can never drift apart; this script decides only
# which records each case serves right, wrong, differently spelled or not
# at all.
#
# Usage: mkzones.py EXPECTED_TSV OUTDIR NSD_PORT FAULT_PORT [--later-dkim]
#
# --later-dkim writes the zones' later state: later.test and strictspf.test
# gain their DKIM record, vanish.test and vanishu.test (names inside the
# parent zone, not zones of their own) are gone: NXDOMAIN, and mxmoved.test's
# MX moves from one wrong host to another.
#
# Layout: one zone per test domain (so each has an SOA at its apex like a
# real sender domain) plus a parent zone "test." that makes nxdomain.test
# NXDOMAIN and delegates servfail.test, timeout.test and hostile.test to
# the fault server (faultns.py).  nsd answers those with a referral; the
# pre-check treats a referral as "ask the next nameserver", so the one
# list "127.0.0.1@NSD,127.0.0.1@FAULT" reaches both servers.
import os
import sys

SERIAL_BASE = 2026112700
# names inside the parent zone "test." that the later state removes
VANISHING = ("vanish.test", "vanishu.test")


def load(tsv):
    rows = {}
    with open(tsv) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            domain, rtype, name, value = line.split("\t")
            rows.setdefault(domain, []).append((rtype, name, value))
    return rows


def q(s):
    """One zone-file character-string."""
    assert '"' not in s and "\\" not in s
    return '"' + s + '"'


def split_strings(value, size):
    return " ".join(q(value[i:i + size]) for i in range(0, len(value), size))


def head(domain, serial):
    return [
        "$ORIGIN %s." % domain,
        "$TTL 300",
        "@ IN SOA ns.test. hostmaster.test. %d 3600 600 86400 300" % serial,
        "@ IN NS ns.test.",
    ]


def records(domain, rows, later_dkim):
    """Zone lines for one case; each branch says how it differs from right."""
    out = []
    for rtype, name, value in rows:
        owner = name + "."
        dkim = "._domainkey." in name
        if rtype == "MX":
            if domain == "mxwrong.test" or (domain == "mxmoved.test" and not later_dkim):
                value = "mx.elsewhere.test."
            if domain == "mxmoved.test" and later_dkim:
                value = "mx.moved.test."
            if domain == "upper.test":
                value, owner = value.upper(), owner.upper()
            out.append("%s IN MX 10 %s" % (owner, value))
            out.append("%s IN MX 20 backup-mx.%s." % (owner, domain))
            continue
        if rtype != "TXT":
            out.append("%s IN %s %s" % (owner, rtype, value))
            continue
        if dkim:
            if domain in ("unverified.test", "vanishu.test") or (
                    domain in ("later.test", "strictspf.test") and not later_dkim):
                continue
            if domain == "cname.test":
                target = "key1._domainkey.%s." % domain
                out.append("%s IN CNAME %s" % (owner, target))
                owner = target
            if domain == "upper.test":
                # k= value in upper case, extra spaces, key split by a space
                p = value.index("p=") + 2
                key = value[p:]
                value = "v=DKIM1;  k=RSA;\tp=" + key[:100] + " " + key[100:]
                owner = owner.upper()
            if domain == "bigdkim.test":
                out.append("%s IN TXT %s" % (owner, split_strings(value, 200)))
                # padding RRs at the same name push the answer past 1232 bytes (EDNS buffer)
                for i in range(4):
                    out.append("%s IN TXT %s" % (owner, q(("padding-%d " % i) + "z" * 240)))
                continue
            out.append("%s IN TXT %s" % (owner, split_strings(value, 255)))
            continue
        # SPF at the apex
        if domain == "spfwrong.test":
            value = "v=spf1 include:spf.elsewhere.test ~all"
        if domain == "strictspf.test":
            # stricter than SES's "~all"; SES accepts it, the pre-check's rule does not
            value = value.replace("~all", "-all")
        if domain == "upper.test":
            value, owner = value.upper(), owner.upper()
        if domain == "unverified.test":
            # one SPF record made of two character-strings
            out.append("%s IN TXT %s %s" % (owner, q(value[:7]), q(value[7:])))
        else:
            out.append("%s IN TXT %s" % (owner, q(value)))
        out.append("%s IN TXT %s" % (owner, q("site-verification=%s" % domain)))
    return out


def parent(serial, rows, later):
    lines = head("test", serial) + [
        "ns IN A 127.0.0.1",
        "ns.fault IN A 127.0.0.1",
    ]
    for d in ("servfail", "timeout", "hostile"):
        lines.append("%s IN NS ns.fault.test." % d)
    if not later:
        for d in VANISHING:
            lines += records(d, rows.get(d, []), later)
    return lines


def main():
    tsv, outdir, port, fault_port = sys.argv[1:5]
    later = "--later-dkim" in sys.argv[5:]
    rows = load(tsv)
    serial = SERIAL_BASE + (1 if later else 0)
    os.makedirs(outdir, exist_ok=True)
    zones = {"test": parent(serial, rows, later)}
    # wild.test: every name below it exists (wildcard), for tests that need
    # many sender domains in DNS (tests/milter/test-milter-wait.sh)
    zones["wild.test"] = head("wild.test", serial) + [
        '* IN TXT "v=spf1 include:qcloudmail.com ~all"',
        "* IN MX 10 mxbiz1.qq.com.",
    ]
    for domain, rr in rows.items():
        if domain in ("nxdomain.test", "servfail.test", "timeout.test") + VANISHING:
            continue
        zones[domain] = head(domain, serial) + records(domain, rr, later)
    conf = [
        "server:",
        "    ip-address: 127.0.0.1",
        "    port: %s" % port,
        "    do-ip6: no",
        '    username: ""',
        '    chroot: ""',
        '    zonesdir: "%s"' % outdir,
        '    database: ""',
        '    zonelistfile: "%s/nsd.zonelist"' % outdir,
        '    xfrdfile: "%s/nsd.xfrd.state"' % outdir,
        '    xfrdir: "%s"' % outdir,
        '    pidfile: "%s/nsd.pid"' % outdir,
        '    logfile: "%s/nsd.log"' % outdir,
        "    server-count: 1",
        "    verbosity: 1",
        "    # response rate limiting would drop the benchmarks' and threads' queries",
        "    rrl-ratelimit: 0",
        "    rrl-whitelist-ratelimit: 0",
        "    # fault server for delegated names: %s" % fault_port,
        "remote-control:",
        "    control-enable: no",
    ]
    for z in sorted(zones):
        path = os.path.join(outdir, z + ".zone")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(zones[z]) + "\n")
        os.replace(tmp, path)
        conf += ["zone:", '    name: "%s"' % z, '    zonefile: "%s.zone"' % z]
    with open(os.path.join(outdir, "nsd.conf"), "w") as f:
        f.write("\n".join(conf) + "\n")


if __name__ == "__main__":
    main()
