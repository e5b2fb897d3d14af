"""Typed access to a scenario's YAML nodes, remembering where each came from, so every error
says file:line: key: what was expected (ScenarioError). Numbers are checked against
mtdlab.contract.limits. Used by the scenario core and by the experiments' sections."""
from __future__ import annotations

import re
from typing import Optional

import yaml

from mtdlab.contract.limits import LIMITS
from mtdlab.contract.yamlsafe import YamlError, plain


PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


class ScenarioError(YamlError):
    """Bad scenario input: file, line, key and what was expected."""

    def __init__(self, file: str, line: int, key: str, expected: str):
        super().__init__(file, line, f"{key}: {expected}" if key else expected)
        self.key, self.expected = key, expected


class Reader:
    """Typed access to one mapping node, remembering where it is for error messages."""

    def __init__(self, node: yaml.Node, key: str, file: str):
        self.file, self.key, self.node = file, key, node
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, key, "expected a mapping of keys")
        self.items = {k.value: (k, v) for k, v in node.value}

    def path(self, name: str) -> str:
        if not PLAIN_KEY.fullmatch(str(name)):
            name = repr(name)   # a key with blanks, newlines or odd characters: shown quoted, on one line
        return f"{self.key}.{name}" if self.key else name

    def fail(self, node: yaml.Node, key: str, expected: str):
        raise ScenarioError(self.file, node.start_mark.line + 1, key, expected)

    def only(self, *allowed: str) -> None:
        for name, (knode, _) in self.items.items():
            if name not in allowed:
                self.fail(knode, self.path(name), "unknown key; expected one of " + ", ".join(allowed))

    def has(self, name: str) -> bool:
        return name in self.items and plain_or_node(self.items[name][1]) is not None

    def node_of(self, name: str, required: bool = True) -> Optional[yaml.Node]:
        if name not in self.items:
            if required:
                self.fail(self.node, self.path(name), "missing; this key is required")
            return None
        return self.items[name][1]

    def scalar(self, name: str, kinds: tuple, expected: str, default=None, required=False):
        node = self.node_of(name, required)
        if node is None:
            return default
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, self.path(name), expected)
        value = plain(node)
        if value is None and not required:
            return default
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            self.fail(node, self.path(name), f"{expected}, got {value!r}")
        return value

    def bounded(self, name: str, limit: str, default=None, required=False):
        """A number within its limit in mtdlab.contract.limits (finite, in range; whole where it must be)."""
        value = self.scalar(name, (int, float), "expected a number", default, required)
        if value is None:
            return None
        problem = LIMITS[limit].check(value)
        if problem:
            self.fail(self.items[name][1] if name in self.items else self.node, self.path(name), problem)
        return int(value) if LIMITS[limit].whole else float(value)

    def child(self, name: str, required: bool = True) -> Optional["Reader"]:
        node = self.node_of(name, required)
        if node is None or (isinstance(node, yaml.ScalarNode) and plain(node) is None and not required):
            return None
        return Reader(node, self.path(name), self.file)


def plain_or_node(node: yaml.Node):
    return plain(node) if isinstance(node, yaml.ScalarNode) else node


def parse_ranges(r: Reader, name: str, node: yaml.Node) -> tuple[tuple[int, int], ...]:
    """Ranges written as a list of "lo-hi" / port items, or one comma-separated string."""
    key = r.path(name)
    if isinstance(node, yaml.ScalarNode) and isinstance(plain(node), (str, int)) and not isinstance(plain(node), bool):
        items = [(node, part) for part in str(plain(node)).split(",")]
    elif isinstance(node, yaml.SequenceNode):
        items = [(n, plain(n) if isinstance(n, yaml.ScalarNode) else None) for n in node.value]
    else:
        r.fail(node, key, 'expected port ranges such as ["9001-9099", 9500]')
    ranges = []
    for n, text in items:
        m = RANGE.match(str(text)) if isinstance(text, (str, int)) and not isinstance(text, bool) else None
        if not m:
            r.fail(n, key, f'expected a port or a range "lo-hi", got {text!r}')
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if not (1 <= lo <= 65535 and 1 <= hi <= 65535):
            r.fail(n, key, f"expected ports from 1 to 65535, got {text!r}")
        if lo > hi:
            r.fail(n, key, f"expected the range's low end first, got {text!r}")
        for plo, phi in ranges:
            if lo <= phi and plo <= hi:
                r.fail(n, key, f"range {text!r} overlaps range {plo}-{phi}")
        ranges.append((lo, hi))
    if not ranges:
        r.fail(node, key, "expected at least one port range")
    return tuple(ranges)
