"""Switches the nginx proxy to new routes without dropping a request.

The proxy runs two nginx masters (controller/nginx_conf.py): the front, loaded once when the
controller starts (set_front), and the switch, which every hop changes as follows.

An HTTP service's switch is a link: the front connects to the service's fixed socket path, and
apply() moves that link to the new instance's socket (one rename, atomic: a connection made
before it reaches the old instance, one after it the new). The switch's file records it in a
comment; when only HTTP routes changed, nothing nginx does changes, so the file is rewritten
without a reload (which would add 0.1-0.2 s to every web hop) and the generation stays.

apply(): write the candidate file, check it with `nginx -t`, and only then move it into
place and reload (SIGHUP). A candidate that fails the check never replaces the live file.
The steps inside the proxy are run by its agent (proxy/switchd, asked over a unix socket in the
configuration folder the two share: mtdlab/contract/proxyagent.py), not by docker exec, which
cost 0.1-0.2 s a step. Its reload also names the old workers and returns once no worker of
the previous configuration accepts any more; then confirm_live() polls the status port until
the new generation answers. For an old instance without a door (FTP), drain() waits until no
old worker relays to it before it is stopped.
"""
from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from pathlib import Path

from mtdlab.contract import proxyagent
from mtdlab.contract.catalog import HTTP_SOCKET_DIR, http_socket
from mtdlab.contract.wait import Condition, Timeout, wait_for

from .nginx_conf import FRONT_STATUS_PORT, STATUS_PORT, Route, render, render_front

STATUS_READ_S = 1.0        # one read of the proxy's status port, in all
STATUS_MAX_BYTES = 4096    # the answer is a few dozen bytes


class ProxyConfigError(RuntimeError):
    pass


