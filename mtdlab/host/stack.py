"""A lab's compose configuration as a Docker Swarm stack (`--engine swarm`; docs/swarm.md).

A lab is defined once, in compose.yaml (plus compose.class.yaml for a team). The compose tool
renders it (interpolation, merging: `config`); this module turns the rendering into what
`docker stack deploy` takes, so a lab on Swarm has the same containers, users, capabilities,
limits, networks and volumes. Pure data in, data out: tested without an engine. What differs:

- networks are overlay networks, internal where the local ones are, and attachable (the lab's
  relay and the class's scoreboard join them); bridge options and the class's subnets are
  dropped: Swarm takes overlay subnets from its own pool;
- no service publishes a port (a Swarm-published port is open on every address of a node); the
  lab's relay (mtdlab/host/swarm.py) publishes the same ports on the same addresses, on the
  machine that started the lab. `published_ports` says which;
- keys leave the environment: each non-empty key variable becomes a Swarm secret (owner-only,
  for the container's user) that the program reads at start (mtdlab.contract.keys.env_from_secrets);
- the anchor service (the target) carries the lab's reservation and is placed by the Swarm's
  scheduler; every other service is pinned to the node it landed on;
- tmpfs becomes tmpfs mounts, mem_limit / pids_limit deploy limits, and no task is restarted
  (a lab is never restarted behind its truth log's back: a lost lab is reported and healed);
- each container carries the project and service labels compose would give it, so every lookup
  by label (the controller's, remove_lab's, the tests') works unchanged;
- no-new-privileges cannot be set on a Swarm service by this engine (API 1.41): dropped; the lab
  image holds no setuid or setgid program (a test checks), so the flag would change nothing there.
"""
from __future__ import annotations

from dataclasses import dataclass

from mtdlab.contract import keys, labels

STACK_VERSION = "3.9"   # the first with deploy.resources.limits.pids
ANCHOR = "target"
SECRET_ENV = tuple(k.env for k in keys.KINDS) + ("MTDLAB_WORKSTATION_PASSWORD_HASH",)
SECRETS_DIR = "/run/secrets"
# What a service may keep of its compose definition as it is; the rest is translated below or dropped.
KEPT = ("image", "command", "user", "cap_add", "cap_drop", "read_only", "logging", "stop_grace_period",
        "hostname", "entrypoint", "working_dir")
# Dropped: security_opt (below), build (images are built locally), depends_on (start_order),
# ports (the relay), container_name (Swarm names its tasks).

class StackError(ValueError):
    pass


@dataclass(frozen=True)
class Published:
    """A port compose would publish: host address and port, the service and its port inside."""
    service: str
    host_ip: str
    host_port: int
    target: int


def published_ports(rendered: dict) -> list[Published]:
    """Every port the rendered compose configuration publishes (short or long syntax)."""
    out = []
    for name, service in sorted(rendered.get("services", {}).items()):
        for port in service.get("ports", []) or []:
            if isinstance(port, dict):
                host_ip, published, target = port.get("host_ip", "0.0.0.0"), port.get("published"), port["target"]
            else:
                spec = str(port).split("/")[0]
                parts = spec.rsplit(":", 2)
                if len(parts) == 3:
                    host_ip, published, target = parts
                elif len(parts) == 2:
                    host_ip, (published, target) = "0.0.0.0", parts
                else:
                    raise StackError(f"service {name}: port {port!r} publishes no host port")
            if published in (None, ""):
                raise StackError(f"service {name}: port {port!r} publishes no host port")
            out.append(Published(name, str(host_ip or "0.0.0.0"), int(published), int(target)))
    return out


def start_order(rendered: dict, wanted: tuple[str, ...] = ()) -> list[list[str]]:
    """The services to start (wanted and what they depend on, or all), in layers: each after the
    ones it depends on, as `compose up` starts them."""
    services = rendered.get("services", {})
    unknown = sorted(set(wanted) - set(services))
    if unknown:
        raise StackError(f"no such service in the lab: {', '.join(unknown)}")
    todo, closure = list(wanted) or sorted(services), set()
    while todo:
        name = todo.pop()
        if name not in closure:
            closure.add(name)
            todo.extend(services[name].get("depends_on") or ())
    wanted = tuple(sorted(closure))
    deps = {n: set(services[n].get("depends_on") or ()) & set(wanted) for n in wanted}
    layers, done = [], set()
    while len(done) < len(wanted):
        layer = sorted(n for n in wanted if n not in done and deps[n] <= done)
        if not layer:
            raise StackError(f"services depend on each other in a circle: {sorted(set(wanted) - done)}")
        layers.append(layer)
        done |= set(layer)
    return layers


def secret_name(lab: str, env: str) -> str:
    return f"{lab}_{env.lower()}"


