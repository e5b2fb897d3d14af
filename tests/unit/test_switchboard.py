"""Group commit: switches that arrive while a reload runs share the next one."""
import threading
import time

from controller.hopper import RouteTable
from controller.nginx_conf import Route
from controller.proxy import ProxyConfigError
from controller.switchboard import Switchboard


class SlowProxy:
    """A reload takes reload_s; records which routes each reload carried."""

    def __init__(self, reload_s=0.2, fail=False):
        self.lock = threading.Lock()
        self.reload_s, self.fail, self.applied = reload_s, fail, []

    def apply(self, routes):
        time.sleep(self.reload_s)
        self.applied.append({r.service: r.port for r in routes})
        if self.fail:
            raise ProxyConfigError("nginx -t rejected it")
        return f"g{len(self.applied)}", {100 + len(self.applied)}

    def confirm_live(self, gen):
        pass


def route(service, port):
    return Route(service, "stream", 2000 + port % 100, "10.0.0.2", port, 1)


def switch_all(board, routes):
    results, threads = {}, []
    for r in routes:
        def go(r=r):
            try:
                results[r.service] = board.switch(r)
            except Exception as exc:
                results[r.service] = exc
        threads.append(threading.Thread(target=go))
        threads[-1].start()
        time.sleep(0.01)      # the first one starts its reload before the others arrive
    for t in threads:
        t.join(5)
    return results


def test_switches_during_a_reload_share_the_next_one():
    proxy, table = SlowProxy(), RouteTable()
    board = Switchboard(proxy, table)
    results = switch_all(board, [route(f"s{i}", 9000 + i) for i in range(6)])
    # The first reload carried s0 alone; the five that arrived meanwhile went in one more.
    assert board.reloads == 2 and len(proxy.applied) == 2
    assert proxy.applied[0] == {"s0": 9000}
    assert proxy.applied[1] == {f"s{i}": 9000 + i for i in range(6)}
    assert results["s0"][1:] == ("g1", {101})
    assert all(results[f"s{i}"][1:] == ("g2", {102}) for i in range(1, 6))


def test_a_failed_reload_fails_every_switch_it_carried_and_restores_their_routes():
    proxy, table = SlowProxy(fail=True), RouteTable()
    table.set(route("s1", 8001))
    board = Switchboard(proxy, table)
    results = switch_all(board, [route("s0", 9000), route("s1", 9001)])
    assert all(isinstance(r, ProxyConfigError) for r in results.values())
    assert {r.service: r.port for r in table.all()} == {"s1": 8001}   # s0 had none before


def test_a_switch_alone_reloads_at_once():
    proxy = SlowProxy(reload_s=0)
    board = Switchboard(proxy, RouteTable())
    previous, gen, old = board.switch(route("s0", 9000))
    assert (previous, gen, old) == (None, "g1", {101})
    previous, gen, _ = board.switch(route("s0", 9001))
    assert previous.port == 9000 and gen == "g2"
