"""The scenario model's core: one YAML file describes a lab (its services, their hop policies
and banners, a SAPP gateway) and the attacker; the experiments' own sections (legit load,
direct clients, SAPP clients, flooding) are parsed by their modules and kept in
Scenario.sections.

mtdlab.experiments.load_scenario() is the way in: it validates everything once, at the edge,
and returns typed, frozen objects. Every error names the file, the line, the key and what
was expected, before anything starts. The format is documented in docs/scenario.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from mtdlab.contract import banners
from mtdlab.contract.attackerplan import AttackerPlan, parse_attacker
from mtdlab.contract.catalog import FRONT_STATUS_PORT, SERVICE_KINDS, SWITCH_STATUS_PORT
from mtdlab.contract.limits import LIMITS
from mtdlab.contract.schedule import IntervalLaw, PortPool
from mtdlab.contract.reader import Reader, ScenarioError, parse_ranges, plain_or_node  # noqa: F401  (ScenarioError: for callers)
from mtdlab.contract.yamlsafe import YamlError, decode, load_nodes, plain

MAX_FILE_BYTES = 256 * 1024   # no scenario comes near it; larger files are refused before parsing


@dataclass(frozen=True)
class HopPolicy:
    interval: IntervalLaw
    pool: PortPool
    # Seconds an old instance may go on serving the connections it holds after its port closed
    # to new ones (kinds that can: web, Redis, SSH); then it is stopped. docs/scenario.md.
    drain_limit_s: float = 30.0
    # Whether the next hop's instance is started and booted ahead, waiting unseen on no port until
    # its hop opens it (controller/standby.py). Off: each hop starts its instance afresh (for comparison).
    standby: bool = True

    @property
    def hops(self) -> bool:
        return self.interval.law != "never"


@dataclass(frozen=True)
class Banner:
    mode: str           # static, static-random, random-random, random-static (seed 000)
    authenticity: str   # common or exotic replacement banners


@dataclass(frozen=True)
class Service:
    name: str
    kind: str
    proxy_port: int
    hop: HopPolicy
    banner: Banner


@dataclass(frozen=True)
class Sapp:
    """Seed 000's one port for all: the target's services listen on its loopback only and a
    gateway on `port` splices connections that open with a valid preamble (mtdlab.contract.sapp)."""
    port: int


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    duration_s: Optional[float]
    services: tuple[Service, ...]
    attacker: Optional[AttackerPlan]
    source: str  # the file as written, kept so a run folder holds the scenario as run
    sapp: Optional[Sapp] = None
    # The experiments' own sections (mtdlab.experiments), by scenario key; None where absent.
    # They read as attributes too: scenario.flood, scenario.direct_client, ...
    sections: dict = field(default_factory=dict)

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def __getattr__(self, name: str):
        sections = self.__dict__.get("sections", {})
        if name in sections:
            return sections[name]
        raise AttributeError(name)


NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def load_scenario(path: str | Path, sections=(), checks=()) -> Scenario:
    """The scenario file at path (see parse_scenario; mtdlab.experiments.load_scenario passes every
    experiment's sections)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)   # bounded: a huge file is refused unread
    except OSError as exc:
        raise ScenarioError(str(path), 0, "", f"cannot read the scenario file: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(str(path), 0, "", f"the file is larger than {MAX_FILE_BYTES // 1024} KiB; "
                                              "expected a scenario file")
    try:
        text = decode(data, str(path))
    except YamlError as exc:
        raise ScenarioError(exc.file, exc.line, "", exc.message) from None
    return parse_scenario(text, str(path), sections, checks)


def parse_scenario(text: str, file: str = "<scenario>", sections=(), checks=()) -> Scenario:
    """The scenario in text. sections: (key, parser) pairs for the experiments' own top-level keys
    (mtdlab.experiments passes every registered one); each parser gets that key's Reader (None if
    absent) and the values read so far. checks: callables (root Reader, scenario) run last."""
    try:
        nodes = load_nodes(text, file)
    except YamlError as exc:
        raise ScenarioError(exc.file, exc.line, "", exc.message) from None
    root = Reader(nodes, "", file)
    root.only("name", "seed", "duration_s", "target", "attacker", *(key for key, _ in sections), "description")
    name = root.scalar("name", (str,), "expected a name of lowercase letters, digits and '-'", required=True)
    if not NAME.fullmatch(name):
        root.fail(root.items["name"][1], "name", f"expected lowercase letters, digits and '-' (starting with a letter, at most 31), got {name!r}")
    root.scalar("description", (str,), "expected text")
    seed = root.bounded("seed", "seed", required=True)
    duration = root.bounded("duration_s", "duration_s")
    target = root.child("target")
    services = _services(target)
    sapp = _sapp(target.child("sapp", required=False), services)
    attacker = parse_attacker(root.child("attacker", required=False))
    so_far = {"services": services, "sapp": sapp}
    for key, parse in sections:
        so_far[key] = parse(root.child(key, required=False), so_far)
    scenario = Scenario(name, seed, duration, services, attacker, text, sapp,
                        {key: so_far[key] for key, _ in sections})
    for check in checks:
        check(root, scenario)
    return scenario


def _services(target: Reader) -> tuple[Service, ...]:
    target.only("services", "sapp")
    node = target.node_of("services")
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        target.fail(node, "target.services", "expected a non-empty list of services")
    services, names, proxy_ports = [], {}, {}
    for i, item in enumerate(node.value):
        r = Reader(item, f"target.services[{i}]", target.file)
        r.only("name", "kind", "proxy_port", "hop", "banner")
        name = r.scalar("name", (str,), "expected a service name", required=True)
        if not NAME.fullmatch(name):
            r.fail(r.items["name"][1], r.path("name"), f"expected lowercase letters, digits and '-', got {name!r}")
        if name in names:
            r.fail(r.items["name"][1], r.path("name"), f"service name {name!r} is used twice (also at line {names[name]})")
        names[name] = r.items["name"][1].start_mark.line + 1
        kind = r.scalar("kind", (str,), "expected a service kind", required=True)
        if kind not in SERVICE_KINDS:
            r.fail(r.items["kind"][1], r.path("kind"), f"expected one of {', '.join(SERVICE_KINDS)}, got {kind!r}")
        proxy_port = r.bounded("proxy_port", "port", default=SERVICE_KINDS[kind].proxy_port)
        if proxy_port in (SWITCH_STATUS_PORT, FRONT_STATUS_PORT):
            r.fail(r.items.get("proxy_port", (None, item))[1], r.path("proxy_port"),
                   f"proxy port {proxy_port} is the proxy's own status port; pick another")
        if proxy_port in proxy_ports:
            r.fail(r.items.get("proxy_port", (None, item))[1], r.path("proxy_port"),
                   f"proxy port {proxy_port} is already used by service {proxy_ports[proxy_port]!r}")
        proxy_ports[proxy_port] = name
        hop = _hop(r.child("hop"))
        services.append(Service(name, kind, proxy_port, hop, _banner(r.child("banner", required=False), kind, hop)))
    _check_pools_fit(services, node, target)
    return tuple(services)


def _sapp(r: Optional[Reader], services: tuple[Service, ...]) -> Optional[Sapp]:
    if r is None:
        return None
    r.only("port")
    port = r.bounded("port", "port", required=True)
    for s in services:
        if port in s.hop.pool.ports:
            r.fail(r.items["port"][1], r.path("port"), f"port {port} is in the hop pool of service {s.name!r}; "
                   "expected a port no service can hop to")
    if len(services) > 255:
        r.fail(r.node, r.key, "at most 255 services behind one gateway (the preamble's service code is one byte)")
    return Sapp(port)


def _hop(r: Reader) -> HopPolicy:
    r.only("interval", "pool", "drain_limit_s", "standby")
    return HopPolicy(_interval(r.child("interval")), _pool(r.child("pool")),
                     r.bounded("drain_limit_s", "hop.drain_limit_s", default=HopPolicy.drain_limit_s),
                     r.scalar("standby", (bool,), "expected true or false", default=HopPolicy.standby))


def _banner(r: Optional[Reader], kind: str, hop: HopPolicy) -> Banner:
    """Seed 000's banner mode; without one, the true banner (static or random-static)."""
    if r is None:
        return Banner("random-static" if hop.hops else "static", "common")
    r.only("mode", "authenticity")
    mode = r.scalar("mode", (str,), "expected a banner mode", required=True)
    if mode not in banners.MODES:
        r.fail(r.items["mode"][1], r.path("mode"), f"expected one of {', '.join(banners.MODES)}, got {mode!r}")
    auth = r.scalar("authenticity", (str,), "expected common or exotic", default="common")
    if auth not in banners.AUTHENTICITY:
        r.fail(r.items["authenticity"][1], r.path("authenticity"), f"expected common or exotic, got {auth!r}")
    if banners.hops(mode) != hop.hops:
        r.fail(r.items["mode"][1], r.path("mode"),
               f"mode {mode} {'hops' if banners.hops(mode) else 'keeps its port'}, but the interval law is "
               f"{hop.interval.law}; expected {'a hopping law' if banners.hops(mode) else 'law: never'}")
    if banners.replaces(mode) and SERVICE_KINDS[kind].banner is None:
        why = ("its version string is hashed into the key exchange (RFC 4253 section 8)" if kind == "ssh"
               else "it has no banner; nmap knows it by its replies")
        r.fail(r.items["mode"][1], r.path("mode"), f"a {kind} service cannot show a replacement banner: {why}")
    return Banner(mode, auth)


def _interval(r: Reader) -> IntervalLaw:
    law = r.scalar("law", (str,), "expected an interval law", required=True)
    fields = {"fixed": ("period_s",), "uniform": ("low_s", "high_s"), "exponential": ("mean_s",),
              "choice": ("values_s",), "never": (), "keyed": ("slot_s", "grace_s", "lead_s")}
    if law not in fields:
        r.fail(r.items["law"][1], r.path("law"), f"expected one of {', '.join(fields)}, got {law!r}")
    r.only("law", *fields[law])
    if law == "choice":
        node = r.node_of("values_s")
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            r.fail(node, r.path("values_s"), "expected a non-empty list of intervals in seconds")
        values = []
        for item in node.value:
            v = plain(item) if isinstance(item, yaml.ScalarNode) else None
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                r.fail(item, r.path("values_s"), f"expected intervals > 0 seconds, got {v!r}")
            problem = LIMITS["interval_s"].check(v)
            if problem:
                r.fail(item, r.path("values_s"), problem)
            values.append(float(v))
        return IntervalLaw("choice", values_s=tuple(values))
    if law == "keyed":
        slot = r.bounded("slot_s", "interval_s", required=True)
        grace = r.bounded("grace_s", "keyed.grace_s", default=0.0)
        lead = r.bounded("lead_s", "keyed.lead_s", default=1.0)
        for name, value in (("grace_s", grace), ("lead_s", lead)):
            if value >= slot / 2:
                r.fail(r.items[name][1], r.path(name), f"expected less than half of slot_s ({slot:g}), got {value:g}")
        return IntervalLaw("keyed", period_s=slot, grace_s=grace, lead_s=lead)
    values = {f: r.bounded(f, "interval_s", required=True) for f in fields[law]}
    if law == "uniform" and values["low_s"] >= values["high_s"]:
        r.fail(r.items["high_s"][1], r.path("high_s"), f"expected high_s greater than low_s ({values['low_s']:g})")
    return IntervalLaw(law, **values)


def _pool(r: Reader) -> PortPool:
    r.only("ranges", "exclude", "allow_well_known")
    ranges = parse_ranges(r, "ranges", r.node_of("ranges"))
    exclude_node = r.node_of("exclude", required=False)
    exclude = parse_ranges(r, "exclude", exclude_node) if exclude_node is not None and plain_or_node(exclude_node) not in (None, []) else ()
    allow = r.scalar("allow_well_known", (bool,), "expected true or false", default=False)
    pool = PortPool(ranges, exclude, allow)
    if len(pool) == 0:
        r.fail(r.node, r.key, "the pool holds no port once exclusions"
               + ("" if allow else " and well-known ports (1-1023)") + " are taken out")
    return pool


def _check_pools_fit(services: list[Service], node: yaml.Node, target: Reader) -> None:
    """Each pool must hold a free port for every hop: its own two (old and new, make-before-break)
    plus one for each other service whose pool overlaps it."""
    for i, s in enumerate(services):
        sharing = [o.name for o in services if o is not s and set(o.hop.pool.ports) & set(s.hop.pool.ports)]
        if sharing and (s.hop.interval.law == "keyed" or any(
                o.hop.interval.law == "keyed" for o in services if o.name in sharing)):
            target.fail(node.value[i], f"target.services[{i}].hop.pool",
                        f"overlaps the pool of {', '.join(sharing)}; a keyed service needs a pool of its own "
                        "(its clients compute the port and cannot step around another service)")
        need = (2 if s.hop.hops else 1) + len(sharing)
        if len(s.hop.pool) < need:
            shared = f" (shared with {', '.join(sharing)})" if sharing else ""
            target.fail(node.value[i], f"target.services[{i}].hop.pool",
                        f"pool of {len(s.hop.pool)} port(s){shared} is too small; expected at least {need}")


def parse_interval(text: str, file: str = "<console>") -> IntervalLaw:
    """One interval law given alone (JSON is YAML), as the console receives it."""
    try:
        node = load_nodes(text, file)
    except YamlError as exc:
        raise ScenarioError(exc.file, exc.line, "interval", exc.message) from None
    return _interval(Reader(node, "interval", file))
