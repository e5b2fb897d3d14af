"""The hop state machine without an engine: fake containers and proxy, real Redis-speaking
listeners on loopback for the readiness probe, a real truth log."""
import socket
import threading

import pytest

from controller.hopper import Hopper, PortBook, RouteTable
from controller.proxy import ProxyConfigError
from mtdlab.contract.events import EventLog, read_events
from mtdlab.contract.scenario import Banner, HopPolicy, Service
from mtdlab.contract.schedule import IntervalLaw, PortPool


def fake_redis() -> int:
    """A listener that answers PING with +PONG, on a free loopback port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def serve():
        while True:
            conn, _ = srv.accept()
            with conn:
                if conn.recv(64).startswith(b"PING"):
                    conn.sendall(b"+PONG\r\n")
    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


class FakeContainer:
    def __init__(self, name):
        self.id = self.name = name
        self.status, self.removed = "running", False

    def reload(self):
        pass

    def stop(self, timeout):
        self.status = "exited"

    def remove(self, force=False):
        self.removed = True

    def logs(self, tail=5):
        return b""


class FakeInstances:
    def __init__(self):
        self.started = []

    def flag(self, service, hop):
        return None          # not a class lab

    def start(self, service, kind, port, hop, banner=None, flag=None):
        c = FakeContainer(f"{service}-{hop}-{len(self.started)}")
        self.started.append(c)
        return c


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

    def drain(self, workers):
        if self.drain_fails:
            raise ProxyConfigError("old workers still running")


def make(tmp_path, proxy):
    ports = sorted(fake_redis() for _ in range(2))
    svc = Service("cache", "redis", 6379, HopPolicy(IntervalLaw("fixed", period_s=1),
                                                   PortPool(tuple((p, p) for p in ports))), Banner("random-static", "common"))
    truth = EventLog(tmp_path / "truth.jsonl")
    h = Hopper(svc, 1, FakeInstances(), proxy, RouteTable(), PortBook(), truth, "127.0.0.1", threading.Event())
    return h, ports


def kinds(tmp_path):
    return [e["event"] for e in read_events(tmp_path / "truth.jsonl")]


def test_make_before_break_with_fakes(tmp_path):
    h, ports = make(tmp_path, FakeProxy())
    h.hop(0, 1.0)
    first = h.current
    h.hop(1, 1.0)
    assert h.current.port != first.port and first.container.removed and not h.current.container.removed
    assert kinds(tmp_path)[-8:] == ["hop.decided", "hop.instance_started", "hop.ready", "hop.proxy_switched",
                                    "hop.drained", "hop.old_stopping", "hop.old_stopped", "hop.done"]


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
