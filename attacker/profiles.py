"""Attacker profiles: how the attacker picks each round's ports, when it starts it, and how
long after a sweep it acts (docs/attackers.md). The loop in attacker.main runs a profile;
a profile only plans, so each can be tested without nmap.

- sweeper: today's loop: every port, a pause, again; acts act_delay_s after each sweep.
- hop-aware: a sweeper that, when a follow-up finds its port closed, rescans the ports around
  it at once (NARROW_HALF either side, within its ranges) and acts on what it finds at once.
- sampler: each round a fresh random share (sample_share) of its ports.
- slow: a sweeper held below rate_pps probes a second (nmap --max-rate), the pace a
  detector counting probes per source would not flag.
- schedule-learner: sweeps back to back until it has seen LEARN_LIVES port lives; if they look
  regular (coefficient of variation under REGULAR_CV) it stops sweeping blindly and starts each
  sweep just after the next hop it predicts, so what it finds is fresh when it acts. When
  MAX_MISSES of its last CHECK_LAST predictions fail (the port still open, or 20% overdue), it
  learns again. Against memoryless (exponential) hops there is nothing to predict: it stays a sweeper,
  or (a few regular-looking lives by chance) soon finds out.
"""
from __future__ import annotations

import random
import statistics
import threading
from dataclasses import dataclass, field

NARROW_HALF = 128     # hop-aware: ports either side of a closed one that its rescan covers
LEARN_LIVES = 8       # schedule-learner: port lives seen before it trusts an estimate
CHECK_LAST = 5        # ... and of its last timed rounds, how many it judges its predictions by:
MAX_MISSES = 3        # this many predicted hops that did not come make it learn again
REGULAR_CV = 0.35     # ... and the spread (stdev / mean) under which it calls them regular
NARROW_BRACKET = 0.2  # ... a life counts only when its birth and death are each bracketed within this share of it


@dataclass(frozen=True)
class Round:
    ports: str               # nmap -p
    scope: str               # full, sample or narrow
    delay_s: float | None    # follow-ups this long after the round's end (None: none)
    extra: tuple = ()        # more nmap arguments
    note: dict = field(default_factory=dict)   # what the profile knew, for the log


def spec(ports) -> str:
    """Sorted ports as nmap ranges: [1, 2, 3, 7] -> '1-3,7'."""
    ports = sorted(set(ports))
    out, i = [], 0
    while i < len(ports):
        j = i
        while j + 1 < len(ports) and ports[j + 1] == ports[j] + 1:
            j += 1
        out.append(f"{ports[i]}-{ports[j]}" if j > i else str(ports[i]))
        i = j + 1
    return ",".join(out)


class Sweeper:
    def __init__(self, plan, seed: int):
        self.plan = plan
        self.rng = random.Random(seed)
        self.last_end: float | None = None
        self.wake = threading.Event()      # set when something asks for a round before the pause ends

    def next_round(self, now: float) -> tuple[Round, float]:
        """The next round and the monotonic time to start it."""
        start = now if self.last_end is None else self.last_end + self.plan.pause_s
        return Round(self.plan.port_spec, "full", self.plan.act_delay_s, self.extra()), start

    def extra(self) -> tuple:
        return ()

    def seen(self, rnd: Round, start: float, end: float, found: list[int]) -> None:
        self.last_end = end

    def followup(self, record: dict) -> None:
        pass

    def _all_ports(self) -> list[int]:
        return [p for lo, hi in self.plan.ports for p in range(lo, hi + 1)]


class Slow(Sweeper):
    def extra(self) -> tuple:
        return ("--max-rate", f"{self.plan.rate_pps:g}")


class Sampler(Sweeper):
    def next_round(self, now: float) -> tuple[Round, float]:
        rnd, start = super().next_round(now)
        ports = self._all_ports()
        k = max(1, round(len(ports) * self.plan.sample_share))
        return Round(spec(self.rng.sample(ports, k)), "sample", self.plan.act_delay_s), start


class HopAware(Sweeper):
    def __init__(self, plan, seed: int):
        super().__init__(plan, seed)
        self.lock = threading.Lock()
        self.pending: list[int] = []      # closed ports whose neighbourhood waits for a rescan

    def followup(self, record: dict) -> None:
        if record.get("connected") is False and record.get("delay_s", 0) > 0:   # not after a rescan's own act
            with self.lock:
                if all(abs(record["port"] - p) > NARROW_HALF for p in self.pending):
                    self.pending.append(record["port"])
            self.wake.set()

    def next_round(self, now: float) -> tuple[Round, float]:
        with self.lock:
            if self.pending:
                port = self.pending.pop(0)
                if not self.pending:
                    self.wake.clear()
                near = [p for lo, hi in self.plan.ports for p in range(max(lo, port - NARROW_HALF),
                                                                       min(hi, port + NARROW_HALF) + 1)]
                return Round(spec(near), "narrow", 0.0, note={"after_closed": port}), now
        return super().next_round(now)


