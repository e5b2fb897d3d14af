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

import functools
import math
import random

from mtdlab.contract.schedule import IntervalLaw


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


def solve_half(survival) -> float | None:
    """d with survival(d) = 1/2 for a continuous, falling curve (None: it never gets there)."""
    if not survival(1e9) < 0.5:
        return None
    lo, hi = 0.0, 1.0
    while survival(hi) > 0.5:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if survival(mid) > 0.5 else (lo, mid)
    return (lo + hi) / 2


def half_life(law: IntervalLaw, extra: float = 0.0) -> float:
    """d with S(d) = 1/2 (S is continuous and falling for every law)."""
    if law.law == "never":
        return math.inf
    return solve_half(lambda d: lab_survival(law, d, extra))


def realised_survival(lives, d: float) -> float:
    """S(d) for the port lives a run actually had (the realised schedule, not the law): an
    observation at a random moment falls in a life with probability proportional to its
    length, so S(d) = sum (L_i - d)+ / sum L_i. No lives (nothing ever moved): 1."""
    import numpy as np   # here, not above: the live view uses this module in the lab image, which has no numpy
    x = np.asarray(lives, dtype=np.float64)
    total = x.sum()
    if d <= 0 or total <= 0:
        return 1.0
    return float(np.maximum(x - d, 0.0).sum() / total)


def over_sweep(survival, sweep_s: float, delay_s: float, steps: int = 400) -> float:
    """(1/S) * integral_0^S survival(D + u) du: a port a sweep of S seconds reported was
    probed u before the sweep's end, u spread evenly over the sweep (theory.md section 3)."""
    if sweep_s <= 0:
        return survival(delay_s)
    h = sweep_s / steps
    return sum(survival(delay_s + (i + 0.5) * h) for i in range(steps)) / steps


def act_after_delay(law: IntervalLaw, sweep_s: float, delay_s: float, extra: float = 0.0, steps: int = 400) -> float:
    """Probability that a port a sweep reported still holds delay_s after the sweep ends
    (theory.md section 3): (1/S) * integral_0^S S(D + u) du, u being how long before the
    sweep's end the port was probed. For exponential hops this is ((1 - e^-m)/m) e^(-D/T)."""
    if law.law == "never":
        return 1.0
    return over_sweep(lambda d: lab_survival(law, d, extra), sweep_s, delay_s, steps)


def found_within(lives, gaps) -> float:
    """Share of placements that some sweep finds, for placements that live `lives` seconds and
    sweeps whose ends are `gaps` seconds apart: a window of length L at a random moment holds
    no sweep end with probability E[(G - L)+] / E[G] (the residual of the gap G exceeds L).
    With every gap equal to C this is min(1, L/C)."""
    import numpy as np
    g = np.sort(np.asarray(gaps, dtype=np.float64))
    x = np.asarray(lives, dtype=np.float64)
    if not len(x) or not len(g) or g.sum() <= 0:
        return math.nan
    above = len(g) - np.searchsorted(g, x, side="right")             # gaps longer than each life
    tail = np.concatenate([np.cumsum(g[::-1])[::-1], [0.0]])         # sum of the gaps from index i on
    missed = (tail[len(g) - above] - x * above) / g.sum()
    return float(np.mean(1.0 - missed))


def discovery_within_placement(law: IntervalLaw, cycle_s: float, extra: float = 0.0, samples: int = 20000,
                               gaps=None) -> float:
    """Share of a service's placements (lives L = interval + extra) that sweeps find while they
    last: found_within over a seeded sample of L, with the sweeps' measured gaps, or every gap
    cycle_s (then a placement is found with probability min(1, L/cycle_s))."""
    if law.law == "never":
        return 1.0
    return found_within(_sample_lives(law, extra, samples), gaps if gaps else [cycle_s])


@functools.lru_cache(maxsize=64)
def _sample_lives(law: IntervalLaw, extra: float, samples: int):
    """A seeded sample of a law's port lives (kept: reports and simulations ask again and again)."""
    import numpy as np
    rng = random.Random(0)
    return np.array([law.sample(rng) + extra for _ in range(samples)])


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


# --- one sweep of the pool against a hopping service (theory.md section 2) -----------------

ONE_MINUS_1_OVER_E = 1 - math.exp(-1)   # a full sweep against perfect shuffling (Carroll et al., ICC 2014)


def urn_find(law: IntervalLaw, m: float) -> float | None:
    """Probability that one sweep of the pool finds a hopping service, m = S/T hops per sweep
    (theory.md section 2, the urn model of Carroll et al.): closed forms for exponential hops
    and for a fixed period up to m = 1; None where theory.md gives none (urn_find_simulated
    covers every law)."""
    if law.law == "never" or m <= 0:
        return 1.0
    if law.law == "exponential":
        if abs(m - 4) < 1e-9:
            miss = 2 * math.exp(-2)
        elif m < 4:
            w = math.sqrt(m - m * m / 4)
            miss = math.exp(-m / 2) * (math.cos(w) + (m / 2 - 1) / w * math.sin(w))
        else:
            w = math.sqrt(m * m / 4 - m)
            miss = math.exp(-m / 2) * (math.cosh(w) + (m / 2 - 1) / w * math.sinh(w))
        return 1 - miss
    if law.law in ("fixed", "keyed") and m <= 1:
        return 1 - m / 6
    return None


