"""Reading a scenario file together with the files it includes, into one merged document.

The merge rule (docs/scenarios.md): included files are read first, in the order listed, then the
including file on top. Mappings merge key by key, recursively; any other value (a list, text, a
number) from a later file replaces the earlier one. Each value remembers which file and line it
came from, so an error found after merging still points at the right place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from . import source, validate
from .errors import KeyPath, ScenarioError

Origin = Tuple[Path, Optional[int], Optional[int]]


class Document:
    """A merged scenario document and where each of its values came from."""

    def __init__(self, data: Dict[str, Any], origins: Dict[KeyPath, Origin], files: List[Path]) -> None:
        self.data = data
        self.origins = origins
        self.files = files

    def error(self, where: KeyPath, problem: str) -> ScenarioError:
        """A ScenarioError pointing at the file and line that defined `where` (or its parent)."""
        probe = tuple(where)
        while probe not in self.origins and probe:
            probe = probe[:-1]
        file, line, column = self.origins.get(probe, (self.files[-1] if self.files else None, None, None))
        return ScenarioError(file, where, problem, line=line, column=column)

    def base_dir(self, where: KeyPath) -> Path:
        """The directory relative paths at `where` are resolved against: that of the defining file."""
        probe = tuple(where)
        while probe not in self.origins and probe:
            probe = probe[:-1]
        origin = self.origins.get(probe)
        return (origin[0] if origin else self.files[-1]).parent


def load(path: Path) -> Document:
    return _load(Path(path), ())


def _load(path: Path, chain: Tuple[Path, ...]) -> Document:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ScenarioError(path, ("include",), f"includes form a cycle: {cycle}")
    data, positions = source.read(path)
    try:
        validate.check(data)
    except validate.SchemaViolation as violation:
        line, column = source.position(positions, violation.where)
        raise ScenarioError(path, violation.where, violation.problem, line=line, column=column) from None
    merged: Dict[str, Any] = {}
    origins: Dict[KeyPath, Origin] = {}
    files: List[Path] = []
    for position_in_list, included in enumerate(data.get("include", [])):
        target = (path.parent / included)
        line, column = source.position(positions, ("include", position_in_list))
        base = path.parent.resolve()
        if base not in target.resolve().parents:  # as for `file`: nothing outside the scenario's directory
            raise ScenarioError(path, ("include", position_in_list),
                                f"included file {included!r} lies outside the scenario's directory {base}",
                                line=line, column=column)
        if not target.is_file():
            raise ScenarioError(path, ("include", position_in_list), f"included file {included!r} does not exist",
                                line=line, column=column)
        child = _load(target, chain + (resolved,))
        _merge(merged, origins, child.data, child.origins, ())
        files.extend(child.files)
    own = {key: value for key, value in data.items() if key != "include"}
    own_origins: Dict[KeyPath, Origin] = {where: (path, *pos) for where, pos in positions.items()}
    _merge(merged, origins, own, own_origins, ())
    files.append(path)
    return Document(merged, origins, files)


def _merge(target: Dict[str, Any], origins: Dict[KeyPath, Origin], incoming: Dict[str, Any],
           incoming_origins: Dict[KeyPath, Origin], where: KeyPath) -> None:
    if where in incoming_origins:
        origins.setdefault(where, incoming_origins[where])
    for key, value in incoming.items():
        path = where + (key,)
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], origins, value, incoming_origins, path)
            continue
        target[key] = value
        for stale in [p for p in origins if p[:len(path)] == path]:
            del origins[stale]
        origins.update({p: o for p, o in incoming_origins.items() if p[:len(path)] == path})
