"""Every figure a run reports, computed from the run folder's raw data alone.

Inputs: scenario.yaml (as run), truth.jsonl, attacker/observations.jsonl, legit.jsonl.
Output: summary (the documented summary.json, docs/summary.md) and series for the plots.
Definitions are in docs/summary.md and repeated in each report.
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

from .catalog import SERVICE_KINDS
from .events import read_events
from .hoplatency import phase_summary
from .legit import read_load, summarize
from .scenario import Scenario, load_scenario
from .stats import percentile
from .sweeps import judge_sweeps
from . import theory
from .truth import Truth, read_truth

SCHEMA = "mtdlab.summary/1"
BOOTSTRAP = 1000


@dataclass
class Run:
    dir: Path
    scenario: Scenario
    truth: Truth
    attacker: list[dict]
    legit: list[dict]
    direct: list[dict]
    sapp_client: list[dict] = field(default_factory=list)
    gateway: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, run_dir: str | Path) -> "Run":
        d = Path(run_dir)
        obs = d / "attacker" / "observations.jsonl"
        legit, direct = d / "legit.jsonl", d / "direct.jsonl"
        sapp_client, gateway = d / "sapp-client.jsonl", d / "sapp-gateway.jsonl"
        return cls(d, load_scenario(d / "scenario.yaml"), read_truth(d / "truth.jsonl"),
                   list(read_events(obs)) if obs.exists() else [],
                   read_load(legit) if legit.exists() else [],
                   read_load(direct) if direct.exists() else [],
                   read_load(sapp_client) if sapp_client.exists() else [],
                   read_load(gateway) if gateway.exists() else [])

    def judged(self, e: dict) -> bool:
        """Attacker data inside the window the truth log covers, before the shutdown began."""
        start = e.get("start_mono", e.get("discovered_mono", e["mono"]))
        end = e.get("end_mono", e.get("at_mono", e["mono"]))
        return self.truth.start <= start and end <= self.truth.shutdown

    def sweeps(self, scan: str = "ports") -> list[dict]:
        return [e for e in self.attacker if e["event"] == "sweep.done" and e["scan"] == scan and self.judged(e)]


# --- reconnaissance decay -------------------------------------------------------------

def decay_samples(run: Run) -> list[tuple[float, bool, str]]:
    """For every open port a sweep reported: (how long after the sweep's end the port went on
    accepting connections, whether that end was seen (False: cut by the shutdown, censored),
    service). A port accepts from its instance's start until the instance is gone, so the
    port-life model in theory.lab_survival uses the same bounds (see extra_life)."""
    out = []
    for s in run.sweeps():
        t = s["end_mono"]
        for port in s["open"]:
            p = run.truth.accepting(port, t)
            if p is None:
                held = [q for q in run.truth.placements if q.port == port and q.possibly_open(s["start_mono"], t)]
                if held:
                    out.append((0.0, True, held[0].service))  # gone before the sweep even ended
            elif run.truth.cut_by_shutdown(p):
                out.append((run.truth.shutdown - t, False, p.service))
            else:
                out.append((p.closed - t, True, p.service))
    return out


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
    for d, s in kaplan_meier(samples):
        if s <= 0.5:
            return d
    return None  # never fell to one half: no decay seen


def extra_life(run: Run) -> float:
    """How much longer a port accepts connections than its scheduled interval, on average: it
    accepts from its instance's start (just after a hop decision) until that instance is gone
    (just after the next decision, once drained and stopped)."""
    stay = {(e["service"], e["hop"]): e["stay_s"] for e in run.truth.events
            if e["event"] == "hop.decided" and e.get("stay_s") is not None}
    # Placements the shutdown closed were cut short, not moved on by a hop: leave them out.
    xs = [(p.closed - p.started) - stay[(p.service, p.hop)] for p in run.truth.placements
          if p.ready is not None and not run.truth.cut_by_shutdown(p) and (p.service, p.hop) in stay]
    return sum(xs) / len(xs) if xs else 0.0


def mixture(run: Run, samples, fn) -> float:
    """A theory value averaged over services, weighted by their share of the observations."""
    if not samples:
        return float("nan")
    counts: dict[str, int] = {}
    for *_, svc in samples:
        counts[svc] = counts.get(svc, 0) + 1
    return sum(n * fn(run.scenario.service(svc).hop.interval) for svc, n in counts.items()) / len(samples)


def decay(run: Run, extra: float) -> tuple[dict, dict]:
    samples = decay_samples(run)
    pairs = [(d, e) for d, e, _ in samples]
    half = km_half_life(pairs)
    rng = random.Random(run.scenario.seed)
    boots = []
    for _ in range(BOOTSTRAP if pairs else 0):
        h = km_half_life([pairs[rng.randrange(len(pairs))] for _ in pairs])
        boots.append(math.inf if h is None else h)
    lo, hi = (percentile(boots, 2.5), percentile(boots, 97.5)) if boots else (None, None)
    theory_pure = solve_half(lambda d: mixture(run, samples, lambda law: theory.residual_survival(law, d)))
    theory_lab = solve_half(lambda d: mixture(run, samples, lambda law: theory.lab_survival(law, d, extra)))
    summary = {
        "observations": len(pairs), "censored": sum(not event for _, event in pairs),
        "half_life_s": _r(half), "half_life_ci95": [_r(lo), _r(hi)],
        "theory_half_life_s": _r(theory_lab), "theory_half_life_pure_s": _r(theory_pure),
        "extra_life_s": _r(extra),
        "theory_within_ci95": (lo is not None and theory_lab is not None and hi is not None
                               and lo <= theory_lab <= hi) if half is not None else None,
    }
    horizon = max([d for d, _ in pairs] + [1.0])
    grid = [horizon * i / 200 for i in range(201)]
    series = {"km": kaplan_meier(pairs), "grid": grid,
              "theory": [mixture(run, samples, lambda law: theory.lab_survival(law, d, extra)) for d in grid],
              "theory_pure": [mixture(run, samples, lambda law: theory.residual_survival(law, d)) for d in grid]}
    return summary, series


def solve_half(S) -> float | None:
    if not S(1e9) < 0.5:
        return None
    lo, hi = 0.0, 1.0
    while S(hi) > 0.5:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if S(mid) > 0.5 else (lo, mid)
    return (lo + hi) / 2


# --- sweeps, discovery, scan-then-act, identification ----------------------------------

def sweeps(run: Run) -> dict:
    verdicts = judge_sweeps(run.truth, run.sweeps())
    precision, recall = [], []
    for v in verdicts:
        r, t = set(v.reported), set(v.truth_at_end)
        precision.append(len(r & t) / len(r) if r else 1.0)
        recall.append(len(r & t) / len(t) if t else 1.0)
    ports = run.sweeps()
    starts = [s["start_mono"] for s in ports]
    return {"count": len(verdicts), "precision": _r(_mean(precision)), "recall": _r(_mean(recall)),
            "exact": sum(v.exact for v in verdicts),
            "explained_by_hop": sum((not v.exact) and v.ok for v in verdicts),
            "unexplained": sum(not v.ok for v in verdicts),
            "sweep_s": _r(_mean([s["end_mono"] - s["start_mono"] for s in ports])),
            "cycle_s": _r(_mean([b - a for a, b in zip(starts, starts[1:])]))}


def discovery(run: Run, sweep_stats: dict, extra: float) -> dict:
    """Per service: share of placements (port occupancies) the attacker found while they
    lasted, and the mean time from a placement's start to its first discovery."""
    out = {}
    cycle = sweep_stats["cycle_s"] or 0
    for svc in run.scenario.services:
        found, waits, total = 0, [], 0
        for p in run.truth.by_service(svc.name):
            if p.ready is None:
                continue
            end = p.closing if p.closing is not None else run.truth.end
            if end - p.ready < 1e-9:
                continue
            total += 1
            hits = [s["end_mono"] for s in run.sweeps() if p.port in s["open"] and s["end_mono"] >= p.ready
                    and s["start_mono"] <= end]
            if hits:
                found += 1
                waits.append(max(0.0, min(hits) - p.ready))
        law = svc.hop.interval
        out[svc.name] = {
            "placements": total, "discovered_share": _r(found / total if total else None),
            "mean_time_to_discovery_s": _r(_mean(waits)),
            "theory_discovered_share": _r(theory.discovery_within_placement(law, cycle, extra) if cycle else None),
            "theory_mean_time_to_discovery_s": _r(theory.static_time_to_discovery(cycle) if cycle and not svc.hop.hops else None),
        }
    return out


