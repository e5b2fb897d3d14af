"""Reconnaissance decay: how long what the attacker saw stays true, per service and pooled.

Every open port a sweep reported is one observation: how long after the sweep's end the port
went on accepting connections (Kaplan-Meier, censored at the shutdown). Observations of one
placement (one port occupancy) are not independent (they differ only by the time between
sweeps), so the 95% interval resamples placements (mtdlab.analysis.resample). Each half-life stands
beside two theories: the law's (what a typical run of this scenario should show) and the
realised schedule's (the port lives this run actually had, which the measurement must match).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mtdlab.analysis import theory
from mtdlab.analysis.km import kaplan_meier, km_half_life
from mtdlab.analysis.resample import Clusters, half_life_interval
from mtdlab.contract.stats import rounded as _r, within
from mtdlab.analysis.theory import solve_half
from mtdlab.analysis.truth import Placement, Truth


STEPS = 40   # points of the average over a sweep's duration (the curves are smooth; 40 is within 1e-3)


@dataclass(frozen=True)
class Sample:
    residual_s: float   # how long the port went on accepting after the sweep's end
    seen_end: bool      # False: cut by the shutdown (censored)
    service: str
    placement: str      # the container that held the port: one independent draw of the schedule


def decay_samples(truth: Truth, sweeps: list[dict]) -> list[Sample]:
    """For every open port a sweep reported: how long after the sweep's end the port went on
    accepting connections, whether that end was seen (False: cut by the shutdown, censored),
    service and placement. A port accepts from its instance's start until the instance is gone,
    so the port-life model in theory.lab_survival uses the same bounds (see extra_life)."""
    out = []
    for s in sweeps:
        t = s["end_mono"]
        for port in s["open"]:
            p = truth.accepting(port, t)
            if p is None:
                held = [q for q in truth.placements if q.port == port and q.possibly_open(s["start_mono"], t)]
                if held:   # gone before the sweep even ended
                    out.append(Sample(0.0, True, held[0].service, held[0].container))
            elif truth.cut_by_shutdown(p):
                out.append(Sample(truth.shutdown - t, False, p.service, p.container))
            else:
                out.append(Sample(p.closed - t, True, p.service, p.container))
    return out


def extra_life(truth: Truth, service: str | None = None) -> float:
    """How much longer a port accepts connections than its scheduled interval, on average (over
    one service, or all): it accepts from its instance's start (just after a hop decision) until
    that instance is gone (just after the next decision, once drained and stopped)."""
    stay = _stays(truth)
    xs = [life(p) - stay[(p.service, p.hop)] for p in complete_lives(truth)
          if (p.service, p.hop) in stay and service in (None, p.service)]
    return sum(xs) / len(xs) if xs else 0.0


def complete_lives(truth: Truth) -> list[Placement]:
    """Placements that became ready and were moved on by a hop (the shutdown cut the others short)."""
    return [p for p in truth.placements if p.ready is not None and not truth.cut_by_shutdown(p)]


def life(p: Placement) -> float:
    """How long the port accepted connections: instance started to instance gone."""
    return p.closed - p.started


def realised_lives(truth: Truth, service: str) -> list[float]:
    return [life(p) for p in complete_lives(truth) if p.service == service]


def _stays(truth: Truth) -> dict[tuple[str, int], float]:
    return {(e["service"], e["hop"]): e["stay_s"] for e in truth.events
            if e["event"] == "hop.decided" and e.get("stay_s") is not None}


def decay(run, extra: float) -> tuple[dict, dict]:
    """summary.json's `decay` (pooled, and per service under `by_service`) and the plot series.
    The lab theory gives each service its own measured extra port life (services start and
    stop at different speeds); `extra` (all services) is reported beside it."""
    samples = decay_samples(run.truth, run.sweeps())
    seed = run.scenario.seed
    # A port a sweep reported was probed some u before the sweep's end, u spread over the sweep,
    # and its residual counts from the end: every theory below is averaged over u in [0, S]
    # (theory.md section 3 with D = d). For a short sweep this is section 1's S(d) itself.
    full_rounds = [s for s in run.sweeps() if s.get("scope", "full") == "full"] or run.sweeps()
    S = float(np.mean([s["end_mono"] - s["start_mono"] for s in full_rounds])) if full_rounds else 0.0
    laws = {s.name: s.hop.interval for s in run.scenario.services}
    lives = {name: np.array(realised_lives(run.truth, name)) for name in laws}
    extras = {name: extra_life(run.truth, name) for name in laws}
    counts = {name: sum(x.service == name for x in samples) for name in laws}

    def law_lab(name, d):
        return theory.over_sweep(lambda x: theory.lab_survival(laws[name], x, extras[name]), S, d, STEPS)

    def law_pure(name, d):
        return theory.over_sweep(lambda x: theory.residual_survival(laws[name], x), S, d, STEPS)

    def realised(name, d):
        return theory.over_sweep(lambda x: theory.realised_survival(lives[name], x), S, d, STEPS)

    def mix(curve, names):
        """Per-service curves pooled as the observation-weighted mixture."""
        n = sum(counts[x] for x in names)
        return (lambda d: sum(counts[x] * curve(x, d) for x in names) / n) if n else (lambda d: float("nan"))

    def block(obs: list[Sample], names: list[str]) -> dict:
        pairs = [(x.residual_s, x.seen_end) for x in obs]
        half = km_half_life(pairs)
        lo, hi = half_life_interval(pairs, Clusters.of([x.placement for x in obs], [x.service for x in obs]), seed)
        naive = half_life_interval(pairs, Clusters.naive(len(pairs)), seed, method="percentile")
        th_lab, th_pure, th_real = (solve_half(mix(c, names)) for c in (law_lab, law_pure, realised))
        inside = (lambda th: within(lo, hi, th) if half is not None else None)
        return {
            "observations": len(pairs), "censored": sum(not e for _, e in pairs),
            "placements": len({x.placement for x in obs}),
            "half_life_s": _r(half), "half_life_ci95": [_r(lo), _r(hi)], "half_life_ci95_naive": [_r(v) for v in naive],
            "theory_half_life_s": _r(th_lab), "theory_half_life_pure_s": _r(th_pure),
            "theory_half_life_realised_s": _r(th_real),
            "theory_within_ci95": inside(th_lab), "realised_within_ci95": inside(th_real),
        }

    observed = [name for name in laws if counts[name]]
    summary = block(samples, observed)
    summary["extra_life_s"] = _r(extra)
    stays = _stays(run.truth)
    summary["by_service"] = {}
    for name in laws:
        drawn = [v for (svc, _), v in stays.items() if svc == name]
        # With one service observed, its figures are the pooled ones: the same samples, the same draws.
        row = dict(summary) if observed == [name] else block([x for x in samples if x.service == name],
                                                              [name] if counts[name] else [])
        row.pop("by_service", None)
        row.update({"law": laws[name].describe(), "law_mean_interval_s": _r(laws[name].mean),
                    "extra_life_s": _r(extras[name]),
                    "intervals_drawn": len(drawn), "mean_interval_drawn_s": _r(sum(drawn) / len(drawn) if drawn else None),
                    "mean_port_life_s": _r(float(lives[name].mean()) if len(lives[name]) else None)})
        summary["by_service"][name] = row

    horizon = max([x.residual_s for x in samples] + [1.0])
    grid = [horizon * i / 200 for i in range(201)]
    series = {"km": kaplan_meier([(x.residual_s, x.seen_end) for x in samples]), "grid": grid,
              "theory": [mix(law_lab, observed)(d) for d in grid],
              "theory_pure": [mix(law_pure, observed)(d) for d in grid],
              "theory_realised": [mix(realised, observed)(d) for d in grid]}
    return summary, series
