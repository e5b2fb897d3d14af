"""A run folder's raw data, loaded (Run), and the common figures of the base experiment:
sweeps, discovery, scan-then-act, service identification. (Decay is mtdlab.analysis.decay; the
whole summary.json is mtdlab.reporting.summary, over every experiment.)

Inputs: scenario.yaml (as run), truth.jsonl, attacker/observations.jsonl, the clients' logs.
Definitions are in docs/summary.md and repeated in each report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mtdlab.contract.catalog import SERVICE_KINDS
from mtdlab.analysis.decay import extra_life, realised_lives
from mtdlab.contract.events import read_events
from mtdlab.contract.clientlog import read_load
from mtdlab.contract.scenario import Scenario
from mtdlab.experiments import load_scenario
from mtdlab.analysis.resample import Clusters, mean_interval, share_interval
from mtdlab.contract.stats import rounded as _r, within
from mtdlab.analysis.sweeps import full, judge_sweeps
from mtdlab.analysis import theory
from mtdlab.analysis.truth import Truth, read_truth



@dataclass
class Run:
    dir: Path
    scenario: Scenario
    truth: Truth
    attacker: list[dict]
    legit: list[dict]
    direct: list[dict]
    sapp_client: list[dict] = field(default_factory=list)
    gateway: list[dict] = field(default_factory=list)
    # NAME.error files: a part of the run (the attacker, an in-lab client) that failed while it
    # ran; its data ends there, and the report says so (mtdlab/host/run.py writes them).
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, run_dir: str | Path) -> "Run":
        d = Path(run_dir)
        obs = d / "attacker" / "observations.jsonl"
        legit, direct = d / "legit.jsonl", d / "direct.jsonl"
        sapp_client, gateway = d / "sapp-client.jsonl", d / "sapp-gateway.jsonl"
        return cls(d, load_scenario(d / "scenario.yaml"), read_truth(d / "truth.jsonl"),
                   list(read_events(obs)) if obs.exists() else [],
                   read_load(legit) if legit.exists() else [],
                   read_load(direct) if direct.exists() else [],
                   read_load(sapp_client) if sapp_client.exists() else [],
                   read_load(gateway) if gateway.exists() else [],
                   {f.stem: f.read_text(errors="replace") for f in sorted(d.glob("*.error"))})

    def judged(self, e: dict) -> bool:
        """Attacker data inside the window the truth log covers, before the shutdown began."""
        start = e.get("start_mono", e.get("discovered_mono", e["mono"]))
        end = e.get("end_mono", e.get("at_mono", e["mono"]))
        return self.truth.start <= start and end <= self.truth.shutdown

    def sweeps(self, scan: str = "ports") -> list[dict]:
        return [e for e in self.attacker if e["event"] == "sweep.done" and e["scan"] == scan and self.judged(e)]


# --- sweeps, discovery, scan-then-act, identification ----------------------------------

def sweeps(run: Run) -> dict:
    verdicts = judge_sweeps(run.truth, run.sweeps())
    precision, recall = [], []
    for v in verdicts:
        r, t = set(v.reported), set(v.truth_at_end)
        precision.append(len(r & t) / len(r) if r else 1.0)
        recall.append(len(r & t) / len(t) if t else 1.0)
    # A sweep's duration and cycle are those of full rounds (a hop-aware attacker's narrow
    # rescans are not sweeps of its ports); a sampler has none, and its rounds count instead.
    ports = [s for s in run.sweeps() if full(s)] or run.sweeps()
    starts = [s["start_mono"] for s in ports]
    return {"count": len(verdicts), "precision": _r(_mean(precision)), "recall": _r(_mean(recall)),
            "exact": sum(v.exact for v in verdicts),
            "explained_by_hop": sum((not v.exact) and v.ok for v in verdicts),
            "unexplained": sum(not v.ok for v in verdicts),
            "sweep_s": _r(_mean([s["end_mono"] - s["start_mono"] for s in ports])),
            "cycle_s": _r(_mean([b - a for a, b in zip(starts, starts[1:])]))}


def discovery(run: Run, sweep_stats: dict) -> dict:
    """Per service: share of placements (port occupancies) the attacker found while they
    lasted (95% interval: placements resampled), and the mean time from a placement's start to
    its first discovery. Theory from the sweeps' measured gaps, for the law's lives and for the
    lives this run's placements had."""
    out = {}
    cycle = sweep_stats["cycle_s"] or 0
    sweeps_ = run.sweeps()
    ends = sorted(s["end_mono"] for s in sweeps_)
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    for svc in run.scenario.services:
        found, waits, lives = [], [], []
        for p in run.truth.by_service(svc.name):
            if p.ready is None:
                continue
            end = p.closing if p.closing is not None else run.truth.end
            if end - p.ready < 1e-9:
                continue
            lives.append(end - p.ready)
            hits = [s["end_mono"] for s in sweeps_ if p.port in s["open"] and s["end_mono"] >= p.ready
                    and s["start_mono"] <= end]
            found.append(1.0 if hits else 0.0)
            if hits:
                waits.append(max(0.0, min(hits) - p.ready))
        law = svc.hop.interval
        lo, hi = mean_interval(found, Clusters.of(range(len(found))), run.scenario.seed)   # placements in time order
        share = _mean(found)
        realised = theory.found_within(lives, gaps) if lives and gaps and svc.hop.hops else None
        th = theory.discovery_within_placement(law, cycle, extra_life(run.truth, svc.name), gaps=gaps) if cycle else None
        out[svc.name] = {
            "placements": len(found), "discovered_share": _r(share),
            "discovered_share_ci95": [_r(lo), _r(hi)],
            "mean_time_to_discovery_s": _r(_mean(waits)),
            "theory_discovered_share": _r(th),
            "theory_discovered_share_realised": _r(realised),
            "theory_within_ci95": within(lo, hi, th) if share is not None else None,
            "theory_mean_time_to_discovery_s": _r(theory.static_time_to_discovery(cycle) if cycle and not svc.hop.hops else None),
        }
    return out