def act_after_delay(run: Run, sweep_stats: dict, extra: float) -> dict:
    plan = run.scenario.attacker
    tries = [e for e in run.attacker if e["event"] == "followup" and run.judged(e)]
    ok = 0
    for f in tries:
        before = run.truth.accepting(f["port"], f["discovered_mono"])
        after = run.truth.accepting(f["port"], f["at_mono"])
        ok += bool(f["connected"] and before and after and before.service == after.service)
    delay = plan.act_delay_s if plan else None
    S = sweep_stats["sweep_s"] or 0
    laws = [s.hop.interval for s in run.scenario.services]
    th = (sum(theory.act_after_delay(law, S, delay, extra) for law in laws) / len(laws)) if delay is not None else None
    return {"delay_s": delay, "attempts": len(tries), "success_rate": _r(ok / len(tries) if tries else None),
            "theory": _r(th)}


def service_identification(run: Run) -> float | None:
    right = total = 0
    for o in run.attacker:
        if o["event"] != "observation" or o["scan"] != "version" or o["state"] != "open" or not run.judged(o):
            continue
        held = [p for p in run.truth.placements if p.port == o["port"] and p.possibly_open(o["start_mono"], o["end_mono"])]
        if not held:
            continue
        total += 1
        kind = SERVICE_KINDS[run.scenario.service(held[0].service).kind]
        right += (o["service"] or "") in kind.nmap_names
    return _r(right / total) if total else None


