"""Follows one JSON-lines log as it grows, the way `tail -F` would, without trusting it.

The lab's logs are appended a line at a time and never rotated, but the reader must not
break on what a crashed or hostile writer leaves: a torn last line is held until its newline
arrives; a line that is not a JSON object with an `event` is counted and skipped; a file
that shrank or was replaced is read again from its start (counted); a symbolic link is
refused. Each poll reads at most READ_CHUNK bytes, so a huge log is caught up in steps.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

READ_CHUNK = 4 << 20      # bytes read per poll at most
MAX_LINE = 1 << 20        # a longer line is dropped as malformed (no event is near this)


class Tailer:
    def __init__(self, path: str | Path, wanted=None):
        self.path = Path(path)
        self.wanted = wanted or is_event   # what a line must be to count as one record
        self.offset = 0
        self.inode: int | None = None
        self.partial = b""
        self.lines = 0            # events read
        self.malformed = 0        # lines skipped: not JSON, not an event object, or too long
        self.restarts = 0         # the file shrank or was replaced; read again from its start
        self.problem: str | None = None   # why the file cannot be read now (None: it can, or is not there yet)
        self._skip_to_newline = False     # the rest of a too-long line is still to come

    def poll(self) -> list[dict]:
        """The complete events appended since the last poll."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            self.problem = None
            return []
        except OSError as exc:   # a link (ELOOP), no permission, ...
            self.problem = f"{self.path.name}: {exc.strerror or exc}"
            return []
        try:
            st = os.fstat(fd)
            if not os.path.stat.S_ISREG(st.st_mode):
                self.problem = f"{self.path.name}: not a regular file"
                return []
            self.problem = None
            if st.st_ino != self.inode or st.st_size < self.offset:
                if self.inode is not None:
                    self.restarts += 1
                self.inode, self.offset, self.partial = st.st_ino, 0, b""
            if st.st_size == self.offset:
                return []
            os.lseek(fd, self.offset, os.SEEK_SET)
            data = os.read(fd, min(READ_CHUNK, st.st_size - self.offset))
        finally:
            os.close(fd)
        self.offset += len(data)
        *complete, rest = (self.partial + data).split(b"\n")
        self.partial = rest
        if len(self.partial) > MAX_LINE:
            self.malformed += 1
            self.partial = b""
            self._skip_to_newline = True
        events = []
        for line in complete:
            if self._skip_to_newline:
                self._skip_to_newline = False   # the tail of a line already dropped as too long
                continue
            event = parse(line, self.wanted)
            if event is None:
                self.malformed += line.strip() != b""
            else:
                events.append(event)
        self.lines += len(events)
        return events


def parse(line: bytes, wanted=None) -> dict | None:
    """A record, or None: a JSON object with a finite number `mono` that `wanted` accepts."""
    if len(line) > MAX_LINE:
        return None
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or not is_number(obj.get("mono")):
        return None
    return obj if (wanted or is_event)(obj) else None


def is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and abs(x) != float("inf")


def is_event(obj: dict) -> bool:
    """The truth log's and the attacker's lines: they name their event."""
    return isinstance(obj.get("event"), str)


def is_request(obj: dict) -> bool:
    """The legitimate client's lines: one request each, with its outcome and latency."""
    return isinstance(obj.get("ok"), bool) and is_number(obj.get("latency_ms"))
