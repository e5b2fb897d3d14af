"""The model simulator (mtdlab.analysis.simulate) writes run folders the lab's own code reads as a run."""
import filecmp

import pytest

from mtdlab.analysis.metrics import Run
from mtdlab.reporting.summary import compute
from mtdlab.contract.schedule import IntervalLaw
from mtdlab.analysis.simulate import Model, simulate
from mtdlab.contract.stats import percentile

EXP = IntervalLaw("exponential", mean_s=5)


def test_a_simulated_run_reads_as_a_lab_run(tmp_path):
    run = Run.load(simulate(Model(EXP, cycle_s=1.0, services=2), seed=3, out=tmp_path))
    summary, _ = compute(run)
    # Every sweep reports each service's port at a moment inside it; hops are instantaneous, so a
    # sweep differs from the ports open at its end only where a hop fell inside it (explained).
    sw = summary["sweeps"]
    assert sw["unexplained"] == 0 and sw["exact"] + sw["explained_by_hop"] == sw["count"]
    assert sw["count"] - sw["exact"] < 0.05 * sw["count"]        # 0.05 s sweeps against 5 s hops: a few
    assert sw["precision"] > 0.98 and sw["recall"] > 0.98
    assert summary["decay"]["extra_life_s"] == 0
    assert summary["sweeps"]["cycle_s"] == pytest.approx(1.0, abs=0.1)
    assert set(summary["decay"]["by_service"]) == {"svc0", "svc1"}
    for row in summary["decay"]["by_service"].values():
        assert row["mean_port_life_s"] == pytest.approx(row["mean_interval_drawn_s"], rel=0.05)
        assert row["placements"] >= 40
    # Follow-ups: each succeeds exactly when no hop came between discovery and the follow-up.
    assert summary["act_after_delay"]["attempts"] > 250
    assert summary["act_after_delay"]["success_rate"] == pytest.approx(summary["act_after_delay"]["theory_realised"],
                                                                       abs=0.1)


def test_simulation_is_seeded_and_gaps_follow_the_model(tmp_path):
    a = simulate(Model(EXP, cycle_s=2.0), seed=9, out=tmp_path / "a" / "run")
    b = simulate(Model(EXP, cycle_s=2.0), seed=9, out=tmp_path / "b" / "run")
    c = simulate(Model(EXP, cycle_s=2.0), seed=10, out=tmp_path / "c" / "run")
    assert filecmp.cmp(a / "truth.jsonl", b / "truth.jsonl", shallow=False)
    assert not filecmp.cmp(a / "truth.jsonl", c / "truth.jsonl", shallow=False)
    ends = [s["end_mono"] for s in Run.load(a).sweeps()]
    gaps = [y - x for x, y in zip(ends, ends[1:])]
    assert 1.0 <= min(gaps) and max(gaps) <= 3.0                    # cycle 2 s, jitter 50%
    assert percentile(gaps, 50) == pytest.approx(2.0, abs=0.25)


@pytest.mark.parametrize("law", [IntervalLaw("fixed", period_s=4), IntervalLaw("uniform", low_s=2, high_s=8),
                                 IntervalLaw("choice", values_s=(3.0, 9.0))])
def test_every_law_simulates(tmp_path, law):
    summary, _ = compute(Run.load(simulate(Model(law, cycle_s=1.0), seed=1, out=tmp_path)))
    d = summary["decay"]
    assert d["realised_within_ci95"] and d["half_life_ci95"][0] <= d["half_life_s"] <= d["half_life_ci95"][1]
    assert d["by_service"]["svc0"]["law"] == law.describe()
