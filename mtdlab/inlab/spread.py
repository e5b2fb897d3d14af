"""Legitimate users of every service at once: one new connection at a time through the proxy,
in turn over the services given, each checked in its own protocol (issue 13, item 5).

    python3 -m mtdlab.inlab.spread PROXY_IP RATE SECONDS KIND:PORT [KIND:PORT ...]

web: GET / answers 200. redis: AUTH with the run's password (from the environment), then PING
answers +PONG. ssh: the greeting starts SSH-2.0-. ftp: the greeting starts 220. RATE connections a
second in all, for SECONDS; prints one JSON line: per kind, how many and how many failed, and the
first failures. Bounded: RATE and SECONDS within the legitimate client's limits; talks only to
the lab's addresses.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from mtdlab.contract import keys
from mtdlab.contract.limits import LIMITS
from mtdlab.contract.scope import in_scope_or_exit

TIMEOUT_S = 5.0
KEEP_ERRORS = 10


def read_line(sock: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < 4096:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def check(kind: str, host: str, port: int) -> str | None:
    """None if the service answered as it should; else what went wrong."""
    try:
        if kind == "web":
            conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)
            try:
                conn.request("GET", "/", headers={"Connection": "close"})
                status = conn.getresponse().status
            finally:
                conn.close()
            return None if status == 200 else f"HTTP {status}"
        with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
            if kind == "redis":
                password = os.environ.get(keys.REDIS.env, "")
                if password:
                    sock.sendall(f"*2\r\n$4\r\nAUTH\r\n${len(password)}\r\n{password}\r\n".encode())
                    if not read_line(sock).startswith(b"+OK"):
                        return "AUTH refused"
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                answer = read_line(sock)
                return None if answer.startswith(b"+PONG") else f"redis said {answer[:40]!r}"
            greeting = read_line(sock)
            want = b"SSH-2.0-" if kind == "ssh" else b"220"
            return None if greeting.startswith(want) else f"{kind} greeting {greeting[:40]!r}"
    except (OSError, http.client.HTTPException) as exc:
        return f"{type(exc).__name__}: {exc}"


def main() -> int:
    host, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    targets = [(t.split(":")[0], int(t.split(":")[1])) for t in sys.argv[4:]]
    LIMITS["legit.rate_per_s"].require(rate, "spread")
    LIMITS["duration_s"].require(seconds, "spread")
    in_scope_or_exit(host, "spread")
    if not targets or any(k not in ("web", "redis", "ssh", "ftp") for k, _ in targets):
        raise SystemExit("spread: give KIND:PORT for each service (web, redis, ssh, ftp)")
    counts = {k: {"requests": 0, "failures": 0} for k, _ in targets}
    errors: list[str] = []
    start, n = time.monotonic(), 0

    lock = threading.Lock()

    def one(kind: str, port: int, at: float) -> None:
        problem = check(kind, host, port)
        with lock:
            counts[kind]["requests"] += 1
            if problem:
                counts[kind]["failures"] += 1
                if len(errors) < KEEP_ERRORS:
                    errors.append(f"{at:.1f} s {kind}:{port}: {problem}")

    with ThreadPoolExecutor(max_workers=16) as pool:
        while (now := time.monotonic()) - start < seconds:
            kind, port = targets[n % len(targets)]
            pool.submit(one, kind, port, now - start)
            n += 1
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
    print(json.dumps({"rate_per_s": rate, "seconds": seconds, "services": len(targets), "by_kind": counts,
                      "requests": sum(c["requests"] for c in counts.values()),
                      "failures": sum(c["failures"] for c in counts.values()), "first_failures": errors}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
