"""Judges each attacker port sweep against the truth log.

nmap does not say when, inside a sweep, it probed each port, so a sweep [t0, t1] is right
when every port surely open throughout it was reported, and every port reported was at
least possibly open during it. What differs from the truth at the sweep's end is then
explained by a hop during the sweep; anything else is an unexplained mismatch.
Only what the network can see counts: behind a SAPP gateway, the gateway's port. A round
that probed only some ports (a sampler's, a hop-aware rescan: `scanned`) is judged on those.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mtdlab.analysis.truth import Truth


@dataclass
class SweepVerdict:
    sweep: int
    start: float
    end: float
    reported: list[int]
    truth_at_end: list[int]
    missed_unexplained: list[int] = field(default_factory=list)
    extra_unexplained: list[int] = field(default_factory=list)
    explained_by_hop: list[int] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return sorted(self.reported) == sorted(self.truth_at_end)

    @property
    def ok(self) -> bool:
        return not self.missed_unexplained and not self.extra_unexplained


def judge_sweeps(truth: Truth, sweeps: list[dict]) -> list[SweepVerdict]:
    verdicts = []
    for s in sweeps:
        if s.get("scan") != "ports" or s["start_mono"] < truth.start or s["end_mono"] > truth.end:
            continue  # outside the logged window: no truth to judge it by
        t0, t1 = s["start_mono"], s["end_mono"]
        reported = set(s["open"])
        scanned = ports_of(s["scanned"]) if s.get("scanned") else None   # a partial round: only what it probed
        visible = [p for p in truth.visible() if scanned is None or p.port in scanned]
        surely = {p.port for p in visible if p.surely_open(t0, t1)}
        possibly = {p.port for p in visible if p.possibly_open(t0, t1)}
        at_end = {p.port for p in visible if p.open_at(t1)}
        v = SweepVerdict(s["sweep"], t0, t1, sorted(reported), sorted(at_end))
        v.missed_unexplained = sorted(surely - reported)
        v.extra_unexplained = sorted(reported - possibly)
        v.explained_by_hop = sorted((reported ^ at_end) - set(v.missed_unexplained) - set(v.extra_unexplained))
        verdicts.append(v)
    return verdicts


def ports_of(spec: str) -> set[int]:
    """nmap's -p text ("1-3,7") as a set of ports."""
    out: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def full(sweep: dict) -> bool:
    """A round over every port the attacker covers (not a sampler's share or a narrow rescan)."""
    return sweep.get("scope", "full") == "full"


def sweep_summary(verdicts: list[SweepVerdict]) -> dict:
    return {
        "sweeps": len(verdicts),
        "exact": sum(v.exact for v in verdicts),
        "explained_by_hop": sum((not v.exact) and v.ok for v in verdicts),
        "unexplained": sum(not v.ok for v in verdicts),
        "unexplained_detail": [
            {"sweep": v.sweep, "reported": v.reported, "truth_at_end": v.truth_at_end,
             "missed": v.missed_unexplained, "extra": v.extra_unexplained}
            for v in verdicts if not v.ok],
    }
