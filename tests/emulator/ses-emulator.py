#!/usr/bin/env python3
# ses-emulator.py - a local HTTPS emulator of the Tencent Cloud SES API
#
# Owns: the test double for SES 2020-10-02 (UpdateEmailIdentity,
# GetEmailIdentity, ListEmailIdentities) as the sesverify tests need it.
# Does not own: the scenario files (tests/emulator/scenarios/), the expected
# records (tests/dns/expected.tsv, shared with the DNS zones), or the test
# DNS server it may query.
#
# Every request is checked like the real API does: TC3-HMAC-SHA256 signature
# (computed here independently of the C library), timestamp skew (300 s),
# version, rate (--rate requests in any sliding second).  Answers come from a
# scenario file that is re-read whenever it changes, so tests can flip a
# domain at run time.  Faults (delay, HTTP 500/502, truncated or garbage JSON,
# connection reset) are injected per domain or globally at a given rate.
#
# Every request is logged as one JSON line (time, action, domain, result,
# code, request_id, http, fault, token).  The secret key, the token and the
# Authorization header are never logged or echoed.
#
# Python 3 standard library only.
import argparse
import collections
import datetime
import hashlib
import hmac
import http.server
import json
import os
import random
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import uuid

API_VERSION = "2020-10-02"
SERVICE = "ses"
MAX_SKEW = 300
MAX_BODY = 1 << 20
REGIONS = ("ap-guangzhou", "ap-hongkong", "ap-singapore")
FAULTS = ("http500", "http502", "truncated", "short", "garbage", "reset", "ratelimit")

# Messages shaped like the real ones (some in Chinese, so JSON carries
# \uXXXX escapes that the client must decode).
MESSAGES = {
    "AuthFailure.SignatureFailure": "The provided credentials could not be validated. "
    "Please check your signature is correct.",
    "AuthFailure.SignatureExpire": "Signature expired. Timestamp date is too far from the server time.",
    "AuthFailure.SecretIdNotFound": "The SecretId is not found, please ensure that your SecretId is correct.",
    "AuthFailure.InvalidAuthorization": "Authorization is invalid.",
    "AuthFailure.TokenFailure": "Token verification failed.",
    "AuthFailure.UnauthorizedOperation": "CAM签名/鉴权错误 (unauthorized operation).",
    "MissingParameter": "The request is missing a required parameter.",
    "NoSuchVersion": "The requested version does not exist or is not supported.",
    "UnsupportedRegion": "The region is not supported by this API.",
    "InvalidAction": "The requested action does not exist.",
    "InvalidParameter": "A parameter is invalid.",
    "InvalidParameterValue": "A parameter value is invalid.",
    "InvalidParameterValue.NotExistDomain": "域名不存在，请先创建发信域名 (the domain has not been created).",
    "RequestLimitExceeded": "Your current request times equals to `20` in a second, "
    "which exceeds the frequency limit `20` for a second. Please reduce the frequency of calls.",
    "InternalError": "内部错误 (internal error).",
    "FailedOperation.ServiceNotAvailable": "临时性错误，请求未生效，请重试 (temporary error, retry).",
    "LimitExceeded": "A quota limit was exceeded.",
    "OperationDenied": "The operation was denied.",
}


def now():
    return time.time()


