import math
import statistics

import pytest

from mtdlab.contract.schedule import HopSchedule, IntervalLaw, PortPool

POOL = PortPool(((9001, 9099),))
LAWS = [
    IntervalLaw("fixed", period_s=30),
    IntervalLaw("uniform", low_s=2, high_s=8),
    IntervalLaw("exponential", mean_s=5),
    IntervalLaw("choice", values_s=(10, 20, 60)),
]


@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.law)
def test_same_seed_same_schedule(law):
    a, b = HopSchedule(7, "web", law, POOL), HopSchedule(7, "web", law, POOL)
    assert [(a.next_interval(), a.next_port()) for _ in range(200)] == \
           [(b.next_interval(), b.next_port()) for _ in range(200)]


def test_other_seed_or_service_gives_another_schedule():
    law = IntervalLaw("exponential", mean_s=5)
    base = [HopSchedule(7, "web", law, POOL).next_port() for _ in range(1)]
    seq = lambda seed, svc: [s.next_port() for s in [HopSchedule(seed, svc, law, POOL)] for _ in range(50)]
    assert seq(7, "web") != seq(8, "web")
    assert seq(7, "web") != seq(7, "ssh")
    assert base[0] in POOL


def test_port_draws_do_not_shift_intervals():
    """A retried start draws extra ports; the interval sequence must not move."""
    law = IntervalLaw("uniform", low_s=1, high_s=9)
    a, b = HopSchedule(3, "web", law, POOL), HopSchedule(3, "web", law, POOL)
    for _ in range(5):
        b.next_port()
    assert [a.next_interval() for _ in range(20)] == [b.next_interval() for _ in range(20)]


@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.law)
def test_sample_mean_within_tolerance(law):
    s = HopSchedule(11, "svc", law, POOL)
    xs = [s.next_interval() for _ in range(20000)]
    # 20,000 draws: the standard error is sd/141; 5 standard errors is a generous bound.
    sd = statistics.pstdev(xs)
    assert abs(statistics.fmean(xs) - law.mean) <= max(5 * sd / math.sqrt(len(xs)), 1e-9)


def test_uniform_and_choice_stay_in_their_support():
    s = HopSchedule(1, "x", IntervalLaw("uniform", low_s=2, high_s=8), POOL)
    assert all(2 <= s.next_interval() <= 8 for _ in range(5000))
    c = HopSchedule(1, "x", IntervalLaw("choice", values_s=(10, 20)), POOL)
    assert {c.next_interval() for _ in range(500)} == {10, 20}


def test_never_law_is_infinite():
    assert IntervalLaw("never").sample(None) == math.inf


def test_pool_excludes_well_known_by_default():
    pool = PortPool(((1, 2000),))
    assert 22 not in pool and 80 not in pool and 1023 not in pool and 1024 in pool
    assert len(pool) == 2000 - 1023
    assert 80 in PortPool(((1, 2000),), allow_well_known=True)


def test_pool_exclusions():
    pool = PortPool(((9001, 9010),), exclude=((9003, 9005), (9010, 9010)))
    assert pool.ports == (9001, 9002, 9006, 9007, 9008, 9009)


def test_draw_avoids_ports_and_is_uniform():
    import random
    pool = PortPool(((100 + 1024, 109 + 1024),))
    rng = random.Random(5)
    counts = {}
    for _ in range(10000):
        p = pool.draw(rng, avoid={1124, 1125})
        counts[p] = counts.get(p, 0) + 1
    assert set(counts) == set(pool.ports) - {1124, 1125}
    assert max(counts.values()) / min(counts.values()) < 1.2


def test_draw_from_nearly_full_pool_and_exhausted_pool():
    import random
    pool = PortPool(((2000, 2003),))
    assert pool.draw(random.Random(1), avoid={2000, 2001, 2002}) == 2003
    with pytest.raises(ValueError, match="no port left"):
        pool.draw(random.Random(1), avoid={2000, 2001, 2002, 2003})
