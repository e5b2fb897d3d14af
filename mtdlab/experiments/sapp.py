"""Seed 000's one port for all (SAPP): what the attacker sees of a target behind the gateway,
what the gateway lets through, and whether legitimate clients reach every service through it.

The gateway itself is the lab's (`target.sapp`, started by the controller); this module owns the
`sapp_client` section and its in-lab launcher (mtdlab.inlab.sapp_client), refuses clients that
cannot reach loopback-only services, and owns `sapp` in summary.json and its part of the report.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from mtdlab.contract import keys
from mtdlab.contract.reader import Reader
from mtdlab.contract.stats import rounded as _r

from .experiment import Experiment


@dataclass(frozen=True)
class SappClient:
    """Legitimate clients through the SAPP gateway, cycling through every service."""
    rate_per_s: float


def parse(r: Optional[Reader], so_far: dict) -> Optional[SappClient]:
    sapp = so_far["sapp"]
    if r is None:
        return None
    if sapp is None:
        r.fail(r.node, r.key, "needs target.sapp: there is no gateway to go through")
    r.only("rate_per_s")
    return SappClient(r.bounded("rate_per_s", "sapp_client.rate_per_s", default=10.0))


def check(root: Reader, scenario) -> None:
    """Behind a gateway the services listen on the target's loopback: nothing else reaches them."""
    if scenario.sapp is None:
        return
    for key in ("legit", "direct_client"):
        if scenario.sections.get(key) is not None:
            root.fail(root.items[key][0], key, "not possible with target.sapp: the services listen on the "
                      "target's loopback only, behind the gateway; use sapp_client")


def launch(ctx, scenario, duration: float):
    """Legitimate clients through the SAPP gateway, to the target's one port."""
    if scenario.sapp_client is None:
        return None
    return ctx.in_lab("sapp-client", ["python3", "-m", "mtdlab.inlab.sapp_client", ctx.scenario_in_lab, ctx.ip("target"),
                                      str(duration), "/lab/run/sapp-client.jsonl"], {keys.SAPP.env: ctx.key(keys.SAPP)})


def figures(run) -> dict | None:
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


def rows(summary: dict) -> list[tuple[str, str]]:
    rows = []
    if summary.get("sapp"):
        rows += [("SAPP gateway port", "sapp.port"), ("SAPP: open ports the sweeps saw", "sapp.attacker.open_ports_seen"),
                 ("SAPP: sweeps that saw only the gateway", "sapp.attacker.sweeps_seeing_only_the_gateway"),
                 ("SAPP: port sweeps", "sapp.attacker.port_sweeps"),
                 ("SAPP: gateway connections accepted", "sapp.gateway.accepted"),
                 ("SAPP: gateway connections refused", "sapp.gateway.refused"),
                 ("SAPP client requests", "sapp.client.requests"), ("SAPP client failures", "sapp.client.failures"),
                 ("SAPP client success rate", "sapp.client.success_rate")]
        for i, v in enumerate(summary["sapp"]["attacker"]["version_scan_results"]):
            rows.append((f"SAPP: version scans of port {v['port']} naming service {v['service'] or 'none'}, "
                         f"product {v['product'] or 'none'}", f"sapp.attacker.version_scan_results.{i}.count"))
        for svc in summary["sapp"]["client"]["by_service"]:
            rows += [(f"SAPP client, {svc}: success rate", f"sapp.client.by_service.{svc}.success_rate"),
                     (f"SAPP client, {svc}: requests", f"sapp.client.by_service.{svc}.requests"),
                     (f"SAPP client, {svc}: hops", f"sapp.client.by_service.{svc}.hops")]
    return rows


EXPERIMENT = Experiment(
    name="sapp",
    sections={"sapp_client": parse},
    check=check,
    launch=launch,
    metrics=lambda run, base: ({"sapp": figures(run)}, {}),
    rows=rows,
    definitions=(
        ("One port for all (SAPP)", "Seed 000: the target's services listen on its loopback only; one gateway port "
         "splices connections that open with a 34-byte preamble (version, service code, session, time, HMAC-SHA256 tag) "
         "to the service's current port, and closes anything else without a byte. The sweeps' open ports, the version "
         "scans' verdicts on them, the gateway's refusals by reason, and the legitimate clients' success per service "
         "(a new connection each, checked by the service's own protocol) across the hops."),
    ),
)
