"""JSON-lines event logs: the controller's truth log and the attacker's observations.

One JSON object a line, each with "v" (format version), "event", "wall" (Unix time, s)
and "mono" (CLOCK_MONOTONIC, s). All lab containers share the host's kernel, so their
monotonic clocks agree and intervals between any two logs are measured on one clock.
The formats are documented in docs/events.md.
"""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Iterator

FORMAT_VERSION = 1


class EventLog:
    """Append-only, thread-safe writer; every line is flushed as it is written, so the log
    survives a SIGKILL of the writer up to the last complete event."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", buffering=1)
        self._lock = threading.Lock()

    def write(self, event: str, **fields) -> dict:
        record = {"v": FORMAT_VERSION, "event": event, "wall": round(time.time(), 6),
                  "mono": round(time.monotonic(), 6), **fields}
        line = json.dumps(record, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")
        return record

    def close(self) -> None:
        self._file.close()


def open_no_link(path: str | Path):
    """Open a run-folder file for reading as text, refusing a symbolic link (ELOOP)."""
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), encoding="utf-8", errors="replace")


def read_events(path: str | Path) -> Iterator[dict]:
    """Every complete event in a log; a torn last line (writer killed mid-write) is skipped.
    A log that is a symbolic link is refused (OSError): a lab container could have planted it."""
    with open_no_link(path) as f:
        for line in f:
            if line.endswith("\n"):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue
