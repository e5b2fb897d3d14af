"""One port for all (seed 000's SAPP), at the application layer: the stream-identifier preamble.

A client opens a TCP connection to the target's one gateway port and first sends 34 bytes:

    version   1 byte    1
    service   1 byte    the service's code (its position in the scenario's service list, from 1)
    session   8 bytes   random per connection
    time      8 bytes   the client's clock, Unix milliseconds, big-endian
    tag      16 bytes   HMAC-SHA256(key, "mtdlab-sapp" + the 18 bytes above), first 16 bytes

The gateway splices a connection whose preamble checks out to the service's current port;
anything else (wrong length, version, tag, a clock more than 30 s off, a session seen before)
gets no byte back and is closed. The seed put the identifier in a TCP option; a preamble
gives the same property without raw sockets or a kernel module.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
import time

VERSION = 1
HEADER = struct.Struct(">BB8sQ")
TAG_LEN = 16
PREAMBLE_LEN = HEADER.size + TAG_LEN   # 34
MAX_SKEW_S = 30.0
CONTEXT = b"mtdlab-sapp"


class BadPreamble(Exception):
    """Why a preamble was refused (logged by the gateway, never sent to the client)."""


def service_codes(service_names) -> dict[str, int]:
    """Code of each service: its position in the scenario's list, from 1 (one byte)."""
    return {name: i for i, name in enumerate(service_names, start=1)}


def _tag(key: bytes, header: bytes) -> bytes:
    return hmac.new(key, CONTEXT + header, hashlib.sha256).digest()[:TAG_LEN]


def make_preamble(key: bytes, code: int, session: bytes | None = None, now: float | None = None) -> bytes:
    session = os.urandom(8) if session is None else session
    millis = int((time.time() if now is None else now) * 1000)
    header = HEADER.pack(VERSION, code, session, millis)
    return header + _tag(key, header)


class Verifier:
    """Checks preambles for the gateway; remembers sessions for the skew window, so a preamble
    captured off the wire cannot be replayed while it would still be fresh."""

    def __init__(self, key: bytes, clock=time.time):
        self.key, self.clock = key, clock
        self.seen: dict[bytes, float] = {}

    def check(self, preamble: bytes) -> int:
        """The service code of a valid preamble; BadPreamble otherwise."""
        if len(preamble) != PREAMBLE_LEN:
            raise BadPreamble(f"wrong length ({len(preamble)} of {PREAMBLE_LEN} bytes)")
        header, tag = preamble[:HEADER.size], preamble[HEADER.size:]
        version, code, session, millis = HEADER.unpack(header)
        if version != VERSION:
            raise BadPreamble(f"wrong version ({version}, expected {VERSION})")
        if not hmac.compare_digest(tag, _tag(self.key, header)):
            raise BadPreamble("tag does not match")
        now = self.clock()
        if abs(now - millis / 1000) > MAX_SKEW_S:
            raise BadPreamble(f"clock off ({millis / 1000 - now:+.1f} s, limit {MAX_SKEW_S:g} s)")
        self._forget(now)
        if session in self.seen:
            raise BadPreamble("session replayed")
        self.seen[session] = now + 2 * MAX_SKEW_S
        return code

    def _forget(self, now: float) -> None:
        if len(self.seen) > 1024:
            self.seen = {s: until for s, until in self.seen.items() if until > now}


def open_stream(host: str, port: int, key: bytes, code: int, timeout: float = 2.0) -> socket.socket:
    """A connection to the service with code `code` behind the SAPP gateway at host:port."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.sendall(make_preamble(key, code))
    except OSError:
        sock.close()
        raise
    return sock
