"""One service's life: placed, then hopped make-before-break on its schedule until stopped.

A hop, in the order the truth log records it:
  hop.decided          the hop begins, ahead of its scheduled moment (due_wall) by what this
                       service's recent hops took (controller/ahead.py); the new port is drawn
                       (or is the standby's: below)
  hop.instance_started the standby made as the previous hop began is opened (standby: true), or a
                       fresh container is started on the new port: it may accept from now
  hop.start_failed     (if the start fails: port taken, crash, never ready) it is removed and
                       another port is tried
  hop.ready            the new instance answers its protocol on the new port
  hop.proxy_switched   nginx -t passed, nginx reloaded, the new generation answers (switches of
                       services that hop at about the same time share one reload: switchboard.py);
                       an HTTP service's link to the instance's socket moved just before it (a
                       switch of HTTP services alone moves links with no reload: controller/proxy.py)
                       (behind a SAPP gateway: the gateway's map names the new port)
  hop.drained          (kinds without a door: FTP, and behind a SAPP gateway) no worker of the
                       old configuration relays to the old instance any more (SAPP: no
                       connection to the old port is left; hop.drain_timeout if they outlived
                       the bound; the hop goes on)
  hop.old_stopping     timed so that the old port closes at the hop's moment
  hop.old_closed       the old port refuses new connections (late_s: after the moment). Web,
                       Redis and SSH close their door (SIGUSR1) and go on serving what they
                       hold; others are stopped whole
  hop.done
  hop.old_exited       the old instance has exited (a door kind: once what it held ended, or
                       at its drain limit, in the background)
  hop.old_stopped      ... and removed
  hop.standby_started  (as a hop begins) the next hop's instance is started and booted ahead,
                       its port drawn and held but not listening (controller/standby.py); that
                       hop waits for it to be ready (hop.standby_failed, hop.standby_dropped:
                       it starts a fresh container instead)
The schedule is a sequence of moments, each the last plus the interval drawn for it, so the
hops' own durations do not stretch it; a hop that cannot begin early enough (an interval
shorter than a hop, a pause, a forced hop) begins at once and its lateness is logged.
If anything fails before the switch is confirmed (nginx -t, the reload, the Docker API, ...:
hop.aborted), the routes are restored, the new instance is removed (hop.new_removed) and the
old one keeps serving; a later hop that fails is recorded (hop.failed) and the schedule goes on.
Hop 0 places the first instance; it has no old instance.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from mtdlab.contract import flags
from mtdlab.contract.banners import BannerPicker
from mtdlab.contract.catalog import SERVICE_KINDS
from mtdlab.contract.events import EventLog
from mtdlab.contract.keyed import KeyedSchedule, slot_of, slot_port
from mtdlab.inlab.probes import NotReady
from mtdlab.contract.scenario import Service
from mtdlab.contract.schedule import HopSchedule

from .ahead import Ahead
from .instances import Instances, OverLabNetwork, remove
from .nginx_conf import Route
from .proxy import Proxy
from .standby import Standby, StandbySlot
from .switchboard import Switchboard

START_ATTEMPTS = 5
READY_TIMEOUT_S = 20.0
RETRY_MAX_S = 2.0
DOOR_TIMEOUT_S = 5.0   # from SIGUSR1 to the old port refusing; longer, and it is stopped whole


class HopFailed(RuntimeError):
    pass


def retry_delay(attempt: int) -> float:
    """Backoff before start attempt attempt+1: 0.2, 0.4, 0.8, 1.6 s (a failing engine is not hammered)."""
    return min(RETRY_MAX_S, 0.2 * 2 ** (attempt - 1))


def _close_ahead_field(close_ahead: float | None) -> dict:
    """hop.old_stopping's close_ahead_s: how long before the moment the close was begun (what this
    service's closes took, controller/ahead.py), so a late switch can be told apart: begun late
    (preparing overran) or closed slower than it learnt."""
    return {} if close_ahead is None else {"close_ahead_s": round(close_ahead, 4)}


@dataclass
class Placement:
    container: object
    port: int
    hop: int


class PortBook:
    """Ports in use on the target (all services share its network namespace)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._held: dict[int, str] = {}

    def in_use(self) -> set[int]:
        with self._lock:
            return set(self._held)

    def hold(self, port: int, service: str) -> bool:
        with self._lock:
            if port in self._held:
                return False
            self._held[port] = service
            return True

    def release(self, port: int) -> None:
        with self._lock:
            self._held.pop(port, None)


