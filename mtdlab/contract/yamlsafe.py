"""Safe YAML reading that keeps line numbers, for error messages that point at the line.

Refuses what a scenario never needs and an attacker could abuse: anchors and aliases
(the 'billion laughs' bomb), duplicate keys (the later one would silently win), custom tags.
"""
from __future__ import annotations

import yaml


class YamlError(ValueError):
    def __init__(self, file: str, line: int, message: str):
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.message = file, line, message


def load_nodes(text: str, file: str) -> yaml.Node:
    """The document's node tree (each node knows its line), checked for unsafe constructs."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise YamlError(file, event.start_mark.line + 1,
                                "YAML anchors and aliases are not allowed in scenario files")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlError(file, (mark.line + 1) if mark else 1, f"not valid YAML: {exc.problem}") from None
    if node is None:
        raise YamlError(file, 1, "the file is empty; expected a mapping of scenario keys")
    _check_duplicates(node, file)
    return node


def _check_duplicates(node: yaml.Node, file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key)
            line = key.start_mark.line + 1
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