def secret_values(rendered: dict) -> dict[str, str]:
    """Every non-empty key variable of any service, by variable name (one value per name). The
    rendering writes a `$` as `$$` (so that it reads back the same); a secret is the value itself."""
    found: dict[str, str] = {}
    for name, service in rendered.get("services", {}).items():
        for var, value in _environment(service).items():
            value = value.replace("$$", "$")
            if var in SECRET_ENV and value:
                if found.get(var, value) != value:
                    raise StackError(f"{var} differs between services")
                found[var] = value
    return found


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def _tmpfs(entry: str) -> dict:
    path, _, options = entry.partition(":")
    mount = {"type": "tmpfs", "target": path}
    tmpfs = {}
    for option in filter(None, options.split(",")):
        key, _, value = option.partition("=")
        if key == "size":
            tmpfs["size"] = _bytes(value)
        # mode, uid, gid: Swarm's tmpfs mounts (API 1.41) take a size and nothing else; they are
        # made 1777, which the lab's tmpfs already are but for a workstation home (docs/swarm.md).
    if tmpfs:
        mount["tmpfs"] = tmpfs
    return mount


def _bytes(text: str) -> int:
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    text = text.strip().lower()
    return int(text[:-1]) * units[text[-1]] if text and text[-1] in units else int(text)


def _volume(entry) -> dict:
    if isinstance(entry, dict):
        mount = {k: entry[k] for k in ("type", "source", "target", "read_only") if k in entry}
        return mount
    parts = str(entry).split(":")
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) > 2 else "rw"
    kind = "bind" if source.startswith("/") or source.startswith(".") else "volume"
    return {"type": kind, "source": source, "target": target, "read_only": "ro" in mode.split(",")}


def translate(rendered: dict, lab: str, services: list[str], node: str | None,
              reservation: dict | None = None, secret_owner: dict[str, tuple[str, str]] | None = None) -> dict:
    """The stack file deploying `services` of lab `lab` (a rendered compose configuration).

    node: the node id every service but the anchor is pinned to (None: the anchor alone is being
    placed). reservation: the lab's {"cpus": float, "memory": bytes}, carried by the anchor.
    secret_owner: per service, the uid/gid its secrets belong to (default its user).
    """
    secrets_used: dict[str, dict] = {}
    out_services = {}
    for name in services:
        src = rendered["services"][name]
        svc = {k: src[k] for k in KEPT if k in src}
        env = _environment(src)
        mine = {var: value for var, value in env.items() if var in SECRET_ENV and value}
        svc["environment"] = {var: value for var, value in env.items() if var not in mine}
        svc["labels"] = {**(src.get("labels") or {}), labels.COMPOSE_PROJECT: lab, labels.COMPOSE_SERVICE: name}
        svc["networks"] = {net: {"aliases": [name]} for net in (src.get("networks") or {})}
        mounts = [_tmpfs(t) for t in (src.get("tmpfs") or [])] + [_volume(v) for v in (src.get("volumes") or [])]
        if mounts:
            svc["volumes"] = mounts
        uid, gid = (secret_owner or {}).get(name) or _user(src.get("user"))
        if mine:
            svc["secrets"] = [{"source": secret_name(lab, var), "target": var, "uid": uid, "gid": gid, "mode": 0o400}
                              for var in sorted(mine)]
            for var in mine:
                secrets_used[secret_name(lab, var)] = {"external": True}
            svc["environment"]["MTDLAB_SECRETS"] = SECRETS_DIR
        limits = {}
        if "mem_limit" in src:
            limits["memory"] = str(src["mem_limit"])
        if "pids_limit" in src:
            limits["pids"] = int(src["pids_limit"])
        # dnsrr: a service's name resolves to its container's own address, as locally (an attacker
        # scanning `target` must meet the target, not a virtual address in front of it).
        deploy = {"endpoint_mode": "dnsrr", "restart_policy": {"condition": "none"}, "labels": {labels.OWNER: labels.OWNER_VALUE, labels.LAB: lab}}
        resources = {"limits": limits} if limits else {}
        if name == ANCHOR and reservation:
            resources["reservations"] = {"cpus": str(reservation["cpus"]), "memory": str(int(reservation["memory"]))}
        if resources:
            deploy["resources"] = resources
        if node and name != ANCHOR:
            deploy["placement"] = {"constraints": [f"node.id == {node}"]}
        svc["deploy"] = deploy
        out_services[name] = svc
    used_networks = {n for s in out_services.values() for n in s["networks"]}
    networks = {}
    for net in sorted(used_networks):
        src = (rendered.get("networks") or {}).get(net) or {}
        networks[net] = {"driver": "overlay", "attachable": True, "internal": bool(src.get("internal")),
                         "labels": {**(src.get("labels") or {}), labels.LAB: lab}}
    used_volumes = {m["source"] for s in out_services.values() for m in s.get("volumes", []) if m["type"] == "volume"}
    volumes = {}
    for v in sorted(used_volumes):
        src = (rendered.get("volumes") or {}).get(v) or {}
        volumes[v] = {"labels": {**src.get("labels", {}), labels.COMPOSE_PROJECT: lab, labels.LAB: lab},
                      # a volume in memory (http-sockets) is made so on the node too
                      **({"driver_opts": src["driver_opts"]} if src.get("driver_opts") else {})}
    stack = {"version": STACK_VERSION, "services": out_services, "networks": networks}
    if volumes:
        stack["volumes"] = volumes
    if secrets_used:
        stack["secrets"] = secrets_used
    return stack


def _user(user) -> tuple[str, str]:
    uid, _, gid = str(user or "0").partition(":")
    return uid or "0", gid or uid or "0"
