"""What the live view knows of a run: the logs' events applied one at a time, in bounded memory.

Fed by mtdlab.live.feed (lines as they reach the logs, or a finished run replayed); read by
the page (mtdlab.live.view) and by /metrics (mtdlab.live.metrics). Everything kept is either a running
total or a window with a fixed bound below, so a one-hour run with fifty services costs what a
five-minute one does. The definitions are the report's: a port is open from hop.ready until the
controller starts to stop it and accepts connections from its instance's start until it is
gone (docs/events.md); decay is Kaplan-Meier of how long each open port a sweep reported went
on accepting after the sweep's end; sweep precision and recall are against the ports open at
the sweep's end, averaged over sweeps.
"""
from __future__ import annotations

import bisect
import time
from collections import deque
from dataclasses import dataclass, field

from mtdlab.analysis.hoplatency import PHASES
from mtdlab.analysis.km import km_half_life
from mtdlab.contract.schedule import IntervalLaw

# Every bound of what the live view keeps, stated once (what it sends: mtdlab.live.view).
PLACES_KEPT = 200         # closed placements kept per service (what the window and late sweeps need)
MARKS_KEPT = 400          # attacker marks kept per service
SAMPLES_KEPT = 5000       # decay observations the Kaplan-Meier curve is drawn from (the most recent)
USERS_WINDOW_S = 60.0     # legitimate users' figures are over the last minute
USERS_KEPT = 60 * 500     # requests kept for that minute (the legitimate client's top rate)
PHASE_KEPT = 2000         # hop phase durations kept per phase for p50 / p95 (the most recent)
HOPS_PENDING = 1000       # hops in flight whose phase times are still being collected
LAST_EVENTS = 20          # the readable event list
# Hop phase histogram buckets, seconds (Prometheus histograms; p50 / p95 come from the kept values).
PHASE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(eq=False)
class Place:
    """One port occupancy of one service instance (mtdlab.analysis.truth.Placement, kept small)."""
    service: str
    hop: int
    port: int
    container: str
    started: float
    ready: float | None = None
    closing: float | None = None
    closed: float | None = None
    exposed: bool = True     # False behind a SAPP gateway: on the target's loopback, out of a scan's sight
    cut: bool = False        # ended by a controller's end, not by a hop
    stay: float | None = None  # the interval its hop.decided drew (None: never hops)

    def accepting(self, t: float) -> bool:
        return self.started <= t and (self.closed is None or t <= self.closed)

    def open_at(self, t: float) -> bool:
        return self.ready is not None and self.ready <= t and (self.closing is None or t < self.closing)

    def possibly_open(self, t0: float, t1: float) -> bool:
        return self.started <= t1 and (self.closed is None or self.closed >= t0)


@dataclass(eq=False)
class Mark:
    """An open port a port sweep reported, judged against the truth."""
    t: float                 # the sweep's end
    port: int
    sweep: int
    place: Place | None      # the instance that held the port then (None: no service's)
    true_when_made: bool     # the port still accepted connections at the sweep's end


@dataclass
class ServiceView:
    name: str
    kind: str = "?"
    law: IntervalLaw | None = None
    law_text: str = "?"
    banner: str = "?"
    proxy_port: int | None = None
    places: deque = field(default_factory=lambda: deque(maxlen=PLACES_KEPT))
    marks: deque = field(default_factory=lambda: deque(maxlen=MARKS_KEPT))
    routed: Place | None = None
    next_hop_at: float | None = None
    stay_drawn: float | None = None   # the last hop.decided's interval, for the placement it starts
    hops: int = 0
    extra_sum: float = 0.0            # port life beyond the drawn interval, summed over complete lives
    extra_n: int = 0

    @property
    def keyed(self) -> bool:
        return self.law is not None and self.law.law == "keyed"


class PhaseStats:
    """One hop phase: a Prometheus histogram (cumulative buckets, sum, count) and the recent values."""

    def __init__(self):
        self.buckets = [0] * len(PHASE_BUCKETS)
        self.sum, self.count = 0.0, 0
        self.recent: deque = deque(maxlen=PHASE_KEPT)

    def add(self, seconds: float) -> None:
        self.sum += seconds
        self.count += 1
        self.recent.append(seconds)
        for i in range(bisect.bisect_left(PHASE_BUCKETS, seconds), len(PHASE_BUCKETS)):
            self.buckets[i] += 1


