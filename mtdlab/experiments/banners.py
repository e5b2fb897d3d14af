"""Seed 000's banner modes: what nmap -sV believes about each service, per mode.

The per-service `banner` key is the lab's (the controller shows the banner, mtdlab.contract.banners);
this module owns the measurement: `banner_modes` in summary.json and its part of the report.
"""
from __future__ import annotations

from mtdlab.contract.catalog import SERVICE_KINDS
from mtdlab.contract.stats import rounded as _r

from .experiment import Experiment


def figures(run) -> dict:
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


def rows(summary: dict) -> list[tuple[str, str]]:
    rows = []
    for mode, row in summary.get("banner_modes", {}).items():
        if row["version_scans"]:
            rows += [(f"Banner mode {mode}: product identified", f"banner_modes.{mode}.identified"),
                     (f"Banner mode {mode}: replacement believed", f"banner_modes.{mode}.deceived"),
                     (f"Banner mode {mode}: version scans", f"banner_modes.{mode}.version_scans")]
    return rows


EXPERIMENT = Experiment(
    name="banners",
    metrics=lambda run, base: ({"banner_modes": figures(run)}, {}),
    rows=rows,
    definitions=(
        ("Banner modes", "Seed 000: static (true port, true banner), static-random (true port, replacement banner), "
         "random-random (hopping, replacement), random-static (hopping, true banner). 'Identified': share of version-scan "
         "results on open ports naming the real product (Gunicorn, vsftpd, ...); 'believed': share naming the replacement "
         "that instance showed. Replacements come from common or exotic real-world server strings."),
    ),
)
