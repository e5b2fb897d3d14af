"""Hop latency per phase, read from the truth log (used by reports and by make bench)."""
from __future__ import annotations

from mtdlab.contract.stats import summary

# (name, from event, to event, what it measures)
PHASES = [
    ("container_start", "hop.decided", "hop.instance_started", "docker creates and starts the new instance"),
    ("until_ready", "hop.instance_started", "hop.ready", "the new instance answers its protocol"),
    ("proxy_switch", "hop.ready", "hop.proxy_switched", "nginx -t, reload, new generation confirmed"),
    ("drain", "hop.proxy_switched", "hop.drained", "old nginx workers exited"),
    ("stop_old", "hop.old_stopping", "hop.old_stopped", "old instance stopped (SIGTERM) and removed"),
    ("new_port_live", "hop.decided", "hop.proxy_switched", "decision until users are served by the new port"),
    ("total", "hop.decided", "hop.done", "whole hop"),
]


def phase_samples(events: list[dict]) -> dict[str, dict[str, list[float]]]:
    """{phase: {service: [seconds, ...]}} over completed hops (hop >= 1; hop 0 has no old instance).
    Only the last attempt's instance_started counts, so a retried start shows in container_start."""
    hops: dict[tuple, dict[str, float]] = {}
    for e in events:
        if e["event"].startswith("hop.") and e.get("hop", 0) >= 1:
            hops.setdefault((e["service"], e["hop"]), {})[e["event"]] = e["mono"]
    out: dict[str, dict[str, list[float]]] = {}
    for (service, _), t in sorted(hops.items()):
        if "hop.done" not in t:
            continue
        for name, a, b, _ in PHASES:
            out.setdefault(name, {}).setdefault(service, []).append(t[b] - t[a])
    return out


def phase_summary(events: list[dict], digits: int = 4) -> dict:
    samples = phase_samples(events)
    return {name: {"what": what, **summary([x for xs in samples.get(name, {}).values() for x in xs], digits),
                   "by_service": {s: summary(xs, digits) for s, xs in sorted(samples.get(name, {}).items())}}
            for name, _, _, what in PHASES}
