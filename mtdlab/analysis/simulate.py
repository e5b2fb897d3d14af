"""A pure-Python simulator of the lab's model, writing a run folder in the lab's own formats.

No Docker: services hop at intervals drawn from their law (each hop instantaneous, so a port
lives exactly its interval), an attacker's sweeps end at a jittered cycle and report each service's
port as it was at a random moment of the sweep, and a follow-up connects D seconds later. The folder holds scenario.yaml,
truth.jsonl and attacker/observations.jsonl exactly as a lab run writes them, so
`metrics.compute` (the code behind every report) reads it unchanged. mtdlab.reporting.coverage runs it
over many seeds to check that the reported 95% intervals hold their 95%.
"""
from __future__ import annotations

import bisect
import json
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from mtdlab.contract.events import FORMAT_VERSION
from mtdlab.contract.schedule import IntervalLaw

START_MONO = 1000.0     # the simulated CLOCK_MONOTONIC at the controller's start
WALL_OFFSET = 1.7e9     # wall = mono + this
SWEEP_S = 0.05          # a sweep's duration; each port is probed at a random moment inside it, as nmap's random order does
POOL_SIZE = 999         # each service hops over its own pool of this many ports


@dataclass(frozen=True)
class Model:
    """What one simulated run draws from."""

    law: IntervalLaw
    cycle_s: float                 # mean time between sweep ends
    jitter: float = 0.5            # each gap between sweep ends is uniform in cycle * [1 - jitter, 1 + jitter]
    duration_s: float = 300.0
    act_delay_s: float = 5.0
    services: int = 1

    def gap(self, rng: random.Random) -> float:
        return self.cycle_s * rng.uniform(1 - self.jitter, 1 + self.jitter)


def law_yaml(law: IntervalLaw) -> dict:
    """The scenario's `interval:` mapping for a law."""
    keys = {"fixed": ("period_s",), "uniform": ("low_s", "high_s"), "exponential": ("mean_s",),
            "choice": ("values_s",), "never": ()}[law.law]
    out: dict = {"law": law.law}
    for k in keys:
        v = getattr(law, k)
        out[k] = list(v) if isinstance(v, tuple) else v
    return out


@dataclass
class _Stay:
    start: float
    end: float          # when the next hop moved it (or the shutdown)
    port: int
    container: str


def _schedule(name: str, index: int, model: Model, rng: random.Random, end: float) -> tuple[list[dict], list[_Stay]]:
    """One service's truth events and its stays, hop 0 at the start."""
    pool = range(10000 + 1000 * index, 10000 + 1000 * index + POOL_SIZE)
    events, stays = [], []
    t, hop, old = START_MONO, 0, None
    while t < end:
        stay_s = model.law.sample(rng)
        port = pool[rng.randrange(len(pool))]
        while old is not None and port == old.port:   # the controller never redraws the port it leaves
            port = pool[rng.randrange(len(pool))]
        cur = _Stay(t, min(t + stay_s, end), port, f"{name}-{hop}")
        common = {"service": name, "hop": hop}
        events.append(_ev("hop.decided", t, **common, old_port=old.port if old else None, new_port=port,
                          stay_s=round(stay_s, 6)))
        for kind in ("hop.instance_started", "hop.ready"):
            events.append(_ev(kind, t, **common, port=port, container=cur.container, attempt=1))
        events.append(_ev("hop.proxy_switched", t, **common, port=port, generation=hop + 1))
        events.append(_ev("hop.drained", t, **common, old_workers=0))
        if old is not None:
            for kind in ("hop.old_stopping", "hop.old_stopped"):
                events.append(_ev(kind, t, **common, port=old.port, container=old.container))
        events.append(_ev("hop.done", t, **common, port=port))
        stays.append(cur)
        old, t, hop = cur, t + stay_s, hop + 1
    events.append(_ev("service.stopped", end, service=name, hop=hop - 1, port=old.port, container=old.container))
    return events, stays


