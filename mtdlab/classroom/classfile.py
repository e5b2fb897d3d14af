"""A class file (`classes/*.yaml`): the teams of a classroom session and the lab each one gets.

Validated once, like a scenario (file:line: key: what was expected), into a ClassPlan. The
scenarios it names are validated too, before anything starts. Each team's lab runs the
class's scenario, or the one the team's entry names, with a seed of its own (drawn from the
class seed and the team's name), so no team can copy another's schedule, and publishes its
ports from the class's port plan.
"""
from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mtdlab.contract.limits import LIMITS
from mtdlab.contract.reader import Reader, ScenarioError
from mtdlab.contract.scenario import MAX_FILE_BYTES
from mtdlab.contract.yamlsafe import YamlError, decode, load_nodes

TEAM_NAME = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
CLASS_NAME = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
# Each team's published ports: port_base + PORT_STRIDE * team index + the offset of each. Only
# the workstation's SSH is published on the class's bind address (for the students); the rest
# are the instructor's, on 127.0.0.1. The scoreboard is on port_base - 1.
PORT_OFFSETS = {"web": 0, "ssh": 1, "redis": 2, "console": 3, "dashboard": 4, "workstation": 5}
PORT_STRIDE = 10
# Each team's networks are /27s of its own /24 of the class's subnets (compose.class.yaml).
NETWORKS = ("lab", "edge", "mgmt", "api", "range")
DEFAULT_SUBNETS = "10.213.0.0/16"


@dataclass(frozen=True)
class ClassPlan:
    name: str
    file: Path
    scenario: Path | None   # every team's, unless its entry names its own; resolved against the class file's folder
    teams: tuple[str, ...]
    seed: int
    bind: str               # where students connect from; 127.0.0.1 unless the instructor opens it
    port_base: int
    subnets: ipaddress.IPv4Network = ipaddress.IPv4Network(DEFAULT_SUBNETS)
    exercises: tuple[str, ...] = ()     # exercises/ by name; empty: every one the scenario allows
    flag_grace_s: float = 30.0
    scripted_attacker: bool = True      # the lab's own nmap attacker beside the students
    own_scenarios: dict[str, Path] = field(default_factory=dict)   # team -> the scenario its entry names

    def scenario_of(self, team: str) -> Path:
        return self.own_scenarios.get(team) or self.scenario

    @property
    def scenarios(self) -> list[Path]:
        """Every scenario the class's labs run, once each, in team order."""
        return list(dict.fromkeys(self.scenario_of(t) for t in self.teams))

    @property
    def board_subnet(self) -> str:
        """The scoreboard's network: the first /27 of the /24 after the last team's."""
        return f"{ipaddress.IPv4Address(int(self.subnets.network_address) + 256 * len(self.teams))}/27"

    @property
    def scoreboard_port(self) -> int:
        return self.port_base - 1

    def networks(self, team: str) -> dict[str, str]:
        """The team's subnet for each network of its lab: /27s of the team's own /24."""
        block = int(self.subnets.network_address) + 256 * self.teams.index(team)
        return {name: f"{ipaddress.IPv4Address(block + 32 * i)}/27" for i, name in enumerate(NETWORKS)}

    def ports(self, team: str) -> dict[str, int]:
        base = self.port_base + PORT_STRIDE * self.teams.index(team)
        return {kind: base + offset for kind, offset in PORT_OFFSETS.items()}

    def team_seed(self, team: str) -> int:
        """The team lab's scenario seed: from the class seed and the team, never another team's."""
        digest = hashlib.sha256(f"mtdlab-class|{self.seed}|{team}".encode()).digest()
        return int.from_bytes(digest[:7], "big")

    def lab_name(self, team: str) -> str:
        return f"{lab_prefix(self.name)}{team}"


def lab_prefix(class_name: str) -> str:
    """Every lab of a class is a compose project named with this prefix (`class down` finds them by it)."""
    return f"mtdclass-{class_name}-"


