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
    def __init__(self, ip: str, log, stop: threading.Event, on_result=None):
        self.ip, self.log, self.stop = ip, log, stop
        self.on_result = on_result or (lambda record: None)   # the profile hears every outcome
        self._timers: list[threading.Timer] = []

    def schedule(self, sweep: int, ports: list[int], discovered_mono: float, delay_s: float) -> None:
        due = discovered_mono + delay_s
        for port in ports:
            t = threading.Timer(max(0.0, due - time.monotonic()), self._connect,
                                args=(sweep, port, discovered_mono, due, delay_s))
            t.daemon = True
            t.start()
            self._timers.append(t)
        self._timers = [t for t in self._timers if t.is_alive()]

    def _connect(self, sweep: int, port: int, discovered: float, due: float, delay_s: float) -> None:
        if self.stop.is_set():
            return
        at = time.monotonic()
        record = {"sweep": sweep, "port": port, "target": self.ip, "delay_s": delay_s,
                  "discovered_mono": discovered, "due_mono": round(due, 6), "at_mono": round(at, 6)}
        try:
            with socket.create_connection((self.ip, port), timeout=2):
                record.update(connected=True)
        except OSError as exc:
            record.update(connected=False, error=type(exc).__name__)
        self.log.write("followup", **record)
        self.on_result(record)

    def wait(self, longest_delay_s: float) -> None:
        for t in self._timers:
            t.join(timeout=longest_delay_s + 5)
