"""Safe YAML reading that keeps line numbers, for error messages that point at the line.

Refuses what a scenario never needs and an attacker could abuse: anchors and aliases
(the 'billion laughs' bomb), duplicate keys (the later one would silently win), tags,
keys that are not names, nesting deeper than a scenario needs, numbers of absurd length,
text that is not UTF-8 or holds control characters. Whatever the bytes, the result is a node
tree or a YamlError naming the file and line: never a traceback.
"""
from __future__ import annotations

import re

import yaml


class YamlError(ValueError):
    def __init__(self, file: str, line: int, message: str):
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.message = file, line, message


MAX_DEPTH = 16            # nested mappings and lists; a scenario needs 6
MAX_NUMBER_DIGITS = 30    # a longer number is no scenario value (and int() of 4,300+ digits raises)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def decode(data: bytes, file: str) -> str:
    """The file's text: UTF-8 only, no control characters (tab, newline, return excepted)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise YamlError(file, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                                    "expected a UTF-8 YAML file") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    bad = CONTROL.search(text)
    if bad:
        raise YamlError(file, text.count("\n", 0, bad.start()) + 1,
                        f"control character {bad.group()!r} in the file; expected plain text")
    return text


def load_nodes(text: str, file: str) -> yaml.Node:
    """The document's node tree (each node knows its line), checked for unsafe constructs."""
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise YamlError(file, event.start_mark.line + 1,
                                "YAML anchors and aliases are not allowed in scenario files")
            if _explicit_tag(event):
                raise YamlError(file, event.start_mark.line + 1,
                                f"YAML tags ({event.tag}) are not allowed in scenario files")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlError(file, event.start_mark.line + 1,
                                    f"nested more than {MAX_DEPTH} levels deep; expected a scenario's shape")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlError(file, (mark.line + 1) if mark else 1, f"not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:   # the reader's own errors (characters YAML does not allow) carry no mark
        raise YamlError(file, 1, f"not valid YAML: {exc}") from None
    if node is None:
        raise YamlError(file, 1, "the file is empty; expected a mapping of scenario keys")
    _check_duplicates(node, file)
    _check_scalars(node, file)
    return node


def _explicit_tag(event) -> bool:
    """A tag written in the file (!!int, !custom, !!set ...), not one YAML resolved by itself."""
    tag = getattr(event, "tag", None)
    if tag is None or tag == "!":
        return False
    implicit = getattr(event, "implicit", None)
    return not (any(implicit) if isinstance(implicit, tuple) else implicit)


def _check_scalars(node: yaml.Node, file: str) -> None:
    """Every scalar constructs to a plain value, and no number is absurdly long."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.MappingNode):
            stack.extend(v for pair in n.value for v in pair)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
        elif isinstance(n, yaml.ScalarNode):
            line = n.start_mark.line + 1
            if n.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and \
                    sum(c.isdigit() for c in n.value) > MAX_NUMBER_DIGITS:
                raise YamlError(file, line, f"a number of more than {MAX_NUMBER_DIGITS} digits; expected a scenario value")
            try:
                plain(n)
            except (ValueError, TypeError, AttributeError, KeyError, yaml.YAMLError):
                raise YamlError(file, line, f"{n.value[:40]!r} is not a value YAML can read") from None


def _check_duplicates(node: yaml.Node, file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            if not isinstance(key, yaml.ScalarNode):
                raise YamlError(file, line, "a list or mapping used as a key; expected plain key names")
            name = key.value
            if name in seen:
                raise YamlError(file, line, f"duplicate key {name!r} (first at line {seen[name]})")
            seen[name] = line
            _check_duplicates(value, file)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicates(item, file)


def plain(node: yaml.Node):
    """A scalar node's Python value, by YAML 1.1 safe rules (int, float, bool, null, str)."""
    return yaml.SafeLoader(" ").construct_object(node, deep=True)
