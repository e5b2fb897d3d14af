"""Bootstrap intervals that resample what is independent: runs of whole placements, not sightings.

A port that stays put for one interval is seen by every sweep during that interval, and those
sightings' residual lives differ only by the time between sweeps: they are one draw of the
schedule, not several. Neighbouring placements are not quite independent either: when hops and
sweeps are both regular, where one placement's sightings fall sets where the next one's do. So
every interval here resamples *blocks of consecutive placements* (a circular block bootstrap,
Politis and Romano 1992, blocks of BLOCK placements of one service), and reads the interval off
with BCa (bias-corrected and accelerated, Efron 1987) widened for the small number of blocks
(Hesterberg's expanded percentile: sqrt(k/(k-1)) t_{k-1} in place of z). Each of those three
choices was needed to hold 95% in the coverage simulation (mtdlab.reporting.coverage). `naive` (every
observation its own cluster, plain percentiles) is the method the reports used before, kept to
show what it claimed.

Resampling is done as weights: a replicate that draws placement j c_j times gives each of j's
observations weight c_j. A weighted Kaplan-Meier over observations sorted once then equals the
Kaplan-Meier of the resampled list exactly, and many replicates are one array operation
(chunked, so memory stays bounded for long runs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable, Hashable, Sequence

import numpy as np

from mtdlab.contract.stats import percentile

RESAMPLES = 1000          # bootstrap replicates behind every interval
BLOCK = 3                 # consecutive placements resampled together
CHUNK_CELLS = 2_000_000   # replicates x observations held in memory at once
JACKKNIFE_GROUPS = 100    # BCa's acceleration: a jackknife over at most this many groups of clusters
NORMAL = NormalDist()

Statistic = Callable[[np.ndarray], np.ndarray]   # (rows, clusters) cluster weights -> one value a row


@dataclass(frozen=True)
class Clusters:
    """Observations grouped into clusters (placements), in time order within strata (services).
    Each replicate resamples every stratum on its own, so each keeps its number of placements."""

    ids: np.ndarray       # cluster index of each observation, 0..k-1, numbered in order of first appearance
    strata: np.ndarray    # stratum index of each cluster
    block: int = BLOCK    # consecutive clusters drawn together (1: clusters drawn one by one)

    @classmethod
    def of(cls, labels: Sequence[Hashable], strata: Sequence[Hashable] | None = None,
           block: int = BLOCK) -> "Clusters":
        """labels in time order: a placement's first observation orders it among its service's."""
        index: dict[Hashable, int] = {}
        ids = np.array([index.setdefault(lab, len(index)) for lab in labels], dtype=np.int64)
        stratum_of: dict[int, Hashable] = {}
        for i, lab in enumerate(labels):
            stratum_of.setdefault(index[lab], strata[i] if strata is not None else 0)
        names: dict[Hashable, int] = {}
        st = np.array([names.setdefault(stratum_of[c], len(names)) for c in range(len(index))], dtype=np.int64)
        return cls(ids, st, block)

    @classmethod
    def naive(cls, n: int) -> "Clusters":
        return cls(np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64), 1)

    @property
    def count(self) -> int:
        return len(self.strata)

    def _plan(self) -> list[tuple[np.ndarray, int]]:
        """Per stratum: its clusters in order and the block length used (shorter for few clusters)."""
        out = []
        for s in np.unique(self.strata):
            members = np.flatnonzero(self.strata == s)
            out.append((members, max(1, min(self.block, len(members) // 4))))
        return out

    def blocks(self) -> float:
        """How many independent blocks the data hold: the small-sample widening's k."""
        return sum(len(m) / b for m, b in self._plan())

    def weights(self, rng: np.random.Generator, replicates: int) -> np.ndarray:
        """(replicates, clusters) draw counts: per stratum, ceil(k/b) circular blocks of b
        consecutive clusters, scaled so the stratum's total weight stays k."""
        counts = np.zeros((replicates, self.count), dtype=np.float64)
        offsets = (np.arange(replicates) * self.count)[:, None]
        for members, b in self._plan():
            k = len(members)
            n_blocks = math.ceil(k / b)
            starts = rng.integers(0, k, size=(replicates, n_blocks, 1))
            cells = members[(starts + np.arange(b)) % k].reshape(replicates, -1) + offsets
            drawn = np.bincount(cells.ravel(), minlength=replicates * self.count).reshape(replicates, self.count)
            counts += drawn * (k / (n_blocks * b))
        return counts


