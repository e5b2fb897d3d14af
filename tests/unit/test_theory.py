import math

import pytest

from mtdlab.analysis import theory
from mtdlab.contract.schedule import IntervalLaw

EXP = IntervalLaw("exponential", mean_s=5)
FIX = IntervalLaw("fixed", period_s=30)
UNI = IntervalLaw("uniform", low_s=2, high_s=8)
UNI_NARROW = IntervalLaw("uniform", low_s=4, high_s=6)   # b <= 3a


def test_half_lives_match_theory_md_table():
    assert theory.half_life(EXP) == pytest.approx(5 * math.log(2))
    assert theory.half_life(FIX) == pytest.approx(15)
    assert theory.half_life(UNI) == pytest.approx(8 - math.sqrt((64 - 4) / 2))
    assert theory.half_life(UNI_NARROW) == pytest.approx(5 / 2)
    assert theory.half_life(IntervalLaw("never")) == math.inf


def test_residual_survival_shapes():
    assert theory.residual_survival(EXP, 5) == pytest.approx(math.exp(-1))
    assert theory.residual_survival(FIX, 45) == 0
    assert theory.residual_survival(UNI, 2) == pytest.approx(1 - 2 / 5)
    assert theory.residual_survival(UNI, 8) == 0
    # choice of equal values is a fixed period
    c = IntervalLaw("choice", values_s=(30, 30, 30))
    assert all(theory.residual_survival(c, d) == pytest.approx(theory.residual_survival(FIX, d)) for d in (1, 10, 29))


def test_residual_survival_is_the_integral_of_the_tail():
    """Check S(d) = (1/T) integral_d^inf (1 - F) against a Monte Carlo sample of each law."""
    import random
    for law in (EXP, UNI, IntervalLaw("choice", values_s=(2, 10))):
        rng = random.Random(1)
        xs = [law.sample(rng) for _ in range(100000)]
        for d in (1.0, 3.0):
            tail = sum(max(0.0, x - d) for x in xs) / len(xs)
            assert theory.residual_survival(law, d) == pytest.approx(tail / law.mean, abs=0.01)


def test_lab_survival_reduces_to_theory_and_is_continuous():
    for d in (0.5, 2, 7):
        assert theory.lab_survival(EXP, d, 0) == pytest.approx(theory.residual_survival(EXP, d))
    extra = 0.6
    below, above = theory.lab_survival(EXP, extra - 1e-9, extra), theory.lab_survival(EXP, extra, extra)
    assert below == pytest.approx(above) == pytest.approx(5 / 5.6)
    assert theory.half_life(EXP, extra) > theory.half_life(EXP)


def test_act_after_delay_matches_closed_form():
    S, D, T = 2.0, 5.0, 5.0
    m = S / T
    assert theory.act_after_delay(EXP, S, D) == pytest.approx((1 - math.exp(-m)) / m * math.exp(-D / T), rel=1e-4)
    # fixed period, D = 0, m <= 1: 1 - m/2
    assert theory.act_after_delay(FIX, 6, 0) == pytest.approx(1 - (6 / 30) / 2, rel=1e-4)


def test_discovery_model():
    assert theory.discovery_within_placement(FIX, 10) == 1.0
    assert theory.discovery_within_placement(FIX, 60) == pytest.approx(0.5)


def test_urn_model_closed_forms_match_the_simulation():
    """theory.md section 2, checked as theory.md says its formulas were: by Monte Carlo."""
    exp, fixed = IntervalLaw("exponential", mean_s=2.0), IntervalLaw("fixed", period_s=2.0)
    for m in (0.2, 1.0, 3.0, 6.0):
        assert abs(theory.urn_find(exp, m) - theory.urn_find_simulated(exp, m)) < 0.025, m
    for m in (0.2, 1.0):
        assert abs(theory.urn_find(fixed, m) - theory.urn_find_simulated(fixed, m)) < 0.025, m
    assert theory.urn_find(fixed, 2.0) is None                          # no closed form given beyond m = 1
    # small m: P(miss) ~ m/6; large m: towards 1 - 1/e, never below it
    assert abs((1 - theory.urn_find(exp, 0.01)) - 0.01 / 6) < 1e-4
    assert abs(theory.urn_find(exp, 4.0) - (1 - 2 * math.exp(-2))) < 1e-12
    assert theory.urn_find(exp, 3.999) == pytest.approx(theory.urn_find(exp, 4.001), abs=1e-3)
    assert theory.ONE_MINUS_1_OVER_E < theory.urn_find(exp, 50.0) < theory.ONE_MINUS_1_OVER_E + 0.03


def test_time_to_first_discovery():
    exp, fixed = IntervalLaw("exponential", mean_s=5.0), IntervalLaw("fixed", period_s=5.0)
    # exponential: S/(1 - e^(-S/T)) - T, between S/2 (static) and S (perfect shuffling)
    w = theory.time_to_first_discovery(exp, 2.0)
    assert w == pytest.approx(2.0 / (1 - math.exp(-0.4)) - 5.0) and 1.0 < w < 2.0
    assert theory.time_to_first_discovery(fixed, 2.0) == pytest.approx(1.0 + 4.0 / 60)
    assert theory.time_to_first_discovery(fixed, 10.0) == pytest.approx(10.0 - 2.5 + 25 / 120)
    assert theory.time_to_first_discovery(IntervalLaw("never"), 2.0) == 1.0


def test_time_to_first_report_and_the_share_interval_at_the_boundary():
    import numpy as np
    from mtdlab.analysis.resample import Clusters, share_interval
    # every sweep finds it: the first sweep's end; p = 1/2 with sweeps back to back: two sweeps on average
    assert theory.time_to_first_report(1.0, 2.0, 3.0) == 2.0
    assert theory.time_to_first_report(0.5, 2.0, 2.0) == pytest.approx(4.0)
    # all 60 found: not the bootstrap's point [1, 1] but the exact bound over the independent blocks
    lo, hi = share_interval([1.0] * 60, Clusters.of(range(60)), 0)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / Clusters.of(range(60)).blocks())) and 0.8 < lo < 1.0   # 20 blocks of 3
    lo, hi = share_interval([0.0] * 60, Clusters.of(range(60)), 0)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 20))
    rng = np.random.default_rng(1)
    mixed = list((rng.random(200) < 0.7).astype(float))
    lo, hi = share_interval(mixed, Clusters.of(range(200)), 0)
    assert lo < np.mean(mixed) < hi


def test_the_lab_urn_model_finds_more_when_the_old_port_stays_open():
    exp = IntervalLaw("exponential", mean_s=1.0)
    plain = theory.urn_find_simulated(exp, 2.0)
    assert theory.urn_find_simulated(exp, 2.0, 0.0) == plain
    wider = theory.urn_find_simulated(exp, 2.0, 0.5)
    assert wider > plain + 0.05 and wider <= 1.0
