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
