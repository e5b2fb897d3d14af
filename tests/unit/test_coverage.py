"""Do the reports' 95% intervals hold their 95%? Simulated runs (no Docker) through the lab's own
metric code, for three interval laws at two sweep-cycle/interval ratios (mtdlab.reporting.coverage).

With SIMS runs a cell, a true coverage of 95% is observed within 95 +- 2.9 points (3 standard
errors, 0.95 * 0.05 / 500), so the 92-98% band fails a method that is off by more than about
3 points and passes an honest one. About two minutes on two cores; `mtdlab coverage --sims
1000` makes the full table.
"""
import pytest

from mtdlab.reporting.coverage import all_cells, coverage

SIMS = 500
BAND = (0.92, 0.98)


@pytest.fixture(scope="module")
def rows():
    return coverage(all_cells(), SIMS)


def test_every_law_and_ratio_is_simulated(rows):
    assert [(r["law"], r["ratio_cycle_to_mean"]) for r in rows] == [
        ("exponential, mean 5 s", 0.2), ("exponential, mean 5 s", 1.0), ("fixed 5 s", 0.2), ("fixed 5 s", 1.0),
        ("uniform [2, 8] s", 0.2), ("uniform [2, 8] s", 1.0)]
    for r in rows:
        assert r["sims"] == SIMS and r["mean_placements"] > 30


def test_half_life_interval_holds_its_95_percent(rows):
    for r in rows:
        assert BAND[0] <= r["half_life_new"] <= BAND[1], r


def test_the_realised_schedule_lies_inside_nearly_always(rows):
    for r in rows:
        assert r["realised_inside"] >= BAND[0], r


def test_the_old_interval_did_not(rows):
    # Resampling single sightings: a 1 s sweep cycle sees each exponential placement ~5 times.
    exponential_fast = next(r for r in rows if r["law"].startswith("exponential") and r["ratio_cycle_to_mean"] == 0.2)
    assert exponential_fast["half_life_old"] < 0.85


def test_act_after_delay_interval_holds_its_95_percent(rows):
    for r in rows:
        assert BAND[0] <= r["act_new"] <= BAND[1], r


def test_discovery_interval_holds_its_95_percent(rows):
    for r in rows:
        if r["true"]["discovered_share"] >= 0.999:    # every placement outlives a sweep gap: nothing to miss
            assert r["discovery_new"] == 1.0, r
        else:
            assert BAND[0] <= r["discovery_new"] <= BAND[1], r
