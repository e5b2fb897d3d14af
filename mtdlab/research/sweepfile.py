"""A sweep file: a base scenario and a grid over its values, validated once into a Sweep whose
runs (points x repetitions) each have a complete, valid scenario text.

    name: hop-mean
    base: ../scenarios/fast-exponential.yaml      # relative to the sweep file
    duration_s: 120                               # each run (default: the base's duration_s)
    repetitions: 3                                # runs per point, seeds seed, seed+1, ...
    seed: 1                                       # default: the base's seed
    vary:                                         # every combination of the values
      target.services[*].hop.interval.mean_s: [1, 2, 5, 10, 30]

A path names a scenario value: dotted keys, a list item by index ([0]), by its name ([web]) or
every item ([*]). A value may be a mapping (a whole interval law, say). Every run's scenario is
checked by the scenario validator before anything starts; an error names the sweep file's line
of the value that made it. docs/sweeps.md documents the format.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from mtdlab.contract.limits import LIMITS
from mtdlab.contract.reader import Reader, ScenarioError
from mtdlab.contract.scenario import MAX_FILE_BYTES, NAME
from mtdlab.contract.yamlsafe import YamlError, decode, load_nodes, plain

STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[[^\]]+\])*)")
INDEX = re.compile(r"\[([^\]]+)\]")
SAFE_PATH = re.compile(r"[A-Za-z0-9_.\[\]*-]+")   # shown as written in errors; anything else quoted


@dataclass(frozen=True)
class Axis:
    path: str
    values: tuple          # plain data (numbers, text, mappings)
    lines: tuple[int, ...]  # where each value is written, for errors


@dataclass(frozen=True)
class RunPlan:
    """One run of the sweep: point `point` (its parameters), repetition `rep`, its seed."""
    point: int
    rep: int
    seed: int
    params: tuple[tuple[str, object], ...]
    scenario_text: str

    @property
    def id(self) -> str:
        return f"p{self.point:02d}-r{self.rep}"


@dataclass(frozen=True)
class Sweep:
    name: str
    file: str
    source: str
    base_file: str
    duration_s: float | None
    repetitions: int
    axes: tuple[Axis, ...]
    runs: tuple[RunPlan, ...]

    @property
    def points(self) -> int:
        return len({r.point for r in self.runs})

    @property
    def digest(self) -> str:
        """What a resumed sweep must match: the sweep file and every run's scenario."""
        h = hashlib.sha256(self.source.encode())
        for r in self.runs:
            h.update(r.scenario_text.encode())
        return h.hexdigest()[:16]


