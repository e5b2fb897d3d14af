"""Readiness probes: does a service instance really accept and answer on its port?

A probe opens a fresh TCP connection and checks an answer only that service gives, so
'ready' means the protocol works, not just that something listens.
"""
from __future__ import annotations

import socket
import time


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
                   connect=None) -> str:
    with (connect or _connect)(host, port, timeout) as sock:
        sock.sendall(b"PING\r\n")
        data = _read_until(sock, b"\r\n", timeout)
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


def wait_ready(probe: str, host: str, port: int, timeout: float, alive=lambda: True,
               interval: float = 0.05, expect: str | None = None) -> tuple[str, int]:
    """Poll until the probe succeeds; return (answer, attempts).

    alive() is asked between attempts, so a crashed instance fails fast instead of
    using up the whole timeout. Raises NotReady with the last error.
    """
    check = PROBES[probe]
    deadline = time.monotonic() + timeout
    attempts, last = 0, "no attempt"
    while True:
        attempts += 1
        try:
            return check(host, port, timeout=min(2.0, max(0.2, deadline - time.monotonic())), expect=expect), attempts
        except (OSError, NotReady) as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise NotReady(f"not ready after {timeout:g} s ({attempts} attempts): {last}")
        if not alive():
            raise NotReady(f"the instance exited before it was ready ({last})")
        time.sleep(interval)
