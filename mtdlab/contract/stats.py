"""Small statistics helpers, so every figure is computed the same way everywhere."""
from __future__ import annotations

import math


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), as numpy's default; None if empty."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values: list[float], digits: int = 4) -> dict:
    return {"n": len(values),
            "p50": _round(percentile(values, 50), digits),
            "p95": _round(percentile(values, 95), digits),
            "p99": _round(percentile(values, 99), digits)}


def _round(x, digits):
    return None if x is None else round(x, digits)


def rounded(x, digits: int = 4):
    """A figure as summary.json holds it: rounded; None for missing, NaN or infinite."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return None if math.isinf(x) else round(x, digits)


def within(lo, hi, value) -> bool | None:
    """Whether value lies in [lo, hi]; None when any of them is missing."""
    return None if lo is None or hi is None or value is None else lo <= value <= hi