def _ev(event: str, mono: float, **fields) -> dict:
    return {"v": FORMAT_VERSION, "event": event, "wall": round(mono + WALL_OFFSET, 6), "mono": round(mono, 6), **fields}


def _holding(stays: list[_Stay], starts: list[float], t: float) -> _Stay | None:
    i = bisect.bisect_right(starts, t) - 1
    return stays[i] if i >= 0 and t < stays[i].end else None


def simulate(model: Model, seed: int, out: Path) -> Path:
    """Write one simulated run folder to out and return it."""
    rng = random.Random(seed)
    # The shutdown falls at a random moment, never exactly on a hop (fixed laws would put it there).
    end = START_MONO + model.duration_s + rng.uniform(0, 1)
    names = [f"svc{i}" for i in range(model.services)]
    truth: list[dict] = []
    stays: dict[str, list[_Stay]] = {}
    for i, name in enumerate(names):
        events, stays[name] = _schedule(name, i, model, rng, end)
        truth += events
    truth.sort(key=lambda e: (e["mono"], e["event"] == "service.stopped"))
    policies = {n: {"interval": model.law.describe(), "law": model.law.as_dict(), "kind": "web", "pool": f"{10000 + 1000 * i}-{10000 + 1000 * i + POOL_SIZE - 1}",
                    "pool_size": POOL_SIZE} for i, n in enumerate(names)}
    truth.insert(0, _ev("controller.started", START_MONO, lab="sim", run=out.name, scenario="simulated", seed=seed,
                        services=policies))
    truth.append(_ev("controller.stopped", end, run=out.name, error=None))

    starts = {n: [s.start for s in stays[n]] for n in names}
    attacker = [_ev("attacker.started", START_MONO, target="sim", ports="10000-60000", timing="sim",
                    version_scan=False, max_sweeps=None, max_s=model.duration_s)]
    t, sweep = START_MONO + rng.uniform(0, model.cycle_s), 0
    while t < end:
        sweep += 1
        held = [s for s in (_holding(stays[n], starts[n], t - rng.uniform(0, SWEEP_S)) for n in names) if s is not None]
        ports = sorted(s.port for s in held)
        attacker.append({**_ev("sweep.done", t, sweep=sweep, scan="ports", target="sim", open=ports,
                               xml=f"xml/sweep-{sweep:05d}-ports.xml"),
                         "start_mono": round(t - SWEEP_S, 6), "end_mono": round(t, 6),
                         "start_wall": round(t - SWEEP_S + WALL_OFFSET, 6), "end_wall": round(t + WALL_OFFSET, 6)})
        at = t + model.act_delay_s
        for port in ports:
            connected = any(s.port == port for s in (_holding(stays[n], starts[n], at) for n in names) if s)
            attacker.append(_ev("followup", at, sweep=sweep, port=port, discovered_mono=round(t, 6),
                                at_mono=round(at, 6), connected=connected))
        t += model.gap(rng)
    attacker.sort(key=lambda e: e["mono"])

    scenario = {"name": "simulated", "description": f"simulated: {model.law.describe()}, sweep cycle {model.cycle_s:g} s",
                "seed": seed, "duration_s": model.duration_s,
                "target": {"services": [{"name": n, "kind": "web", "proxy_port": 18000 + i,
                                         "hop": {"interval": law_yaml(model.law),
                                                 "pool": {"ranges": [f"{10000 + 1000 * i}-{10000 + 1000 * i + POOL_SIZE - 1}"]}}}
                                        for i, n in enumerate(names)]},
                "attacker": {"ports": "10000-60000", "act_delay_s": model.act_delay_s}}
    (out / "attacker").mkdir(parents=True, exist_ok=True)
    (out / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    (out / "truth.jsonl").write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in truth))
    (out / "attacker" / "observations.jsonl").write_text(
        "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in attacker))
    return out
