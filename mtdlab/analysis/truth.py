"""Reads the controller's truth log back into placements: which port each service held, when.

A placement's port is *surely open* from hop.ready until the controller starts to stop it
(hop.old_stopping / service.stopped), and *possibly open* from hop.instance_started until it
is closed to new connections or gone (hop.old_closed, hop.old_exited, hop.old_stopped, hop.new_removed, hop.start_failed, service.stopped, or a later
controller's start, which removes what a killed controller left). Judging an observation
against both bounds is what makes "explained by a hop" precise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from mtdlab.contract.events import read_events


@dataclass
class Placement:
    service: str
    hop: int
    port: int
    container: str
    started: float                 # possibly open from
    ready: float | None = None     # surely open from (None: never became ready)
    closing: float | None = None   # surely open until
    closed: float | None = None    # possibly open until (None: still open at the end of the log)
    exposed: bool = True           # False behind a SAPP gateway: listens on the target's loopback only

    def surely_open(self, t0: float, t1: float) -> bool:
        """Open over the whole of [t0, t1]."""
        return self.ready is not None and self.ready <= t0 and (self.closing is None or self.closing >= t1)

    def possibly_open(self, t0: float, t1: float) -> bool:
        """Open at some moment of [t0, t1]."""
        return self.started <= t1 and (self.closed is None or self.closed >= t0)

    def open_at(self, t: float) -> bool:
        """Best single-moment estimate: ready, and not yet being stopped."""
        return self.ready is not None and self.ready <= t and (self.closing is None or t < self.closing)

    @property
    def lifetime_end(self) -> float:
        return self.closing if self.closing is not None else math.inf


@dataclass
class Truth:
    placements: list[Placement]
    hops: dict[str, int]           # completed hops (hop.done with hop >= 1) per service
    events: list[dict]
    start: float
    end: float
    shutdown: float                # when the controller began removing instances (or end): no hop after it
    gateways: list[Placement] = field(default_factory=list)  # SAPP gateway ports (service "sapp")

    def cut_by_shutdown(self, p: Placement) -> bool:
        """The placement's end came from the shutdown, not from a hop (its life was cut short)."""
        return p.closing is None or p.closing >= self.shutdown

    def accepting(self, port: int, t: float) -> Placement | None:
        """The placement whose instance could accept connections on port at t: from its start
        until it was gone (a port still accepts while its old instance is being stopped)."""
        for p in self.placements:
            if p.port == port and p.started <= t and (p.closed is None or t <= p.closed):
                return p
        return None

    def ports_at(self, t: float) -> dict[int, Placement]:
        return {p.port: p for p in self.placements if p.open_at(t)}

    def visible(self) -> list[Placement]:
        """What a scan of the target's address can find: exposed placements and SAPP gateways."""
        return [p for p in self.placements if p.exposed] + self.gateways

    def by_service(self, service: str) -> list[Placement]:
        return [p for p in self.placements if p.service == service]

    def services(self) -> list[str]:
        return sorted({p.service for p in self.placements})


def read_truth(path: str | Path) -> Truth:
    events = list(read_events(path))
    live: dict[str, Placement] = {}      # container id -> placement still (possibly) open
    placements: list[Placement] = []
    hops: dict[str, int] = {}
    gateways: dict[str, Placement] = {}  # container id -> SAPP gateway
    behind_gateway = False

    def close(container: str, t: float, closing: bool = True) -> None:
        p = live.pop(container, None)
        if p is not None:
            if closing and p.closing is None:
                p.closing = t
            p.closed = t

    for e in events:
        kind, t = e["event"], e["mono"]
        if kind == "controller.started" and e.get("reconcile"):
            pass   # a restarted controller reconciles: controller.reconciled says what stays
        elif kind == "controller.started":
            for cid in list(live):   # a previous controller died; its instances are gone now
                close(cid, t)
            for g in gateways.values():
                g.closed = g.closed if g.closed is not None else t
                g.closing = g.closing if g.closing is not None else t
            behind_gateway = False
        elif kind == "controller.reconciled":
            # A restarted controller adopted these instances; every other one is gone now.
            kept = {a["container"] for a in e["adopted"].values()}
            for cid in [c for c in live if c not in kept]:
                close(cid, t)
        elif kind == "sapp.started":
            gateways[e["container"]] = Placement("sapp", 0, e["port"], e["container"], started=t, ready=t)
            behind_gateway = True
        elif kind == "sapp.stopped":
            if e["container"] in gateways:
                gateways[e["container"]].closing = gateways[e["container"]].closed = t
        elif kind == "hop.instance_started":
            p = Placement(e["service"], e["hop"], e["port"], e["container"], started=t, exposed=not behind_gateway)
            live[e["container"]] = p
            placements.append(p)
        elif kind == "hop.ready":
            if e["container"] in live:
                live[e["container"]].ready = t
        elif kind in ("hop.old_stopping",):
            if e["container"] in live:
                live[e["container"]].closing = t
        elif kind in ("hop.old_closed", "hop.old_exited", "hop.old_stopped", "hop.new_removed", "service.stopped"):
            close(e["container"], t)
        elif kind == "hop.start_failed" and e.get("container"):
            close(e["container"], t)
        elif kind == "hop.done" and e["hop"] >= 1:
            hops[e["service"]] = hops.get(e["service"], 0) + 1
    start = events[0]["mono"] if events else 0.0
    end = events[-1]["mono"] if events else 0.0
    shutdown = min([e["mono"] for e in events if e["event"] == "service.stopped"] + [end])
    return Truth(placements, hops, events, start, end, shutdown, list(gateways.values()))
