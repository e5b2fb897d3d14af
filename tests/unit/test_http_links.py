"""An HTTP service's switch is a link (controller/proxy.py): the front connects to SERVICE.sock,
which apply() moves to the serving instance's socket by one rename. Checked with real unix
sockets: a connection by the fixed path reaches whichever instance the link names."""
import socket

from controller.nginx_conf import Route
from controller.proxy import Proxy


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
