"""A lab as a Docker Swarm stack (`--engine swarm`; docs/swarm.md): the same lab as mtdlab/host/lab.py's.

SwarmLab renders the lab's compose files with the compose tool and deploys the result as a
stack (mtdlab/host/stack.py says what changes and why), in the order compose would start it:
the anchor (the target) first, alone, with the lab's reservation, so that the Swarm's scheduler
picks the node; every other service is pinned to that node, where the controller drives the
node's engine through the lab's own fence and starts instances in the target's namespace, as
locally. Keys go in as Swarm secrets. The ports compose would publish are published by the
lab's relay, a small nginx on the starting machine joined to the lab's overlay networks, on the
same addresses and ports as locally (a port Swarm publishes would be open on every address of
the node). down() removes the stack, its instances, volumes, networks, secrets and relay.
"""
from __future__ import annotations

import subprocess
from contextlib import contextmanager

import yaml

from mtdlab.contract import labels
from mtdlab.contract.wait import Condition, NotYet, PortOpen, Timeout, wait_for
from mtdlab.host import stack
from mtdlab.host.lab import Lab, LabError, detach_all, reap_orphans, remove_lab

STACK_LABEL = "com.docker.stack.namespace"
PLACE_S = 120      # how long a service may take to have its task running (placement, start)
REMOVE_S = 120     # how long a removed stack may take to be gone (the controller's 60 s grace within)
RELAY_FIRST_PORT = 10000   # the relay listens inside its container from here up
# The lab's reservation when none is stated: what one demo lab uses (bench/results/class_scale.json:
# 0.26 cores and 229 MiB at one team), so a 2-core node takes about as many labs as it holds.
DEFAULT_RESERVATION = {"cpus": 0.25, "memory": 256 * 2**20}
# A sweep's run when none is stated: a whole core, so that runs side by side do not slow each
# other's hops and sweeps (their figures are what a sweep compares).
SWEEP_RUN_CPUS = 1.0


def swarm_state() -> dict:
    """The engine's Swarm state: {"active": bool, "manager": bool, "node": id}."""
    import docker
    info = docker.from_env().info().get("Swarm") or {}
    return {"active": info.get("LocalNodeState") == "active", "manager": bool(info.get("ControlAvailable")),
            "node": info.get("NodeID", "")}


def require_manager() -> None:
    state = swarm_state()
    if not state["active"]:
        raise LabError("--engine swarm: this engine is not in a swarm; `docker swarm init` makes a one-node "
                       "swarm (docs/swarm.md says how to join a room of machines)")
    if not state["manager"]:
        raise LabError("--engine swarm: this node is a worker; start labs from a manager node (docs/swarm.md)")


