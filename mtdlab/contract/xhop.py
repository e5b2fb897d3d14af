"""Per-exchange port hopping (seed 001's flooding claim): a UDP service listens on n ports,
and exchange i is valid only on port

    base + HMAC-SHA256(key, "mtdlab-xhop-v1|" + i)[0:8] mod n

which client and server both compute. A flooder without the key cannot tell which port the
next exchange uses, so a budget of B datagrams/s spread over k of the n ports puts B/k on
each flooded port, and the live port is one of the flooded ones with probability k/n.

Datagrams: the client sends "X <exchange> <nonce>", the server answers "Y <exchange> <nonce>"
from the port it arrived on; anything else (the flood) is read and dropped.
"""
from __future__ import annotations

import hashlib
import hmac

DOMAIN = b"mtdlab-xhop-v1|"
MAX_PORTS = 256


def exchange_port(key: bytes, exchange: int, base: int, n: int) -> int:
    mac = hmac.new(key, DOMAIN + str(exchange).encode(), hashlib.sha256).digest()
    return base + int.from_bytes(mac[:8], "big") % n


def request(exchange: int, nonce: str) -> bytes:
    return f"X {exchange} {nonce}".encode()


def parse_request(data: bytes) -> tuple[int, str] | None:
    parts = data.split(b" ")
    if len(parts) != 3 or parts[0] != b"X" or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2].decode(errors="replace")


def reply(exchange: int, nonce: str) -> bytes:
    return f"Y {exchange} {nonce}".encode()
