"""Scan, then act: D seconds after a sweep ends, connect to each port it found open.

One connection per port per sweep (bounded by what the sweep found). Whether it reached the
service the attacker believed it found is judged later against the truth log; here we only
record what happened on the wire.
"""
from __future__ import annotations

import socket
import threading
import time


class FollowUps:
    def __init__(self, ip: str, delay_s: float, log, stop: threading.Event):
        self.ip, self.delay_s, self.log, self.stop = ip, delay_s, log, stop
        self._timers: list[threading.Timer] = []

    def schedule(self, sweep: int, ports: list[int], discovered_mono: float) -> None:
        due = discovered_mono + self.delay_s
        for port in ports:
            t = threading.Timer(max(0.0, due - time.monotonic()), self._connect, args=(sweep, port, discovered_mono, due))
            t.daemon = True
            t.start()
            self._timers.append(t)
        self._timers = [t for t in self._timers if t.is_alive()]

    def _connect(self, sweep: int, port: int, discovered: float, due: float) -> None:
        if self.stop.is_set():
            return
        at = time.monotonic()
        record = {"sweep": sweep, "port": port, "target": self.ip, "delay_s": self.delay_s,
                  "discovered_mono": discovered, "due_mono": round(due, 6), "at_mono": round(at, 6)}
        try:
            with socket.create_connection((self.ip, port), timeout=2):
                record.update(connected=True)
        except OSError as exc:
            record.update(connected=False, error=type(exc).__name__)
        self.log.write("followup", **record)

    def wait(self) -> None:
        for t in self._timers:
            t.join(timeout=self.delay_s + 5)