def direct_clients(run: Run) -> dict | None:
    """Keyed direct clients (seed 001): success rate per clock skew, beside theory."""
    plan = run.scenario.direct
    if plan is None:
        return None
    law = run.scenario.service(plan.service).hop.interval
    # The lab's effective lead and grace: how long before its slot a port accepted connections
    # (its instance started; early connections wait in the backlog until the app is up), and
    # how long after the slot began the old one did (until its stop began: SIGTERM closes the
    # listener).
    by_hop: dict[int, dict] = {}
    for e in run.truth.events:
        if e.get("service") == plan.service and e["event"] in ("hop.decided", "hop.instance_started", "hop.old_stopping"):
            by_hop.setdefault(e["hop"], {})[e["event"]] = e
    leads = [h["hop.decided"]["slot_start_wall"] - h["hop.instance_started"]["wall"] for h in by_hop.values()
             if "slot_start_wall" in h.get("hop.decided", {}) and "hop.instance_started" in h]
    graces = [h["hop.old_stopping"]["wall"] - h["hop.decided"]["slot_start_wall"] for h in by_hop.values()
              if "slot_start_wall" in h.get("hop.decided", {}) and "hop.old_stopping" in h]
    if leads and graces:
        law = replace(law, lead_s=percentile(leads, 50), grace_s=percentile(graces, 50))
    rows = []
    for skew in plan.skews_s:
        rs = [r for r in run.direct if r["skew_s"] == skew and r["mono"] <= run.truth.shutdown]
        ok = sum(r["ok"] for r in rs)
        rows.append({"skew_s": skew, "requests": len(rs), "success_rate": _r(ok / len(rs) if rs else None, 5),
                     "theory": _r(1 - theory.keyed_direct_failure(law, skew), 5)})
    configured = run.scenario.service(plan.service).hop.interval
    return {"service": plan.service, "slot_s": law.period_s, "grace_s": configured.grace_s,
            "lead_s": configured.lead_s, "effective_grace_s": _r(law.grace_s), "effective_lead_s": _r(law.lead_s),
            "by_skew": rows}