class RouteTable:
    def __init__(self):
        self._routes: dict[str, Route] = {}

    def set(self, route: Route) -> Route | None:
        old = self._routes.get(route.service)
        self._routes[route.service] = route
        return old

    def restore(self, service: str, route: Route | None) -> None:
        if route is None:
            self._routes.pop(service, None)
        else:
            self._routes[service] = route

    def all(self) -> list[Route]:
        return sorted(self._routes.values(), key=lambda r: r.proxy_port)


class Control:
    """What the console may change for one service while it runs: pause, force a hop now, and
    a new interval law for the hops after the current one. stop() wakes every waiter."""

    def __init__(self, stop: threading.Event):
        self.stop_event = stop
        self.cond = threading.Condition()
        self.paused = False
        self.force = False

    def notify(self, **changes) -> None:
        with self.cond:
            for k, v in changes.items():
                setattr(self, k, v)
            self.cond.notify_all()

    def wait_until(self, deadline: float) -> bool:
        """Until the monotonic deadline (while not paused) or a forced hop; False if stopping."""
        with self.cond:
            while not self.stop_event.is_set():
                if self.force:
                    self.force = False
                    return True
                left = deadline - time.monotonic()
                if left <= 0 and not self.paused:
                    return True
                self.cond.wait(None if self.paused or left == float("inf") else left)
            return False


