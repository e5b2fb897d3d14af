"""Brings a whole lab up and down with compose, as one isolated compose project.

Used by the tests, the benchmarks and the CLI. Each lab has its own project name, so its
networks, volume and containers never mix with another lab's, and its own published ports.
up() first removes whatever a crashed lab of the same name left; a failed up() removes
everything it made before it raises.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
from functools import lru_cache
from pathlib import Path

from mtdlab.contract import keys, labels
from mtdlab.contract.events import read_events
from mtdlab.contract.wait import Condition, Timeout, wait_for

REPO = Path(__file__).resolve().parents[2]   # mtdlab/host/lab.py -> the repository
COMPOSE_FILE = REPO / "compose.yaml"
CLASS_COMPOSE_FILE = REPO / "compose.class.yaml"   # what a classroom team's lab adds
BOARD_COMPOSE_FILE = REPO / "compose.board.yaml"   # a class's scoreboard


class LabError(RuntimeError):
    pass


@lru_cache(maxsize=1)
def compose_command() -> tuple[str, ...]:
    """`docker compose` (v2) where the plugin is there, else Debian's `docker-compose` (v1)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ("docker", "compose")
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    raise LabError("neither `docker compose` nor `docker-compose` is installed")


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    engine = "local"   # mtdlab/host/swarm.py's SwarmLab is the same lab as a Swarm stack

    def __init__(self, name: str, scenario: Path, run_dir: Path, ports: dict[str, int] | None = None,
                 extra_env: dict[str, str] | None = None, compose_files: tuple[Path, ...] = (COMPOSE_FILE,)):
        self.name, self.scenario, self.run_dir = name, Path(scenario).resolve(), Path(run_dir).resolve()
        self.compose_files = compose_files
        self.ports = ports or {"web": free_port(), "ssh": free_port(), "redis": free_port(), "console": free_port(),
                               "dashboard": free_port()}
        self.extra_env = extra_env or {}
        # Every lab gets its own console key; nothing reusable is ever committed.
        self.console_key = self.extra_env.get(keys.CONSOLE.env) or keys.new()
        self.redis_password = self.extra_env.get(keys.REDIS.env) or keys.new()

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ,
                "MTDLAB_SCENARIO_DIR": str(self.scenario.parent), "MTDLAB_SCENARIO_FILE": self.scenario.name,
                "MTDLAB_RUN_DIR": str(self.run_dir), "MTDLAB_WEB_PORT": str(self.ports["web"]),
                "MTDLAB_SSH_PORT": str(self.ports["ssh"]), "MTDLAB_REDIS_PORT": str(self.ports["redis"]),
                "MTDLAB_CONSOLE_PORT": str(self.ports["console"]), "MTDLAB_DASHBOARD_PORT": str(self.ports.get("dashboard", 8090)),
                keys.CONSOLE.env: self.console_key,
                keys.REDIS.env: self.redis_password,
                # The controller writes the run folder as the host user, with the host user's umask.
                labels.OWNER_PROCESS_ENV: this_process(),
                "MTDLAB_UID": str(os.getuid()), "MTDLAB_GID": str(os.getgid()), "MTDLAB_UMASK": f"{current_umask():03o}",
                **self.extra_env}

    def compose(self, *args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
        files = [arg for f in self.compose_files for arg in ("-f", str(f))]
        cmd = [*compose_command(), *files, "-p", self.name, *args]
        result = subprocess.run(cmd, env=self.env, capture_output=capture, text=True)
        if check and result.returncode != 0:
            raise LabError(f"{' '.join(cmd)} failed:\n{result.stderr or result.stdout}")
        return result

    def up(self, services: tuple[str, ...] = ()) -> "Lab":
        reap_orphans()
        remove_lab(self.name)
        # Made here, as the host user: the attacker mounts only attacker/ and writes into it as
        # root, so the folders it writes into must already belong to the host user.
        (self.run_dir / "attacker" / "xml").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "users").mkdir(exist_ok=True)     # the demo's users service writes here
        try:
            self.compose("up", "-d", *services)
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        remove_lab(self.name)

    def start(self, services: tuple[str, ...]) -> None:
        """Start more of the lab's services (and what they depend on)."""
        self.compose("up", "-d", *services)

    def stop(self, service: str, timeout: int = 60) -> None:
        """Stop one service, with its grace period, leaving the rest running."""
        self.compose("stop", "-t", str(timeout), service)

    def address_on(self, service: str, network: str) -> str:
        """The service's address on one of the lab's networks."""
        return self.container(service).attrs["NetworkSettings"]["Networks"][network]["IPAddress"]

    @property
    def truth_path(self) -> Path:
        return self.run_dir / "truth.jsonl"

    def events(self) -> list[dict]:
        return list(read_events(self.truth_path)) if self.truth_path.exists() else []

    def wait_for(self, condition, what: str, timeout: float, interval: float = 0.2):
        """Poll condition(lab) until it returns something truthy; LabError after timeout."""
        try:
            return wait_for(Condition(lambda: condition(self), what,
                                      logs=lambda: "controller says: " + self.logs("controller")[-1500:]),
                            timeout, interval)
        except Timeout as exc:
            raise LabError(f"lab {self.name}: {exc}") from None

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", service, check=False).stdout

    def container(self, service: str):
        import docker
        found = docker.from_env().containers.list(all=True, filters={"label": [
            f"{labels.COMPOSE_PROJECT}={self.name}", f"{labels.COMPOSE_SERVICE}={service}"]})
        return found[0] if found else None


