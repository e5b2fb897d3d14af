"""Request authentication for the management console (seed 000's "cryptographically sound
transmissions"), shared by the controller (verify) and `mtdlab console` (sign).

    signature = HMAC-SHA256(key, METHOD \\n PATH \\n SHA256(body) \\n TIMESTAMP \\n NONCE), hex

sent as the headers X-Mtdlab-Timestamp (whole Unix seconds, digits only), X-Mtdlab-Nonce (random, 16+ hex
digits) and X-Mtdlab-Signature. A request is refused when a header is missing, its timestamp
is more than 30 s from the server's clock, its nonce was seen before (replay), or the
signature differs (compared in constant time).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

MAX_SKEW_S = 30.0
CONSOLE_PORT = 7000      # where a controller's console listens, on its lab's management network
HEADERS = ("X-Mtdlab-Timestamp", "X-Mtdlab-Nonce", "X-Mtdlab-Signature")


def signature(key: bytes, method: str, path: str, body: bytes, timestamp: str, nonce: str) -> str:
    message = "\n".join([method.upper(), path, hashlib.sha256(body).hexdigest(), timestamp, nonce]).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(key: bytes, method: str, path: str, body: bytes = b"", now: float | None = None) -> dict[str, str]:
    ts = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16)
    return {"X-Mtdlab-Timestamp": ts, "X-Mtdlab-Nonce": nonce,
            "X-Mtdlab-Signature": signature(key, method, path, body, ts, nonce)}


class Verifier:
    """Checks signed requests; remembers nonces for as long as their timestamps are acceptable."""

    def __init__(self, key: bytes, clock=time.time):
        self.key, self.clock = key, clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, method: str, path: str, body: bytes, headers) -> str | None:
        """None if the request is authentic and fresh, else the reason it is refused."""
        ts, nonce, sig = (headers.get(h) for h in HEADERS)
        if not (ts and nonce and sig):
            return "missing authentication headers"
        # Whole Unix seconds only: a float would let "nan" through every comparison below.
        if not (ts.isascii() and ts.isdigit() and len(ts) <= 12):
            return "bad timestamp"
        stamp = int(ts)
        now = self.clock()
        if abs(now - stamp) > MAX_SKEW_S:
            return "timestamp outside the 30 s window"
        if len(nonce) < 16 or len(nonce) > 128:
            return "bad nonce"
        expected = signature(self.key, method, path, body, ts, nonce)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            return "bad signature"
        with self._lock:
            for n, t in list(self._seen.items()):
                if now - t > 2 * MAX_SKEW_S:
                    del self._seen[n]
            if nonce in self._seen:
                return "replayed nonce"
            self._seen[nonce] = now
        return None