def load_class(path: str | Path) -> ClassPlan:
    path = Path(path)
    try:
        data = open(path, "rb").read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(str(path), 0, "", f"cannot read the class file: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(str(path), 0, "", f"the file is larger than {MAX_FILE_BYTES // 1024} KiB; expected a class file")
    try:
        root = Reader(load_nodes(decode(data, str(path)), str(path)), "", str(path))
    except YamlError as exc:
        raise ScenarioError(exc.file, exc.line, "", exc.message) from None
    root.only("name", "description", "scenario", "teams", "seed", "bind", "port_base", "subnets", "exercises",
              "flag_grace_s", "scripted_attacker")
    name = root.scalar("name", (str,), "expected a name of lowercase letters, digits and '-' (at most 16)", required=True)
    if not CLASS_NAME.fullmatch(name):
        root.fail(root.node_of("name"), "name", f"expected a name of lowercase letters, digits and '-' (at most 16), got {name!r}")
    root.scalar("description", (str,), "expected text")
    scenario = _scenario_path(root, path, "scenario")
    teams, own_scenarios = _teams(root, path)
    if scenario is None and len(own_scenarios) < len(teams):
        root.fail(root.node, "scenario", "missing; required unless every team in `teams` names its own scenario")
    seed = root.bounded("seed", "seed", required=True)
    bind = root.scalar("bind", (str,), "expected an IPv4 address to publish the labs on", default="127.0.0.1")
    if not re.fullmatch(r"(\d{1,3})(\.\d{1,3}){3}", bind) or any(int(x) > 255 for x in bind.split(".")):
        root.fail(root.node_of("bind"), "bind", f"expected an IPv4 address such as 127.0.0.1, got {bind!r}")
    port_base = root.bounded("port_base", "port", default=20000)
    if port_base < 1025:
        root.fail(root.node_of("port_base"), "port_base", f"expected a port above 1024 (the scoreboard takes port_base - 1), got {port_base}")
    subnets_text = root.scalar("subnets", (str,), "expected an IPv4 network such as 10.213.0.0/16", default=DEFAULT_SUBNETS)
    try:
        subnets = ipaddress.IPv4Network(subnets_text)
    except ValueError:
        root.fail(root.node_of("subnets"), "subnets", f"expected an IPv4 network such as 10.213.0.0/16, got {subnets_text!r}")
    room = 2 ** (24 - subnets.prefixlen) if subnets.prefixlen <= 24 else 0
    if room < len(teams) + 1:
        root.fail(root.node_of("subnets") or root.node, "subnets",
                  f"expected room for one /24 per team and one for the scoreboard ({len(teams) + 1}); {subnets} has {room}")
    exercises = _exercises(root)
    grace = root.bounded("flag_grace_s", "class.flag_grace_s", default=30.0)
    attacker = root.scalar("scripted_attacker", (bool,), "expected true or false", default=True)
    top = port_base + PORT_STRIDE * len(teams) - 1
    if top > 65535:
        root.fail(root.node_of("port_base") or root.node, "port_base",
                  f"expected room for {len(teams)} teams x {PORT_STRIDE} ports below 65536; the last would be {top}")
    return ClassPlan(name, path, scenario, teams, seed, bind, port_base, subnets, exercises, grace, attacker, own_scenarios)


def _scenario_path(reader: Reader, class_file: Path, key: str) -> Path | None:
    """A scenario file named relative to the class file's folder (checked to exist here; its
    content is validated by class up before anything starts)."""
    text = reader.scalar("scenario", (str,), "expected the path of a scenario file")
    if text is None:
        return None
    scenario = (class_file.parent / text).resolve()
    if not scenario.is_file():
        reader.fail(reader.node_of("scenario"), key, f"expected a scenario file; {scenario} is not one")
    return scenario


def _exercises(root: Reader) -> tuple[str, ...]:
    from exercises import EXERCISES      # the registry (exercises/__init__.py)
    node = root.node_of("exercises", required=False)
    if node is None:
        return ()
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        root.fail(node, "exercises", "expected a list of exercise names: " + ", ".join(EXERCISES))
    names = []
    for item in node.value:
        value = getattr(item, "value", None)
        if value not in EXERCISES:
            root.fail(item, "exercises", f"expected one of {', '.join(EXERCISES)}, got {value!r}")
        if value in names:
            root.fail(item, "exercises", f"exercise {value!r} is named twice")
        names.append(value)
    return tuple(names)


def _teams(root: Reader, class_file: Path) -> tuple[tuple[str, ...], dict[str, Path]]:
    """`teams: 3` (named team-1 ... team-3) or a list of names, where an entry may give its team a
    scenario of its own: `teams: [red, {name: blue, scenario: ../scenarios/sapp.yaml}]`."""
    node = root.node_of("teams")
    limit = LIMITS["class.teams"]
    if isinstance(node, yaml.SequenceNode):
        names, own = [], {}
        for item in node.value:
            scenario = None
            if isinstance(item, yaml.MappingNode):
                entry = Reader(item, "teams", root.file)
                entry.only("name", "scenario")
                value = entry.scalar("name", (str,), "expected a team name", required=True)
                item = entry.node_of("name")
                scenario = _scenario_path(entry, class_file, "teams.scenario")
            else:
                value = getattr(item, "value", None)
            if not isinstance(value, str) or not TEAM_NAME.fullmatch(value):
                root.fail(item, "teams", f"expected team names of lowercase letters, digits and '-' (at most 16), got {value!r}")
            if value in names:
                root.fail(item, "teams", f"team {value!r} is named twice")
            names.append(value)
            if scenario:
                own[value] = scenario
        if problem := limit.check(len(names)):
            root.fail(node, "teams", problem)
        return tuple(names), own
    count = root.bounded("teams", "class.teams", required=True)
    return tuple(f"team-{i}" for i in range(1, count + 1)), {}
