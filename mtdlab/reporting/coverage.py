"""Do the reports' 95% intervals hold their 95%? Checked by simulation, no Docker.

For each interval law and sweep-cycle/interval ratio, many simulated runs (mtdlab.analysis.simulate)
go through `metrics.compute`, the code behind every report, and we count how often each
interval covers the true value of the model the run was drawn from:

- decay half-life: theory.md section 1 for the law (old method: observations resampled one
  by one; new: placements resampled), and how often the realised schedule's half-life lies
  inside the interval (it must, nearly always);
- act-after-delay success: the law's S(D) (the simulated sweep probes at its end);
- per-service discovery: the share of placements found, for the law's lives and the
  simulated sweeps' gap law.

`mtdlab coverage` prints the table and writes it as JSON; tests/unit/test_coverage.py holds
the new intervals to 92-98%.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mtdlab.analysis import theory
from mtdlab.analysis.metrics import Run
from mtdlab.reporting.summary import compute
from mtdlab.contract.schedule import IntervalLaw
from mtdlab.analysis.simulate import SWEEP_S, Model, simulate

MEAN_S = 5.0
LAWS = {"exponential": IntervalLaw("exponential", mean_s=MEAN_S),
        "fixed": IntervalLaw("fixed", period_s=MEAN_S),
        "uniform": IntervalLaw("uniform", low_s=2.0, high_s=8.0)}
RATIOS = (0.2, 1.0)          # sweep cycle over mean interval: ~5 sightings a placement, and ~1
ACT_DELAY_S = 2.0


@dataclass(frozen=True)
class Cell:
    law: str
    ratio: float

    def model(self, duration_s: float = 300.0) -> Model:
        return Model(LAWS[self.law], cycle_s=self.ratio * MEAN_S, duration_s=duration_s, act_delay_s=ACT_DELAY_S)


def true_values(model: Model) -> dict:
    """What each figure estimates, from the model the simulated runs are drawn from."""
    rng = random.Random(1)
    lives = [model.law.sample(rng) for _ in range(200_000)]
    gaps = [model.gap(rng) for _ in range(200_000)]
    # As the metrics define them: a port a sweep reported was probed somewhere inside the sweep.
    return {"half_life_s": theory.solve_half(lambda d: theory.over_sweep(
                lambda x: theory.residual_survival(model.law, x), SWEEP_S, d)),
            "act_success": theory.act_after_delay(model.law, SWEEP_S, model.act_delay_s),
            "discovered_share": theory.found_within(lives, gaps)}


def _covers(interval, value) -> bool:
    lo, hi = interval
    return lo is not None and hi is not None and lo <= value <= hi


def one_run(args: tuple[Cell, int, dict]) -> dict:
    """Simulate one run, report on it with the lab's own code, and say what each interval covered."""
    cell, seed, truth = args
    tmp = Path(tempfile.mkdtemp(prefix="mtdlab-sim-"))
    try:
        summary, _ = compute(Run.load(simulate(cell.model(), seed, tmp)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    d, act = summary["decay"], summary["act_after_delay"]
    disc = next(iter(summary["discovery"].values()))
    return {"half_life_old": _covers(d["half_life_ci95_naive"], truth["half_life_s"]),
            "half_life_new": _covers(d["half_life_ci95"], truth["half_life_s"]),
            "realised_inside": bool(d["realised_within_ci95"]),
            "act_old": _covers(act["success_ci95_naive"], truth["act_success"]),
            "act_new": _covers(act["success_ci95"], truth["act_success"]),
            "discovery_new": _covers(disc["discovered_share_ci95"], truth["discovered_share"]),
            "observations": d["observations"], "placements": d["placements"]}


def coverage(cells: list[Cell], sims: int, first_seed: int = 1, processes: int | None = None,
             progress=None) -> list[dict]:
    """One row per cell: how often each interval covered the truth over `sims` simulated runs."""
    rows = []
    processes = processes or os.cpu_count() or 1
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        for cell in cells:
            truth = true_values(cell.model())
            results = pool.map(one_run, [(cell, first_seed + i, truth) for i in range(sims)], chunksize=8)
            share = {k: float(np.mean([r[k] for r in results]))
                     for k in ("half_life_old", "half_life_new", "realised_inside", "act_old", "act_new", "discovery_new")}
            rows.append({"law": LAWS[cell.law].describe(), "ratio_cycle_to_mean": cell.ratio, "sims": sims,
                         "true": {k: round(v, 4) for k, v in truth.items()},
                         "mean_observations": round(float(np.mean([r["observations"] for r in results])), 1),
                         "mean_placements": round(float(np.mean([r["placements"] for r in results])), 1),
                         **{k: round(v, 4) for k, v in share.items()}})
            if progress:
                progress(rows[-1])
    return rows


def all_cells() -> list[Cell]:
    return [Cell(law, ratio) for law in LAWS for ratio in RATIOS]


def table(rows: list[dict]) -> str:
    head = ("| law | cycle/mean | sims | half-life: old | new | realised inside | act: old | new "
            "| discovery: new | placements |\n|---|---|---|---|---|---|---|---|---|---|")
    lines = [f"| {r['law']} | {r['ratio_cycle_to_mean']:g} | {r['sims']} | {r['half_life_old']:.1%} | "
             f"{r['half_life_new']:.1%} | {r['realised_inside']:.1%} | {r['act_old']:.1%} | {r['act_new']:.1%} | "
             f"{r['discovery_new']:.1%} | {r['mean_placements']:g} |" for r in rows]
    return "\n".join([head, *lines])


def main(sims: int, out: Path | None) -> int:
    print(f"coverage: {len(all_cells())} cells x {sims} simulated 300 s runs, {os.cpu_count()} processes")
    rows = coverage(all_cells(), sims, progress=lambda r: print(
        f"  {r['law']}, cycle/mean {r['ratio_cycle_to_mean']:g}: half-life {r['half_life_old']:.1%} -> "
        f"{r['half_life_new']:.1%}", flush=True))
    print(table(rows))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"sims_per_cell": sims, "rows": rows}, indent=2) + "\n")
        print(f"coverage: written to {out}")
    return 0
