"""Judges each attacker port sweep against the truth log.

nmap does not say when, inside a sweep, it probed each port, so a sweep [t0, t1] is right
when every port surely open throughout it was reported, and every port reported was at
least possibly open during it. What differs from the truth at the sweep's end is then
explained by a hop during the sweep; anything else is an unexplained mismatch.
Only what the network can see counts: behind a SAPP gateway, the gateway's port.
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
        visible = truth.visible()
        surely = {p.port for p in visible if p.surely_open(t0, t1)}
        possibly = {p.port for p in visible if p.possibly_open(t0, t1)}
        at_end = {p.port for p in visible if p.open_at(t1)}
        v = SweepVerdict(s["sweep"], t0, t1, sorted(reported), sorted(at_end))
        v.missed_unexplained = sorted(surely - reported)
        v.extra_unexplained = sorted(reported - possibly)
        v.explained_by_hop = sorted((reported ^ at_end) - set(v.missed_unexplained) - set(v.extra_unexplained))
        verdicts.append(v)
    return verdicts


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
