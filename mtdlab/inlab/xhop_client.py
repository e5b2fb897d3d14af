"""Legitimate clients of the per-exchange hopping service (mtdlab.contract.xhop): exchange i goes to
the port HMAC(key, i) names, one datagram, answered or not within the timeout.

    python3 -m mtdlab.inlab.xhop_client TARGET BASE N RATE_PER_S DURATION_S OUT  (key in MTDLAB_XHOP_KEY)
"""
from __future__ import annotations

import json
import secrets
import socket
import sys
import time
from pathlib import Path

from mtdlab.contract import keys
from mtdlab.contract.limits import LIMITS, LimitError
from mtdlab.contract.scope import in_scope_or_exit
from mtdlab.contract.xhop import exchange_port, request, reply

TIMEOUT_S = 0.5


class Exchanges:
    """Sends exchanges at their paced times and matches answers as they come, so a lost
    datagram costs its own timeout, not the pace of the ones after it."""

    def __init__(self, sock: socket.socket, ip: str, out):
        self.sock, self.ip, self.out = sock, ip, out
        self.pending: dict[int, dict] = {}

    def send(self, i: int, port: int, n: int) -> None:
        nonce = secrets.token_hex(4)
        self.pending[i] = {"mono": round(time.monotonic(), 6), "n": n, "exchange": i, "port": port, "nonce": nonce}
        self.sock.sendto(request(i, nonce), (self.ip, port))

    def collect(self, until: float) -> None:
        """Read answers until the monotonic time `until`; settle exchanges past their timeout."""
        while True:
            now = time.monotonic()
            for i in [i for i, r in self.pending.items() if now - r["mono"] > TIMEOUT_S]:
                self._settle(self.pending.pop(i), None)
            if now >= until:
                return
            self.sock.settimeout(max(0.001, until - now))
            try:
                data, _ = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            parts = data.decode(errors="replace").split(" ")
            if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) in self.pending:
                r = self.pending[int(parts[1])]
                if data == reply(r["exchange"], r["nonce"]):
                    self._settle(self.pending.pop(r["exchange"]), time.monotonic())

    def _settle(self, record: dict, answered: float | None) -> None:
        record.pop("nonce")
        record.update(ok=answered is not None,
                      latency_ms=round((answered - record["mono"]) * 1000, 3) if answered else None)
        self.out.write(json.dumps(record) + "\n")


def check(n: int, rate: float, duration: float) -> None:
    LIMITS["flood.ns"].require(n, "xhop_client")
    LIMITS["flood.client_rate_per_s"].require(rate, "xhop_client")
    LIMITS["flood.seconds_per_n"].require(duration, "xhop_client")


def main() -> int:
    target, base, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rate, duration, out = float(sys.argv[4]), float(sys.argv[5]), Path(sys.argv[6])
    try:
        check(n, rate, duration)
    except LimitError as exc:
        print(f"xhop_client: refusing: {exc}", file=sys.stderr)
        return 2
    ip = in_scope_or_exit(target, "xhop_client")
    key = keys.from_env(keys.XHOP)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    with open(out, "w") as f:
        ex = Exchanges(sock, ip, f)
        for i in range(int(rate * duration)):
            ex.collect(start + i / rate)
            ex.send(i, exchange_port(key, i, base, n), n)
        ex.collect(time.monotonic() + TIMEOUT_S + 0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