def load_sweep(path: str | Path) -> Sweep:
    from mtdlab.experiments import load_scenario, parse_scenario
    path = Path(path)
    try:
        data = path.read_bytes()[:MAX_FILE_BYTES + 1]
        text = decode(data, str(path))
        nodes = load_nodes(text, str(path))
    except OSError as exc:
        raise ScenarioError(str(path), 0, "", f"cannot read the sweep file: {exc.strerror}") from None
    except YamlError as exc:
        raise ScenarioError(exc.file, exc.line, "", exc.message) from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(str(path), 0, "", f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")
    r = Reader(nodes, "", str(path))
    r.only("name", "description", "base", "duration_s", "repetitions", "seed", "vary")
    name = r.scalar("name", (str,), "expected a name of lowercase letters, digits and '-'", required=True)
    if not NAME.fullmatch(name):
        r.fail(r.items["name"][1], "name", f"expected lowercase letters, digits and '-' (starting with a letter), got {name!r}")
    r.scalar("description", (str,), "expected text")
    base_name = r.scalar("base", (str,), "expected the base scenario's file, relative to this one", required=True)
    base_file = (path.parent / base_name)
    if not base_file.is_file():
        r.fail(r.items["base"][1], "base", f"expected a scenario file; {base_name} (relative to this file) does not exist")
    base = load_scenario(base_file)          # its own errors name its own file and line
    base_data = yaml.safe_load(base.source)
    duration = r.bounded("duration_s", "duration_s")
    reps = r.bounded("repetitions", "sweep.repetitions", default=1)
    seed = r.bounded("seed", "seed", default=base.seed)
    axes = _axes(r, base_data)
    grid = list(itertools.product(*[range(len(a.values)) for a in axes]))
    total = len(grid) * reps
    if problem := LIMITS["sweep.runs"].check(total):
        r.fail(r.node_of("vary"), "vary", f"{len(grid)} points x {reps} repetitions: {problem}")
    runs = []
    for point, choice in enumerate(grid):
        data = copy.deepcopy(base_data)
        params = []
        for axis, i in zip(axes, choice):
            _set(data, axis.path, axis.values[i])
            params.append((axis.path, axis.values[i]))
        for rep in range(reps):
            data["seed"] = seed + rep
            label = ", ".join(f"{p} = {show_value(v)}" for p, v in params)
            run_text = (f"# sweep {name}, point {point} ({label}), repetition {rep}; made from {base_name}\n"
                    + yaml.safe_dump(data, sort_keys=False, default_flow_style=None))
            try:
                parse_scenario(run_text, f"{path} point {point}")
            except ScenarioError as exc:
                where = max((a.lines[i] for a, i in zip(axes, choice)), default=0)
                raise ScenarioError(str(path), where, "vary",
                                    f"point {point} ({label}) makes an invalid scenario: {exc.key}: {exc.expected}") from None
            runs.append(RunPlan(point, rep, seed + rep, tuple(params), run_text))
    return Sweep(name, str(path), text, str(base_file), duration, reps, tuple(axes), tuple(runs))


def _axes(r: Reader, base_data: dict) -> list[Axis]:
    node = r.node_of("vary", required=False)
    if node is None:
        return []
    vary = Reader(node, "vary", r.file)
    axes = []
    for key, (knode, vnode) in vary.items.items():
        where = f"vary.{key}" if SAFE_PATH.fullmatch(key) else f"vary.{key!r}"
        if not isinstance(vnode, yaml.SequenceNode) or not vnode.value:
            vary.fail(vnode, where, "expected a non-empty list of values")
        try:
            targets = _resolve(base_data, key)
        except KeyError as exc:
            vary.fail(knode, where, f"the base scenario has no value at this path ({exc.args[0]})")
        if not targets:
            vary.fail(knode, where, "the path names no value of the base scenario")
        values = tuple(_data(v) for v in vnode.value)
        axes.append(Axis(key, values, tuple(v.start_mark.line + 1 for v in vnode.value)))
    return axes


def _steps(path: str) -> list:
    """'target.services[*].hop.mean_s' -> ['target', 'services', '*', 'hop', 'mean_s']."""
    out = []
    for part in path.split("."):
        m = STEP.fullmatch(part)
        if not m:
            raise KeyError(f"cannot read {part!r}: expected key, key[index], key[name] or key[*]")
        out.append(m.group(1))
        out += INDEX.findall(m.group(2))
    return out


def _resolve(data, path: str) -> list[tuple[object, object]]:
    """(container, key) pairs the path names in data. The last key may be new in a mapping
    (a value the base leaves to its default, such as act_delay_s); every other step must exist."""
    steps = _steps(path)
    here = [data]
    for n, step in enumerate(steps):
        last = n == len(steps) - 1
        nxt = []
        for node in here:
            if isinstance(node, list):
                if step == "*":
                    nxt += [(node, i) for i in range(len(node))]
                elif step.isdigit() and int(step) < len(node):
                    nxt.append((node, int(step)))
                else:
                    named = [i for i, item in enumerate(node) if isinstance(item, dict) and item.get("name") == step]
                    if not named:
                        raise KeyError(f"no item {step!r}")
                    nxt.append((node, named[0]))
            elif isinstance(node, dict) and (step in node or last):
                nxt.append((node, step))
            else:
                raise KeyError(f"no key {step!r}")
        if last:
            return nxt
        here = [c[k] for c, k in nxt]
    return []


def _set(data, path: str, value) -> None:
    for container, key in _resolve(data, path):
        container[key] = copy.deepcopy(value)


def _data(node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        return plain(node)
    if isinstance(node, yaml.SequenceNode):
        return [_data(n) for n in node.value]
    return {k.value: _data(v) for k, v in node.value}


def show_value(value) -> str:
    """A grid value as a sweep file writes it: {law: fixed, period_s: 10}."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show_value(v)}" for k, v in value.items()) + "}"
    return f"{value:g}" if isinstance(value, float) else str(value)
