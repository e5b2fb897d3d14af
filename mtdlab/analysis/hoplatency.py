"""Hop latency per phase, read from the truth log (used by reports and by make bench)."""
from __future__ import annotations

from mtdlab.contract.stats import summary

# (name, from event, to event, what it measures)
PHASES = [
    ("container_start", "hop.decided", "hop.instance_started", "docker creates and starts the new instance, or the standby made ahead is opened"),
    ("until_ready", "hop.instance_started", "hop.ready", "the new instance answers its protocol"),
    ("proxy_switch", "hop.ready", "hop.proxy_switched", "nginx -t, reload, new generation confirmed (HTTP alone: the link to the new socket moved)"),
    ("drain", "hop.proxy_switched", "hop.drained", "old nginx workers exited"),
    ("close_old", "hop.old_stopping", "hop.old_closed", "the old port refuses new connections (door closed, or instance stopped)"),
    ("held", "hop.old_closed", "hop.old_exited", "the old instance finished the connections it held, or was stopped"),
    ("remove_old", "hop.old_exited", "hop.old_stopped", "old instance removed"),
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
            if a in t and b in t:    # logs from before hop.old_closed have no close_old / held
                out.setdefault(name, {}).setdefault(service, []).append(t[b] - t[a])
    return out


def phase_summary(events: list[dict], digits: int = 4) -> dict:
    samples = phase_samples(events)
    return {name: {"what": what, **summary([x for xs in samples.get(name, {}).values() for x in xs], digits),
                   "by_service": {s: summary(xs, digits) for s, xs in sorted(samples.get(name, {}).items())}}
            for name, _, _, what in PHASES}


ON_TIME_S = 0.05     # a switch within this of its moment is on time (issue 13's goal, at p95)


def schedule_summary(events: list[dict], digits: int = 4) -> dict:
    """How close each hop came to its moment: late_s of hop.old_closed (actual - scheduled close
    of the old port; negative is early) over the hops that had a moment (due_wall), apart for
    those that could begin ahead as planned and those that could not (the interval, a pause or
    the previous hop left no room); and the realised interval between consecutive switches
    against the intervals drawn (a schedule that drifts shows here)."""
    decided = {(e["service"], e["hop"]): e for e in events if e["event"] == "hop.decided" and "due_wall" in e}
    stopping = {}
    for e in events:
        if e["event"] == "hop.old_stopping" and "close_ahead_s" in e:
            stopping.setdefault((e["service"], e["hop"]), e)   # the first: a failed door adds a second
    ahead, late_begun, switched, drawn = [], [], {}, {}
    begun_late_by, slower_by = [], []
    for e in events:
        # hop.old_closed; logs from before it carried late_s on hop.old_exited
        if e["event"] == "hop.old_closed" or (e["event"] == "hop.old_exited" and "late_s" in e):
            switched.setdefault(e["service"], []).append(e["wall"])
            d = decided.get((e["service"], e["hop"]))
            if d is not None and "late_s" in e:
                began_on_time = d["wall"] <= d["due_wall"] - d["ahead_s"] + ON_TIME_S
                (ahead if began_on_time else late_begun).append(e["late_s"])
                st = stopping.get((e["service"], e["hop"]))
                if began_on_time and st is not None and e["event"] == "hop.old_closed":
                    # late_s = (close begun - planned) + (close took - learnt), up to rounding
                    begun_late_by.append(st["wall"] - (d["due_wall"] - st["close_ahead_s"]))
                    slower_by.append(e["wall"] - st["wall"] - st["close_ahead_s"])
        elif e["event"] == "hop.decided" and e.get("stay_s") is not None and e["hop"] >= 1:
            drawn.setdefault(e["service"], []).append(e["stay_s"])

    def errors(xs):
        return {**summary(xs, digits), "max": round(max(xs), digits) if xs else None,
                "abs_p95": summary([abs(x) for x in xs], digits)["p95"],
                "on_time_share": round(sum(abs(x) <= ON_TIME_S for x in xs) / len(xs), 4) if xs else None}
    intervals = {}
    for service, walls in sorted(switched.items()):
        xs = [b - a for a, b in zip(walls, walls[1:])]
        got = drawn.get(service, [])[:len(xs)]
        intervals[service] = {"n": len(xs), "realised": round(sum(xs) / len(xs), digits) if xs else None,
                              "drawn": round(sum(got) / len(got), digits) if xs and len(got) == len(xs) else None}
    return {"what": "actual - scheduled switch (the old port closed), seconds; negative is early; "
                    f"on time: within {ON_TIME_S:g} s",
            "begun_ahead": errors(ahead), "begun_late": errors(late_begun),
            "begun_ahead_parts": {
                "what": "a hop begun ahead, its error in two parts: the close began late (preparing the new "
                        "instance and the proxy overran its estimate) and the close took longer than learnt",
                "close_begun_late": summary(begun_late_by, digits), "close_slower": summary(slower_by, digits)},
            "mean_interval_s": intervals}