def sweep_find(run: Run, sweep_stats: dict) -> dict:
    """Per service, the urn model's two figures (theory.md section 2), measured sweep by sweep:
    the share of port sweeps that found it (reported a port the service held at some moment
    of the sweep), against P(find) for m = S/T; and the time to first discovery of an attacker
    who starts with a sweep (from that sweep's start to the end of the first sweep, it or a
    later one, that found the service: nmap tells the attacker at the sweep's end), against
    theory.time_to_first_report, with theory.md's E[W] (the probe's own moment) beside it.
    Both intervals resample blocks of consecutive sweeps."""
    S = sweep_stats["sweep_s"] or 0.0
    C = sweep_stats["cycle_s"] or S
    seed = run.scenario.seed
    out = {}
    for svc in run.scenario.services:
        found, waits = found_by_sweep(run, svc.name)
        th = theory.sweep_theories(svc.hop.interval, S, C, extra_life(run.truth, svc.name))
        lo, hi = share_interval(found, Clusters.of(range(len(found))), seed)
        wlo, whi = mean_interval(waits, Clusters.of(range(len(waits))), seed)
        out[svc.name] = figures_of_sweep_find(found, (lo, hi), waits, (wlo, whi), th)
    return out


def figures_of_sweep_find(found, found_ci, waits, waits_ci, th: dict) -> dict:
    """summary.json's sweep_find row (also a sweep point's, pooled): the measured shares and
    waits with their intervals beside theory.sweep_theories (the pooled one averaged)."""
    (lo, hi), (wlo, whi) = found_ci, waits_ci
    share, wait = _mean(found), _mean(waits)
    return {
        "sweeps": len(found), "m": _r(th["m"]), "found_share": _r(share), "found_share_ci95": [_r(lo), _r(hi)],
        "theory_found_share": _r(th["urn"]), "theory_within_ci95": within(lo, hi, th["urn"]) if share is not None else None,
        "theory_found_share_lab": _r(th["lab"]),
        "lab_within_ci95": within(lo, hi, th["lab"]) if share is not None else None,
        "time_to_first_discovery_s": _r(wait), "time_to_first_discovery_ci95": [_r(wlo), _r(whi)],
        # p of the lab's urn model (the port overlap counts): what decides when the attacker learns
        "theory_time_to_first_report_s": _r(th["report"]),
        "theory_time_to_first_discovery_s": _r(th["ew"]),
        "time_theory_within_ci95": within(wlo, whi, th["report"]) if wait is not None else None,
    }


