"""A user who holds one connection through the proxy while the service hops (issue 13, item 2).

    python3 -m mtdlab.inlab.held redis PROXY_IP PORT TARGET_IP SECONDS
    python3 -m mtdlab.inlab.held ssh PROXY_IP PORT TARGET_IP SECONDS

redis: one connection, AUTH with the run's password (from the environment), then PING every
200 ms for SECONDS. It asks, on that connection, which port its instance listens on (CONFIG GET
port) at the start and at the end, and tries a new connection straight to that first port on the
target every round, to see when it refuses new connections (the door closed) while the held
connection goes on being answered.
ssh: reads the greeting, holds the connection SECONDS without a word (sshd allows two minutes
before login), then sends its own version and must get the server's key exchange offer: the
instance that greeted it still serves it.

Prints one JSON line. Bounded: SECONDS within the run limit; talks only to the lab's addresses.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time

from mtdlab.contract import keys
from mtdlab.contract.limits import LIMITS
from mtdlab.contract.scope import in_scope_or_exit

PING_EVERY_S = 0.2
TIMEOUT_S = 2.0


def redis_call(sock: socket.socket, *args: str) -> bytes:
    """One command, RESP-encoded; returns the reply's bytes (enough of them for the replies used here)."""
    sock.sendall(b"".join([f"*{len(args)}\r\n".encode()] + [f"${len(a)}\r\n{a}\r\n".encode() for a in args]))
    data = b""
    while not data.endswith(b"\r\n") or (data.startswith(b"*") and data.count(b"\r\n") < 5):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the connection was closed")
        data += chunk
    return data


def listening_port(sock: socket.socket) -> int:
    return int(redis_call(sock, "CONFIG", "GET", "port").split(b"\r\n")[4])


def refuses(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=TIMEOUT_S).close()
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def hold_redis(proxy: str, port: int, target: str, seconds: float) -> dict:
    out = {"kind": "redis", "pings": 0, "failures": 0, "errors": [], "refused_after_s": None, "pongs_after_refused": 0}
    sock = socket.create_connection((proxy, port), timeout=TIMEOUT_S)
    if os.environ.get(keys.REDIS.env):
        if not redis_call(sock, "AUTH", os.environ[keys.REDIS.env]).startswith(b"+OK"):
            raise SystemExit("held: Redis refused the run's password")
    out["first_port"] = first = listening_port(sock)
    start = time.monotonic()
    while (now := time.monotonic()) - start < seconds:
        out["pings"] += 1
        try:
            ok = redis_call(sock, "PING").startswith(b"+PONG")
        except OSError as exc:
            ok = False
            out["errors"].append(f"{now - start:.1f} s: {type(exc).__name__}: {exc}")
            break                      # the held connection is gone: nothing more to learn from it
        out["failures"] += not ok
        if out["refused_after_s"] is None and refuses(target, first):
            out["refused_after_s"] = round(time.monotonic() - start, 3)
        elif out["refused_after_s"] is not None and ok:
            out["pongs_after_refused"] += 1
        time.sleep(max(0.0, start + out["pings"] * PING_EVERY_S - time.monotonic()))
    try:
        out["last_port"] = listening_port(sock)   # 0 once the door closed: still the first instance
    except OSError as exc:
        out["last_port"] = None
        out["errors"].append(f"end: {type(exc).__name__}: {exc}")
    sock.close()
    out["held_s"] = round(time.monotonic() - start, 3)
    return out


def hold_ssh(proxy: str, port: int, seconds: float) -> dict:
    sock = socket.create_connection((proxy, port), timeout=TIMEOUT_S)
    greeting = sock.recv(256)
    start = time.monotonic()
    time.sleep(seconds)
    out = {"kind": "ssh", "greeting": greeting.strip().decode(errors="replace"), "held_s": round(time.monotonic() - start, 3)}
    try:
        sock.sendall(b"SSH-2.0-mtdlab_held\r\n")
        reply = sock.recv(4096)
        out["kex_offer_bytes"], out["failures"] = len(reply), 0 if len(reply) > 5 and reply[5] == 20 else 1  # SSH_MSG_KEXINIT
    except OSError as exc:
        out["failures"], out["error"] = 1, f"{type(exc).__name__}: {exc}"
    sock.close()
    return out


def main() -> int:
    kind, proxy, port, target, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
    LIMITS["duration_s"].require(seconds, "held")
    for host in (proxy, target):
        in_scope_or_exit(host, "held")
    result = hold_redis(proxy, port, target, seconds) if kind == "redis" else hold_ssh(proxy, port, seconds)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
