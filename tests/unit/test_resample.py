"""Block-bootstrap intervals (mtdlab.analysis.resample): the weighted Kaplan-Meier is the Kaplan-Meier of
the resampled list, blocks keep each stratum's size, and the interval methods behave."""
import math
import random

import numpy as np
import pytest

from mtdlab.analysis.decay import km_half_life
from mtdlab.analysis.resample import (Clusters, half_life_interval, km_order, mean_interval, t_quantile,
                             weighted_km_half_life)


def test_weighted_kaplan_meier_equals_the_resampled_list():
    rng = random.Random(4)
    for _ in range(200):
        samples = [(round(rng.expovariate(0.3), 1), rng.random() < 0.8) for _ in range(rng.randint(1, 40))]
        counts = [rng.choice([0, 0, 1, 1, 2, 3]) for _ in samples]
        resampled = [s for s, c in zip(samples, counts) for _ in range(c)]
        order = km_order(samples)
        d = np.array([samples[i][0] for i in order])
        event = np.array([samples[i][1] for i in order])
        w = np.array([[counts[i] for i in order]], dtype=float)
        got = weighted_km_half_life(d, event, w)[0]
        want = km_half_life(resampled) if resampled else None
        assert (got == math.inf and want is None) or got == want, (samples, counts)


def test_block_weights_keep_each_stratum_whole():
    labels = [f"p{i}" for i in range(30)] + [f"q{i}" for i in range(7)]
    strata = ["web"] * 30 + ["ssh"] * 7
    c = Clusters.of(labels, strata)
    w = c.weights(np.random.default_rng(1), 500)
    assert w.shape == (500, 37)
    assert np.allclose(w[:, :30].sum(axis=1), 30) and np.allclose(w[:, 30:].sum(axis=1), 7)
    # Blocks of 3 consecutive placements: a drawn placement's neighbours are drawn with it far more
    # often than two placements far apart.
    drawn = w[:, :30] > 0
    near = np.mean(drawn[:, 10] & drawn[:, 11])
    far = np.mean(drawn[:, 10] & drawn[:, 20])
    assert near > far + 0.1
    assert c.blocks() == pytest.approx(30 / 3 + 7 / 1)   # 7 placements are too few for blocks of 3


def test_naive_clusters_are_single_observations():
    c = Clusters.naive(5)
    assert list(c.ids) == [0, 1, 2, 3, 4] and c.block == 1
    w = c.weights(np.random.default_rng(0), 100)
    assert np.all(w.sum(axis=1) == 5) and set(np.unique(w)) <= {0, 1, 2, 3, 4, 5}


def test_t_quantile():
    # Student's t: 2.228 (10 df), 2.042 (30), 2.0086 (50); the normal's 1.96 in the limit.
    assert t_quantile(0.975, 10) == pytest.approx(2.228, abs=2e-3)
    assert t_quantile(0.975, 30) == pytest.approx(2.042, abs=1e-3)
    assert t_quantile(0.025, 50) == pytest.approx(-2.0086, abs=1e-3)
    assert t_quantile(0.975, 1e9) == pytest.approx(1.95996, abs=1e-4)


def test_intervals_hold_the_estimate_and_narrow_with_data():
    rng = random.Random(2)
    small = [(rng.expovariate(1 / 5), True) for _ in range(40)]
    large = [(rng.expovariate(1 / 5), True) for _ in range(1600)]
    for method in ("bca", "percentile"):
        lo_s, hi_s = half_life_interval(small, Clusters.naive(len(small)), 1, method)
        lo_l, hi_l = half_life_interval(large, Clusters.naive(len(large)), 1, method)
        assert lo_s <= km_half_life(small) <= hi_s and lo_l <= km_half_life(large) <= hi_l
        assert hi_l - lo_l < (hi_s - lo_s) / 3
    ok = [1.0] * 80 + [0.0] * 20
    lo, hi = mean_interval(ok, Clusters.naive(100), 1)
    assert lo < 0.8 < hi and hi - lo < 0.2
    # Clustered: 20 placements of 5 identical outcomes hold the information of 20, not 100.
    lo_c, hi_c = mean_interval(ok, Clusters.of([i // 5 for i in range(100)], block=1), 1)
    assert hi_c - lo_c > 1.8 * (hi - lo)
    assert mean_interval([1.0] * 10, Clusters.naive(10), 1) == (1.0, 1.0)
    assert half_life_interval([], Clusters.naive(0), 1) == (None, None)