def banner_modes(run: Run) -> dict:
    """Per banner mode (seed 000): of the version-scan results on open ports, the share that
    named the true product, and the share that named the replacement the instance showed."""
    shown = {e["container"]: e.get("banner_product") for e in run.truth.events if e["event"] == "hop.instance_started"}
    out: dict[str, dict] = {}
    for svc in run.scenario.services:
        out.setdefault(svc.banner.mode, {"services": [], "version_scans": 0, "identified": 0, "deceived": 0})
        out[svc.banner.mode]["services"].append(svc.name)
    for o in run.attacker:
        if o["event"] != "observation" or o["scan"] != "version" or o["state"] != "open" or not run.judged(o):
            continue
        p = run.truth.accepting(o["port"], o["start_mono"])
        if p is None:
            continue
        svc = run.scenario.service(p.service)
        row = out[svc.banner.mode]
        row["version_scans"] += 1
        row["identified"] += o["product"] == SERVICE_KINDS[svc.kind].product
        row["deceived"] += bool(shown.get(p.container)) and o["product"] == shown[p.container]
    for row in out.values():
        n = row["version_scans"]
        row["identified"] = _r(row["identified"] / n) if n else None
        row["deceived"] = _r(row["deceived"] / n) if n else None
    return out


def sapp(run: Run) -> dict | None:
    """One port for all (seed 000): what the attacker saw of the target, what the gateway let
    through, and whether legitimate clients reached every service through it."""
    if run.scenario.sapp is None:
        return None
    port = run.scenario.sapp.port
    sweeps_ = run.sweeps()
    seen = sorted({p for s in sweeps_ for p in s["open"]})
    ids: dict[tuple, int] = {}
    for o in run.attacker:
        if o["event"] == "observation" and o["scan"] == "version" and o["state"] == "open" and run.judged(o):
            verdict = (o["port"], o["service"], o["product"])
            ids[verdict] = ids.get(verdict, 0) + 1
    refused = [g for g in run.gateway if g.get("event") == "sapp.connection" and not g["accepted"]]
    reasons: dict[str, int] = {}
    for g in refused:
        reason = g["reason"].split(" (")[0]   # without the detail: counts, lengths, ports
        reasons[reason] = reasons.get(reason, 0) + 1
    in_run = [r for r in run.sapp_client if r["mono"] <= run.truth.shutdown]
    by_service = {}
    for svc in run.scenario.services:
        rs = [r for r in in_run if r["service"] == svc.name]
        by_service[svc.name] = {"requests": len(rs), "ok": sum(r["ok"] for r in rs),
                                "success_rate": _r(sum(r["ok"] for r in rs) / len(rs) if rs else None, 5),
                                "hops": run.truth.hops.get(svc.name, 0)}
    ok = sum(r["ok"] for r in in_run)
    return {
        "port": port,
        "attacker": {"port_sweeps": len(sweeps_), "open_ports_seen": seen,
                     "sweeps_seeing_only_the_gateway": sum(s["open"] == [port] for s in sweeps_),
                     "version_scan_results": [{"port": p, "service": sv, "product": pr, "count": n}
                                              for (p, sv, pr), n in sorted(ids.items(), key=str)]},
        "gateway": {"accepted": sum(1 for g in run.gateway if g.get("event") == "sapp.connection" and g["accepted"]),
                    "refused": len(refused), "refused_by_reason": dict(sorted(reasons.items()))},
        "client": {"requests": len(in_run), "failures": len(in_run) - ok,
                   "success_rate": _r(ok / len(in_run) if in_run else None, 5), "by_service": by_service,
                   "first_failures": [r for r in in_run if not r["ok"]][:5]},
    }


