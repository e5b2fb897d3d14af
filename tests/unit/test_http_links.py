"""An HTTP service's switch is a link (controller/proxy.py): the front connects to SERVICE.sock,
which apply() moves to the serving instance's socket by one rename. Checked with real unix
sockets: a connection by the fixed path reaches whichever instance the link names."""
import socket

import pytest

from controller.nginx_conf import Route
from controller.proxy import Proxy, ProxyConfigError


def listener(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen(4)
    return s


def reaches(link, listeners) -> int:
    """Which listener (by index) a connection made by the link's path lands on."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.connect(str(link))
        for i, s in enumerate(listeners):
            s.settimeout(0.5)
            try:
                s.accept()[0].close()
                return i
            except TimeoutError:
                continue
    raise AssertionError("no listener got the connection")


def test_the_link_moves_to_the_new_instance_and_back(tmp_path):
    proxy = Proxy.__new__(Proxy)
    proxy.http_dir = tmp_path
    old, new = listener(tmp_path / "web-20001.sock"), listener(tmp_path / "web-20002.sock")
    ssh = Route("ssh", "stream", 2222, "10.0.0.2", 30001, 1)
    proxy.point_http([Route("web", "http", 8080, "10.0.0.2", 20001, 1), ssh])
    link = tmp_path / "web.sock"
    assert reaches(link, [old, new]) == 0
    proxy.point_http([Route("web", "http", 8080, "10.0.0.2", 20002, 2), ssh])
    assert reaches(link, [old, new]) == 1
    # Relative, so the proxy's mount of the folder (elsewhere) resolves it too; streams get none.
    assert (tmp_path / "web.sock").readlink().name == "web-20002.sock" and not (tmp_path / "web.sock").readlink().is_absolute()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web-20001.sock", "web-20002.sock", "web.sock"]
    # A failed switch puts the old routes back (Hopper._restore_proxy): the link follows.
    proxy.point_http([Route("web", "http", 8080, "10.0.0.2", 20001, 1)])
    assert reaches(link, [old, new]) == 0


class AgentLog:
    """Stands in for the proxy's agent (proxy/switchd): records the steps asked of it; `fail`
    names a step that fails."""

    def __init__(self, fail=None):
        self.steps, self.fail = [], fail

    def __call__(self, step, *args):
        self.steps.append(step)
        return (1, "refused") if step == self.fail else (0, "101 102")


def proxy_in(tmp_path, agent):
    proxy = Proxy.__new__(Proxy)
    proxy.conf_dir = proxy.http_dir = tmp_path
    proxy.run_id, proxy.generation, proxy.live_streams = "r", 0, None
    proxy.shutdown_s, proxy.status_reader = 10, None
    proxy._ask = agent
    return proxy


def test_a_switch_of_http_services_alone_moves_the_link_without_a_reload(tmp_path):
    agent = AgentLog()
    proxy = proxy_in(tmp_path, agent)
    ssh = Route("ssh", "stream", 2222, "10.0.0.2", 30001, 1)
    assert proxy.apply([Route("web", "http", 8080, "10.0.0.2", 20001, 1), ssh]) == ("r.1", {101, 102})
    assert agent.steps == ["test", "reload"]      # the first: what nginx runs is not known yet
    # web hops: its link moves, the file records it, nginx is not asked anything.
    assert proxy.apply([Route("web", "http", 8080, "10.0.0.2", 20002, 2), ssh]) == ("r.1", set())
    assert agent.steps == ["test", "reload"]
    assert (tmp_path / "web.sock").readlink().name == "web-20002.sock"
    conf = (tmp_path / "nginx.conf").read_text()
    assert "web-20002.sock" in conf and "generation r.1," in conf and not (tmp_path / "nginx.conf.next").exists()
    # ssh hops: its stream's upstream changes, so nginx -t and a reload, a new generation.
    assert proxy.apply([Route("web", "http", 8080, "10.0.0.2", 20002, 2), Route("ssh", "stream", 2222, "10.0.0.2", 30002, 2)])[0] == "r.2"
    assert agent.steps == ["test", "reload"] * 2


def test_after_a_failed_reload_the_next_switch_reloads_even_for_http_alone(tmp_path):
    agent = AgentLog(fail="reload")
    proxy = proxy_in(tmp_path, agent)
    ssh = Route("ssh", "stream", 2222, "10.0.0.2", 30001, 1)
    with pytest.raises(ProxyConfigError):
        proxy.apply([Route("web", "http", 8080, "10.0.0.2", 20001, 1), ssh])
    agent.fail = None
    # What nginx runs is not known after a failed reload: the restore reloads, whatever changed.
    proxy.apply([Route("web", "http", 8080, "10.0.0.2", 20001, 1), ssh])
    assert agent.steps == ["test", "reload", "test", "reload"]
