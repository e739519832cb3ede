"""tests/redis/ctl.py - one exchange with a milter's ControlSocket.

As a program: ctl.py SOCKET LINE prints the answer.  As a module: ctl(path, line).
"""
import socket
import sys


def ctl(path, line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall((line + "\n").encode())
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    return out.decode("utf-8", "replace")


if __name__ == "__main__":
    sys.stdout.write(ctl(sys.argv[1], sys.argv[2]))
