"""Restart without an outage (controller/reconcile.py), on the real engine: the controller is
killed (SIGKILL) at each phase of a hop, KILLS_PER_PHASE times each, and started again, while a
client sends 50 proxied requests a second. Not one request may fail; afterwards each service
has exactly one healthy instance, and nothing is left when the lab goes."""
import http.client
import threading
import time

from mtdlab.host.lab import LabError
from mtdlab.contract import keys, labels
from mtdlab.contract.console_client import call

from .conftest import events_of, serving

SCENARIO = """
    name: restart
    seed: 11
    target:
      services:
        - name: web
          kind: web
          hop:
            interval: {law: uniform, low_s: 1, high_s: 2}
            pool: {ranges: ["18000-18999"]}
        - name: ssh
          kind: ssh
          hop:
            interval: {law: uniform, low_s: 1, high_s: 2}
            pool: {ranges: ["19000-19999"]}
"""
PHASES = {"decided": "hop.decided", "started": "hop.instance_started", "ready": "hop.ready",
          "switched": "hop.proxy_switched", "closed": "hop.old_closed"}
KILLS_PER_PHASE = 10
RATE_PER_S = 50
CLIENT_LIMIT_S = 900   # the client stops by then whatever happens


class Client:
    """New connection per request, RATE_PER_S a second, to the proxy's published web port."""

    def __init__(self, port: int):
        self.port, self.ok, self.failed, self.errors = port, 0, 0, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        began = time.monotonic()
        n = 0
        while not self.stop.is_set() and time.monotonic() - began < CLIENT_LIMIT_S:
            n += 1
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    self.ok += 1
                else:
                    self.failed += 1
                    self.errors.append(f"HTTP {status}")
            except OSError as exc:
                self.failed += 1
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self.stop.wait(max(0.0, began + n / RATE_PER_S - time.monotonic()))

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=10)


def reconciled_after(lab, count: int):
    return len(events_of(lab, "controller.reconciled")) > count


def test_controller_killed_at_every_hop_phase_causes_no_failed_request(make_lab, client):
    lab = make_lab(SCENARIO)
    lab.wait_for(lambda l: {e["service"] for e in events_of(l, "hop.done")} == {"web", "ssh"}, "placement", 90)
    controller = lab.container("controller")
    users = Client(lab.ports["web"])
    kills = []
    try:
        for phase, event in PHASES.items():
            for _ in range(KILLS_PER_PHASE):
                seen = len(events_of(lab, event, service="web"))
                lab.wait_for(lambda l: len(events_of(l, event, service="web")) > seen,
                             f"web's next {event}", 30, interval=0.02)
                controller.kill(signal="SIGKILL")
                kills.append(phase)
                done = len(events_of(lab, "controller.reconciled"))
                controller.start()
                lab.wait_for(lambda l: reconciled_after(l, done), "the restarted controller reconciling", 60)
        # Quiet the schedules, let any hop in flight finish, then count what runs.
        lab.wait_for(lambda l: len(events_of(l, "console.started")) == len(kills) + 1, "the console back", 30)
        for service in ("web", "ssh"):
            status, _ = call(f"http://127.0.0.1:{lab.ports['console']}", keys.parse(keys.CONSOLE, lab.console_key, "key"),
                             "POST", "/config", {"service": service, "paused": True})
            assert status == 200
        last = max(i for i, e in enumerate(lab.events()) if e["event"] == "controller.reconciled")
        lab.wait_for(lambda l: all(
            sum(e["event"] == "hop.decided" and e["service"] == s for e in l.events()[last:])
            == sum(e["event"] in ("hop.done", "hop.failed", "hop.aborted") and e["service"] == s for e in l.events()[last:])
            for s in ("web", "ssh")), "hops in flight finished", 60)
    finally:
        users.finish()
    reconciled = events_of(lab, "controller.reconciled")
    assert len(kills) == len(PHASES) * KILLS_PER_PHASE and len(reconciled) == len(kills)
    assert users.ok > RATE_PER_S * 60, users.ok
    assert users.failed == 0, f"{users.failed} of {users.ok + users.failed} requests failed: {users.errors[:5]}"
    def per_service(_lab):
        counts = {}
        for c in serving(lab, client.containers.list(filters={"label": [f"{labels.LAB}={lab.name}", f"{labels.ROLE}=service"]})):
            counts[c.labels[labels.SERVICE]] = counts.get(c.labels[labels.SERVICE], 0) + 1
        return counts
    # A hop is done once the old door closed; the old instance then ends on its own time (what
    # it held, at most the drain limit): wait for that, then exactly one instance per service.
    try:
        lab.wait_for(lambda l: per_service(l) == {"web": 1, "ssh": 1}, "one instance per service", 40)
    except LabError:
        pass
    assert per_service(lab) == {"web": 1, "ssh": 1}
    in_flight = [(kill, r["adopted"]["web"]["in_flight"]) for kill, r in zip(kills, reconciled)]
    outcomes = {phase: {o: in_flight.count((phase, o)) for o in ("completed", "rolled back", "none")} for phase in PHASES}
    print(f"\nrestart: {len(kills)} kills, {users.ok} requests, {users.failed} failed; "
          f"web's hop in flight by phase killed at: {outcomes}; "
          f"removed at restart {sum(len(r['removed']) for r in reconciled)} instances")


KEYED = """
    name: restart-keyed
    seed: 12
    target:
      services:
        - name: web
          kind: web
          hop:
            interval: {law: keyed, slot_s: 3, grace_s: 0.5, lead_s: 0.5}
            pool: {ranges: ["18000-18999"]}
"""
KEYED_KILLS = 5


def test_a_keyed_service_is_adopted_and_keeps_to_its_slots(make_lab, client):
    lab = make_lab(KEYED, env={keys.KEYED.env: keys.new()})
    lab.wait_for(lambda l: events_of(l, "hop.done", service="web"), "placement", 90)
    controller = lab.container("controller")
    users = Client(lab.ports["web"])
    try:
        for i in range(KEYED_KILLS):
            seen = len(events_of(lab, "hop.done", service="web"))
            lab.wait_for(lambda l: len(events_of(l, "hop.done", service="web")) > seen, "web's next keyed hop", 30)
            controller.kill(signal="SIGKILL")
            controller.start()
            lab.wait_for(lambda l: len(events_of(l, "controller.reconciled")) > i, "the restarted controller", 60)
        after = len(events_of(lab, "hop.done", service="web"))
        lab.wait_for(lambda l: len(events_of(l, "hop.done", service="web")) >= after + 2, "two more slots", 30)
    finally:
        users.finish()
    assert all("web" in r["adopted"] for r in events_of(lab, "controller.reconciled"))
    assert len(events_of(lab, "hop.done", service="web", hop=0)) == 1, "adopted, never placed afresh"
    assert users.ok > RATE_PER_S * 15 and users.failed == 0, (users.ok, users.failed, users.errors[:5])