def found_by_sweep(run: Run, service: str) -> tuple[list[float], list[float]]:
    """For each judged port sweep in order, 1.0 if it reported a port the service held at some
    moment of the sweep; and for each sweep an attacker could start with, the time from its start
    to the end of the first sweep (it or a later one) that found the service."""
    sweeps_ = run.sweeps()
    placements = run.truth.by_service(service)
    found = [float(any(p.port in s["open"] and p.possibly_open(s["start_mono"], s["end_mono"]) for p in placements))
             for s in sweeps_]
    waits = []
    for i, s in enumerate(sweeps_):
        hit = next((t["end_mono"] for t, f in zip(sweeps_[i:], found[i:]) if f), None)
        if hit is not None:
            waits.append(hit - s["start_mono"])
    return found, waits


def act_after_delay(run: Run, sweep_stats: dict) -> dict:
    """Follow-ups D after each sweep's end; success = the port still held by the service that
    held it at discovery. The interval resamples placements (follow-ups to one placement
    stand or fall together); theory is the attempt-weighted mixture over services."""
    plan = run.scenario.attacker
    tries = [e for e in run.attacker if e["event"] == "followup" and run.judged(e)]
    outcome, clusters, services = act_outcomes(run)
    delay = plan.act_delay_s if plan else None
    S = sweep_stats["sweep_s"] or 0
    laws = {s.name: s.hop.interval for s in run.scenario.services}
    # Each attempt with its own delay (a hop-aware attacker acts at once after a rescan).
    by_pair: dict[tuple[str, float], int] = {}
    for name, f in zip(services, tries):
        if name:
            key = (name, f.get("delay_s", delay))
            by_pair[key] = by_pair.get(key, 0) + 1
    weights = by_pair or ({(name, delay): 1 for name in laws} if delay is not None else {})

    def mixture(value) -> float | None:
        if delay is None:
            return None
        return sum(n * value(name, d) for (name, d), n in weights.items()) / sum(weights.values())

    th = mixture(lambda name, d: theory.act_after_delay(laws[name], S, d, extra_life(run.truth, name)))
    realised = mixture(lambda name, d: 1.0 if laws[name].law == "never" else theory.over_sweep(
        lambda x, lives=realised_lives(run.truth, name): theory.realised_survival(lives, x), S, d))
    lo, hi = mean_interval(outcome, Clusters.of(clusters, services), run.scenario.seed)
    naive = mean_interval(outcome, Clusters.naive(len(outcome)), run.scenario.seed, method="percentile")
    rate = _mean(outcome)
    return {"delay_s": delay, "attempts": len(tries), "success_rate": _r(rate),
            "theory": _r(th), "placements": len(set(clusters)),
            "success_ci95": [_r(lo), _r(hi)], "success_ci95_naive": [_r(v) for v in naive],
            "theory_realised": _r(realised),
            "theory_within_ci95": within(lo, hi, th) if rate is not None else None,
            "realised_within_ci95": within(lo, hi, realised) if rate is not None else None}


def act_outcomes(run: Run) -> tuple[list[float], list[str], list[str]]:
    """Each judged follow-up: 1.0 if it reached the service that held the port at discovery;
    the placement it aimed at (its cluster) and that placement's service ("" if none held it)."""
    outcome, clusters, services = [], [], []
    for i, f in enumerate(e for e in run.attacker if e["event"] == "followup" and run.judged(e)):
        before = run.truth.accepting(f["port"], f["discovered_mono"])
        after = run.truth.accepting(f["port"], f["at_mono"])
        outcome.append(float(bool(f["connected"] and before and after and before.service == after.service)))
        clusters.append(before.container if before else f"unheld-{i}")
        services.append(before.service if before else "")
    return outcome, clusters, services


def service_identification(run: Run) -> float | None:
    right = total = 0
    for o in run.attacker:
        if o["event"] != "observation" or o["scan"] != "version" or o["state"] != "open" or not run.judged(o):
            continue
        held = [p for p in run.truth.placements if p.port == o["port"] and p.possibly_open(o["start_mono"], o["end_mono"])]
        if not held:
            continue
        total += 1
        kind = SERVICE_KINDS[run.scenario.service(held[0].service).kind]
        right += (o["service"] or "") in kind.nmap_names
    return _r(right / total) if total else None


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None