def _process_id(pid: int) -> str | None:
    """host:pid:start time of a live process (the start time tells a reused pid apart), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    start = stat.rsplit(")", 1)[1].split()[19]   # field 22, counted after the command name
    return f"{socket.gethostname()}:{pid}:{start}"


def this_process() -> str:
    return _process_id(os.getpid()) or ""


def reap_orphans(say=lambda message: None) -> list[str]:
    """Remove every lab started on this host by a process that is gone (a killed `mtdlab run`,
    a crashed test session), like testcontainers' Ryuk. Labs without an owner process (`make
    demo`) are left alone. Returns the names of the labs removed."""
    import docker
    reaped = set()
    host = socket.gethostname()
    for c in docker.from_env().containers.list(all=True, filters={"label": [f"{labels.OWNER}={labels.OWNER_VALUE}",
                                                                            labels.OWNER_PROCESS]}):
        owner, lab = c.labels.get(labels.OWNER_PROCESS, ""), c.labels.get(labels.COMPOSE_PROJECT)
        parts = owner.split(":")
        if lab and lab not in reaped and len(parts) == 3 and parts[0] == host and parts[1].isdigit() \
                and _process_id(int(parts[1])) != owner:
            say(f"reaping lab {lab}: its owner (pid {parts[1]}) is gone")
            remove_lab(lab)
            reaped.add(lab)
    return sorted(reaped)


def remove_lab(name: str) -> dict[str, int]:
    """Remove every container, network and volume of lab `name`, whoever made it.

    The controller goes first and gets a graceful stop, so it removes its own instances;
    whatever is still labelled for the lab after that (a killed controller's instances, a
    crashed run's compose containers) is force-removed.
    """
    import docker
    from mtdlab.host.swarm import remove_stack
    # A lab deployed as a Swarm stack: its services first (nothing if there are none).
    removed = {"containers": 0, "networks": 0, "volumes": 0, **{k: v for k, v in remove_stack(name).items() if v}}
    client = docker.from_env()
    mine = [f"{labels.COMPOSE_PROJECT}={name}"], [f"{labels.LAB}={name}"]
    for c in client.containers.list(filters={"label": mine[0] + [f"{labels.COMPOSE_SERVICE}=controller"]}):
        c.stop(timeout=60)
    for filt in mine:
        # Service instances and a SAPP gateway share the target's namespace: remove them first.
        for c in sorted(client.containers.list(all=True, filters={"label": filt}),
                        key=lambda c: c.labels.get(labels.ROLE) not in ("service", "gateway")):
            try:
                c.remove(force=True)
                removed["containers"] += 1
            except docker.errors.NotFound:
                pass
    for n in client.networks.list(filters={"label": mine[0]}):
        detach_all(n)
        n.remove()
        removed["networks"] += 1
    for v in client.volumes.list(filters={"label": mine[0]}):
        v.remove(force=True)
        removed["volumes"] += 1
    return removed


def detach_all(network) -> None:
    """Disconnect what is still attached to a lab's network once the lab's own containers are gone:
    the class's scoreboard, joined to every team's management network (`class heal` remakes one)."""
    import docker
    network.reload()
    for cid in network.attrs.get("Containers") or {}:
        if not cid.startswith("lb-"):   # an overlay's own load-balancer endpoint
            try:
                network.disconnect(cid, force=True)
            except docker.errors.NotFound:
                pass