class Hopper:
    def __init__(self, service: Service, seed: int, instances: Instances, proxy: Proxy, routes: RouteTable,
                 ports: PortBook, truth: EventLog, target_ip: str, stop: threading.Event, readiness=None,
                 switchboard: Switchboard | None = None):
        self.service, self.kind = service, SERVICE_KINDS[service.kind]
        # Shared by every service's hopper (controller/main.py): switches at about the same time share a reload.
        self.switchboard = switchboard or Switchboard(proxy, routes)
        # Old instances close their doors at the hop's moment and finish what they hold (kinds
        # that can, behind the nginx proxy; a SAPP gateway counts connections itself).
        self.doors = self.kind.door and readiness is None
        self.finishing: dict[str, tuple[Placement, int]] = {}   # container id -> (old placement, the hop retiring it)
        self.finishing_lock = threading.Lock()
        self.schedule = HopSchedule(seed, service.name, service.hop.interval, service.hop.pool)
        self.instances, self.proxy, self.routes, self.ports = instances, proxy, routes, ports
        self.truth, self.target_ip, self.stop = truth, target_ip, stop
        self.control = Control(stop)
        self.banners = BannerPicker(seed, service.name, service.kind, service.banner.mode, service.banner.authenticity)
        self.current: Placement | None = None
        self.ahead = Ahead()
        # The next hop's instance is made ahead (controller/standby.py) unless the scenario turns it
        # off (hop.standby). A keyed hop has its own lead instead (its port is the key's).
        self.uses_standby = service.hop.standby
        self.standbys = StandbySlot(self._make_standby, self.ports.release,
                                    lambda event, **f: self.truth.write(event, service=service.name, **f), service.name)
        # How readiness is checked: from the controller over the lab network, or (SAPP, loopback-only
        # services) by the gateway inside the target's namespace.
        self.readiness = readiness or OverLabNetwork(target_ip)

    def set_law(self, law) -> None:
        """From the console: the next interval is drawn from this law (the current one stands)."""
        self.schedule.law = law

    def resume(self, placement: Placement, decided: int) -> None:
        """Adopted by a restarted controller (controller/reconcile.py): placement serves, and the
        schedule skips the draws of the `decided` hops earlier controllers made."""
        self.current = placement
        for _ in range(decided):
            self.schedule.next_interval()
            self.schedule.next_port()

    def run(self) -> None:
        hop, resumed = (self.current.hop, True) if self.current else (0, False)
        due = None       # the next hop's moment (monotonic); None: as soon as it can
        while True:
            stay = self.schedule.next_interval()
            try:
                if resumed:   # the adopted instance serves its interval, from now
                    moment, resumed = time.monotonic(), False
                else:
                    moment = self.hop(hop, stay, due=due, policy=self.schedule.law.describe())
            except Exception as exc:
                if self.current is None:
                    raise   # the first placement failed: the lab cannot run this service
                # A later hop that failed was rolled back; the current instance keeps serving
                # and the schedule goes on.
                self.truth.write("hop.failed", service=self.service.name, hop=hop, reason=f"{type(exc).__name__}: {exc}")
                moment = time.monotonic()
            hop += 1
            if stay == float("inf"):
                due = float("inf")
            else:
                # From the scheduled moment, not from when the hop ended: no drift. Never in the past.
                due = max((due if due is not None else moment) + stay, time.monotonic())
            if not self.control.wait_until(due - self.ahead.begin_s()):
                return
            if time.monotonic() < due - self.ahead.begin_s():
                due = None    # forced from the console: now, not at a moment
            self.standbys.wait(self.stop)   # still booting (an interval shorter than its boot): still the quicker way
            if self.stop.is_set():
                return

    def hop(self, hop: int, stay: float, port: int | None = None, switch_at: float | None = None,
            retire_at: float | None = None, due: float | None = None, **extra) -> float:
        """One make-before-break hop; returns its moment (monotonic): when the old port closed, or
        the first placement switched in. `due`: the moment it is scheduled for (the old instance
        is stopped to be gone then). A keyed hop passes its port (clients compute it, so a failed
        start is retried on the same port) and wall-clock times to switch and to retire at."""
        old = self.current
        if due is not None:
            extra.update(due_wall=round(time.time() + due - time.monotonic(), 6), ahead_s=round(self.ahead.begin_s(), 4))
        fixed = port is not None
        standby = None if fixed else self.standbys.take(hop)
        if fixed:
            self.ports.hold(port, self.service.name)
        else:
            port = standby.port if standby else self._draw()
        if self.uses_standby and stay != float("inf") and not self.stop.is_set():
            # The next hop's instance boots while this hop runs and its interval passes: at 1 s
            # hops under load a web standby needs both (its imports alone take 0.3-0.5 s).
            self.standbys.prepare(hop + 1)
        decided = self.truth.write("hop.decided", service=self.service.name, hop=hop,
                                   old_port=old.port if old else None, new_port=port,
                                   stay_s=None if stay == float("inf") else round(stay, 6), **extra)["mono"]
        new = self._start(hop, port, fixed, standby)
        self._wait_wall(switch_at)
        route = Route(self.service.name, self.kind.proxy_mode, self.service.proxy_port, self.target_ip, new.port, hop)
        try:
            _, gen, old_workers = self.switchboard.switch(route)
            failure = None
        except Exception as exc:   # any failure, not just nginx's: the hop is rolled back
            failure = exc
            with self.proxy.lock:
                self._restore_proxy()
        if failure:
            # The old instance keeps serving; the new one goes. The hop is abandoned, not the lab.
            exc = failure
            self.truth.write("hop.aborted", service=self.service.name, hop=hop, port=new.port,
                             reason=f"{type(exc).__name__}: {exc}")
            Instances.stop(new.container)
            self.ports.release(new.port)
            self.truth.write("hop.new_removed", service=self.service.name, hop=hop, port=new.port,
                             container=new.container.id)
            if old is None:
                raise HopFailed(f"{self.service.name}: first placement failed: {exc}") from exc
            return time.monotonic()
        # Switched: from here the new instance serves, whatever happens to the old one.
        self.current = new
        moment = self.truth.write("hop.proxy_switched", service=self.service.name, hop=hop, port=new.port,
                                  generation=gen)["mono"]
        door = old is not None and self.doors
        if not door:   # a door-less instance is stopped whole: no user's request may still be on its way to it
            try:
                self.proxy.drain(old_workers, (self.target_ip, old.port) if old else ("0.0.0.0", 0))
                self.truth.write("hop.drained", service=self.service.name, hop=hop, old_workers=sorted(old_workers))
            except Exception as exc:
                # Old workers outlived worker_shutdown_timeout (a stuck long connection): stopping
                # the old instance now cuts only those; the hop itself stands.
                self.truth.write("hop.drain_timeout", service=self.service.name, hop=hop, reason=str(exc))
        prepared = time.monotonic()
        if old:
            self._wait_wall(retire_at)
            close_ahead = self.ahead.stop_s() if due is not None else None
            if due is not None:
                self.stop.wait(max(0.0, due - close_ahead - time.monotonic()))
            moment = self._close_door(old, hop, due, close_ahead) if door else self._retire(old, hop, due, close_ahead)
            self.ahead.learn(prepare_s=prepared - decided)
        self.truth.write("hop.done", service=self.service.name, hop=hop, port=new.port)
        return moment

    def _restore_proxy(self) -> None:
        """After a failed switch, make sure nginx serves the previous routes again: the reload may
        have gone through even if confirming it did not."""
        try:
            self.proxy.confirm_live(self.proxy.apply(self.routes.all())[0])
        except Exception as exc:
            self.truth.write("proxy.restore_failed", service=self.service.name, reason=str(exc))

    def _make_standby(self, standby: Standby) -> None:
        """The next hop's instance, started ahead and waiting (StandbySlot's boot thread)."""
        standby.port = self._draw()
        standby.banner = self.banners.next()
        standby.container = self.instances.start(
            self.service.name, self.service.kind, standby.port, standby.hop,
            standby.banner[0] if standby.banner else None, flag=self.instances.flag(self.service.name, standby.hop),
            standby=True)

    def _draw(self) -> int:
        while True:
            port = self.schedule.next_port(avoid=self.ports.in_use())
            if self.ports.hold(port, self.service.name):
                return port

    def _wait_wall(self, when: float | None) -> None:
        if when is not None:
            self.stop.wait(max(0.0, when - time.time()))

    def _start(self, hop: int, port: int, fixed: bool = False, standby: Standby | None = None) -> Placement:
        """The new instance, ready on port: the standby opened (its first attempt), or started afresh."""
        served = self.instances.flag(self.service.name, hop)    # a class lab's: the same for every attempt
        for attempt in range(1, START_ATTEMPTS + 1):
            container = None
            opening = standby is not None and attempt == 1
            banner = standby.banner if opening else self.banners.next()
            try:
                if opening:
                    container = standby.container
                    Instances.open(container)
                else:
                    container = self.instances.start(self.service.name, self.service.kind, port, hop,
                                                     banner[0] if banner else None, flag=served)
                self.truth.write("hop.instance_started", service=self.service.name, hop=hop, port=port,
                                 container=container.id, attempt=attempt, banner=banner[0] if banner else None,
                                 banner_product=banner[1] if banner else None, standby=opening,
                                 **({"standby_boot_s": standby.boot_s} if opening else {}),
                                 **({"flag_id": flags.flag_id(served)} if served else {}))
                answer, probes = self.readiness.wait_ready(self.kind.probe, port, READY_TIMEOUT_S,
                                                           lambda: Instances.running(container), container.name)
                self.truth.write("hop.ready", service=self.service.name, hop=hop, port=port,
                                 container=container.id, attempt=attempt, probes=probes, answer=answer)
                return Placement(container, port, hop)
            except NotReady as exc:
                reason = f"{exc}; logs: {Instances.logs_tail(container)}" if container else str(exc)
            except Exception as exc:  # docker API refused the start
                reason = f"{type(exc).__name__}: {exc}"
            if container is not None:
                remove(container)
            if not fixed:
                self.ports.release(port)
            next_port = (port if fixed else self._draw()) if attempt < START_ATTEMPTS else None
            self.truth.write("hop.start_failed", service=self.service.name, hop=hop, port=port, attempt=attempt,
                             container=container.id if container else None, reason=reason[-500:], next_port=next_port)
            if next_port is None or self.stop.wait(retry_delay(attempt)):
                break
            port = next_port
        raise HopFailed(f"{self.service.name}: hop {hop}: no instance started after {START_ATTEMPTS} attempts")

    def _retire(self, placement: Placement, hop: int, due: float | None = None,
                close_ahead: float | None = None) -> float:
        """Stop and remove the old instance; returns when its port closed (monotonic)."""
        stopping = self.truth.write("hop.old_stopping", service=self.service.name, hop=hop, port=placement.port,
                                    container=placement.container.id, **_close_ahead_field(close_ahead))["mono"]
        closed, gone = self._stop_old(placement, hop, halted=lambda: self._closed(placement, hop, due))
        if closed is None:
            return gone
        self.ahead.learn(stop_s=closed - stopping)
        return closed

    def _stop_old(self, placement: Placement, hop: int, halted=lambda: None, **exited):
        """Stop the old instance (if it still runs), log hop.old_exited (with exited), remove it,
        release its port, log hop.old_stopped. halted() runs once it has stopped; returns
        (what halted returned, or None if stopping failed; when it was removed, monotonic)."""
        result = None
        try:
            present = Instances.halt(placement.container)
            result = halted()
            self.truth.write("hop.old_exited", service=self.service.name, hop=hop, port=placement.port,
                             container=placement.container.id, **exited)
            if present:
                remove(placement.container)
        except Exception as exc:   # the new instance serves; the old one goes by force
            self.truth.write("hop.old_stop_failed", service=self.service.name, hop=hop, reason=f"{type(exc).__name__}: {exc}")
            remove(placement.container)
        self.instances.socket_gone(self.service.name, self.service.kind, placement.port)
        self.ports.release(placement.port)
        gone = self.truth.write("hop.old_stopped", service=self.service.name, hop=hop, port=placement.port,
                                container=placement.container.id)["mono"]
        return result, gone

    def _closed(self, placement: Placement, hop: int, due: float | None, **extra) -> float:
        """hop.old_closed: from now the old port refuses new connections (port truth ends here)."""
        late = {"late_s": round(time.monotonic() - due, 6)} if due is not None else {}
        return self.truth.write("hop.old_closed", service=self.service.name, hop=hop, port=placement.port,
                                container=placement.container.id, **late, **extra)["mono"]

    def _close_door(self, placement: Placement, hop: int, due: float | None = None,
                    close_ahead: float | None = None) -> float:
        """Close the old instance's door at the moment: its port refuses new connections while
        the ones it holds (through old nginx workers, which keep their sessions) go on. It ends
        by itself once they have, or is stopped after the service's drain limit (_finish, in the
        background: the schedule does not wait for a user's long session). Returns when the port
        closed (monotonic)."""
        stopping = self.truth.write("hop.old_stopping", service=self.service.name, hop=hop, port=placement.port,
                                    container=placement.container.id, door=True, **_close_ahead_field(close_ahead))["mono"]
        try:
            Instances.close_door(placement.container)
            self.readiness.wait_refused(placement.port, DOOR_TIMEOUT_S)
        except Exception as exc:   # no door after all: stop it whole, as a door-less kind
            self.truth.write("hop.door_failed", service=self.service.name, hop=hop, reason=f"{type(exc).__name__}: {exc}")
            return self._retire(placement, hop, due, close_ahead)
        closed = self._closed(placement, hop, due, door=True)
        self.ahead.learn(stop_s=closed - stopping)
        finisher = threading.Thread(target=self._finish, args=(placement, hop), daemon=True,
                                    name=f"finish-{self.service.name}-{hop}")
        with self.finishing_lock:
            self.finishing[placement.container.id] = (placement, hop)
        finisher.start()
        return closed

    def _finish(self, placement: Placement, hop: int) -> None:
        """An old instance whose door is closed: wait for it to end by itself, at most the drain
        limit, then stop it; remove it. Whoever takes it from `finishing` first (this thread, or
        shutdown) does it."""
        limit = self.service.hop.drain_limit_s
        ended = Instances.wait_exit(placement.container, limit)
        with self.finishing_lock:
            if self.finishing.pop(placement.container.id, None) is None:
                return   # shutdown took it
        self._stop_old(placement, hop, drained=ended,
                       **({} if ended else {"reason": f"connections still held after the drain limit ({limit:g} s)"}))

    def shutdown(self) -> None:
        self.standbys.close()
        with self.finishing_lock:
            finishing, self.finishing = list(self.finishing.values()), {}
        for p, hop in finishing:   # old instances still finishing held connections: cut now
            Instances.stop(p.container)
            self.ports.release(p.port)
            self.truth.write("hop.old_stopped", service=self.service.name, hop=hop, port=p.port,
                             container=p.container.id, reason="the controller stopped")
        if self.current:
            p = self.current
            self.current = None
            Instances.stop(p.container)
            self.ports.release(p.port)
            self.truth.write("service.stopped", service=self.service.name, hop=p.hop, port=p.port,
                             container=p.container.id)