class SwarmLab(Lab):
    engine = "swarm"

    def __init__(self, *args, reservation: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.reservation = reservation or DEFAULT_RESERVATION
        self.node: str | None = None
        self._rendered: dict | None = None
        self._relayed: list | None = None

    # -- the configuration -------------------------------------------------------------
    @property
    def rendered(self) -> dict:
        """The lab's compose files as the compose tool renders them with this lab's variables."""
        if self._rendered is None:
            self._rendered = yaml.safe_load(super().compose("config").stdout)
        return self._rendered

    def compose(self, *args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
        raise LabError(f"lab {self.name} runs on Swarm: `compose {' '.join(args)}` has no Swarm form here "
                       "(the flooding experiment's one-shot attacker runs only on the local engine)")

    # -- up and down -------------------------------------------------------------------
    def up(self, services: tuple[str, ...] = ()) -> "SwarmLab":
        require_manager()
        reap_orphans()
        remove_lab(self.name)
        (self.run_dir / "attacker" / "xml").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "users").mkdir(exist_ok=True)
        try:
            self._make_secrets()
            self.start(services)
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        remove_lab(self.name)   # the stack first (remove_stack), then whatever else is labelled

    def start(self, services: tuple[str, ...] = ()) -> None:
        rendered = self.rendered
        running = self._services()
        if self.node is None and stack.ANCHOR in running:   # deployed by an earlier SwarmLab of this name
            self.node = self._wait_running(stack.ANCHOR)
        for layer in stack.start_order(rendered, services):
            layer = [s for s in layer if s not in running]
            if self.node is None and stack.ANCHOR in layer:
                self._deploy([stack.ANCHOR])
                self.node = self._wait_running(stack.ANCHOR)
                layer.remove(stack.ANCHOR)
            if self.node is None:
                raise LabError(f"lab {self.name}: {layer} cannot be placed before the {stack.ANCHOR}")
            if layer:
                self._deploy(layer)
                for name in layer:
                    self._wait_running(name)
        self._relay()

    def stop(self, service: str, timeout: int = 60) -> None:
        """Stop the service's container as compose stop would (its grace period); it is not restarted."""
        c = self.container(service)
        if c is not None and c.status == "running":
            c.stop(timeout=timeout)

    def logs(self, service: str) -> str:
        result = subprocess.run(["docker", "service", "logs", "--raw", "--no-task-ids", f"{self.name}_{service}"],
                                capture_output=True, text=True)
        return result.stdout + result.stderr

    # -- the parts ---------------------------------------------------------------------
    def _make_secrets(self) -> None:
        import docker
        client = docker.from_env()
        for var, value in stack.secret_values(self.rendered).items():
            client.secrets.create(name=stack.secret_name(self.name, var), data=value.encode(),
                                  labels={labels.OWNER: labels.OWNER_VALUE, labels.LAB: self.name})

    def _deploy(self, services: list[str]) -> None:
        spec = stack.translate(self.rendered, self.name, services, self.node, self.reservation)
        result = subprocess.run(["docker", "stack", "deploy", "--resolve-image", "never", "-c", "-", self.name],
                                input=yaml.safe_dump(spec, sort_keys=False), capture_output=True, text=True)
        if result.returncode != 0:
            raise LabError(f"lab {self.name}: docker stack deploy of {', '.join(services)} failed:\n"
                           f"{result.stderr or result.stdout}")

    def _services(self) -> dict:
        import docker
        return {s.name.removeprefix(f"{self.name}_"): s
                for s in docker.from_env().services.list(filters={"label": f"{STACK_LABEL}={self.name}"})}

    def _wait_running(self, service: str) -> str:
        """Wait until the service's task runs; its node's id. A task that failed is an error at once."""
        def running():
            s = self._services().get(service)
            tasks = s.tasks() if s else []
            for task in tasks:
                state, message = task["Status"]["State"], task["Status"].get("Err") or task["Status"].get("Message", "")
                if state == "running":
                    return task["NodeID"]
                if state in ("failed", "rejected", "complete", "shutdown", "orphaned"):
                    raise LabError(f"lab {self.name}: service {service}'s task {state}: {message}")
            reason = tasks[0]["Status"].get("Err") or tasks[0]["Status"].get("Message") if tasks else "no task yet"
            raise NotYet(f"{service} not running yet ({reason})")
        try:
            return wait_for(Condition(running, f"{self.name}: {service} running", logs=lambda: self.logs(service)[-1500:]),
                            PLACE_S, 0.2)
        except Timeout as exc:
            raise LabError(f"lab {self.name}: {exc}") from None

    def _relay(self) -> None:
        """(Re)make the relay when the deployed services publish other ports than it relays."""
        deployed = set(self._services())
        wanted = [p for p in stack.published_ports(self.rendered) if p.service in deployed]
        if wanted == self._relayed:
            return
        import docker
        client = docker.from_env()
        for c in client.containers.list(all=True, filters={"label": [f"{labels.LAB}={self.name}", f"{labels.ROLE}=relay"]}):
            c.remove(force=True)
        self._relayed = wanted
        if not wanted:
            return
        networks = {p.service: self._reach_network(p.service) for p in wanted}
        conf = relay_conf([(RELAY_FIRST_PORT + i, p.service, p.target) for i, p in enumerate(wanted)])
        relay = client.containers.create(
            "mtdlab/lab:latest", ["sh", "-c", 'printf "%s" "$RELAY_CONF" > /tmp/relay.conf && '
                                             'exec nginx -c /tmp/relay.conf -g "daemon off;"'],
            name=f"{self.name}-relay", environment={"RELAY_CONF": conf}, user="10001",
            ports={f"{RELAY_FIRST_PORT + i}/tcp": (p.host_ip, p.host_port) for i, p in enumerate(wanted)},
            labels={labels.OWNER: labels.OWNER_VALUE, labels.LAB: self.name, labels.ROLE: "relay",
                    labels.OWNER_PROCESS: self.env.get(labels.OWNER_PROCESS_ENV, "")},
            cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True, mem_limit="32m", pids_limit=16,
            tmpfs={"/tmp": "size=8m,mode=1777", "/run": "size=1m", "/var/lib/nginx": "size=8m,mode=1777"},
            log_config={"type": "json-file", "config": {"max-size": "1m", "max-file": "3"}})
        for network in sorted(set(networks.values())):
            client.networks.get(network).connect(relay)
        relay.start()
        first = wanted[0]
        try:
            wait_for(PortOpen("127.0.0.1" if first.host_ip == "0.0.0.0" else first.host_ip, first.host_port), 30)
        except Timeout as exc:
            raise LabError(f"lab {self.name}: the relay does not listen: {exc}; {relay.logs().decode()[-800:]}") from None

    def _reach_network(self, service: str) -> str:
        """The stack network the relay reaches a service on: one that is not internal, if it has one."""
        nets = list((self.rendered["services"][service].get("networks") or {}))
        defs = self.rendered.get("networks") or {}
        nets.sort(key=lambda n: bool((defs.get(n) or {}).get("internal")))
        return f"{self.name}_{nets[0]}"

    def address_on(self, service: str, network: str) -> str:
        """The address of the service's running task on one of the lab's networks (on any node)."""
        import docker
        net_id = docker.from_env().networks.get(network).id
        for task in self._services()[service].tasks(filters={"desired-state": "running"}):
            for attachment in task.get("NetworksAttachments", []):
                if attachment["Network"]["ID"] == net_id and attachment.get("Addresses"):
                    return attachment["Addresses"][0].split("/")[0]
        raise LabError(f"lab {self.name}: {service} has no address on {network}")


def relay_conf(routes: list[tuple[int, str, int]]) -> str:
    """nginx stream relay: each (listen port, service, its port); the service's name is its stack alias."""
    servers = "\n".join(f"    server {{ listen {listen}; proxy_pass {service}:{port}; proxy_connect_timeout 5s; "
                        f"proxy_timeout 12h; }}" for listen, service, port in routes)
    return ("# The lab's relay (mtdlab/host/swarm.py): the ports compose would publish, on the starting machine.\n"
            "worker_processes 1;\npid /tmp/nginx.pid;\nerror_log stderr notice;\n"
            "include /etc/nginx/modules-enabled/*.conf;\nevents { worker_connections 1024; }\n"
            f"stream {{\n{servers}\n}}\n")


def capacity(cpus: float) -> int:
    """How many labs reserving `cpus` cores each the swarm's ready, active nodes take at once."""
    import docker
    step = int(cpus * 1e9)
    return sum(n.attrs["Description"]["Resources"]["NanoCPUs"] // step for n in docker.from_env().nodes.list()
               if n.attrs["Status"]["State"] == "ready" and n.attrs["Spec"]["Availability"] == "active")


def stacks(prefix: str = "") -> list[str]:
    """Names of the stacks (labs) on this swarm that start with prefix; none where this is no manager."""
    import docker
    try:
        services = docker.from_env().services.list(filters={"label": STACK_LABEL})
    except docker.errors.APIError:
        return []
    return sorted({n for s in services if (n := s.attrs["Spec"]["Labels"].get(STACK_LABEL, "")).startswith(prefix) and n})


def remove_stack(name: str) -> dict[str, int]:
    """Remove lab `name`'s stack: the controller first, gracefully (it removes its instances), then
    every service; once their containers are gone, the relay, networks, volumes and secrets."""
    import docker
    client = docker.from_env()
    removed = {"services": 0, "networks": 0, "secrets": 0}
    try:
        services = client.services.list(filters={"label": f"{STACK_LABEL}={name}"})
    except docker.errors.APIError:   # not a swarm manager: nothing of a stack here
        return removed
    for c in client.containers.list(filters={"label": [f"{labels.COMPOSE_PROJECT}={name}",
                                                       f"{labels.COMPOSE_SERVICE}=controller"]}):
        c.stop(timeout=60)
    for s in services:
        try:
            s.remove()
            removed["services"] += 1
        except docker.errors.NotFound:
            pass
    try:
        # The low-level list: the high-level one inspects each container and fails on one just removed.
        wait_for(Condition(lambda: not client.api.containers(all=True, filters={"label": f"{STACK_LABEL}={name}"}),
                           f"stack {name}'s containers gone"), REMOVE_S, 0.5)
    except Timeout:
        pass   # remove_lab forces what is left
    for c in client.api.containers(all=True, filters={"label": f"{labels.LAB}={name}"}):
        try:
            client.api.remove_container(c["Id"], force=True)
        except docker.errors.NotFound:
            pass
    removed["networks"] = len(client.networks.list(filters={"label": f"{STACK_LABEL}={name}"}))
    try:
        wait_for(Condition(lambda: _networks_gone(client, name), f"stack {name}'s networks gone"), REMOVE_S, 0.5)
    except Timeout as exc:
        raise LabError(f"lab {name}: {exc}") from None
    for s in client.secrets.list(filters={"label": f"{labels.LAB}={name}"}):
        s.remove()
        removed["secrets"] += 1
    return removed


def _networks_gone(client, name: str) -> bool:
    """Remove the stack's networks; NotYet while any is still listed (the engine detaches a removed
    task's endpoint, and forgets a removed overlay on this node, a moment later)."""
    import docker
    left = client.networks.list(filters={"label": f"{STACK_LABEL}={name}"})
    for network in left:
        try:
            detach_all(network)
            network.remove()
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            raise NotYet(str(exc)) from None
    if left:
        raise NotYet(f"{len(left)} network(s) still listed")
    return True


def lab_health(name: str) -> dict:
    """Whether lab `name`'s stack is whole: its node, and if it is lost, why (node down, task gone)."""
    import docker
    client = docker.from_env()
    services = client.services.list(filters={"label": f"{STACK_LABEL}={name}"})
    if not services:
        return {"node": None, "lost": True, "reason": "no stack"}
    nodes = {n.id: n for n in client.nodes.list()}
    node, problems = None, []
    for s in services:
        tasks = s.tasks(filters={"desired-state": "running"}) or s.tasks()
        short = s.name.removeprefix(f"{name}_")
        if not tasks:
            problems.append(f"{short}: no task")
            continue
        task = tasks[0]
        node = node or task.get("NodeID")
        n = nodes.get(task.get("NodeID"))
        if n is not None and n.attrs["Status"]["State"] != "ready":
            problems.append(f"node {n.attrs['Description']['Hostname']} is {n.attrs['Status']['State']}")
        elif task["Status"]["State"] != "running" and short not in ("attacker", "users"):
            problems.append(f"{short}: {task['Status']['State']}")
    hostname = nodes[node].attrs["Description"]["Hostname"] if node in nodes else None
    return {"node": hostname, "lost": bool(problems), "reason": "; ".join(sorted(set(problems)))}



@contextmanager
def one_node_swarm(say=lambda message: None):
    """A swarm for the tests and benchmarks: this engine's own if it is in one already (left as
    it is), else a one-node swarm made here and left again afterwards (the machine as it was)."""
    if swarm_state()["active"]:
        yield False
        return
    import docker
    say("swarm: making a one-node swarm (docker swarm init); it is left again afterwards")
    had_bridge = bool(docker.from_env().networks.list(names=["docker_gwbridge"]))
    made = subprocess.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"], capture_output=True, text=True)
    if made.returncode != 0:
        raise LabError(f"docker swarm init failed: {made.stderr.strip()}")
    try:
        yield True
    finally:
        subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True)
        if not had_bridge:   # the bridge `swarm init` made outlives the swarm: not the machine as it was
            subprocess.run(["docker", "network", "rm", "docker_gwbridge"], capture_output=True)
        say("swarm: left the one-node swarm")