# ---------------------------------------------------------------- signing
def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def hmac256(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def tc3_signature(secret_key, date, service, string_to_sign):
    """The TC3 derived-key chain (reference §1.4), key first, message second."""
    k_date = hmac256(("TC3" + secret_key).encode("utf-8"), date)
    k_service = hmac256(k_date, service)
    k_signing = hmac256(k_service, "tc3_request")
    return hmac.new(k_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


AUTH_RE = re.compile(
    r"^TC3-HMAC-SHA256 Credential=([^/,\s]+)/(\d{4}-\d{2}-\d{2})/([a-z0-9]+)/tc3_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$"
)


class ApiError(Exception):
    def __init__(self, code, message=None):
        super().__init__(code)
        self.code = code
        self.message = message or MESSAGES.get(code, code)


def check_signature(method, headers, body, credentials, token, skew=0.0):
    """Raise ApiError unless the request is signed like TC3 requires.

    headers: list of (name, value) as received.  credentials: {id: key}.
    skew: seconds the emulator's clock is ahead of the real one (a fault).
    """
    first = {}
    for name, value in headers:
        first.setdefault(name.lower(), value)
    for required in ("x-tc-action", "x-tc-timestamp", "x-tc-version"):
        if required not in first:
            raise ApiError("MissingParameter", "The request is missing a required header: %s." % required)
    auth = first.get("authorization")
    if auth is None:
        raise ApiError("AuthFailure.InvalidAuthorization", "The Authorization header is missing.")
    m = AUTH_RE.match(auth)
    if not m:
        raise ApiError("AuthFailure.InvalidAuthorization", "The Authorization header is malformed.")
    secret_id, date, service, signed, signature = m.groups()
    ts_text = first["x-tc-timestamp"]
    if not re.fullmatch(r"[0-9]{1,12}", ts_text):
        raise ApiError("InvalidParameterValue", "X-TC-Timestamp is not an integer.")
    ts = int(ts_text)
    if abs(now() + skew - ts) > MAX_SKEW:
        raise ApiError("AuthFailure.SignatureExpire")
    if first["x-tc-version"] != API_VERSION:
        raise ApiError("NoSuchVersion", "The version %s does not exist for ses." % first["x-tc-version"][:40])
    if secret_id not in credentials:
        raise ApiError("AuthFailure.SecretIdNotFound")
    want_token = token.get(secret_id)
    got_token = first.get("x-tc-token")
    if want_token is not None and got_token != want_token:
        raise ApiError("AuthFailure.TokenFailure")
    names = signed.split(";")
    if names != sorted(names) or len(set(names)) != len(names) or "content-type" not in names or "host" not in names:
        raise ApiError("AuthFailure.SignatureFailure", "SignedHeaders must list content-type and host, sorted.")
    canon = ""
    for name in names:
        if name not in first:
            raise ApiError("AuthFailure.SignatureFailure", "A signed header is missing: %s." % name)
        canon += "%s:%s\n" % (name, first[name].strip().lower())
    payload_hash = sha256_hex(body)
    if first.get("x-tc-content-sha256", "").strip() == "UNSIGNED-PAYLOAD":
        payload_hash = sha256_hex(b"UNSIGNED-PAYLOAD")
    canonical = "\n".join([method, "/", "", canon, signed, payload_hash])
    scope = "%s/%s/tc3_request" % (date, service)
    sts = "TC3-HMAC-SHA256\n%s\n%s\n%s" % (ts_text, scope, sha256_hex(canonical.encode("utf-8")))
    utc_date = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d")
    expect = tc3_signature(credentials[secret_id], date, service, sts)
    if service != SERVICE or date != utc_date or not hmac.compare_digest(expect, signature):
        raise ApiError("AuthFailure.SignatureFailure")
    ctype = first.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError("InvalidParameter", "Content-Type must be application/json.")
    region = first.get("x-tc-region")
    if not region:
        raise ApiError("MissingParameter", "The request is missing a required header: x-tc-region.")
    if region not in REGIONS:
        raise ApiError("UnsupportedRegion")
    return first["x-tc-action"], secret_id, got_token is not None


# ---------------------------------------------------------------- DNS
class DnsError(Exception):
    pass


TYPES = {"A": 1, "CNAME": 5, "MX": 15, "TXT": 16}


def dns_encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise DnsError("bad name %r" % name)
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def dns_read_name(msg, off):
    labels, jumps, end = [], 0, None
    while True:
        if off >= len(msg):
            raise DnsError("name runs past the message")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(msg):
                raise DnsError("truncated pointer")
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumps += 1
            if jumps > 32:
                raise DnsError("compression loop")
            continue
        if n & 0xC0:
            raise DnsError("bad label type")
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    return ".".join(labels).lower(), (end if end is not None else off)


def dns_exchange(server, port, query, qid, timeout):
    """UDP first, TCP when the answer is truncated (TC)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        for _ in range(2):
            s.sendto(query, (server, port))
            try:
                while True:
                    resp, _addr = s.recvfrom(65535)
                    if len(resp) >= 12 and struct.unpack("!H", resp[:2])[0] == qid:
                        break
                break
            except socket.timeout:
                resp = None
        if resp is None:
            raise DnsError("timeout")
    finally:
        s.close()
    if not resp[2] & 0x02:
        return resp
    t = socket.create_connection((server, port), timeout=timeout)
    try:
        t.sendall(struct.pack("!H", len(query)) + query)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
            chunk = t.recv(65535)
            if not chunk:
                raise DnsError("TCP answer truncated")
            buf += chunk
        return buf[2:2 + struct.unpack("!H", buf[:2])[0]]
    finally:
        t.close()


def dns_query(server, port, name, qtype, timeout=1.0):
    """Return (rcode, [(owner, type, value)]) for one question."""
    qid = random.randint(0, 0xFFFF)
    query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_encode_name(name) + struct.pack("!HH", TYPES[qtype], 1)
    msg = dns_exchange(server, port, query, qid, timeout)
    _id, flags, qd, an, _ns, _ar = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        _n, off = dns_read_name(msg, off)
        off += 4
    records = []
    for _ in range(an):
        owner, off = dns_read_name(msg, off)
        if off + 10 > len(msg):
            raise DnsError("truncated record")
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        if len(rdata) != rdlen:
            raise DnsError("truncated rdata")
        if rtype == 16:
            parts, i = [], 0
            while i < rdlen:
                n = rdata[i]
                parts.append(rdata[i + 1:i + 1 + n].decode("utf-8", "replace"))
                i += 1 + n
            records.append((owner, "TXT", "".join(parts)))
        elif rtype == 15:
            host, _e = dns_read_name(msg, off + 2)
            records.append((owner, "MX", host + "."))
        elif rtype == 5:
            host, _e = dns_read_name(msg, off)
            records.append((owner, "CNAME", host + "."))
        elif rtype == 1 and rdlen == 4:
            records.append((owner, "A", socket.inet_ntoa(rdata)))
        off += rdlen
    return flags & 0x0F, records


def dns_lookup(server, port, name, qtype):
    """Values of qtype at name, following CNAMEs (bounded)."""
    name = name.rstrip(".").lower()
    for _ in range(8):
        rcode, records = dns_query(server, port, name, qtype)
        if rcode not in (0, 3):
            raise DnsError("rcode %d" % rcode)
        target = name
        for _hop in range(8):
            vals = [v for (o, t, v) in records if o == target and t == qtype]
            if vals:
                return vals
            cn = [v for (o, t, v) in records if o == target and t == "CNAME"]
            if not cn:
                break
            target = cn[0].rstrip(".").lower()
        if target == name or qtype == "CNAME":
            return []
        name = target
    raise DnsError("CNAME chain too long")


def norm_value(rtype, value):
    v = " ".join(value.split())
    if rtype in ("MX", "CNAME"):
        return v.lower().rstrip(".")
    if rtype == "TXT" and v.lower().startswith("v=spf1"):
        return v.lower()
    if rtype == "TXT" and re.search(r"(^|;)\s*p\s*=", v, re.I):
        # DKIM (RFC 6376 3.6.1): a tag list; whitespace inside values is
        # folding, tag names are case-sensitive but k= values are not.
        tags = {}
        for item in value.split(";"):
            if "=" in item:
                name, _, val = item.partition("=")
                tags[name.strip()] = re.sub(r"\s+", "", val)
        return "k=%s;p=%s" % (tags.get("k", "rsa").lower(), tags.get("p", ""))
    return v


def dns_attribute(dns, attr):
    """Fill CurrentValue/Status of one attribute from the live DNS."""
    server, port = dns
    rtype = attr["Type"]
    try:
        vals = dns_lookup(server, port, attr["SendDomain"], rtype) if rtype in TYPES else []
    except (DnsError, OSError) as e:
        attr["CurrentValue"] = ""
        attr["Status"] = False
        return "dns error at %s: %s" % (attr["SendDomain"], e)
    want = norm_value(rtype, attr["ExpectedValue"])
    match = [v for v in vals if norm_value(rtype, v) == want]
    if match:
        attr["CurrentValue"], attr["Status"] = match[0], True
        return None
    same_kind = [v for v in vals if v[:6].lower() == attr["ExpectedValue"][:6].lower()]
    attr["CurrentValue"] = (same_kind or vals or [""])[0]
    attr["Status"] = False
    return None


# ---------------------------------------------------------------- scenario
def load_expected(path):
    rows = collections.OrderedDict()
    if not path or not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 4:
                continue
            rows.setdefault(cols[0].lower(), []).append({"Type": cols[1], "SendDomain": cols[2], "ExpectedValue": cols[3]})
    return rows


class Scenario:
    """The scenario file, re-read when its mtime, size or inode changes."""

    def __init__(self, path, expected):
        self.path = path
        self.expected = expected
        self.sig = None
        self.data = {"domains": {}}
        self.lock = threading.Lock()
        self.reload()

    def reload(self):
        if not self.path:
            return
        with self.lock:
            try:
                st = os.stat(self.path)
            except OSError as e:
                sys.stderr.write("ses-emulator: scenario %s: %s\n" % (self.path, e))
                return
            sig = (st.st_mtime_ns, st.st_size, st.st_ino)
            if sig == self.sig:
                return
            try:
                with open(self.path, encoding="utf-8") as f:
                    data = json.load(f)
                validate_scenario(data)
            except (OSError, ValueError) as e:
                # Keep the previous scenario: a test mid-write must not crash us.
                sys.stderr.write("ses-emulator: scenario %s: %s (kept the old one)\n" % (self.path, e))
                return
            self.sig = sig
            self.data = data

    def spec(self, domain):
        self.reload()
        domains = self.data.get("domains", {})
        spec = dict(domains.get("*", {}))
        spec.update(domains.get(domain, {}))
        spec.setdefault("state", "not_exist")
        return spec

    def listed(self):
        self.reload()
        return [d for d in self.data.get("domains", {})
                if d != "*" and self.spec(d)["state"] != "not_exist" and not self.spec(d).get("unlisted")]

    def section(self, name):
        self.reload()
        return self.data.get(name, {}) or {}

    def attributes(self, domain, spec):
        if "attributes" in spec:
            attrs = [dict(a) for a in spec["attributes"]]
        else:
            attrs = [dict(a) for a in self.expected.get(domain, [])]
        return attrs


STATES = ("verified", "unverified", "not_exist", "dns")
# malformed ListEmailIdentities answers: EmailIdentities missing or null, or a
# Total one more / one less than the identities listed
LIST_SHAPES = ("no_items", "null_items", "total_more", "total_less")


def validate_scenario(data):
    if not isinstance(data, dict):
        raise ValueError("top level must be an object")
    domains = data.get("domains", {})
    if not isinstance(domains, dict):
        raise ValueError('"domains" must be an object')
    for name, spec in list(domains.items()) + [("list", data.get("list", {})), ("global", data.get("global", {}))]:
        if not isinstance(spec, dict):
            raise ValueError("%s: spec must be an object" % name)
        if "state" in spec and spec["state"] not in STATES:
            raise ValueError("%s: bad state %r" % (name, spec["state"]))
        fault = spec.get("fault")
        if fault is not None and fault not in FAULTS and not re.fullmatch(r"delay:[0-9.]+", str(fault)):
            raise ValueError("%s: bad fault %r" % (name, fault))
        for f in spec.get("faults", []):
            if f not in FAULTS and not re.fullmatch(r"delay:[0-9.]+", str(f)):
                raise ValueError("%s: bad fault %r" % (name, f))
        skew = spec.get("clock_skew", 0)
        if not isinstance(skew, (int, float)) or isinstance(skew, bool):
            raise ValueError("%s: clock_skew must be a number of seconds" % name)
        rate = spec.get("fault_rate", 1.0)
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError("%s: fault_rate must be 0..1" % name)
        if "error" in spec and not isinstance(spec["error"], str):
            raise ValueError("%s: error must be a string" % name)
        if "shape" in spec and spec["shape"] not in LIST_SHAPES:
            raise ValueError("%s: bad shape %r" % (name, spec["shape"]))


# ---------------------------------------------------------------- server
class Emulator:
    def __init__(self, args):
        self.args = args
        self.credentials = {}
        self.tokens = {}
        if args.secret_id:
            with open(args.secret_key_file, encoding="utf-8") as f:
                self.credentials[args.secret_id] = f.read().strip()
            if args.token_file:
                with open(args.token_file, encoding="utf-8") as f:
                    self.tokens[args.secret_id] = f.read().strip()
        self.scenario = Scenario(args.scenario, load_expected(args.expected))
        self.dns = None
        if args.dns:
            host, _, port = args.dns.rpartition(":")
            self.dns = (host, int(port))
        self.rate = args.rate
        self.window = collections.deque()
        self.rate_lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.logf = open(args.log, "a", encoding="utf-8") if args.log else None
        self.dns_verified = {}  # domain -> last verdict of a "dns" domain

    def clock_skew(self):
        """Seconds this clock runs ahead: --clock-skew, else global.clock_skew."""
        if self.args.clock_skew is not None:
            return self.args.clock_skew
        return float(self.scenario.section("global").get("clock_skew", 0))

    def admit(self, t):
        """Sliding-window limiter: at most rate accepted requests in any 1 s."""
        with self.rate_lock:
            while self.window and self.window[0] <= t - 1.0:
                self.window.popleft()
            if len(self.window) >= self.rate:
                return False
            self.window.append(t)
            return True

    def log(self, entry):
        """Append entry once (a delayed request is logged when it arrives)."""
        if not self.logf or entry.get("_logged"):
            return
        entry["_logged"] = True
        line = json.dumps({k: v for k, v in entry.items() if k != "_logged"}, sort_keys=True)
        with self.log_lock:
            self.logf.write(line + "\n")
            self.logf.flush()

    def pick_fault(self, spec):
        """A per-domain fault, else a global one, each drawn at its rate."""
        fault = spec.get("fault")
        if fault and random.random() < spec.get("fault_rate", 1.0):
            return fault
        glob = self.scenario.section("global")
        rate = self.args.fault_rate if self.args.fault_rate is not None else glob.get("fault_rate", 0)
        if rate and random.random() < rate:
            kinds = glob.get("faults") or ["http500", "http502", "truncated", "garbage", "reset", "ratelimit"]
            return random.choice(kinds)
        return None

    def identity(self, domain):
        """Return (response dict, result) for Update/GetEmailIdentity."""
        spec = self.scenario.spec(domain)
        if spec.get("error"):
            raise ApiError(spec["error"], spec.get("message"))
        state = spec["state"]
        if state == "not_exist":
            raise ApiError("InvalidParameterValue.NotExistDomain")
        attrs = self.scenario.attributes(domain, spec)
        current = spec.get("current", {})
        notes = []
        if state == "dns" and self.dns:
            for a in attrs:
                note = dns_attribute(self.dns, a)
                if note:
                    notes.append(note)
            verified = bool(attrs) and all(a["Status"] for a in attrs)
            self.dns_verified[domain] = verified
        else:
            verified = state == "verified"
            for a in attrs:
                key = "%s %s" % (a["Type"], a["SendDomain"])
                if "Status" in a and "CurrentValue" in a:
                    continue
                if verified:
                    a.setdefault("CurrentValue", a["ExpectedValue"])
                    a.setdefault("Status", True)
                elif key in current:
                    a["CurrentValue"] = current[key]
                    a["Status"] = current[key] == a["ExpectedValue"]
                elif current:
                    # Only the records named in "current" are wrong.
                    a["CurrentValue"] = a["ExpectedValue"]
                    a["Status"] = True
                else:
                    a.setdefault("CurrentValue", "")
                    a.setdefault("Status", False)
        resp = {
            "IdentityType": "DOMAIN",
            "VerifiedForSendingStatus": verified,
            "Attributes": attrs,
            "DKIMOption": 0,
        }
        return resp, ("verified" if verified else "unverified"), notes

    def sending_enabled(self, domain):
        spec = self.scenario.spec(domain)
        if spec["state"] == "dns" and self.dns:
            return self.dns_verified.get(domain, False)
        return spec["state"] == "verified"

    def list_identities(self, params):
        sec = self.scenario.section("list")
        if sec.get("error"):
            raise ApiError(sec["error"], sec.get("message"))
        names = self.scenario.listed()
        limit, offset = params.get("Limit", len(names) or 1), params.get("Offset", 0)
        for key, val in (("Limit", limit), ("Offset", offset)):
            if not isinstance(val, int) or isinstance(val, bool) or val < 0:
                raise ApiError("InvalidParameterValue", "%s must be a non-negative integer." % key)
        page = names[offset:offset + limit]
        items = [
            {
                "IdentityName": d,
                "IdentityType": "DOMAIN",
                "SendingEnabled": self.sending_enabled(d),
                "CurrentReputationLevel": 0,
                "DailyQuota": 0,
                "SendIp": [],
            }
            for d in page
        ]
        resp = {"EmailIdentities": items, "MaxReputationLevel": 0, "MaxDailyQuota": 0, "Total": len(names)}
        shape = sec.get("shape")
        if shape == "no_items":
            del resp["EmailIdentities"]
        elif shape == "null_items":
            resp["EmailIdentities"] = None
        elif shape in ("total_more", "total_less"):
            resp["Total"] = max(0, len(names) + (1 if shape == "total_more" else -1))
        return resp


def logged_domain(body):
    """The EmailIdentity of a body, for the log only (also when the request
    is refused before its body is checked), else ""."""
    try:
        params = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ""
    dom = params.get("EmailIdentity") if isinstance(params, dict) else None
    return dom if isinstance(dom, str) else ""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ses-emulator"
    sys_version = ""
    timeout = 30

    def setup(self):
        self.request.settimeout(10)
        # Headers and body go out in separate writes: without NODELAY, Nagle
        # plus delayed ACK costs 40 ms per keep-alive request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            raise
        super().setup()

    def log_message(self, fmt, *args):
        if self.server.emu.args.verbose:
            sys.stderr.write("ses-emulator: " + (fmt % args) + "\n")

    def send_raw(self, status, body, ctype="application/json", length=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def send_api(self, obj, reqid):
        obj = dict(obj)
        obj["RequestId"] = reqid
        self.send_raw(200, json.dumps({"Response": obj}).encode("utf-8"))

    def do_GET(self):
        # Readiness probe for emulator-lib.sh; not an API call and not logged.
        if self.path == "/__emulator/health":
            self.send_raw(200, b"ok\n", "text/plain")
            return
        body = json.dumps({"Response": {"Error": {"Code": "UnsupportedProtocol", "Message": "Use POST."},
                                        "RequestId": str(uuid.uuid4())}}).encode()
        self.send_raw(200, body)

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if te == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
                if len(body) > MAX_BODY:
                    raise ApiError("RequestSizeLimitExceeded")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise ApiError("InvalidRequest", "Content-Length is required.")
        if int(length) > MAX_BODY:
            raise ApiError("RequestSizeLimitExceeded")
        return self.rfile.read(int(length))

    def do_POST(self):
        emu = self.server.emu
        t = now()
        reqid = str(uuid.uuid4())
        entry = {"time": t, "action": self.headers.get("X-TC-Action", ""), "domain": "", "result": "",
                 "code": "", "request_id": reqid, "http": 200, "fault": None, "token": False,
                 "path": self.path[:64]}
        try:
            body = self.read_body()
        except ApiError as e:
            self.close_connection = True
            self.finish_api_error(entry, e, reqid)
            return
        params = {}
        entry["domain"] = logged_domain(body)
        try:
            if self.path != "/":
                raise ApiError("InvalidRequest", "The path must be /.")
            action, _sid, entry["token"] = check_signature("POST", self.headers.items(), body, emu.credentials,
                                                           emu.tokens, emu.clock_skew())
            try:
                params = json.loads(body.decode("utf-8")) if body else {}
            except (UnicodeDecodeError, ValueError):
                raise ApiError("InvalidParameter", "The request body is not valid JSON.")
            if not isinstance(params, dict):
                raise ApiError("InvalidParameter", "The request body must be a JSON object.")
            dom = params.get("EmailIdentity")
            if isinstance(dom, str):
                entry["domain"] = dom
            if not emu.admit(t):
                raise ApiError("RequestLimitExceeded")
            spec = emu.scenario.spec(dom.lower()) if isinstance(dom, str) else {}
            if action == "ListEmailIdentities":
                spec = emu.scenario.section("list")
            fault = emu.pick_fault(spec)
            if fault and self.inject(entry, fault, reqid):
                return
            if action in ("UpdateEmailIdentity", "GetEmailIdentity"):
                if not isinstance(dom, str):
                    raise ApiError("MissingParameter", "The parameter EmailIdentity is missing.")
                resp, result, notes = emu.identity(dom.lower())
                entry["result"] = result
                if notes:
                    entry["dns"] = notes
            elif action == "ListEmailIdentities":
                resp = emu.list_identities(params)
                entry["result"] = "listed %d" % len(resp.get("EmailIdentities") or [])
            else:
                raise ApiError("InvalidAction", "The action %s does not exist." % action[:60])
        except ApiError as e:
            self.finish_api_error(entry, e, reqid)
            return
        emu.log(entry)
        self.send_api(resp, reqid)

    def finish_api_error(self, entry, e, reqid):
        entry["result"] = "error"
        entry["code"] = e.code
        self.server.emu.log(entry)
        self.send_api({"Error": {"Code": e.code, "Message": e.message}}, reqid)

    def inject(self, entry, fault, reqid):
        """Apply a fault.  True when the request is fully handled."""
        emu = self.server.emu
        entry["fault"] = fault
        if fault.startswith("delay:"):
            # Log now: the client may give up long before the answer, and
            # tests count requests right after it did.
            entry["result"] = "delayed"
            emu.log(entry)
            time.sleep(float(fault[6:]))
            return False
        if fault == "ratelimit":
            raise ApiError("RequestLimitExceeded")
        entry["result"] = fault
        emu.log(entry)
        good = json.dumps({"Response": {"IdentityType": "DOMAIN", "VerifiedForSendingStatus": True,
                                        "Attributes": [], "RequestId": reqid}}).encode()
        self.close_connection = True
        if fault in ("http500", "http502"):
            code = 500 if fault == "http500" else 502
            entry["http"] = code
            text = b"<html><body><h1>%d %s</h1></body></html>\n" % (
                code, b"Internal Server Error" if code == 500 else b"Bad Gateway")
            self.send_raw(code, text, "text/html")
        elif fault == "truncated":
            self.send_raw(200, good[: len(good) // 2])
        elif fault == "short":
            self.send_raw(200, good[: len(good) // 2], length=len(good))
        elif fault == "garbage":
            self.send_raw(200, b"<html><body>upstream said: \xff\xfe {]] not json\x00" + os.urandom(16))
        elif fault == "reset":
            # SO_LINGER 0: close() sends RST instead of FIN.
            # Server.shutdown_request then skips its FIN-sending shutdown().
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.request.emu_reset = True
        return True


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def shutdown_request(self, request):
        if getattr(request, "emu_reset", False):
            self.close_request(request)
            return
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # Clients hang up on us on purpose (timeouts, resets): stay quiet.
        if self.emu.args.verbose:
            super().handle_error(request, client_address)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description="Local HTTPS emulator of the Tencent Cloud SES API (tests only).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", help="write the port here once listening")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--scenario", help="scenario JSON file (re-read when it changes)")
    p.add_argument("--expected", default=os.path.join(here, "..", "dns", "expected.tsv"))
    p.add_argument("--log", help="JSON-lines request log")
    p.add_argument("--dns", help="HOST:PORT of the DNS server for 'dns' domains")
    p.add_argument("--rate", type=int, default=20, help="requests per sliding second")
    p.add_argument("--fault-rate", type=float, help="global fault probability 0..1 (overrides the scenario)")
    p.add_argument("--clock-skew", type=float,
                   help="seconds this clock runs ahead of the real one (overrides global.clock_skew)")
    p.add_argument("--secret-id")
    p.add_argument("--secret-key-file", help="file holding the SecretKey (never pass it in argv)")
    p.add_argument("--token-file", help="file holding the expected X-TC-Token")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        p.error("--host must be a loopback address")
    if bool(args.secret_id) != bool(args.secret_key_file):
        p.error("--secret-id and --secret-key-file go together")

    emu = Emulator(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    server = Server((args.host, args.port), Handler)
    server.emu = emu
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    else:
        print(port, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
