"""Keyed hopping's direct clients (seed 001): clients that compute a keyed service's port from
the key and their own clock, offset by set skews, and connect to the target without the proxy.

Owns the scenario's `direct_client` section, its in-lab launcher (mtdlab.inlab.direct), its
figures (`direct` in summary.json) and its part of the report.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import yaml

from mtdlab.contract import keys
from mtdlab.contract.reader import Reader
from mtdlab.contract.stats import percentile, rounded as _r
from mtdlab.contract.yamlsafe import plain

from .experiment import Experiment


@dataclass(frozen=True)
class DirectClient:
    """Clients that compute a keyed service's port themselves and skip the proxy (seed 001)."""
    service: str
    skews_s: tuple[float, ...]
    rate_per_s: float


def parse(r: Optional[Reader], so_far: dict) -> Optional[DirectClient]:
    services = so_far["services"]
    if r is None:
        return None
    r.only("service", "skews_s", "rate_per_s")
    name = r.scalar("service", (str,), "expected a service name", required=True)
    svc = next((s for s in services if s.name == name), None)
    if svc is None:
        r.fail(r.items["service"][1], r.path("service"), f"expected one of the target's services, got {name!r}")
    if svc.hop.interval.law != "keyed" or svc.kind != "web":
        r.fail(r.items["service"][1], r.path("service"), f"expected a web service with law: keyed, got {name!r}")
    node = r.node_of("skews_s", required=False)
    skews = (0.0,)
    if node is not None:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            r.fail(node, r.path("skews_s"), "expected a non-empty list of clock skews in seconds")
        skews = []
        for item in node.value:
            v = plain(item) if isinstance(item, yaml.ScalarNode) else None
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                r.fail(item, r.path("skews_s"), f"expected a number of seconds, got {v!r}")
            skews.append(float(v))
        skews = tuple(skews)
    return DirectClient(name, skews, r.bounded("rate_per_s", "direct_client.rate_per_s", default=10.0))


def launch(ctx, scenario, duration: float):
    """Keyed direct clients, straight to the target (no proxy)."""
    if scenario.direct_client is None:
        return None
    return ctx.in_lab("direct", ["python3", "-m", "mtdlab.inlab.direct", ctx.scenario_in_lab, ctx.ip("target"),
                                 str(duration), "/lab/run/direct.jsonl"], {keys.KEYED.env: ctx.key(keys.KEYED)})


def figures(run, base: dict) -> dict | None:
    """Keyed direct clients (seed 001): success rate per clock skew, beside theory."""
    from mtdlab.analysis import theory
    plan = run.scenario.direct_client
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


def metrics(run, base: dict) -> tuple[dict, dict]:
    return {"direct": figures(run, base)}, {}


def rows(summary: dict) -> list[tuple[str, str]]:
    rows = []
    if summary.get("direct"):
        rows += [("Keyed slot (s)", "direct.slot_s"), ("Keyed grace, set (s)", "direct.grace_s"),
                 ("Keyed grace, effective (s)", "direct.effective_grace_s"), ("Keyed lead, set (s)", "direct.lead_s"),
                 ("Keyed lead, effective (s)", "direct.effective_lead_s")]
    for i, row in enumerate((summary.get("direct") or {}).get("by_skew", [])):
        rows += [(f"Direct client, skew {row['skew_s']:+g} s: success", f"direct.by_skew.{i}.success_rate"),
                 (f"Direct client, skew {row['skew_s']:+g} s: theory", f"direct.by_skew.{i}.theory"),
                 (f"Direct client, skew {row['skew_s']:+g} s: requests", f"direct.by_skew.{i}.requests")]
    return rows


EXPERIMENT = Experiment(
    name="keyed",
    sections={"direct_client": parse},
    launch=launch,
    metrics=metrics,
    rows=rows,
    definitions=(
        ("Direct (keyed) clients", "Seed 001: clients that compute the port as HMAC-SHA256(key, service, slot) from "
     "their own clock, offset by a set skew, and connect to the target directly. Theory: a client ahead by s misses "
     "(s - lead)+ of every slot, one behind by s misses (s - grace)+ (theory.md section 4, fixed slots), with the "
     "lab's effective lead (how long before its slot the port's instance started) and grace (how long after the slot "
     "began the old instance's stop began), medians from the truth log."),
    ),
)
