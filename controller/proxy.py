"""Switches the nginx proxy to new routes without dropping a request.

apply(): write the candidate file, check it with `nginx -t`, and only then move it into
place and reload (SIGHUP). A candidate that fails the check never replaces the live file.
Each step in the proxy is one exec (the engine starts a process there; here 0.1-0.2 s each),
so a switch is two: the check, and proxy/reload, which also names the old workers.
Then confirm_live() polls the status port until the new generation answers, and drain()
waits until every worker of the previous configuration has exited, so no request can
still reach the old instance when the controller stops it.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

from mtdlab.contract.wait import Condition, Timeout, wait_for

from .instances import exec_in
from .nginx_conf import STATUS_PORT, Route, render

CONF_DIR_IN_PROXY = "/etc/nginx/mtdlab"
LIST_WORKERS = ["/opt/mtdlab/proxy/workers"]
RELOAD = ["/opt/mtdlab/proxy/reload"]          # prints the old workers, then SIGHUPs the master
DRAINED = "/opt/mtdlab/proxy/drained"          # SECONDS HTTP_PORTS IP:PORT PID...: polls inside the proxy
STATUS_READ_S = 1.0        # one read of the proxy's status port, in all
STATUS_MAX_BYTES = 4096    # the answer is a few dozen bytes


class ProxyConfigError(RuntimeError):
    pass


class Proxy:
    def __init__(self, container, conf_dir: Path, proxy_ip: str, run_id: str, shutdown_s: float = 10):
        self.container = container
        self.shutdown_s = shutdown_s   # nginx's worker_shutdown_timeout (nginx_conf.render)
        self.http_ports: set[int] = set()
        self.conf_dir = Path(conf_dir)
        self.proxy_ip = proxy_ip
        self.run_id = run_id
        self.generation = 0
        self.lock = threading.Lock()  # one reload at a time; hops of different services share the proxy

    def _exec(self, cmd: list[str]) -> tuple[int, str]:
        return exec_in(self.container, cmd)

    def apply(self, routes: list[Route]) -> tuple[str, set[int]]:
        """Make routes live; returns (generation, PIDs of the workers that ran the old config)."""
        self.generation += 1
        gen = f"{self.run_id}.{self.generation}"
        candidate = self.conf_dir / "nginx.conf.next"
        candidate.write_text(render(routes, gen, self.shutdown_s))
        self.http_ports = {r.proxy_port for r in routes if r.mode == "http"}
        code, out = self._exec(["nginx", "-t", "-q", "-c", f"{CONF_DIR_IN_PROXY}/nginx.conf.next"])
        if code != 0:
            candidate.unlink(missing_ok=True)
            raise ProxyConfigError(f"nginx -t rejected generation {gen}; the live config is unchanged: {out.strip()}")
        os.replace(candidate, self.conf_dir / "nginx.conf")
        code, out = self._exec(RELOAD)
        if code != 0:
            raise ProxyConfigError(f"nginx reload failed: {out.strip()}")
        return gen, {int(x) for x in out.split() if x.isdigit()}

    def live_generation(self) -> str | None:
        deadline = time.monotonic() + STATUS_READ_S
        try:
            with socket.create_connection((self.proxy_ip, STATUS_PORT), timeout=STATUS_READ_S) as s:
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
        draining = lambda: set(int(x) for x in self._exec([*LIST_WORKERS, "shutting-down"])[1].split() if x.isdigit())
        try:
            wait_for(Condition(lambda: not draining(), "old nginx workers gone",
                               logs=lambda: f"still shutting down: {sorted(draining())}"), timeout)
        except Timeout as exc:
            raise ProxyConfigError(str(exc)) from None

    def drain(self, old_workers: set[int], upstream: tuple[str, int], timeout: float = 15) -> None:
        """Wait until no worker of an earlier configuration can still carry a request to the old
        instance at upstream: each has exited, or is shutting down holding no HTTP connection and
        none to that instance (proxy/drained: one exec that polls inside the proxy)."""
        if not old_workers:
            return
        code, out = self._exec([DRAINED, f"{timeout:g}", ",".join(map(str, sorted(self.http_ports))),
                                f"{upstream[0]}:{upstream[1]}", *map(str, sorted(old_workers))])
        if code != 0:
            raise ProxyConfigError(f"old nginx workers {sorted(old_workers)} not drained after {timeout:g} s: {out.strip()}")