class ScheduleLearner(Sweeper):
    def __init__(self, plan, seed: int):
        super().__init__(plan, seed)
        self.open: dict[int, float | None] = {}     # port -> its birth (None: unknown)
        self.birth_width: dict[int, float] = {}
        self.lives: list[float] = []
        self.mean_s: float | None = None
        self.cv: float | None = None
        self.timed_for: float | None = None          # the hop the current round was timed after
        self.timed_port: int | None = None           # ... and the port it predicted to close
        self.checks: list[bool] = []                 # whether each recent timed round saw it closed
        self.overdue: set[int] = set()               # ports that outlived their predicted hop by 20%
        self.relearned = 0

    @property
    def regular(self) -> bool:
        return self.mean_s is not None and self.cv is not None and self.cv < REGULAR_CV

    def next_round(self, now: float) -> tuple[Round, float]:
        rnd, start = super().next_round(now)
        note = {"learned_mean_s": _r(self.mean_s), "learned_cv": _r(self.cv), "lives": len(self.lives),
                "relearned": self.relearned}
        self.timed_for = self.timed_port = None
        if self.regular and self.last_end is not None:
            # A port well past the hop predicted for it is a prediction that failed, too.
            for port, b in list(self.open.items()):
                if not self.regular:             # a failed check made it learn again
                    break
                if b is not None and b + 1.2 * self.mean_s < self.last_end and port not in self.overdue:
                    self.overdue.add(port)
                    self._check(False)
        if self.regular and self.last_end is not None:
            due = [(b + self.mean_s, port) for port, b in self.open.items()
                   if b is not None and b + self.mean_s > self.last_end]
            if due:
                hop, port = min(due)
                start = max(start, hop + 0.05 * self.mean_s + 0.2)
                self.timed_for, self.timed_port = hop, port
                note["timed_after_s"] = _r(hop)
        return Round(rnd.ports, "full", rnd.delay_s, note=note), start

    def seen(self, rnd: Round, start: float, end: float, found: list[int]) -> None:
        prev = self.last_end
        super().seen(rnd, start, end, found)
        now_open = set(found)
        gone, new = set(self.open) - now_open, now_open - set(self.open)
        for port in gone:
            birth = self.open.pop(port)
            width = self.birth_width.pop(port, None)
            if birth is None or prev is None:
                continue
            death, dwidth = (self.timed_for, 0.0) if self.timed_for is not None else ((prev + end) / 2, end - prev)
            life = death - birth
            if life > 0 and self.mean_s is None and max(width or 0, dwidth) <= NARROW_BRACKET * life:
                self.lives.append(life)
        if self.mean_s is None and len(self.lives) >= LEARN_LIVES:
            self.mean_s = statistics.fmean(self.lives)
            self.cv = statistics.pstdev(self.lives) / self.mean_s
        for port in new:
            if prev is None:
                self.open[port] = None             # open before the first sweep: birth unknown
            elif self.timed_for is not None and len(gone) == len(new) == 1:
                # One port moved, at the hop it was timed after. (Several moved at once, as
                # services that hop in phase do: which followed which is unknown, so each gets the
                # round's wide bracket; see docs/attackers.md.)
                self.open[port], self.birth_width[port] = self.timed_for, 0.0
            else:
                self.open[port], self.birth_width[port] = (prev + end) / 2, end - prev
        if self.timed_port is not None:
            # Did the hop it timed this round after come? Predictions that keep failing mean the
            # schedule was not as regular as the lives it learnt from: learn again.
            self._check(self.timed_port not in now_open)

    def _check(self, came: bool) -> None:
        self.checks = (self.checks + [came])[-CHECK_LAST:]
        if self.checks.count(False) >= MAX_MISSES:
            self.mean_s = self.cv = None
            self.lives, self.checks = [], []
            self.relearned += 1


PROFILES = {"sweeper": Sweeper, "hop-aware": HopAware, "sampler": Sampler, "slow": Slow,
            "schedule-learner": ScheduleLearner}


def make(plan, seed: int) -> Sweeper:
    return PROFILES[plan.profile](plan, seed)


def _r(x):
    return round(x, 3) if x is not None else None
