"""Kaplan-Meier survival with right-censoring, and its half-life: pure Python, so the live
view can use it in the lab image (which has no numpy) as the reports do."""
from __future__ import annotations


def kaplan_meier(samples: list[tuple[float, bool]]) -> list[tuple[float, float]]:
    """Survival steps [(d, S(d))] with right-censoring, starting at (0, 1)."""
    steps, s = [(0.0, 1.0)], 1.0
    at_risk = len(samples)
    for d, event in sorted(samples, key=lambda x: (x[0], not x[1])):
        if event and at_risk:
            s *= 1 - 1 / at_risk
            steps.append((d, s))
        at_risk -= 1
    return steps


def km_half_life(samples: list[tuple[float, bool]]) -> float | None:
    """First d where S(d) <= 1/2. The tolerance: a product of (1 - 1/n) that is exactly 1/2 in
    arithmetic can come out as 0.5000000000000002 in floating point, which would skip to the next step."""
    for d, s in kaplan_meier(samples):
        if s <= 0.5 + 1e-12:
            return d
    return None  # never fell to one half: no decay seen
