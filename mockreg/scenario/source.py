"""Reading a scenario file into plain data while remembering where each value stood.

Values come back as dicts, lists and scalars; `Positions` maps each key path to its line and
column so errors can point into the file. Only YAML's safe subset is ever constructed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import yaml

from .errors import KeyPath, ScenarioError

Positions = Dict[KeyPath, Tuple[int, int]]
# libyaml's parser, when PyYAML was built with it, reads files several times faster.
_FAST_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The tags YAML's safe loader constructs (str, int, map, seq, timestamp, ...); anything else, such
# as !!python/object/apply, is refused rather than built or silently read as a plain list.
_SAFE_TAGS = frozenset(tag for tag in yaml.SafeLoader.yaml_constructors if tag is not None)


def read(path: Path) -> Tuple[Any, Positions]:
    """Parse `path` (YAML, or JSON by its suffix) into data and the positions of its values."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, (), "the file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, (), f"cannot read the file: {exc}") from None
    if path.suffix.lower() == ".json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(path, (), f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from None
    try:
        node = yaml.compose(text, Loader=_FAST_SAFE_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ScenarioError(path, (), f"invalid YAML: {exc.problem}",
                            line=mark.line + 1 if mark else None,
                            column=mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(path, (), f"invalid YAML: {exc}") from None
    if node is None:
        raise ScenarioError(path, (), "the file is empty")
    positions: Positions = {}
    return _Builder(path, positions).build(node, ()), positions


class _Builder:
    def __init__(self, path: Path, positions: Positions) -> None:
        self.path = path
        self.positions = positions
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, where: KeyPath) -> Any:
        self.positions[where] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if node.tag not in _SAFE_TAGS:  # e.g. !!python/object: say so, never construct or drop it
            raise self._error(node, where, f"the YAML tag {node.tag.replace('tag:yaml.org,2002:', '!!')!r} is "
                                           "not allowed: scenario files are plain data (YAML's safe subset)")
        if isinstance(node, yaml.MappingNode):
            self.constructor.flatten_mapping(node)
            result: Dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.constructor.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise self._error(key_node, where, f"keys must be plain text, found {key!r}")
                key = str(key) if not isinstance(key, str) else key
                if key in result:
                    raise self._error(key_node, where + (key,), "this key appears twice")
                result[key] = self.build(value_node, where + (key,))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, where + (i,)) for i, item in enumerate(node.value)]
        return self.constructor.construct_object(node, deep=True)

    def _error(self, node: yaml.Node, where: KeyPath, problem: str) -> ScenarioError:
        return ScenarioError(self.path, where, problem, line=node.start_mark.line + 1,
                             column=node.start_mark.column + 1)


def position(positions: Optional[Positions], where: KeyPath) -> Tuple[Optional[int], Optional[int]]:
    """The line and column of `where`, or of its nearest parent that has one."""
    if positions:
        probe = tuple(where)
        while True:
            if probe in positions:
                return positions[probe]
            if not probe:
                break
            probe = probe[:-1]
    return None, None
