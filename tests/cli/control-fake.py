#!/usr/bin/env python3
# control-fake.py - a stand-in for sesverify-milter's control socket (tests only).
#
# Owns: answering the CLI's "cache" requests from a fixed table so the client
# side of the control protocol can be tested without a running milter.  Does
# not own the real server (milter/).  Usage: control-fake.py SOCKET REQUEST-LOG
# Each request line is appended to REQUEST-LOG; the answer depends on it.
import os
import socket
import sys

ENTRY = ('{"domain":"verified.test","state":"verified","verified":true,"stale":false,'
         '"refreshing":false,"fetched_at":1,"expires_at":2,"api_checked_at":1,'
         '"request_id":"r-1","attributes":[],"error":null}')

ANSWERS = {
    "list": "OK\nverified.test verified\nunverified.test unverified\n",
    "list json": "OK\n[" + ENTRY + "]\n",
    "show verified.test": "OK\nverified.test verified\n",
    "show verified.test json": "OK\n" + ENTRY + "\n",
    "show absent.test": "NOTFOUND absent.test\n",
    "refresh verified.test": "OK\nqueued\n",
    "refresh busy.test": "ERR refresh queue is full\n",
    "forget verified.test": "OK\n",
    "forget absent.test": "NOTFOUND absent.test\n",
    "stats": "OK\napi.calls 3\ncache.hit 10\n",
    "stats json": 'OK\n{"api.calls":3,"cache.hit":10}\n',
    "show garbage.test": "HELLO THERE\n",
    "show silent.test": "",
}


def main():
    path, log = sys.argv[1], sys.argv[2]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    while True:
        conn, _ = srv.accept()
        with conn:
            data = b""
            while not data.endswith(b"\n") and len(data) < 4096:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            line = data.decode("utf-8", "replace").rstrip("\n")
            with open(log, "a") as f:
                f.write(line + "\n")
            conn.sendall(ANSWERS.get(line, "ERR unknown request: %s\n" % line).encode())


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