# A keyed instance starts this much before lead_s: container start to accepting connections
# takes ~0.17 s here (make bench); connections that arrive while the app boots wait in the
# listen backlog and are answered, so the port answers from about lead_s before its slot.
PREPARE_S = 0.3


class KeyedHopper(Hopper):
    """Seed 001: the port of each wall-clock slot is HMAC(key, service, slot). The next slot's
    instance starts lead_s before the slot, the proxy switches at the boundary, and the old
    instance answers for grace_s more, so directly connecting clients with a slightly wrong
    clock still reach the service."""

    def __init__(self, *args, key: bytes, **kwargs):
        super().__init__(*args, **kwargs)
        law = self.service.hop.interval
        self.uses_standby = False
        self.keyed = KeyedSchedule(key, self.service.name, self.service.hop.pool, law.period_s, law.grace_s)
        self.lead_s = law.lead_s

    def resume(self, placement: Placement, decided: int) -> None:
        """Adopted by a restarted controller: the port sequence is the key's, nothing to skip."""
        self.current = placement

    def run(self) -> None:
        slot = slot_of(time.time(), self.keyed.slot_s)
        port = slot_port(self.keyed.key, self.service.name, slot, self.keyed.pool)
        if self.current is None:
            self.hop(0, self.keyed.slot_s, port=port, slot=slot)
        elif self.current.port != port:
            # Adopted, but the slot turned while no controller ran: move to this slot's port now.
            self.hop(self.current.hop + 1, self.keyed.slot_s, port=port, slot=slot)
        hop = self.current.hop + 1
        while True:
            slot += 1
            begins = self.keyed.slot_start(slot)
            if self.stop.wait(max(0.0, begins - self.lead_s - PREPARE_S - time.time())):
                return
            port = slot_port(self.keyed.key, self.service.name, slot, self.keyed.pool)
            if port == self.current.port:
                self.truth.write("hop.skipped", service=self.service.name, slot=slot, port=port,
                                 reason="the keyed function gave the same port again")
                continue
            self.hop(hop, self.keyed.slot_s, port=port, switch_at=begins, retire_at=begins + self.keyed.grace_s,
                     slot=slot, slot_start_wall=begins)
            hop += 1
