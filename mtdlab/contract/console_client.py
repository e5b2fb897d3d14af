"""Signed requests to a lab's management console (used by `mtdlab console` and the tests)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from mtdlab.contract.console_auth import sign


def call(url: str, key: bytes, method: str, path: str, body: dict | None = None,
         headers: dict | None = None, lab_network: bool = False) -> tuple[int, dict]:
    """(HTTP status, JSON answer). headers replaces the signature headers (for tests of refusals).
    lab_network: the caller is a class's scoreboard on the team's management network."""
    data = json.dumps(body).encode() if body is not None else b""
    if not lab_network and urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the console client talks to the lab's console on loopback only")
    h = sign(key, method, path, data) if headers is None else headers
    req = urllib.request.Request(url.rstrip("/") + path, data=data if method != "GET" else None, method=method,
                                 headers={"Content-Type": "application/json", **h})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
