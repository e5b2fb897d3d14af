"""The reference models of ../shared/theory.md, for the scenario's own interval law.

Symbols as there: T mean hop interval, S one sweep's duration, m = S/T, D the delay between
a sweep's end and the attacker's follow-up.

`extra` is what the lab itself adds: a port opens when its instance is ready (a little after
the hop decision) and closes when the controller starts to stop it (a little after the next
decision), so a port lives L = I + extra, I the scheduled interval. extra is measured per run
from the truth log. An observation made at a random moment sees the length-biased residual
of L, which gives lab_survival() below; with extra = 0 it is theory.md's S(d). Reports show
both the pure model and the lab one.
"""
from __future__ import annotations

import math

from .schedule import IntervalLaw


def residual_survival(law: IntervalLaw, d: float) -> float:
    """S(d): probability that what was observed at a random moment still holds d seconds later
    (the residual life of the current interval, theory.md section 1)."""
    if d <= 0:
        return 1.0
    if law.law == "never":
        return 1.0
    if law.law == "exponential":
        return math.exp(-d / law.mean_s)
    if law.law in ("fixed", "keyed"):   # keyed slots are a fixed period on the wall clock
        return max(0.0, 1 - d / law.period_s)
    if law.law == "uniform":
        a, b = law.low_s, law.high_s
        if d <= a:
            return 1 - d / ((a + b) / 2)
        return (b - d) ** 2 / (b * b - a * a) if d <= b else 0.0
    if law.law == "choice":
        # (1/T) * integral_d^inf (1 - F): for equally likely values v_i that is mean(max(0, v_i - d)) / mean(v_i)
        return sum(max(0.0, v - d) for v in law.values_s) / sum(law.values_s)
    raise ValueError(law.law)


def lab_survival(law: IntervalLaw, d: float, extra: float = 0.0) -> float:
    """S(d) for ports that live L = I + extra: (1/E[L]) integral_d^inf P(L > x) dx, which is
    T S_I(d - extra) / (T + extra) for d >= extra and (T + extra - d) / (T + extra) before."""
    if law.law == "never" or d <= 0:
        return 1.0
    T = law.mean
    if d < extra:
        return (T + extra - d) / (T + extra)
    return T * residual_survival(law, d - extra) / (T + extra)


def half_life(law: IntervalLaw, extra: float = 0.0) -> float:
    """d with S(d) = 1/2 (bisection, valid for every law since S is continuous and falling)."""
    if law.law == "never":
        return math.inf
    lo, hi = 0.0, 1.0
    while lab_survival(law, hi, extra) > 0.5:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if lab_survival(law, mid, extra) > 0.5 else (lo, mid)
    return (lo + hi) / 2


def act_after_delay(law: IntervalLaw, sweep_s: float, delay_s: float, extra: float = 0.0, steps: int = 400) -> float:
    """Probability that a port a sweep reported still holds delay_s after the sweep ends
    (theory.md section 3): (1/S) * integral_0^S S(D + u) du, u being how long before the
    sweep's end the port was probed. For exponential hops this is ((1 - e^-m)/m) e^(-D/T)."""
    if law.law == "never":
        return 1.0
    if sweep_s <= 0:
        return lab_survival(law, delay_s, extra)
    h = sweep_s / steps
    return sum(lab_survival(law, delay_s + (i + 0.5) * h, extra) for i in range(steps)) / steps


def discovery_within_placement(law: IntervalLaw, cycle_s: float, extra: float = 0.0, samples: int = 20000) -> float:
    """Simple periodic-sweep model: a port that lives L seconds is found by an attacker whose
    sweeps come every cycle_s seconds with probability min(1, L/cycle_s). Averaged over
    the lifetime distribution (L = interval + extra), by a seeded sample."""
    if law.law == "never":
        return 1.0
    import random
    rng = random.Random(0)
    return sum(min(1.0, (law.sample(rng) + extra) / cycle_s) for _ in range(samples)) / samples


def static_time_to_discovery(cycle_s: float) -> float:
    """A static port placed at a random moment waits on average half a sweep cycle."""
    return cycle_s / 2


def keyed_direct_failure(law: IntervalLaw, skew_s: float) -> float:
    """A direct client whose clock is skew_s ahead (> 0) or behind (< 0) computes the next or
    the previous slot's port near each boundary. Ahead, it fails for (skew - lead)+ of every
    slot; behind, for (|skew| - grace)+ (theory.md section 4, fixed slots)."""
    miss = (skew_s - law.lead_s) if skew_s > 0 else (-skew_s - law.grace_s)
    return min(1.0, max(0.0, miss) / law.period_s)


def flood_success(n: int, k: int, budget_pps: float, capacity_pps: float, legit_pps: float,
                  gain: str = "n") -> float:
    """Legitimate success when a flooder spreads budget_pps over k of the n ports of a service
    that hops per exchange, each port read at capacity_pps (theory.md section 5).

    A flooded port carries B/k + legit/n datagrams/s; once that exceeds the capacity, the
    socket's small buffer is full and an arriving datagram is kept with probability
    capacity / load. The live port is flooded with probability k/n, so the flood power that
    lands on it is (B/k)(k/n) = B/n: the gain is n. gain="sqrt" gives what seed 001 claims
    instead (the flood power on the live port falls like B/sqrt(n)), for comparison.
    """
    k = min(k, n)
    if gain == "sqrt":   # the claim: as if the live port always met B/sqrt(n) of flood
        load = budget_pps / math.sqrt(n) + legit_pps / n
        return min(1.0, capacity_pps / load)
    load = budget_pps / k + legit_pps / n
    return (1 - k / n) + (k / n) * min(1.0, capacity_pps / load)