def source_ip(peer: str) -> str:
    """This container's address on the way to peer (the lab network's, of its several): a UDP
    connect picks the route and sends nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((peer, 9))
        return s.getsockname()[0]


def stream_directives(routes: list[Route]) -> tuple:
    """What of routes makes the switch's directives (render): each stream's fixed port and
    upstream. HTTP routes and hop numbers are comments there."""
    return tuple(sorted((r.proxy_port, r.target_ip, r.port) for r in routes if r.mode != "http"))


class Proxy:
    def __init__(self, conf_dir: Path, proxy_ip: str, run_id: str, shutdown_s: float = 10,
                 http_dir: Path = Path(HTTP_SOCKET_DIR)):
        self.shutdown_s = shutdown_s   # nginx's worker_shutdown_timeout (nginx_conf.render)
        self.conf_dir = Path(conf_dir)
        self.http_dir = Path(http_dir)   # the http-sockets folder, as this container mounts it
        self.proxy_ip = proxy_ip
        self.status_reader = source_ip(proxy_ip)   # the status ports answer this controller alone
        self.run_id = run_id
        self.generation = 0
        self.live_streams: tuple | None = None   # the stream directives nginx runs; None: not known
        self.lock = threading.Lock()  # one reload at a time; hops of different services share the proxy

    def _ask(self, step: str, *args: str) -> tuple[int, str]:
        try:
            return proxyagent.ask(str(self.conf_dir / proxyagent.SOCKET_NAME), step, *args)
        except (proxyagent.AgentError, ValueError) as exc:
            raise ProxyConfigError(f"proxy agent, {step}: {exc}") from None

    def agent_answers(self) -> bool:
        """The proxy's agent is up (the controller waits for it at start)."""
        try:
            return self._ask("workers")[0] == 0
        except ProxyConfigError:
            return False

    def _install(self, name: str, text: str, what: str, reload: str) -> str:
        """Write text as the candidate for conf file name, check it with `nginx -t`, only then
        move it into place and run the reload step in the proxy; returns what it printed."""
        candidate = self.conf_dir / f"{name}.next"
        candidate.write_text(text)
        code, out = self._ask("test", candidate.name)
        if code != 0:
            candidate.unlink(missing_ok=True)
            raise ProxyConfigError(f"nginx -t rejected {what}; the live config is unchanged: {out.strip()}")
        os.replace(candidate, self.conf_dir / name)
        code, out = self._ask(reload)
        if code != 0:
            raise ProxyConfigError(f"nginx reload of {what} failed: {out.strip()}")
        return out

    def point_http(self, routes: list[Route]) -> None:
        """Move each HTTP service's link to its instance's socket (where it does not point there
        yet). A new link is made beside it and renamed over it: connect() never finds no link."""
        for r in routes:
            if r.mode != "http":
                continue
            link = self.http_dir / Path(http_socket(r.service)).name
            want = Path(http_socket(r.service, r.port)).name   # relative: the proxy mounts the folder elsewhere too
            try:
                if os.readlink(link) == want:
                    continue
            except OSError:
                pass
            fresh = link.with_name(link.name + ".next")
            fresh.unlink(missing_ok=True)
            os.symlink(want, fresh)
            os.replace(fresh, link)

    def apply(self, routes: list[Route]) -> tuple[str, set[int]]:
        """Make routes live; returns (generation, PIDs of the workers that ran the old config)."""
        try:
            self.point_http(routes)
        except OSError as exc:
            raise ProxyConfigError(f"cannot move an HTTP service's link in {self.http_dir}: {exc}") from None
        streams = stream_directives(routes)
        if streams == self.live_streams:
            # Only HTTP routes (comments in this file) changed: record them, keep the generation.
            gen = f"{self.run_id}.{self.generation}"
            candidate = self.conf_dir / "nginx.conf.next"
            candidate.write_text(render(routes, gen, self.shutdown_s, self.status_reader))
            os.replace(candidate, self.conf_dir / "nginx.conf")
            return gen, set()
        self.live_streams = None   # until this reload has gone through
        self.generation += 1
        gen = f"{self.run_id}.{self.generation}"
        out = self._install("nginx.conf", render(routes, gen, self.shutdown_s, self.status_reader), f"generation {gen}", "reload")
        self.live_streams = streams
        return gen, {int(x) for x in out.split() if x.isdigit()}

    def set_front(self, http: list[tuple[str, int]], timeout: float = 10.0) -> bool:
        """Load the front for these (service, proxy_port): once, when the controller starts,
        before the first placement. A restarted controller finds the same version live and
        leaves it alone (a reload would end users' HTTP connections). True if it reloaded."""
        version = hashlib.sha256(repr((sorted(http), self.status_reader)).encode()).hexdigest()[:12]
        if self.live_generation(FRONT_STATUS_PORT) == version:
            return False
        self._install("front.conf", render_front(http, version, self.status_reader), f"the front ({version})", "reload-front")
        try:
            wait_for(Condition(lambda: self.live_generation(FRONT_STATUS_PORT) == version, f"front {version} live"),
                     timeout, interval=0.02)
        except Timeout as exc:
            raise ProxyConfigError(str(exc)) from None
        return True

    def live_generation(self, port: int = STATUS_PORT) -> str | None:
        """The generation the switch serves (or, on FRONT_STATUS_PORT, the front's version)."""
        deadline = time.monotonic() + STATUS_READ_S
        try:
            with socket.create_connection((self.proxy_ip, port), timeout=STATUS_READ_S) as s:
                s.sendall(b"GET /generation HTTP/1.0\r\n\r\n")
                data = b""
                # Bounded in time and size: a stuck or babbling status port cannot hold a hop.
                while len(data) < STATUS_MAX_BYTES and (left := deadline - time.monotonic()) > 0:
                    s.settimeout(left)
                    if not (chunk := s.recv(4096)):
                        break
                    data += chunk
            return data.split(b"\r\n\r\n", 1)[1].decode(errors="replace").strip()
        except (OSError, IndexError):
            return None

    def confirm_live(self, gen: str, timeout: float = 10.0) -> None:
        try:
            wait_for(Condition(lambda: self.live_generation() == gen, f"nginx generation {gen} live",
                               logs=lambda: f"proxy serves {self.live_generation()}"), timeout, interval=0.02)
        except Timeout as exc:
            raise ProxyConfigError(str(exc)) from None

    def conf_text(self) -> str:
        """The routes nginx was last given (what a restarted controller reconciles against)."""
        try:
            return (self.conf_dir / "nginx.conf").read_text()
        except OSError:
            return ""

    def wait_drained(self, timeout: float | None = None) -> None:
        """Until no nginx worker of an earlier configuration is still shutting down (by default at
        most until nginx itself ends their held sessions, worker_shutdown_timeout, and 5 s)."""
        timeout = self.shutdown_s + 5 if timeout is None else timeout
        draining = lambda: set(int(x) for x in self._ask("workers", "shutting-down")[1].split() if x.isdigit())
        try:
            wait_for(Condition(lambda: not draining(), "old nginx workers gone",
                               logs=lambda: f"still shutting down: {sorted(draining())}"), timeout)
        except Timeout as exc:
            raise ProxyConfigError(str(exc)) from None

    def drain(self, old_workers: set[int], upstream: tuple[str, int], timeout: float = 15) -> None:
        """Wait until no worker of an earlier configuration still relays to the old instance at
        upstream: each has exited, or holds no connection to it (sessions of other services keep
        old workers alive up to the drain limit). proxy/drained polls inside the proxy."""
        if not old_workers:
            return
        code, out = self._ask("drained", f"{timeout:g}", f"{upstream[0]}:{upstream[1]}", *map(str, sorted(old_workers)))
        if code != 0:
            raise ProxyConfigError(f"old nginx workers {sorted(old_workers)} not drained after {timeout:g} s: {out.strip()}")
