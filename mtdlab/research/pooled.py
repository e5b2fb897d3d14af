"""One sweep point's figures, pooled over its repetitions from their raw data.

Each repetition is its own stratum in every bootstrap (resampled on its own, so each keeps its
placements or sweeps), with the same blocks of consecutive placements (or sweeps) as a single
run's figures: the point's 95% intervals are those of one long run made of the repetitions,
not an average of intervals. Definitions as in docs/summary.md; docs/sweeps.md lists the keys.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from mtdlab.analysis import theory
from mtdlab.analysis.decay import decay_samples, extra_life
from mtdlab.analysis.km import km_half_life
from mtdlab.analysis.metrics import Run, act_outcomes, figures_of_sweep_find, found_by_sweep
from mtdlab.analysis.resample import Clusters, half_life_interval, mean_interval, share_interval
from mtdlab.contract.stats import rounded as _r, within


def point_figures(folders: list[Path]) -> dict:
    runs = [Run.load(f) for f in folders]
    sums = [json.loads((f / "summary.json").read_text()) for f in folders]
    seed = runs[0].scenario.seed
    laws = {s.name: s.hop.interval for s in runs[0].scenario.services}
    return {"runs": len(runs), "law": _law(laws), "mean_interval_s": _r(_one({l.mean for l in laws.values()})),
            "realised_mean_interval_s": _r(_realised_interval(sums)),
            "decay": _decay(runs, sums, laws, seed), "sweep_find": _find(runs, sums, laws, seed),
            "act_after_delay": _act(runs, sums, seed), "legit": _legit(sums),
            "per_run": [{"folder": f.name, "seed": s["seed"], "half_life_s": s["decay"]["half_life_s"],
                         "half_life_ci95": s["decay"]["half_life_ci95"], "sweep_s": s["sweeps"]["sweep_s"],
                         "act_success": s["act_after_delay"]["success_rate"], "legit_failures": s["legit"]["failures"]}
                        for f, s in zip(folders, sums)]}


def _decay(runs, sums, laws, seed) -> dict:
    samples, labels, strata, counts = [], [], [], {}
    for i, run in enumerate(runs):
        for x in decay_samples(run.truth, run.sweeps()):
            samples.append((x.residual_s, x.seen_end))
            labels.append(f"{i}:{x.placement}")
            strata.append(f"{i}:{x.service}")
            counts[x.service] = counts.get(x.service, 0) + 1
    half = km_half_life(samples) if samples else None
    lo, hi = half_life_interval(samples, Clusters.of(labels, strata), seed) if samples else (None, None)
    n = sum(counts.values())
    # theory.md section 1, averaged over when in the sweep the port was probed (as in each run's decay)
    S = _mean([s["sweeps"]["sweep_s"] for s in sums]) or 0.0
    pure = theory.solve_half(lambda d: sum(c * theory.over_sweep(lambda x: theory.residual_survival(laws[s], x), S, d, 40)
                                           for s, c in counts.items()) / n) if n else None
    lab = _mean([s["decay"]["theory_half_life_s"] for s in sums])
    return {"observations": len(samples), "placements": len(set(labels)), "half_life_s": _r(half),
            "half_life_ci95": [_r(lo), _r(hi)], "theory_half_life_pure_s": _r(pure), "theory_half_life_lab_s": _r(lab),
            "pure_within_ci95": within(lo, hi, pure) if half is not None else None,
            "lab_within_ci95": within(lo, hi, lab) if half is not None else None}


def _find(runs, sums, laws, seed) -> dict:
    found, labels, strata, waits, wlabels, wstrata, theories, wtheories = ([] for _ in range(8))
    for i, (run, summary) in enumerate(zip(runs, sums)):
        S, C = summary["sweeps"]["sweep_s"] or 0.0, summary["sweeps"]["cycle_s"] or 0.0   # full rounds
        for name, law in laws.items():
            f, w = found_by_sweep(run, name)
            th = theory.sweep_theories(law, S, C, extra_life(run.truth, name))
            found += f
            labels += [f"{i}:{name}:{k}" for k in range(len(f))]
            strata += [f"{i}:{name}"] * len(f)
            waits += w
            wlabels += [f"{i}:{name}:{k}" for k in range(len(w))]
            wstrata += [f"{i}:{name}"] * len(w)
            theories += [th] * len(f)       # each sweep's theory, averaged like the sweeps themselves
            wtheories += [th] * len(w)
    mean = {k: _mean([t[k] for t in theories]) for k in ("m", "urn", "lab", "ew")}
    mean["report"] = _mean([t["report"] for t in wtheories])
    return figures_of_sweep_find(found, share_interval(found, Clusters.of(labels, strata), seed), waits,
                                 mean_interval(waits, Clusters.of(wlabels, wstrata), seed), mean)


def _act(runs, sums, seed) -> dict:
    outcome, labels, strata = [], [], []
    for i, run in enumerate(runs):
        o, c, s = act_outcomes(run)
        outcome += o
        labels += [f"{i}:{x}" for x in c]
        strata += [f"{i}:{x}" for x in s]
    lo, hi = mean_interval(outcome, Clusters.of(labels, strata), seed)
    weights = [(s["act_after_delay"]["attempts"], s["act_after_delay"]["theory"]) for s in sums]
    weights = [(n, t) for n, t in weights if n and t is not None]
    th = sum(n * t for n, t in weights) / sum(n for n, _ in weights) if weights else None
    rate = _mean(outcome)
    return {"delay_s": sums[0]["act_after_delay"]["delay_s"], "attempts": len(outcome), "success_rate": _r(rate),
            "success_ci95": [_r(lo), _r(hi)], "theory": _r(th),
            "theory_within_ci95": within(lo, hi, th) if rate is not None else None}


def _legit(sums) -> dict:
    req = sum(s["legit"]["requests"] for s in sums)
    fail = sum(s["legit"]["failures"] for s in sums)
    p50 = [s["legit"]["latency_ms"]["p50"] for s in sums if s["legit"]["latency_ms"]["p50"] is not None]
    p95 = [s["legit"]["latency_ms"]["p95"] for s in sums if s["legit"]["latency_ms"]["p95"] is not None]
    return {"requests": req, "failures": fail, "failure_rate": _r(fail / req) if req else None,
            "latency_ms_p50": _r(statistics.median(p50)) if p50 else None,
            "latency_ms_p95": _r(statistics.median(p95)) if p95 else None}


def _realised_interval(sums) -> float | None:
    """Mean realised interval between switches over every service of every repetition."""
    xs = [v["realised"] for s in sums for v in (s.get("schedule", {}).get("mean_interval_s") or {}).values()
          if isinstance(v, dict) and v.get("realised") is not None]
    return _mean(xs)


def _law(laws) -> str:
    names = {l.law for l in laws.values()}
    return names.pop() if len(names) == 1 else "mixed"


def _one(values: set):
    return values.pop() if len(values) == 1 else None


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None
