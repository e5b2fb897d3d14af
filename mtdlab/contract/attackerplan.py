"""The attacker's plan in a scenario: which ports, how fast, which profile (docs/attackers.md),
validated at the edge like the rest of the scenario (mtdlab.contract.scenario calls it)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from mtdlab.contract.reader import Reader, parse_ranges

TIMINGS = ("T0", "T1", "T2", "T3", "T4", "T5")
PROFILES = ("sweeper", "hop-aware", "sampler", "slow", "schedule-learner")
PROFILE_KEYS = {"sample_share": "sampler", "rate_pps": "slow"}   # a profile's own keys


@dataclass(frozen=True)
class AttackerPlan:
    ports: tuple[tuple[int, int], ...]
    timing: str
    pause_s: float
    version_scan: bool
    act_delay_s: Optional[float]
    max_sweeps: int
    # How the attacker works (docs/attackers.md): sweeper (today's loop), hop-aware, sampler,
    # slow or schedule-learner; sample_share is the sampler's, rate_pps the slow one's.
    profile: str = "sweeper"
    sample_share: float = 0.25
    rate_pps: float = 50.0

    @property
    def port_spec(self) -> str:
        return ",".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in self.ports)


def parse_attacker(r: Optional[Reader]) -> Optional[AttackerPlan]:
    """The scenario's `attacker:` section; None without one."""
    if r is None:
        return None
    r.only("ports", "timing", "pause_s", "version_scan", "act_delay_s", "max_sweeps", "profile", *PROFILE_KEYS)
    ports_node = r.node_of("ports", required=False)
    ports = parse_ranges(r, "ports", ports_node) if ports_node is not None else ((1, 65535),)
    timing = r.scalar("timing", (str,), "expected an nmap timing template", default="T4")
    if timing not in TIMINGS:
        r.fail(r.items["timing"][1], r.path("timing"), f"expected one of {', '.join(TIMINGS)}, got {timing!r}")
    pause = r.bounded("pause_s", "attacker.pause_s", default=1.0)
    version_scan = r.scalar("version_scan", (bool,), "expected true or false", default=True)
    act_delay = r.bounded("act_delay_s", "attacker.act_delay_s")
    max_sweeps = r.bounded("max_sweeps", "attacker.max_sweeps", default=10000)
    profile = r.scalar("profile", (str,), "expected an attacker profile", default="sweeper")
    if profile not in PROFILES:
        r.fail(r.items["profile"][1], r.path("profile"), f"expected one of {', '.join(PROFILES)}, got {profile!r}")
    for key, owner in PROFILE_KEYS.items():
        if key in r.items and profile != owner:
            r.fail(r.items[key][1], r.path(key), f"applies to profile {owner} only (this attacker is {profile})")
    if profile in ("hop-aware", "schedule-learner") and act_delay is None:
        r.fail(r.items["profile"][1], r.path("profile"), f"a {profile} attacker acts on what it finds; "
               "expected act_delay_s too")
    share = r.bounded("sample_share", "attacker.sample_share", default=AttackerPlan.sample_share)
    rate = r.bounded("rate_pps", "attacker.rate_pps", default=AttackerPlan.rate_pps)
    return AttackerPlan(ports, timing, pause, version_scan, act_delay, max_sweeps, profile, share, rate)
