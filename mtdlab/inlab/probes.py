"""Readiness probes: does a service instance really accept and answer on its port?

A probe opens a fresh TCP connection and checks an answer only that service gives, so
'ready' means the protocol works, not just that something listens.
"""
from __future__ import annotations

import os
import socket
import time

from mtdlab.contract import keys
from mtdlab.contract.wait import NotYet, Strategy, Timeout, wait_for


class NotReady(Exception):
    pass


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    """The default way in: a plain TCP connection. (Probes take another, e.g. through a SAPP
    gateway, as `connect`.)"""
    return socket.create_connection((host, port), timeout=timeout)


def probe_http(host: str, port: int, timeout: float = 2.0, expect: str | None = None,
                  connect=None) -> str:
    """GET / must answer 200; with expect, the X-Mtdlab-Instance header must name that instance,
    so a probe answered by some other program on the port does not count."""
    with (connect or _connect)(host, port, timeout) as sock:
        sock.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        data = _read_until(sock, b"\r\n\r\n", timeout)
    status = data.split(b"\r\n", 1)[0]
    if not status.startswith(b"HTTP/1.") or status.split(b" ")[1:2] != [b"200"]:
        raise NotReady(f"unexpected HTTP answer {data[:40]!r}")
    if expect is not None and f"x-mtdlab-instance: {expect}".encode() not in data.lower():
        raise NotReady(f"port {port} answers, but not as instance {expect}")
    return status.decode(errors="replace")


def probe_ssh(host: str, port: int, timeout: float = 2.0, expect: str | None = None,
                 connect=None) -> str:
    with (connect or _connect)(host, port, timeout) as sock:
        data = _read_until(sock, b"\n", timeout)
    if not data.startswith(b"SSH-2.0-"):
        raise NotReady(f"unexpected SSH greeting {data[:40]!r}")
    return data.strip().decode(errors="replace")


def probe_redis(host: str, port: int, timeout: float = 2.0, expect: str | None = None,
                connect=None, password: str | None = None) -> str:
    """+PONG, after AUTH with the run's password where this process has it (the controller);
    without it (inside a SAPP gateway), Redis's -NOAUTH refusal is answer enough."""
    password = os.environ.get(keys.REDIS.env) if password is None else password
    with (connect or _connect)(host, port, timeout) as sock:
        if password:
            sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            data = _read_until(sock, b"\r\n", timeout)
            if not data.startswith(b"+OK"):
                raise NotReady(f"unexpected Redis answer to AUTH {data[:40]!r}")
            data = data.split(b"\r\n", 1)[1] or _read_until(sock, b"\r\n", timeout)
        else:
            sock.sendall(b"PING\r\n")
            data = _read_until(sock, b"\r\n", timeout)
    if data.startswith(b"-NOAUTH") and not password:
        return "-NOAUTH"
    if not data.startswith(b"+PONG"):
        raise NotReady(f"unexpected Redis answer {data[:40]!r}")
    return "+PONG"


def probe_ftp(host: str, port: int, timeout: float = 2.0, expect: str | None = None,
                 connect=None) -> str:
    with (connect or _connect)(host, port, timeout) as sock:
        data = _read_until(sock, b"\r\n", timeout)
    if not data.startswith(b"220"):
        raise NotReady(f"unexpected FTP greeting {data[:40]!r}")
    return data.strip().decode(errors="replace")


PROBES = {"http": probe_http, "ssh": probe_ssh, "redis": probe_redis, "ftp": probe_ftp}


def _read_until(sock: socket.socket, marker: bytes, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    data = b""
    while marker not in data and len(data) < 65536:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


READY_POLL_S = 0.01    # a new instance listens within tens of ms: look often (a refused connect costs little)
ALIVE_EVERY_S = 0.1    # ... but ask whether it still runs (an engine call) at most this often


class ProtocolAnswers(Strategy):
    """Readiness: the service answers its own protocol on the port (HTTP 200 naming the instance,
    an SSH or FTP greeting, Redis +PONG). alive() is asked between attempts (at most every
    ALIVE_EVERY_S), so a crashed instance fails fast instead of using up the whole timeout."""

    def __init__(self, probe: str, host: str, port: int, expect: str | None = None, alive=lambda: True):
        self.check_once, self.host, self.port, self.expect, self.alive = PROBES[probe], host, port, expect, alive
        self.what = f"{probe} answering on {host}:{port}"
        self.attempts = 0
        self.alive_asked = time.monotonic()

    def check(self, left: float) -> str:
        self.attempts += 1
        try:
            return self.check_once(self.host, self.port, timeout=min(2.0, max(0.2, left)), expect=self.expect)
        except (OSError, NotReady) as exc:
            raise NotYet(f"{type(exc).__name__}: {exc}") from None

    def gave_up(self) -> str | None:
        if time.monotonic() - self.alive_asked < ALIVE_EVERY_S:
            return None
        self.alive_asked = time.monotonic()
        return None if self.alive() else "the instance exited before it was ready"


def wait_ready(probe: str, host: str, port: int, timeout: float, alive=lambda: True,
               interval: float = READY_POLL_S, expect: str | None = None) -> tuple[str, int]:
    """Poll until the probe succeeds; return (answer, attempts). Raises NotReady naming why not."""
    strategy = ProtocolAnswers(probe, host, port, expect, alive)
    try:
        return wait_for(strategy, timeout, interval), strategy.attempts
    except Timeout as exc:
        raise NotReady(str(exc)) from None
