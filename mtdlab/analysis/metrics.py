"""Every figure a run reports, computed from the run folder's raw data alone.

Inputs: scenario.yaml (as run), truth.jsonl, attacker/observations.jsonl, legit.jsonl.
Output: summary (the documented summary.json, docs/summary.md) and series for the plots.
Definitions are in docs/summary.md and repeated in each report.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from mtdlab.contract.catalog import SERVICE_KINDS
from mtdlab.analysis.decay import decay, extra_life, kaplan_meier, km_half_life, realised_lives  # noqa: F401  (kaplan_meier, km_half_life: part of this module's API)
from mtdlab.contract.events import read_events
from mtdlab.analysis.hoplatency import phase_summary
from mtdlab.inlab.legit import read_load, summarize
from mtdlab.contract.scenario import Scenario, load_scenario
from mtdlab.analysis.resample import Clusters, mean_interval
from mtdlab.contract.stats import percentile, rounded as _r, within
from mtdlab.analysis.sweeps import judge_sweeps
from mtdlab.analysis import theory
from mtdlab.analysis.truth import Truth, read_truth

SCHEMA = "mtdlab.summary/1"


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


def discovery(run: Run, sweep_stats: dict) -> dict:
    """Per service: share of placements (port occupancies) the attacker found while they
    lasted (95% interval: placements resampled), and the mean time from a placement's start to
    its first discovery. Theory from the sweeps' measured gaps, for the law's lives and for the
    lives this run's placements had."""
    out = {}
    cycle = sweep_stats["cycle_s"] or 0
    sweeps_ = run.sweeps()
    ends = sorted(s["end_mono"] for s in sweeps_)
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    for svc in run.scenario.services:
        found, waits, lives = [], [], []
        for p in run.truth.by_service(svc.name):
            if p.ready is None:
                continue
            end = p.closing if p.closing is not None else run.truth.end
            if end - p.ready < 1e-9:
                continue
            lives.append(end - p.ready)
            hits = [s["end_mono"] for s in sweeps_ if p.port in s["open"] and s["end_mono"] >= p.ready
                    and s["start_mono"] <= end]
            found.append(1.0 if hits else 0.0)
            if hits:
                waits.append(max(0.0, min(hits) - p.ready))
        law = svc.hop.interval
        lo, hi = mean_interval(found, Clusters.of(range(len(found))), run.scenario.seed)   # placements in time order
        share = _mean(found)
        realised = theory.found_within(lives, gaps) if lives and gaps and svc.hop.hops else None
        th = theory.discovery_within_placement(law, cycle, extra_life(run.truth, svc.name), gaps=gaps) if cycle else None
        out[svc.name] = {
            "placements": len(found), "discovered_share": _r(share),
            "discovered_share_ci95": [_r(lo), _r(hi)],
            "mean_time_to_discovery_s": _r(_mean(waits)),
            "theory_discovered_share": _r(th),
            "theory_discovered_share_realised": _r(realised),
            "theory_within_ci95": within(lo, hi, th) if share is not None else None,
            "theory_mean_time_to_discovery_s": _r(theory.static_time_to_discovery(cycle) if cycle and not svc.hop.hops else None),
        }
    return out


def act_after_delay(run: Run, sweep_stats: dict) -> dict:
    """Follow-ups D after each sweep's end; success = the port still held by the service that
    held it at discovery. The interval resamples placements (follow-ups to one placement
    stand or fall together); theory is the attempt-weighted mixture over services."""
    plan = run.scenario.attacker
    tries = [e for e in run.attacker if e["event"] == "followup" and run.judged(e)]
    outcome, held_by, clusters, services = [], {}, [], []
    for i, f in enumerate(tries):
        before = run.truth.accepting(f["port"], f["discovered_mono"])
        after = run.truth.accepting(f["port"], f["at_mono"])
        outcome.append(float(bool(f["connected"] and before and after and before.service == after.service)))
        clusters.append(before.container if before else f"unheld-{i}")
        services.append(before.service if before else "")
        if before:
            held_by[before.service] = held_by.get(before.service, 0) + 1
    delay = plan.act_delay_s if plan else None
    S = sweep_stats["sweep_s"] or 0
    laws = {s.name: s.hop.interval for s in run.scenario.services}
    weights = held_by or {name: 1 for name in laws}

    def mixture(value) -> float | None:
        if delay is None:
            return None
        return sum(n * value(name) for name, n in weights.items()) / sum(weights.values())

    th = mixture(lambda name: theory.act_after_delay(laws[name], S, delay, extra_life(run.truth, name)))
    realised = mixture(lambda name: 1.0 if laws[name].law == "never" else theory.over_sweep(
        lambda d, lives=realised_lives(run.truth, name): theory.realised_survival(lives, d), S, delay))
    lo, hi = mean_interval(outcome, Clusters.of(clusters, services), run.scenario.seed)
    naive = mean_interval(outcome, Clusters.naive(len(outcome)), run.scenario.seed, method="percentile")
    rate = _mean(outcome)
    return {"delay_s": delay, "attempts": len(tries), "success_rate": _r(rate),
            "theory": _r(th), "placements": len(set(clusters)),
            "success_ci95": [_r(lo), _r(hi)], "success_ci95_naive": [_r(v) for v in naive],
            "theory_realised": _r(realised),
            "theory_within_ci95": within(lo, hi, th) if rate is not None else None,
            "realised_within_ci95": within(lo, hi, realised) if rate is not None else None}


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
    from mtdlab.inlab.xhop_client import TIMEOUT_S
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
    extra = extra_life(run.truth)
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
        "discovery": discovery(run, sweep_stats),
        "act_after_delay": act_after_delay(run, sweep_stats),
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