class LiveState:
    def __init__(self, clock=time.monotonic, rate: float = 1.0):
        self.clock = clock            # CLOCK_MONOTONIC, shared with every lab container; a replay's own
        self.rate = rate              # seconds of the run per second of the page (a replay's speed)
        self.services: dict[str, ServiceView] = {}
        self.live: dict[str, Place] = {}          # container -> placement that may still accept
        self.closed: deque = deque(maxlen=PLACES_KEPT * 4)   # recently closed, for judging late sweeps
        self.gateways: dict[str, Place] = {}      # SAPP gateway containers (what a scan sees instead)
        self.behind_gateway = False
        self.run: dict = {}
        self.controller_running = False
        self.attacker: dict = {}
        self.unmatched_marks: deque = deque(maxlen=MARKS_KEPT)
        self.samples: deque = deque(maxlen=SAMPLES_KEPT)    # (sweep end, place or None)
        self.sweeps = {"ports": 0, "version": 0}
        self.observations = {"ports": 0, "version": 0}
        self.precision_sum = self.recall_sum = 0.0
        self.judged_sweeps = 0
        self.users = {"requests": 0, "failures": 0}
        self.user_window: deque = deque(maxlen=USERS_KEPT)  # (mono, ok, latency_ms)
        self.phases = {name: PhaseStats() for name, *_ in PHASES}
        self.pending_hops: dict[tuple, dict[str, float]] = {}
        self.recent_events: deque = deque(maxlen=LAST_EVENTS)
        self.malformed = {"truth": 0, "attacker": 0, "legit": 0}   # records that did not fit
        self.skipped_lines: dict[str, int] = {}   # per log: lines that were no record at all (mtdlab.live.tail)
        self.last_problem: str | None = None
        self.shutdown_at: float | None = None   # the controller began removing instances (first service.stopped)

    # ---- feeding -------------------------------------------------------------------------

    def apply(self, source: str, record: dict) -> None:
        """One record from one log. A record that does not fit (a hostile or broken writer)
        is counted as malformed and changes nothing it has not already changed."""
        try:
            {"truth": self._truth, "attacker": self._attacker, "legit": self._legit}[source](record)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
            self.malformed[source] = self.malformed.get(source, 0) + 1
            self.last_problem = f"{source}: {record.get('event', 'record')!s:.40}: {type(exc).__name__}: {exc!s:.80}"

    def _service(self, name) -> ServiceView:
        if not isinstance(name, str):
            raise TypeError("service is not a name")
        if name not in self.services:
            self.services[name] = ServiceView(name)
        return self.services[name]

    def _say(self, e: dict, text: str) -> None:
        self.recent_events.append({"wall": e.get("wall"), "mono": e["mono"], "text": text})

    def _close(self, container, t: float, closing: bool = True) -> Place | None:
        p = self.live.pop(container, None)
        if p is not None:
            if closing and p.closing is None:
                p.closing = t
            p.closed = t
            self.closed.append(p)
        return p

    def _truth(self, e: dict) -> None:
        kind, t = e["event"], float(e["mono"])
        if kind == "controller.started":
            self.controller_running = True
            self.run = {"lab": str(e.get("lab", "")), "run": str(e.get("run", "")),
                        "scenario": str(e.get("scenario", "")), "started_wall": e.get("wall")}
            self.shutdown_at = None
            if not e.get("reconcile"):
                for c in list(self.live):
                    self._close(c, t).cut = True
                for g in self.gateways.values():
                    g.closing, g.closed = g.closing or t, g.closed or t
                self.behind_gateway = False
            for name, policy in (e.get("services") or {}).items():
                s = self._service(name)
                s.kind, s.law_text = str(policy.get("kind", "?")), str(policy.get("interval", "?"))
                s.banner = str(policy.get("banner") or "static")
                s.proxy_port = policy.get("proxy_port")
                try:
                    s.law = IntervalLaw.from_dict(policy.get("law"))
                except (TypeError, ValueError):
                    s.law = None     # an older log or a broken line: no theory curve for it
            self._say(e, f"controller started{' (reconciling a killed run)' if e.get('reconcile') else ''}: "
                         f"scenario {self.run['scenario']}, {len(e.get('services') or {})} service(s)")
        elif kind == "controller.reconciled":
            kept = {a["container"] for a in e["adopted"].values()}
            for c in [c for c in self.live if c not in kept]:
                self._close(c, t)
            self._say(e, f"controller adopted {len(kept)} running instance(s)")
        elif kind == "controller.stopped":
            self.controller_running = False
            for s in self.services.values():
                s.next_hop_at = None
            self._say(e, "controller stopped" + (f": {e['error']}" if e.get("error") else ""))
        elif kind == "controller.error":
            self._say(e, f"{e.get('service')}: controller error: {e.get('error')!s:.120}")
        elif kind == "sapp.started":
            self.gateways[str(e["container"])] = Place("sapp", 0, int(e["port"]), str(e["container"]), t, ready=t)
            self.behind_gateway = True
            self._say(e, f"SAPP gateway listening on {int(e['port'])}")
        elif kind == "sapp.stopped":
            g = self.gateways.get(str(e["container"]))
            if g is not None:
                g.closing = g.closed = t
        elif kind.startswith("hop.") or kind == "service.stopped":
            self._hop(kind, t, e)

    def _hop(self, kind: str, t: float, e: dict) -> None:
        s = self._service(e["service"])
        hop = int(e.get("hop", 0))
        if hop >= 1 and kind.startswith("hop."):
            times = self.pending_hops.setdefault((s.name, hop), {})
            times[kind] = t
            if len(self.pending_hops) > HOPS_PENDING:      # hops that never finished
                self.pending_hops.pop(next(iter(self.pending_hops)))
        if kind == "hop.decided":
            stay = e.get("stay_s")
            # The next hop's moment: this hop's (due_wall, begun ahead of it; else now) plus the stay.
            moment = t + (e["due_wall"] - e["wall"] if "due_wall" in e and "wall" in e else 0.0)
            s.next_hop_at = moment + float(stay) if stay is not None else None
            s.stay_drawn = float(stay) if stay is not None else None
            if hop >= 1:
                self._say(e, f"{s.name}: hop {hop} decided, {e.get('old_port')} \u2192 {e.get('new_port')}")
        elif kind == "hop.instance_started":
            p = Place(s.name, hop, int(e["port"]), str(e["container"]), started=t, exposed=not self.behind_gateway,
                      stay=s.stay_drawn)
            self.live[p.container] = p
            s.places.append(p)
        elif kind == "hop.ready":
            p = self.live.get(str(e["container"]))
            if p is not None:
                p.ready = t
        elif kind == "hop.proxy_switched":
            routed = next((p for p in reversed(s.places) if p.hop == hop and p.ready is not None), None)
            if routed is not None:
                s.routed = routed
            self._say(e, f"{s.name}: users now reach port {int(e['port'])} (hop {hop})")
        elif kind == "hop.old_stopping":
            p = self.live.get(str(e["container"]))
            if p is not None and p.closing is None:
                p.closing = t
        elif kind in ("hop.old_closed", "hop.old_exited", "hop.old_stopped", "hop.new_removed", "service.stopped") or \
                (kind == "hop.start_failed" and e.get("container")):
            p = self._close(str(e["container"]), t)      # None if closed already (closed, exited, then removed)
            if kind in ("hop.old_closed", "hop.old_exited", "hop.old_stopped") and p is not None:
                self._say(e, f"{s.name}: old port {p.port} closed")
                if p.ready is not None and p.stay is not None:   # a complete life: moved on by a hop
                    s.extra_sum += (p.closed - p.started) - p.stay
                    s.extra_n += 1
            if kind == "service.stopped":
                s.next_hop_at = None
                self.shutdown_at = t if self.shutdown_at is None else self.shutdown_at
        if kind == "hop.done" and hop >= 1:
            s.hops += 1
            times = self.pending_hops.pop((s.name, hop), {})
            for name, a, b, _ in PHASES:
                if a in times and b in times:
                    self.phases[name].add(times[b] - times[a])
        elif kind in ("hop.failed", "hop.aborted", "hop.start_failed"):
            self._say(e, f"{s.name}: {kind.split('.')[1].replace('_', ' ')} (hop {hop}): {e.get('reason')!s:.100}")
            if kind != "hop.start_failed":
                self.pending_hops.pop((s.name, hop), None)

    def _attacker(self, e: dict) -> None:
        kind = e["event"]
        if kind == "attacker.started":
            self.attacker = {"timing": e.get("timing"), "ports": e.get("ports"), "running": True}
            self._say(e, f"attacker started: nmap {e.get('timing')} over ports {e.get('ports')!s:.40}")
        elif kind == "attacker.stopped":
            self.attacker["running"] = False
            self._say(e, f"attacker stopped after {e.get('sweeps')} sweep(s)")
        elif kind == "observation":
            scan = "version" if e.get("scan") == "version" else "ports"
            self.observations[scan] += 1
        elif kind == "sweep.done":
            scan = "version" if e.get("scan") == "version" else "ports"
            self.sweeps[scan] += 1
            if scan == "ports":
                self._judge_sweep(e)

    def _judge_sweep(self, e: dict) -> None:
        t0, t1 = float(e["start_mono"]), float(e["end_mono"])
        reported = {int(p) for p in e["open"]}
        candidates = [p for p in (*self.live.values(), *self.closed) if p.exposed] + list(self.gateways.values())
        marks = []
        for port in sorted(reported):
            held = [p for p in candidates if p.port == port and p.possibly_open(t0, t1)]
            accepting = next((p for p in held if p.accepting(t1)), None)
            place = accepting or (held[0] if held else None)
            mark = Mark(t1, port, int(e.get("sweep", 0)), place, accepting is not None)
            marks.append(mark)
            if place is None:
                self.unmatched_marks.append(mark)
            elif place.service in self.services:
                self.services[place.service].marks.append(mark)
            if place is not None and place.service != "sapp":
                self.samples.append((t1, place if accepting else None))
        truth = {p.port for p in candidates if p.open_at(t1)}
        self.precision_sum += len(reported & truth) / len(reported) if reported else 1.0
        self.recall_sum += len(reported & truth) / len(truth) if truth else 1.0
        self.judged_sweeps += 1
        stale = sum(not m.true_when_made for m in marks)
        self._say(e, f"attacker sweep {e.get('sweep')}: {len(reported)} open port(s)"
                     + (f", {stale} already stale" if stale else ""))

    def _legit(self, r: dict) -> None:
        ok, latency = bool(r["ok"]), float(r["latency_ms"])
        self.users["requests"] += 1
        self.users["failures"] += not ok
        self.user_window.append((float(r["mono"]), ok, latency))

    # ---- reading -------------------------------------------------------------------------

    def decay_pairs(self, now: float) -> list[tuple[float, bool]]:
        """(how long after the sweep's end the port went on accepting, whether that end was seen)."""
        out = []
        for t, place in self.samples:
            if place is None:
                out.append((0.0, True))          # gone before the sweep ended
            elif self._cut_short(place):         # its end came from a shutdown: censored there
                out.append((max(0.0, (self.shutdown_at or place.closed) - t), False))
            elif place.closed is not None:
                out.append((max(0.0, place.closed - t), True))
            else:
                out.append((max(0.0, now - t), False))   # still accepting: censored now
        return out

    def _cut_short(self, p: Place) -> bool:
        """As mtdlab.analysis.truth.Truth.cut_by_shutdown: the shutdown, not a hop, ended it."""
        return p.cut or (self.shutdown_at is not None and (p.closing is None or p.closing >= self.shutdown_at)
                         and p.closed is not None)

    def half_life(self, now: float | None = None) -> float | None:
        return km_half_life(self.decay_pairs(self.clock() if now is None else now))

    def view(self, problems: list[str] = ()) -> dict:
        """What the page draws (mtdlab.live.view)."""
        from mtdlab.live.view import build_view   # view.py reads this module's bounds
        return build_view(self, problems)


def _r(x, digits: int = 4):
    return None if x is None else round(x, digits)
