"""Service instances: one fresh container per placement, inside the target's network namespace.

Each instance is started by mtdlab.inlab.launch in the target holder's network namespace, so every
service of a target answers on the target's one IP, as on a real host, and carries ownership
labels for cleanup after a crash.
"""
from __future__ import annotations

import os
import secrets
import threading
import time

import docker
import requests
from docker.errors import APIError, NotFound

from mtdlab.contract import flags, keys, labels
from mtdlab.contract.catalog import HTTP_SOCKET_DIR, HTTP_SOCKET_VOLUME, SERVICE_KINDS, http_socket
from mtdlab.contract.wait import PortRefuses, wait_for
from mtdlab.inlab import sshuser
from mtdlab.inlab.launch import start_in_namespace
from mtdlab.inlab.probes import wait_ready


# Container starts and removals under way at once, for all of this controller's services: one
# per core. Each hop starts a container (its standby) and removes one; at many services the
# hoppers would ask the engine for dozens at once, and where the engine's processes run in the
# root cgroup (docs/security.md) each busy engine thread competes with all the lab's containers
# together: instances serving users starved (make bench-many). Queued here, the engine's work at
# any moment is bounded. Signals (opening a standby, closing a door) and stops do not queue: they
# are a hop's moment.
ENGINE_SLOTS = max(2, os.cpu_count() or 2)
engine_slots = threading.BoundedSemaphore(ENGINE_SLOTS)


class OverLabNetwork:
    """Readiness checked from the controller over the lab network, on the target's address (the
    SAPP gateway checks inside the target's namespace instead: Gateway.wait_ready)."""

    def __init__(self, target_ip: str):
        self.target_ip = target_ip

    def wait_ready(self, probe: str, port: int, timeout: float, alive, expect: str) -> tuple[str, int]:
        return wait_ready(probe, self.target_ip, port, timeout, alive=alive, expect=expect)

    def wait_refused(self, port: int, timeout: float) -> None:
        """Until the port refuses new connections, as a scanner on the lab network would see it."""
        wait_for(PortRefuses(self.target_ip, port), timeout, interval=0.01)


