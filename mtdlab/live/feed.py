"""Feeds a LiveState: a running lab's logs followed as they grow, or a finished run replayed.

One thread polls; every change wakes the page streams (Feed.changed). The run folder is only
ever opened for reading.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from mtdlab.contract.events import read_events
from mtdlab.live.state import LiveState
from mtdlab.live.tail import Tailer, is_event, is_request

POLL_S = 0.1    # how often the logs are looked at: well inside the page's 1 s promise
VIEW_REUSE_S = 0.2   # a view this recent is sent as it is to another page asking

# (source, path in the run folder, what a line must be). A scenario run's legitimate client
# writes legit.jsonl; the demo's `users` service writes users/legit.jsonl.
LOGS = (("truth", "truth.jsonl", is_event), ("attacker", "attacker/observations.jsonl", is_event),
        ("legit", "legit.jsonl", is_request), ("legit", "users/legit.jsonl", is_request))


class Feed:
    """Base: a state, a lock around it, and a condition the page streams wait on."""

    def __init__(self, state: LiveState):
        self.state = state
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.version = 0
        self.problems: list[str] = []
        self._stop = threading.Event()
        self._cached: tuple[int, float, dict] | None = None

    def start(self) -> "Feed":
        threading.Thread(target=self._loop, name="live-feed", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            batch = self.poll()
            with self.changed:
                for source, record in batch:
                    self.state.apply(source, record)
                self.version += 1 if batch else 0
                self.changed.notify_all()
            self._stop.wait(POLL_S)

    def poll(self) -> list[tuple[str, dict]]:
        raise NotImplementedError

    def view(self) -> dict:
        """The page's view; pages open at the same moment share one (it is rebuilt when a line
        changed it, or when it is older than VIEW_REUSE_S, so "now" moves)."""
        with self.lock:
            fresh = time.monotonic()
            if self._cached is None or self._cached[0] != self.version or fresh - self._cached[1] > VIEW_REUSE_S:
                self._cached = (self.version, fresh, self.state.view(self.problems))
            return self._cached[2]

    def wait_change(self, seen: int, timeout: float) -> int:
        with self.changed:
            self.changed.wait_for(lambda: self.version != seen, timeout)
            return self.version


class LiveFeed(Feed):
    """A running lab: each log followed from its start, new lines as they are appended."""

    def __init__(self, run_dir: str | Path):
        super().__init__(LiveState())
        self.run_dir = Path(run_dir)
        self.tailers = [(source, Tailer(self.run_dir / rel, wanted)) for source, rel, wanted in LOGS]

    def poll(self) -> list[tuple[str, dict]]:
        batch = []
        for source, tailer in self.tailers:
            batch += [(source, r) for r in tailer.poll()]
        # Lines that are not records at all (torn by a crash, garbage) count beside those the state refused.
        self.state.skipped_lines = {str(t.path.relative_to(self.run_dir)): t.malformed for _, t in self.tailers if t.malformed}
        self.problems = [t.problem for _, t in self.tailers if t.problem] + \
                        [f"{t.path.name} was replaced or cut; read again from its start" for _, t in self.tailers if t.restarts]
        # Logs are merged in time order within a poll, so a sweep meets the hops that came before it.
        batch.sort(key=lambda sr: sr[1]["mono"])
        return batch


class ReplayFeed(Feed):
    """A finished run played back at `speed` times real time, on a clock of its own."""

    def __init__(self, run_dir: str | Path, speed: float = 1.0):
        records = []
        for source, rel, wanted in LOGS:
            path = Path(run_dir) / rel
            if path.exists():
                records += [(source, r) for r in read_events(path) if isinstance(r, dict) and wanted(r)
                            and isinstance(r.get("mono"), (int, float))]
        if not records:
            raise FileNotFoundError(f"{run_dir}: no truth log, attacker log or client log to replay")
        records.sort(key=lambda sr: sr[1]["mono"])
        self.records, self.next, self.speed = records, 0, speed
        self.t0, self.t_end = records[0][1]["mono"], records[-1][1]["mono"]
        self.began = time.monotonic()
        super().__init__(LiveState(clock=self.replay_clock, rate=speed))

    def replay_clock(self) -> float:
        return min(self.t_end, self.t0 + (time.monotonic() - self.began) * self.speed)

    @property
    def finished(self) -> bool:
        return self.next >= len(self.records)

    def poll(self) -> list[tuple[str, dict]]:
        now, batch = self.replay_clock(), []
        while self.next < len(self.records) and self.records[self.next][1]["mono"] <= now:
            batch.append(self.records[self.next])
            self.next += 1
        return batch