@functools.lru_cache(maxsize=256)   # reports and coverage simulations ask again for the same (law, m)
def urn_find_simulated(law: IntervalLaw, m: float, overlap: float = 0.0, pool: int = 64, sims: int = 4000,
                       seed: int = 0) -> float:
    """The urn model by Monte Carlo, for any law: a sweep probes each of `pool` ports once, in a
    random order, evenly over S = m T; the service sits on one port and moves to a random other
    one at the law's hop times (a stationary renewal process: the sweep starts at a random
    moment of an interval). Found when a probe meets the service's port at that moment.
    overlap (in units of T): the port it left stays open that much longer, as the lab's
    make-before-break hops leave it (the lab's urn model; 0 is theory.md's)."""
    if law.law == "never":
        return 1.0
    rng = random.Random(seed)
    T = law.mean
    S = m * T
    found = 0
    for _ in range(sims):
        # The first hop comes after the residual life of the current interval: an interval
        # picked length-biased, entered at a uniform point.
        while True:
            first = law.sample(rng)
            if rng.random() * _max_interval(law) <= first:
                break
        t_hop = rng.random() * first
        port = rng.randrange(pool)
        left: list[tuple[int, float]] = []     # ports it left, open until
        order = list(range(pool))
        rng.shuffle(order)
        for i, probe in enumerate(order):
            t = (i + 0.5) * S / pool
            while t_hop <= t:
                left.append((port, t_hop + overlap * T))
                port = (port + 1 + rng.randrange(pool - 1)) % pool
                t_hop += law.sample(rng)
            if probe == port or any(probe == p and t < until for p, until in left):
                found += 1
                break
    return found / sims


def _max_interval(law: IntervalLaw) -> float:
    """An upper bound of the law's intervals, for length-biased rejection sampling (an
    exponential's is cut at 40 means: the mass beyond is e^-40)."""
    return {"fixed": law.period_s, "keyed": law.period_s, "uniform": law.high_s,
            "exponential": 40 * law.mean_s, "choice": max(law.values_s or (1.0,))}[law.law]


def time_to_first_discovery(law: IntervalLaw, sweep_s: float) -> float | None:
    """Expected time to first discovery for an attacker sweeping continuously, sweeps of S
    seconds (theory.md section 2): exponential S/(1 - e^(-S/T)) - T; fixed period S/2 + S^2/(12T)
    for T >= S, S - T/2 + T^2/(12 S) for T <= S; a static port S/2. None for other laws."""
    if sweep_s <= 0:
        return None
    S = sweep_s
    if law.law == "never":
        return S / 2
    T = law.mean
    if law.law == "exponential":
        return S / -math.expm1(-S / T) - T
    if law.law in ("fixed", "keyed"):
        return S / 2 + S * S / (12 * T) if T >= S else S - T / 2 + T * T / (12 * S)
    return None


def time_to_first_report(p_find: float, sweep_s: float, cycle_s: float) -> float | None:
    """Expected time from the start of an attacker's first sweep to the end of the first sweep
    that finds the service, when the attacker learns what a sweep found at its end (nmap's
    report) and sweeps start cycle_s apart: S + C (1/p - 1), each sweep finding the service
    with the urn model's p on its own (hops between sweeps make them nearly independent).
    theory.md's E[W] counts to the probe's own moment instead; it is reported beside this."""
    if not p_find or sweep_s <= 0:
        return None
    return sweep_s + max(cycle_s, sweep_s) * (1 / p_find - 1)


def sweep_theories(law: IntervalLaw, sweep_s: float, cycle_s: float, extra: float) -> dict:
    """Everything section 2 says about one service against sweeps of sweep_s seconds starting
    cycle_s apart: m = S/T; the urn model's P(find) (closed form, else simulated); the lab's
    (the old port open `extra` longer); the time to first report with the lab's p; and E[W].
    None for all but m when there is no sweep."""
    if sweep_s <= 0:
        return {"m": 0.0, "urn": None, "lab": None, "report": None, "ew": None}
    m = sweep_s / law.mean if law.law != "never" else 0.0
    urn = urn_find(law, m)
    urn = urn if urn is not None else urn_find_simulated(law, round(m, 3))
    lab = urn_find_simulated(law, round(m, 2), round(max(0.0, extra) / law.mean, 2)) if law.law != "never" else urn
    return {"m": m, "urn": urn, "lab": lab, "report": time_to_first_report(lab, sweep_s, cycle_s),
            "ew": time_to_first_discovery(law, sweep_s)}