class Instances:
    def __init__(self, client: docker.DockerClient, image: str, target, lab: str, run_id: str,
                 bind: str | None = None, ssh_user_key: str | None = None, proxy_ip: str | None = None):
        self.client, self.image, self.target, self.lab, self.run_id = client, image, target, lab, run_id
        self.proxy_ip = proxy_ip   # whose queued connections a door waits for (services/quiet)
        self.bind = bind   # "127.0.0.1" behind a SAPP gateway: instances listen on loopback only
        self.ssh_user_key = ssh_user_key   # public key of the lab's SSH login (mtdlab.inlab.sshuser)

    def flag(self, service: str, hop: int) -> str | None:
        """The instance's classroom flag, in a class lab (its controller holds the team's flag key)."""
        key_hex = os.environ.get(keys.FLAG.env)
        return flags.flag(keys.parse(keys.FLAG, key_hex, keys.FLAG.env), service, hop) if key_hex else None

    def start(self, service: str, kind: str, port: int, hop: int, banner: str | None = None, flag: str | None = None,
              standby: bool = False):
        """Start an instance on port; a standby one boots and then waits, listening on nothing,
        until open() (controller/standby.py)."""
        name = f"{self.lab}-{service}-h{hop}-{secrets.token_hex(3)}"
        env = {"MTDLAB_SERVICE": service, "MTDLAB_INSTANCE": name, "MTDLAB_PORT": str(port)}
        if standby:
            env["MTDLAB_STANDBY"] = "1"
        if flag:
            env["MTDLAB_FLAG"] = flag    # this instance's only (Instances.flag): never the key
        if self.bind:
            env["MTDLAB_BIND"] = self.bind
        if self.proxy_ip:
            env["MTDLAB_PROXY_IP"] = self.proxy_ip
        if banner:
            env["MTDLAB_BANNER"] = banner
        if kind == "redis" and os.environ.get(keys.REDIS.env):
            env[keys.REDIS.env] = os.environ[keys.REDIS.env]   # the run's password (services/redis/start)
        if kind == "ssh" and self.ssh_user_key:
            env[sshuser.ENV] = self.ssh_user_key
        volumes = None
        if self._has_socket(kind):
            env["MTDLAB_HTTP_SOCKET"] = http_socket(service, port)
            volumes = [f"{self.lab}_{HTTP_SOCKET_VOLUME}:{HTTP_SOCKET_DIR}:rw"]
        with engine_slots:
            return start_in_namespace(self.client, self.image, SERVICE_KINDS[kind].command(port), name=name,
                                      target=self.target, environment=env, role=kind, volumes=volumes,
                                      stop_signal=SERVICE_KINDS[kind].stop_signal,
                                      labels=labels.instance_labels(self.lab, self.run_id, service, port))

    def _has_socket(self, kind: str) -> bool:
        """An HTTP instance gets a socket where the proxy's front reaches it (catalog.http_socket);
        not behind a SAPP gateway, whose services only the gateway may reach."""
        return SERVICE_KINDS[kind].proxy_mode == "http" and not self.bind

    def socket_gone(self, service: str, kind: str, port: int) -> None:
        """An old web instance is gone: its socket file goes too (gunicorn removes it when it
        quits; one killed leaves it). Not ours to remove when the controller runs as another user
        than the instances (the folder is sticky): the next instance on the port replaces it."""
        if self._has_socket(kind):
            try:
                os.unlink(http_socket(service, port))
            except OSError:
                pass

    @staticmethod
    def running(container) -> bool:
        try:
            container.reload()
        except NotFound:
            return False
        return container.status in ("created", "running")

    @staticmethod
    def logs_tail(container, lines: int = 5) -> str:
        try:
            return container.logs(tail=lines).decode(errors="replace").strip()
        except (NotFound, APIError):
            return ""

    @staticmethod
    def open(container) -> None:
        """SIGWINCH: a standby instance binds its port and serves (services/standby.sh)."""
        container.kill(signal="SIGWINCH")

    @staticmethod
    def halt(container, timeout: int = 5) -> bool:
        """Stop it (its kind's stop signal, then SIGKILL after timeout): on return its ports are
        closed. False if it was gone already."""
        try:
            container.stop(timeout=timeout)
        except NotFound:
            return False
        return True

    @staticmethod
    def close_door(container) -> None:
        """SIGUSR1: the instance stops accepting new connections and goes on serving the ones it
        holds, then exits by itself (services/<kind>/start; kinds with `door` only)."""
        container.kill(signal="SIGUSR1")

    @staticmethod
    def wait_exit(container, timeout: float) -> bool:
        """Until it exits by itself (True), or timeout seconds (False). In waits of at most a
        minute, below the fence's 150 s timeout for one call."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                container.wait(timeout=min(60.0, left))
                return True
            except NotFound:
                return True
            except (requests.exceptions.RequestException, APIError):
                if not Instances.running(container):
                    return True
        return False

    @staticmethod
    def stop(container, timeout: int = 5) -> None:
        """Stop, then remove."""
        if Instances.halt(container, timeout):
            remove(container)

    def leftovers(self) -> list:
        """Instances (and a SAPP gateway) of this lab that a previous controller left behind
        (crash, SIGKILL)."""
        return [c for role in ("service", "gateway") for c in self.client.containers.list(all=True, filters={
            "label": [f"{labels.OWNER}={labels.OWNER_VALUE}", f"{labels.LAB}={self.lab}", f"{labels.ROLE}={role}"]})]


def exec_in(container, cmd: list[str]) -> tuple[int, str]:
    """Run cmd in container; (exit code, output). By name, not id: the Docker API fence
    (fence/haproxy.cfg) allows exec only into the lab's proxy and SAPP gateway, which it
    recognises by their names."""
    api = container.client.api
    exec_id = api.exec_create(container.name, cmd)["Id"]
    output = api.exec_start(exec_id)
    return api.exec_inspect(exec_id)["ExitCode"], output.decode(errors="replace")


def remove(container) -> None:
    try:
        with engine_slots:
            container.remove(force=True)
    except NotFound:
        pass
    except APIError as exc:  # already being removed by another path
        if "already in progress" not in str(exc):
            raise