def interval(stat: Statistic, clusters: Clusters, seed: int, method: str = "bca", chunk_rows: int = 1000,
             replicates: int = RESAMPLES) -> tuple[float | None, float | None]:
    """95% bootstrap interval of stat. method "bca": BCa widened for few blocks (see above);
    "percentile": the plain 2.5% and 97.5% points."""
    rng = np.random.default_rng(seed)
    boot = np.concatenate([stat(clusters.weights(rng, min(chunk_rows, replicates - start)))
                           for start in range(0, replicates, chunk_rows)])
    boot = boot[~np.isnan(boot)]
    if not len(boot):
        return None, None
    theta = float(stat(np.ones((1, clusters.count)))[0])
    if method == "percentile" or not math.isfinite(theta):
        return _points(boot.tolist(), 2.5, 97.5)
    # Mid-rank: a median-like statistic often equals its estimate exactly in a replicate.
    below = (np.sum(boot < theta) + 0.5 * np.sum(boot == theta)) / len(boot)
    z0 = NORMAL.inv_cdf(min(max(below, 0.5 / len(boot)), 1 - 0.5 / len(boot)))
    jack = stat(_leave_one_group_out(clusters, rng))
    jack = jack[np.isfinite(jack)]
    dev = jack.mean() - jack if len(jack) else np.zeros(1)
    spread = float(np.sum(dev ** 2))
    a = float(np.sum(dev ** 3)) / (6 * spread ** 1.5) if spread > 0 else 0.0
    k = max(2.0, clusters.blocks())
    qs = []
    for alpha in (0.025, 0.975):
        z = z0 + math.sqrt(k / (k - 1)) * t_quantile(alpha, k - 1)
        qs.append(100 * NORMAL.cdf(z0 + z / (1 - a * z)))
    return _points(boot.tolist(), *qs)


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile by the Cornish-Fisher expansion about the normal (error < 1e-3 for df >= 3)."""
    z = NORMAL.inv_cdf(p)
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))


def _leave_one_group_out(clusters: Clusters, rng: np.random.Generator) -> np.ndarray:
    """(groups, clusters) weights, each row leaving one group of clusters out."""
    groups = min(JACKKNIFE_GROUPS, clusters.count)
    group_of = rng.permutation(clusters.count) % groups
    return (group_of[None, :] != np.arange(groups)[:, None]).astype(np.float64)


def km_order(samples: Sequence[tuple[float, bool]]) -> np.ndarray:
    """The order kaplan_meier processes samples in: by time, events before censorings."""
    return np.array(sorted(range(len(samples)), key=lambda i: (samples[i][0], not samples[i][1])), dtype=np.int64)


def weighted_km_half_life(d: np.ndarray, event: np.ndarray, w: np.ndarray) -> np.ndarray:
    """First d where the weighted Kaplan-Meier survival falls to 1/2, per row of w (inf: never).
    d, event sorted by km_order; w is (replicates, observations)."""
    at_risk = np.cumsum(w[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(event[None, :] & (at_risk > 0), 1.0 - w / at_risk, 1.0)
    survival = np.cumprod(factor, axis=1)
    below = survival <= 0.5 + 1e-12   # ties at exactly 1/2 in float, as the exact loop finds them
    first = below.argmax(axis=1)
    return np.where(below.any(axis=1), d[first], np.inf)


def half_life_interval(samples: Sequence[tuple[float, bool]], clusters: Clusters, seed: int,
                       method: str = "bca") -> tuple[float | None, float | None]:
    """95% bootstrap interval of the Kaplan-Meier half-life."""
    if not samples:
        return None, None
    order = km_order(samples)
    d = np.array([samples[i][0] for i in order], dtype=np.float64)
    event = np.array([samples[i][1] for i in order], dtype=bool)
    ids = clusters.ids[order]
    return interval(lambda w: weighted_km_half_life(d, event, w[:, ids]), clusters, seed, method,
                    chunk_rows=max(1, CHUNK_CELLS // len(samples)))


def mean_interval(values: Sequence[float], clusters: Clusters, seed: int,
                  method: str = "bca") -> tuple[float | None, float | None]:
    """95% bootstrap interval of a mean (a success rate, a share)."""
    if not len(values):
        return None, None
    per_cluster = np.bincount(clusters.ids, weights=np.asarray(values, dtype=np.float64), minlength=clusters.count)
    size = np.bincount(clusters.ids, minlength=clusters.count).astype(np.float64)

    def mean(w: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return w @ per_cluster / (w @ size)
    return interval(mean, clusters, seed, method, chunk_rows=max(1, CHUNK_CELLS // clusters.count))


def _points(values: list[float], lo_q: float, hi_q: float) -> tuple[float | None, float | None]:
    return percentile(values, lo_q), percentile(values, hi_q)


def share_interval(values: Sequence[float], clusters: Clusters, seed: int) -> tuple[float | None, float | None]:
    """95% interval of a share (values 0 or 1). When every value is the same, every resample is
    too and the bootstrap gives a point; then the exact (Clopper-Pearson) bound for all
    successes or all failures, counting the independent blocks, not the values: for k blocks,
    all found gives [0.025^(1/k), 1]."""
    lo, hi = mean_interval(values, clusters, seed)
    if not len(values) or lo is None or lo != hi or lo not in (0.0, 1.0):
        return lo, hi
    k = max(1.0, clusters.blocks())
    edge = 0.025 ** (1 / k)
    return (edge, 1.0) if lo == 1.0 else (0.0, 1 - edge)