def flood(run: Run) -> dict | None:
    """Seed 001's flooding claim: legitimate success per n, beside theory (gain n) and the
    seed's sqrt(n). Only exchanges sent while the flood ran, and answered or timed out before
    it ended, count."""
    plan = run.scenario.flood
    if plan is None:
        return None
    from .xhop_client import TIMEOUT_S
    rows = []
    for n in plan.ns:
        d = run.dir / "flood"
        fl = json.loads((d / f"n-{n}-flood.json").read_text()) if (d / f"n-{n}-flood.json").exists() else None
        client = read_load(d / f"n-{n}-client.jsonl") if (d / f"n-{n}-client.jsonl").exists() else []
        server = [json.loads(x) for x in (d / f"n-{n}-server.jsonl").read_text().splitlines() if x.startswith("{")] \
            if (d / f"n-{n}-server.jsonl").exists() else []
        stopped = next((e for e in server if e.get("event") == "xhop.stopped"), {})
        inside = [r for r in client if fl and fl["start_mono"] <= r["mono"] <= fl["end_mono"] - TIMEOUT_S]
        ok = sum(r["ok"] for r in inside)
        k = plan.k(n)
        rows.append({
            "n": n, "k": k, "exchanges": len(inside), "ok": ok,
            "success_rate": _r(ok / len(inside) if inside else None),
            "theory": _r(theory.flood_success(n, k, plan.budget_pps, plan.capacity_pps, plan.client_rate_per_s)),
            "seed_claim": _r(theory.flood_success(n, k, plan.budget_pps, plan.capacity_pps, plan.client_rate_per_s,
                                                  gain="sqrt")),
            "flood_pps": fl["achieved_pps"] if fl else None,
            "latency_ms_p50": _r(percentile([r["latency_ms"] for r in inside if r["ok"]], 50)
                                 if ok else None, 3),
            "server_read": stopped.get("read"), "kernel_drops": stopped.get("kernel_drops"),
        })
    return {"budget_pps": plan.budget_pps, "capacity_pps": plan.capacity_pps, "flooded": plan.flooded or "all",
            "client_rate_per_s": plan.client_rate_per_s, "seconds_per_n": plan.seconds_per_n, "by_n": rows}


# --- the whole summary -----------------------------------------------------------------

def compute(run: Run) -> tuple[dict, dict]:
    extra = extra_life(run)
    decay_summary, decay_series = decay(run, extra)
    sweep_stats = sweeps(run)
    phases = phase_summary(run.truth.events)
    legit = summarize(run.legit) if run.legit else {"requests": 0, "failures": 0, "success_rate": None,
                                                    "latency_ms": {"n": 0, "p50": None, "p95": None, "p99": None}}
    started = next((e for e in run.truth.events if e["event"] == "controller.started"), {})
    summary = {
        "schema": SCHEMA,
        "scenario": run.scenario.name,
        "seed": run.scenario.seed,
        "duration_s": _r(run.truth.end - run.truth.start),
        "hops": sum(run.truth.hops.values()),
        "hops_by_service": dict(sorted(run.truth.hops.items())),
        "policies": started.get("services", {}),
        "hop_latency_s": {"p50": phases["total"]["p50"], "p95": phases["total"]["p95"], "phases": phases},
        "legit": {k: legit[k] for k in ("requests", "failures", "success_rate", "latency_ms")},
        "decay": decay_summary,
        "sweeps": sweep_stats,
        "discovery": discovery(run, sweep_stats, extra),
        "act_after_delay": act_after_delay(run, sweep_stats, extra),
        "service_id_accuracy": service_identification(run),
        "direct": direct_clients(run),
        "banner_modes": banner_modes(run),
        "sapp": sapp(run),
        "flood": flood(run),
    }
    return summary, {"decay": decay_series}


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def _r(x, digits: int = 4):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return None if math.isinf(x) else round(x, digits)
