"""What the page draws, read from a LiveState: bounded in size whatever the run's length
(timelines cut to the window, the Kaplan-Meier curve thinned, the events list fixed)."""
from __future__ import annotations

import re

from mtdlab.analysis.hoplatency import PHASES
from mtdlab.analysis.km import kaplan_meier, km_half_life
from mtdlab.analysis.theory import lab_survival, residual_survival
from mtdlab.contract.schedule import IntervalLaw
from mtdlab.contract.stats import percentile
from mtdlab.live.state import USERS_WINDOW_S, LiveState, ServiceView, _r

# Bounds of what the page is sent, stated once.
WINDOW_S = 300.0          # timelines cover the last five minutes
CURVE_POINTS = 300        # Kaplan-Meier steps at most
THEORY_POINTS = 60        # points of each theory curve


def users_last_minute(state: LiveState, now: float) -> dict:
    while state.user_window and state.user_window[0][0] < now - USERS_WINDOW_S:
        state.user_window.popleft()
    recent = list(state.user_window)
    failures = sum(not ok for _, ok, _ in recent)
    latencies = [ms for _, ok, ms in recent if ok]
    return {"requests": len(recent), "failures": failures,
            "success_rate": _r((len(recent) - failures) / len(recent)) if recent else None,
            "p50_ms": _r(percentile(latencies, 50), 2), "p95_ms": _r(percentile(latencies, 95), 2),
            "total_requests": state.users["requests"], "total_failures": state.users["failures"]}

def build_view(state: LiveState, problems: list[str] = ()) -> dict:
    """Everything the page draws, bounded in size (windowed timelines, thinned curves)."""
    now = state.clock()
    since = now - WINDOW_S
    services = []
    for s in sorted(state.services.values(), key=lambda s: natural(s.name)):
        routed = s.routed
        segments = [[_r(p.started, 3), _r(p.ready, 3), _r(p.closing, 3), _r(p.closed, 3), p.port, p.hop]
                    for p in s.places if p.closed is None or p.closed >= since]
        marks = [[_r(m.t, 3), m.port, m.true_when_made, m.place is not None and m.place.accepting(now)]
                 for m in s.marks if m.t >= since]
        services.append({
            "name": s.name, "kind": s.kind, "law": s.law_text, "banner": s.banner, "keyed": s.keyed,
            "proxy_port": s.proxy_port, "hops": s.hops,
            "port": routed.port if routed and routed.closed is None else None,
            "instance": routed.container[:10] if routed and routed.closed is None else None,
            "hop": routed.hop if routed else None,
            # The schedule is the defender's to show; a keyed service's comes from its key.
            "next_hop_in_s": None if s.keyed or s.next_hop_at is None else _r(max(0.0, s.next_hop_at - now), 1),
            "segments": segments, "marks": marks})
    pairs = state.decay_pairs(now)
    km = kaplan_meier(pairs)
    horizon = max([d for d, _ in pairs] + [1.0])
    judged = state.judged_sweeps
    return {
        "now": _r(now, 3), "rate": state.rate, "window_s": WINDOW_S, "run": state.run, "controller_running": state.controller_running,
        "attacker": state.attacker, "services": services,
        "unmatched_marks": [[_r(m.t, 3), m.port, False, False] for m in state.unmatched_marks if m.t >= since],
        "decay": {"km": _thin(km, CURVE_POINTS), "half_life_s": _r(km_half_life(pairs), 2),
                  "observations": len(pairs), "censored": sum(not e for _, e in pairs),
                  "horizon_s": _r(horizon, 2), "theory": _theory_curves(state, horizon)},
        "sweeps": {"ports": state.sweeps["ports"], "version": state.sweeps["version"],
                   "precision": _r(state.precision_sum / judged) if judged else None,
                   "recall": _r(state.recall_sum / judged) if judged else None},
        "users": users_last_minute(state, now),
        "hop_latency": {name: {"what": what, "n": state.phases[name].count,
                               "p50_s": _r(percentile(list(state.phases[name].recent), 50), 3),
                               "p95_s": _r(percentile(list(state.phases[name].recent), 95), 3)}
                        for name, _, _, what in PHASES},
        "events": list(reversed(state.recent_events)),
        "warnings": {"malformed_records": dict(state.malformed), "skipped_lines": dict(state.skipped_lines),
                     "last_problem": state.last_problem,
                     "problems": list(problems)},
    }

def _theory_curves(state: LiveState, horizon: float) -> list[dict]:
    """theory.md's S(d) for each interval law in use (services sharing a law share a curve),
    pure and with the lab's extra port life measured so far (mtdlab.analysis.theory.lab_survival)."""
    by_law: dict[IntervalLaw, list[ServiceView]] = {}
    for s in state.services.values():
        if s.law is not None and s.law.law != "never":
            by_law.setdefault(s.law, []).append(s)
    grid = [horizon * i / (THEORY_POINTS - 1) for i in range(THEORY_POINTS)]
    curves = []
    for law, group in sorted(by_law.items(), key=lambda kv: kv[0].describe()):
        n = sum(s.extra_n for s in group)
        extra = sum(s.extra_sum for s in group) / n if n else 0.0
        curves.append({"law": law.describe(), "services": sorted(s.name for s in group), "extra_life_s": _r(extra, 3),
                       "points": [[_r(d, 3), _r(residual_survival(law, d), 4)] for d in grid],
                       "lab_points": [[_r(d, 3), _r(lab_survival(law, d, extra), 4)] for d in grid]})
    return curves


def natural(name: str) -> list:
    """svc2 before svc10: names in the order people count."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def _thin(steps: list[tuple[float, float]], most: int) -> list[list[float]]:
    """At most `most` steps of a survival curve, always keeping the first and the last."""
    if len(steps) > most:
        stride = len(steps) / (most - 1)
        steps = [steps[int(i * stride)] for i in range(most - 1)] + [steps[-1]]
    return [[_r(d, 3), _r(s, 4)] for d, s in steps]
