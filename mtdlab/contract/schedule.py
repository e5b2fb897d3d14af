"""Hop schedules: when a service hops (interval laws) and where to (port pools).

Everything here is pure and seeded: the same seed and service name give the same
intervals and the same ports, on any machine, whatever else happens during the run.
"""
from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from typing import Iterable

WELL_KNOWN = range(1, 1024)


@dataclass(frozen=True)
class IntervalLaw:
    """How long a service stays on one port.

    law is one of: fixed (period_s), uniform (low_s, high_s), exponential (mean_s),
    choice (values_s, each equally likely, as in seed 003), never (no hopping), or keyed
    (seed 001: slots of period_s on the wall clock, the port a keyed function of the slot;
    the next port opens lead_s before its slot, the old one answers grace_s into the next).
    """

    law: str
    period_s: float = 0.0
    low_s: float = 0.0
    high_s: float = 0.0
    mean_s: float = 0.0
    values_s: tuple[float, ...] = ()
    grace_s: float = 0.0
    lead_s: float = 0.0

    LAWS = ("fixed", "uniform", "exponential", "choice", "never", "keyed")

    def sample(self, rng: random.Random) -> float:
        if self.law in ("fixed", "keyed"):
            return self.period_s
        if self.law == "uniform":
            return rng.uniform(self.low_s, self.high_s)
        if self.law == "exponential":
            return rng.expovariate(1.0 / self.mean_s)
        if self.law == "choice":
            return rng.choice(self.values_s)
        if self.law == "never":
            return math.inf
        raise ValueError(f"unknown interval law {self.law!r}")

    @property
    def mean(self) -> float:
        """Mean interval T, the quantity every model in theory.md is written in."""
        return {
            "fixed": lambda: self.period_s,
            "keyed": lambda: self.period_s,
            "uniform": lambda: (self.low_s + self.high_s) / 2,
            "exponential": lambda: self.mean_s,
            "choice": lambda: sum(self.values_s) / len(self.values_s),
            "never": lambda: math.inf,
        }[self.law]()

    def as_dict(self) -> dict:
        """The law and the parameters it uses, as the truth log records it (from_dict reads it back)."""
        used = {"fixed": ("period_s",), "keyed": ("period_s", "grace_s", "lead_s"), "uniform": ("low_s", "high_s"),
                "exponential": ("mean_s",), "choice": ("values_s",), "never": ()}[self.law]
        return {"law": self.law, **{k: list(v) if k == "values_s" else v for k in used for v in [getattr(self, k)]}}

    @classmethod
    def from_dict(cls, d: dict) -> "IntervalLaw":
        """Reads as_dict() back; ValueError for anything else (a log line is not trusted)."""
        if not isinstance(d, dict) or d.get("law") not in cls.LAWS:
            raise ValueError(f"not an interval law: {d!r:.80}")
        law = cls(**{k: tuple(float(x) for x in v) if k == "values_s" else (v if k == "law" else float(v))
                     for k, v in d.items() if k in cls.__dataclass_fields__})
        if law.law != "never" and not (0 < law.mean < float("inf")):
            raise ValueError(f"interval law without a positive mean: {d!r:.80}")
        return law

    def describe(self) -> str:
        return {
            "fixed": lambda: f"fixed {self.period_s:g} s",
            "keyed": lambda: f"keyed slots of {self.period_s:g} s (grace {self.grace_s:g} s, lead {self.lead_s:g} s)",
            "uniform": lambda: f"uniform [{self.low_s:g}, {self.high_s:g}] s",
            "exponential": lambda: f"exponential, mean {self.mean_s:g} s",
            "choice": lambda: "one of " + ", ".join(f"{v:g}" for v in self.values_s) + " s",
            "never": lambda: "never (static)",
        }[self.law]()


@dataclass(frozen=True)
class PortPool:
    """The ports a service may hop to: inclusive ranges minus exclusions.

    Well-known ports (1-1023) are left out unless allow_well_known is set, because a
    service hopping onto 22 or 80 would hand the attacker exactly the guess it makes first.
    """

    ranges: tuple[tuple[int, int], ...]
    exclude: tuple[tuple[int, int], ...] = ()
    allow_well_known: bool = False
    ports: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _members: frozenset = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        excluded = set()
        for lo, hi in self.exclude:
            excluded.update(range(lo, hi + 1))
        chosen = set()
        for lo, hi in self.ranges:
            chosen.update(range(lo, hi + 1))
        if not self.allow_well_known:
            chosen.difference_update(WELL_KNOWN)
        object.__setattr__(self, "ports", tuple(sorted(chosen - excluded)))
        object.__setattr__(self, "_members", frozenset(self.ports))

    def __len__(self) -> int:
        return len(self.ports)

    def __contains__(self, port: int) -> bool:
        return port in self._members

    def draw(self, rng: random.Random, avoid: Iterable[int] = ()) -> int:
        """A port chosen uniformly from the pool, never one in avoid."""
        avoid = set(avoid)
        free = len(self.ports) - sum(1 for p in avoid if p in self)
        if free <= 0:
            raise ValueError(f"port pool {self.describe()} has no port left outside {sorted(avoid)}")
        if free < len(self.ports) // 2:
            # Mostly used up: choose from the remainder instead of rejection sampling.
            return rng.choice([p for p in self.ports if p not in avoid])
        while True:
            port = self.ports[rng.randrange(len(self.ports))]
            if port not in avoid:
                return port

    def describe(self) -> str:
        text = ",".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in self.ranges)
        if self.exclude:
            text += " minus " + ",".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in self.exclude)
        return text


def stream(seed: int, *names: str) -> random.Random:
    """An independent RNG for (seed, names...): stable across Python versions and runs."""
    digest = hashlib.sha256("/".join([str(seed), *names]).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class HopSchedule:
    """The sequence of (interval, port) for one service, reproducible from its seed.

    Intervals and ports come from separate streams, so a retried start (which draws an
    extra port) does not shift the interval sequence.
    """

    def __init__(self, seed: int, service: str, law: IntervalLaw, pool: PortPool):
        self.law = law
        self.pool = pool
        self._intervals = stream(seed, service, "intervals")
        self._ports = stream(seed, service, "ports")

    def next_interval(self) -> float:
        return self.law.sample(self._intervals)

    def next_port(self, avoid: Iterable[int] = ()) -> int:
        return self.pool.draw(self._ports, avoid)
