"""The hop state machine without an engine: fake containers and proxy, real Redis-speaking
listeners on loopback for the readiness probe, a real truth log."""
import socket
import threading
import time

import pytest

from controller.hopper import Hopper, PortBook, RouteTable
from controller.proxy import ProxyConfigError
from mtdlab.contract.events import EventLog, read_events
from mtdlab.contract.scenario import Banner, HopPolicy, Service
from mtdlab.contract.schedule import IntervalLaw, PortPool


LISTENERS: dict[int, socket.socket] = {}


def fake_redis(port: int = 0) -> int:
    """A listener that answers PING with +PONG, on a free loopback port (or port again, after a
    fake instance closed its door there)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    LISTENERS[srv.getsockname()[1]] = srv

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return     # the door closed
            with conn:
                if conn.recv(64).startswith(b"PING"):
                    conn.sendall(b"+PONG\r\n")
    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


class FakeContainer:
    def __init__(self, name, port=None, held_s=0.0):
        self.id = self.name = name
        self.status, self.removed, self.port, self.held_s = "running", False, port, held_s
        self.standby_ready = True
        self.signals = []

    def kill(self, signal):
        """SIGUSR1 closes the door: the port refuses from now; the instance ends held_s later.
        SIGWINCH opens a standby: it listens from now."""
        self.signals.append(signal)
        if signal == "SIGWINCH":
            fake_redis(self.port)
        else:
            LISTENERS.pop(self.port).close()

    def wait(self, timeout):
        import requests
        if self.held_s > timeout:        # a connection still held when the wait gives up
            time.sleep(timeout)
            raise requests.exceptions.ReadTimeout("read timed out")
        time.sleep(self.held_s)
        self.status = "exited"
        return {"StatusCode": 0}

    def reload(self):
        pass

    def stop(self, timeout):
        self.status = "exited"

    def remove(self, force=False):
        self.removed = True

    def logs(self, tail=5, stream=False, follow=False, stdout=True, stderr=True):
        if stream:   # a standby's output as the controller follows it
            return FakeStream([b"standby: ready to open\n"] if self.standby_ready else [])
        return b""


class FakeStream(list):
    def close(self):
        pass


class FakeInstances:
    def __init__(self, start_s=0.0, held_s=0.0, standby_fails=False):
        self.started, self.start_s = [], start_s     # start_s: how long a start takes (docker's ~0.1 s)
        self.held_s = held_s                         # how long a closed instance's connections go on
        self.standby_fails = standby_fails           # a standby exits before it is ready to open

    def flag(self, service, hop):
        return None          # not a class lab

    def start(self, service, kind, port, hop, banner=None, flag=None, standby=False):
        time.sleep(self.start_s)
        if port not in LISTENERS and not standby:
            fake_redis(port)
        c = FakeContainer(f"{service}-{hop}-{len(self.started)}", port, self.held_s)
        c.standby_ready = not self.standby_fails
        self.started.append(c)
        return c

    def socket_gone(self, service, kind, port):
        pass                 # Redis instances have no socket for the proxy's front


class FakeProxy:
    def __init__(self, fail_apply_at=None, drain_fails=False):
        self.lock = threading.Lock()
        self.applied, self.fail_apply_at, self.drain_fails = [], fail_apply_at, drain_fails

    def apply(self, routes):
        self.applied.append({r.service: r.port for r in routes})
        if len(self.applied) == self.fail_apply_at:
            raise ProxyConfigError("nginx -t rejected it")
        return f"g{len(self.applied)}", {1}

    def confirm_live(self, gen):
        pass

    def drain(self, workers, upstream=None):
        if self.drain_fails:
            raise ProxyConfigError("old workers still running")


def make(tmp_path, proxy, period_s=1.0, start_s=0.0, door=False, held_s=0.0, drain_limit_s=30.0,
         standby=False, standby_fails=False, pool=2):
    """A Redis-speaking service; door=False stops old instances whole (as web and ftp)."""
    ports = sorted(fake_redis() for _ in range(pool))
    svc = Service("cache", "redis", 6379, HopPolicy(IntervalLaw("fixed", period_s=period_s),
                                                   PortPool(tuple((p, p) for p in ports)), drain_limit_s, standby),
                  Banner("random-static", "common"))
    truth = EventLog(tmp_path / "truth.jsonl")
    h = Hopper(svc, 1, FakeInstances(start_s, held_s, standby_fails), proxy, RouteTable(), PortBook(), truth,
               "127.0.0.1", threading.Event())
    assert h.doors        # Redis has a door behind the nginx proxy
    h.doors = door
    return h, ports


def kinds(tmp_path):
    return [e["event"] for e in read_events(tmp_path / "truth.jsonl")]


def test_make_before_break_with_fakes(tmp_path):
    h, ports = make(tmp_path, FakeProxy())
    h.hop(0, 1.0)
    first = h.current
    h.hop(1, 1.0)
    assert h.current.port != first.port and first.container.removed and not h.current.container.removed
    assert kinds(tmp_path)[-10:] == ["hop.decided", "hop.instance_started", "hop.ready", "hop.proxy_switched",
                                    "hop.drained", "hop.old_stopping", "hop.old_closed", "hop.old_exited", "hop.old_stopped", "hop.done"]


def test_rejected_config_keeps_the_old_instance_and_restores_routes(tmp_path):
    proxy = FakeProxy(fail_apply_at=2)
    h, _ = make(tmp_path, proxy)
    h.hop(0, 1.0)
    first = h.current
    h.hop(1, 1.0)
    assert h.current is first and not first.container.removed
    assert h.instances.started[1].removed                       # the new one is gone
    assert proxy.applied[-1] == proxy.applied[0]                 # the previous routes were applied again
    assert "hop.aborted" in kinds(tmp_path) and "hop.new_removed" in kinds(tmp_path)


def test_drain_timeout_does_not_undo_a_switch(tmp_path):
    h, _ = make(tmp_path, FakeProxy(drain_fails=True))
    h.hop(0, 1.0)
    first = h.current
    h.hop(1, 1.0)
    assert h.current is not first and not h.current.container.removed and first.container.removed
    assert "hop.drain_timeout" in kinds(tmp_path) and kinds(tmp_path)[-1] == "hop.done"


def test_first_placement_failure_is_loud(tmp_path):
    from controller.hopper import HopFailed
    h, _ = make(tmp_path, FakeProxy(fail_apply_at=1))
    with pytest.raises(HopFailed, match="first placement failed"):
        h.hop(0, 1.0)


def events(tmp_path, kind):
    return [e for e in read_events(tmp_path / "truth.jsonl") if e["event"] == kind]


def test_a_hop_with_a_moment_begins_ahead_and_closes_the_old_port_at_it(tmp_path):
    """The old instance is stopped to be gone at the hop's moment; the truth log has both the
    moment (hop.decided due_wall) and when the port closed (hop.old_closed late_s)."""
    h, _ = make(tmp_path, FakeProxy())
    h.hop(0, 1.0)
    for hop in range(1, 4):
        due, stop_s = time.monotonic() + h.ahead.begin_s(), h.ahead.stop_s()
        assert h.hop(hop, 1.0, due=due) >= due - stop_s      # not stopped before it had to be
    decided = events(tmp_path, "hop.decided")[-1]
    exited = events(tmp_path, "hop.old_closed")
    assert abs(decided["due_wall"] - decided["wall"] - decided["ahead_s"]) < 0.05
    # Once it has seen this service's (instant, fake) stops, the old port closes at the moment.
    assert abs(exited[-1]["late_s"]) < 0.05, exited
    assert h.ahead.stop.maxlen and len(h.ahead.stop) == 3 and len(h.ahead.prepare) == 3


def test_the_schedule_runs_from_moment_to_moment_so_hops_do_not_stretch_it(tmp_path):
    """Each start takes 0.1 s (a hop ~0.15 s): intervals measured between switches are still the
    0.4 s drawn, where timing each interval from the end of the last hop would give ~0.55 s."""
    h, _ = make(tmp_path, FakeProxy(), period_s=0.4, start_s=0.1)
    runner = threading.Thread(target=h.run, daemon=True)
    runner.start()
    wait_for_events = time.monotonic() + 20
    while len(events(tmp_path, "hop.old_closed")) < 9 and time.monotonic() < wait_for_events:
        time.sleep(0.05)
    h.stop.set()
    h.control.notify()
    runner.join(5)
    walls = [e["wall"] for e in events(tmp_path, "hop.old_closed")][:9]
    assert len(walls) == 9
    mean = (walls[-1] - walls[0]) / 8
    assert abs(mean - 0.4) < 0.03, mean


def test_ahead_learns_a_high_prepare_and_a_median_stop():
    from controller.ahead import FIRST_GUESS_S, MARGIN_S, MAX_S, Ahead
    a = Ahead()
    assert a.begin_s() == FIRST_GUESS_S["prepare"] + FIRST_GUESS_S["stop"]
    for x in [0.2] * 38 + [0.9, 0.9]:
        a.learn(prepare_s=x)
    for x in (0.05, 0.1, 2.0):
        a.learn(stop_s=x)
    assert a.prepare_s() == 0.9 + MARGIN_S and a.stop_s() == 0.1
    a.learn(prepare_s=60)
    assert a.prepare_s() == 0.9 + MARGIN_S        # one slow hop does not move it
    for _ in range(2):
        a.learn(prepare_s=60)
        a.learn(stop_s=60)
    assert a.prepare_s() == MAX_S and a.stop_s() == 2.0


def wait_event(tmp_path, kind, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not (found := events(tmp_path, kind)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_door_closes_the_old_port_at_once_and_the_instance_ends_when_its_connections_have(tmp_path):
    h, _ = make(tmp_path, FakeProxy(), door=True, held_s=0.3)
    h.hop(0, 1.0)
    first = h.current
    h.hop(1, 1.0)
    # The hop is done once the door closed: the old port refuses, the old instance is still there.
    assert first.container.signals == ["SIGUSR1"] and refused(first.port) and not first.container.removed
    assert events(tmp_path, "hop.old_closed")[-1]["door"] is True and not events(tmp_path, "hop.drained")[1:]
    exited = wait_event(tmp_path, "hop.old_exited")        # its connections ended 0.3 s later
    assert exited and exited[-1]["drained"] is True
    assert wait_event(tmp_path, "hop.old_stopped") and first.container.removed
    closed, gone = events(tmp_path, "hop.old_closed")[-1]["mono"], exited[-1]["mono"]
    assert 0.25 < gone - closed < 2.0


def test_connections_held_past_the_drain_limit_are_cut(tmp_path):
    h, _ = make(tmp_path, FakeProxy(), door=True, held_s=60.0, drain_limit_s=0.3)
    h.hop(0, 1.0)
    first = h.current
    h.hop(1, 1.0)
    exited = wait_event(tmp_path, "hop.old_exited")
    assert exited and exited[-1]["drained"] is False and "drain limit (0.3 s)" in exited[-1]["reason"]
    assert wait_event(tmp_path, "hop.old_stopped") and first.container.status == "exited" and first.container.removed


def test_shutdown_cuts_old_instances_still_finishing(tmp_path):
    h, _ = make(tmp_path, FakeProxy(), door=True, held_s=60.0)
    h.hop(0, 1.0)
    first = h.current
    h.hop(1, 1.0)
    h.shutdown()
    assert first.container.removed and h.current is None
    stopped = events(tmp_path, "hop.old_stopped")
    assert stopped[-1]["container"] == first.container.id and stopped[-1]["reason"] == "the controller stopped"
    assert stopped[-1]["hop"] == 1        # the hop that retired it, as every event of that hop


def free_ports(n):
    """Ports nothing listens on yet (a standby's must not answer before it is opened)."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def standby_lab(tmp_path, **kw):
    h, _ = make(tmp_path, FakeProxy(), standby=True, **kw)
    spare = free_ports(3)
    h.schedule.pool = PortPool(tuple((p, p) for p in spare))
    return h, spare


def test_after_a_hop_the_next_instance_waits_unseen_and_the_hop_opens_it(tmp_path):
    h, spare = standby_lab(tmp_path)
    h.hop(0, 1.0)
    h.standbys.wait(h.stop)
    standby = h.standbys.current
    assert standby and standby.ready and standby.hop == 1 and standby.port in spare
    assert refused(standby.port)                      # started, not listening: a scanner sees it closed
    assert standby.port in h.ports.in_use()           # ... but held, so no other start takes it
    first = h.current
    h.hop(1, 1.0)
    assert h.current.container is standby.container and h.current.port == standby.port
    assert standby.container.signals[0] == "SIGWINCH" and first.container.removed
    started = events(tmp_path, "hop.instance_started")
    assert [e["standby"] for e in started] == [False, True]
    assert [e["event"] for e in read_events(tmp_path / "truth.jsonl") if e.get("hop") == 1][:2] == \
        ["hop.standby_started", "hop.decided"]
    h.standbys.wait(h.stop)
    assert h.standbys.current.hop == 2               # and the next one is being made


def test_a_standby_that_fails_is_replaced_by_a_fresh_start(tmp_path):
    h, _ = standby_lab(tmp_path, standby_fails=True)
    h.hop(0, 1.0)
    h.standbys.wait(h.stop)
    failed = events(tmp_path, "hop.standby_failed")
    assert failed and failed[0]["hop"] == 1 and h.standbys.current is None
    standby_container = next(c for c in h.instances.started if c.id == failed[0]["container"])
    assert standby_container.removed and failed[0]["port"] not in h.ports.in_use()
    h.hop(1, 1.0)
    assert h.current.container is not standby_container
    assert events(tmp_path, "hop.instance_started")[-1]["standby"] is False


def test_a_standby_for_another_hop_is_dropped_and_shutdown_removes_the_one_waiting(tmp_path):
    h, _ = standby_lab(tmp_path)
    h.hop(0, 1.0)
    h.standbys.wait(h.stop)
    made = h.standbys.current.container
    h.hop(5, 1.0)                                      # not the hop it was made for
    dropped = events(tmp_path, "hop.standby_dropped")
    assert dropped and dropped[0]["hop"] == 1 and made.removed
    h.standbys.wait(h.stop)
    waiting = h.standbys.current
    container, port = waiting.container, waiting.port
    h.shutdown()
    assert container.removed and port not in h.ports.in_use()


def test_a_standby_discarded_while_it_is_being_made_is_removed_once_made(tmp_path):
    """Shutdown can come while the engine is still creating the standby: what the boot makes
    after the discard is removed when the boot ends, and its port given back."""
    h, _ = standby_lab(tmp_path)
    h.hop(0, 1.0)
    h.standbys.wait(h.stop)
    h.instances.start_s = 0.3            # the next start is slow
    h.standbys.prepare(2)
    h.standbys.close()                   # before the container exists
    def made_and_gone():
        made = [c for c in h.instances.started if c.id.startswith("cache-2-")]
        return made and made[0].removed and made[0].port not in h.ports.in_use()
    deadline = time.monotonic() + 5
    while not made_and_gone() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert made_and_gone()
