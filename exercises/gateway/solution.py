"""Behind the single port, the instructor's solution (instructor.md). Not on the workstations
(the class lab hides exercises/ there); the integration tests run it on one, as a team would.

    python3 solution.py KEY [REDIS_PASSWORD]    KEY: the team's SAPP key (roster), hex

Tries service codes 1..8 through the gateway (target:28888), says what answers behind each
(from what it says first, or how it answers an HTTP request) and prints one `KIND FLAG` line
for each service it read a flag from, ready to submit.
"""
import hashlib
import hmac
import os
import re
import selectors
import socket
import struct
import subprocess
import sys
import time

HOST, PORT = "target", 28888                      # scenarios/sapp.yaml
FLAG = re.compile(rb"mtd\{[0-9a-f]{24}\}")


def preamble(key: bytes, code: int) -> bytes:
    header = struct.pack(">BB8sQ", 1, code, os.urandom(8), int(time.time() * 1000))
    return header + hmac.new(key, b"mtdlab-sapp" + header, hashlib.sha256).digest()[:16]


def stream(key: bytes, code: int) -> socket.socket:
    sock = socket.create_connection((HOST, PORT), timeout=3)
    sock.sendall(preamble(key, code))
    return sock


def talk(sock: socket.socket, say: bytes = b"", wait_s: float = 2.0) -> bytes:
    """Send `say`, then read whatever comes within wait_s."""
    if say:
        sock.sendall(say)
    got, end = b"", time.time() + wait_s
    while time.time() < end:
        sock.settimeout(max(0.05, end - time.time()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        got += chunk
        if FLAG.search(got):
            break
    return got


def visit(key: bytes, code: int, redis_password: str) -> tuple[str, bytes] | None:
    """(kind, what it said) of the service behind code, or None if nothing answers it."""
    try:
        with stream(key, code) as sock:
            first = talk(sock, wait_s=1.5)          # SSH and FTP speak first; web and Redis wait
            if first.startswith(b"SSH-"):
                return "ssh", ssh_banner(key, code)
            if first.startswith(b"220"):
                talk(sock, b"USER anonymous\r\n", 1)
                return "ftp", talk(sock, b"PASS student@\r\n")   # the welcome (directory message) has the flag
            reply = talk(sock, b"GET / HTTP/1.0\r\nHost: target\r\n\r\n")
        if reply.startswith(b"HTTP/"):
            return "web", reply
        with stream(key, code) as sock:            # not HTTP: Redis answers its own protocol
            reply = talk(sock, f"AUTH {redis_password}\r\nGET flag\r\n".encode())
        return ("redis", reply) if reply.startswith((b"+", b"-")) else None
    except OSError:
        return None


def ssh_banner(key: bytes, code: int) -> bytes:
    """SSH shows its banner only after the key exchange: let ssh do that, through this script's
    --pipe mode as its ProxyCommand."""
    proxy = f"python3 {os.path.abspath(__file__)} {key.hex()} --pipe {code}"
    out = subprocess.run(["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                          "-o", "PreferredAuthentications=none", "-o", "BatchMode=yes",
                          "-o", f"ProxyCommand={proxy}", "student@target"], capture_output=True, timeout=30)
    return out.stdout + out.stderr


def pipe(key: bytes, code: int) -> None:
    """Relay stdin and stdout through the gateway to the service behind code."""
    sock = stream(key, code)
    sock.settimeout(None)
    with selectors.DefaultSelector() as sel:
        sel.register(0, selectors.EVENT_READ)
        sel.register(sock, selectors.EVENT_READ)
        while True:
            for ready, _ in sel.select():
                if ready.fileobj == 0:
                    data = os.read(0, 65536)
                    if not data:
                        sock.shutdown(socket.SHUT_WR)
                        sel.unregister(0)
                        continue
                    sock.sendall(data)
                else:
                    data = sock.recv(65536)
                    if not data:
                        return
                    os.write(1, data)


def main(argv: list[str]) -> None:
    key = bytes.fromhex(argv[1])
    if len(argv) > 3 and argv[2] == "--pipe":
        return pipe(key, int(argv[3]))
    for code in range(1, 9):
        found = visit(key, code, argv[2] if len(argv) > 2 else "")
        if found:
            flag = FLAG.search(found[1])
            print(f"{found[0]} {flag.group().decode()}" if flag else f"# code {code}: {found[0]}, no flag seen",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv)
