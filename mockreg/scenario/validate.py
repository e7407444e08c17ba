"""Checking scenario data against the shipped JSON Schema (`schema.json`).

The schema is the single description of the format: this validator reads it, so the docs,
editors that use the schema, and the loader can never disagree. It supports the subset the
schema uses: type, properties, additionalProperties, patternProperties, required, enum,
const, items, minimum, minLength, pattern, oneOf (by a discriminating required key), and $ref
to `#/$defs/...`.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Dict, List, Optional, Tuple, Union

from .errors import KeyPath

_TYPES: Dict[str, Union[type, Tuple[type, ...]]] = {
    "object": dict, "array": list, "string": str, "boolean": bool,
    "integer": int, "number": (int, float), "null": type(None),
}


_KIND_NAMES = {"object": "a mapping", "array": "a list", "string": "text", "boolean": "true or false",
               "integer": "a whole number", "number": "a number", "null": "nothing"}


class SchemaViolation(Exception):
    def __init__(self, where: KeyPath, problem: str) -> None:
        super().__init__(problem)
        self.where = where
        self.problem = problem


@lru_cache(maxsize=1)
def schema() -> Dict[str, Any]:
    return json.loads(resources.files("mockreg.scenario").joinpath("schema.json").read_text())


def check(data: Any, against: Optional[Dict[str, Any]] = None) -> None:
    """Raise SchemaViolation for the first place where `data` breaks the scenario schema, or
    the schema `against` (registry profiles reuse this validator with their own schema)."""
    rules = against if against is not None else schema()
    _check(data, rules, (), rules)


def _check(value: Any, rule: Dict[str, Any], where: KeyPath, root: Dict[str, Any]) -> None:
    if "$ref" in rule:
        rule = root["$defs"][rule["$ref"].rsplit("/", 1)[-1]]
    if "oneOf" in rule:
        _check_one_of(value, rule, where, root)
        return
    expected = rule.get("type")
    if expected is not None:
        kinds = expected if isinstance(expected, list) else [expected]
        if not any(_is(value, kind) for kind in kinds):
            raise SchemaViolation(where, f"expected {_describe(rule)}, found {_found(value)}")
    if "const" in rule and not _json_equal(value, rule["const"]):
        raise SchemaViolation(where, f"expected {rule['const']!r}, found {_json_text(value)}")
    if "enum" in rule and not any(_json_equal(value, choice) for choice in rule["enum"]):
        hint = _did_you_mean(str(value), [str(v) for v in rule["enum"]])
        raise SchemaViolation(where, f"expected one of {', '.join(map(str, rule['enum']))}, found {value!r}{hint}")
    if isinstance(value, str):
        if len(value) < rule.get("minLength", 0):
            raise SchemaViolation(where, f"expected {_describe(rule)}, found an empty string")
        if "pattern" in rule and not re.search(rule["pattern"], value):
            raise SchemaViolation(where, f"expected {_describe(rule)}, found {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and "minimum" in rule \
            and value < rule["minimum"]:
        raise SchemaViolation(where, f"expected a number of at least {rule['minimum']}, found {value}")
    if isinstance(value, dict):
        _check_object(value, rule, where, root)
    if isinstance(value, list) and "items" in rule:
        for position, item in enumerate(value):
            _check(item, rule["items"], where + (position,), root)


def _check_object(value: Dict[str, Any], rule: Dict[str, Any], where: KeyPath, root: Dict[str, Any]) -> None:
    properties = rule.get("properties", {})
    patterns = rule.get("patternProperties", {})
    extra = rule.get("additionalProperties", True)
    for key in rule.get("required", []):
        if key not in value:
            raise SchemaViolation(where, f"the key {key!r} is required")
    for key, item in value.items():
        if key in properties:
            _check(item, properties[key], where + (key,), root)
            continue
        pattern = next((p for p in patterns if re.search(p, key)), None)
        if pattern is not None:
            _check(item, patterns[pattern], where + (key,), root)
        elif extra is False:
            hint = _did_you_mean(key, list(properties))
            known = ", ".join(properties) or "none"
            raise SchemaViolation(where + (key,), f"unknown key {key!r}{hint} (known keys: {known})")
        elif isinstance(extra, dict):
            _check(item, extra, where + (key,), root)


def _check_one_of(value: Any, rule: Dict[str, Any], where: KeyPath, root: Dict[str, Any]) -> None:
    """A oneOf whose branches are told apart by a key only one of them requires."""
    branches = [root["$defs"][b["$ref"].rsplit("/", 1)[-1]] if "$ref" in b else b for b in rule["oneOf"]]
    if isinstance(value, dict):
        for branch in branches:
            marker = branch.get("required", [None])[0]
            if marker in value:
                _check(value, branch, where, root)
                return
        markers = [b["required"][0] for b in branches if b.get("required")]
        hint = next((h for h in (_did_you_mean(k, markers) for k in value) if h), "")
        raise SchemaViolation(where, f"expected one of the keys {', '.join(markers)}, found "
                              f"{', '.join(value) or 'an empty mapping'}{hint}")
    for branch in branches:
        if "required" not in branch:
            _check(value, branch, where, root)
            return
    raise SchemaViolation(where, f"expected {rule.get('description', 'a mapping')}, found {_found(value)}")


def _json_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else repr(value)


def _json_equal(value: Any, expected: Any) -> bool:
    """Equality as JSON Schema means it: `true` is not `1` (Python's True == 1 is), 1 equals 1.0."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    if isinstance(value, (list, tuple)) and isinstance(expected, (list, tuple)):
        return len(value) == len(expected) and all(map(_json_equal, value, expected))
    if isinstance(value, dict) and isinstance(expected, dict):
        return value.keys() == expected.keys() and all(_json_equal(value[k], expected[k]) for k in value)
    return type(value) in (int, float) and type(expected) in (int, float) and value == expected \
        or type(value) is type(expected) and value == expected


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[kind])


def _describe(rule: Dict[str, Any]) -> str:
    if "description" in rule:
        return rule["description"]
    expected = rule.get("type", "a value")
    kinds = expected if isinstance(expected, list) else [expected]
    return " or ".join(_KIND_NAMES.get(kind, str(kind)) for kind in kinds)


def _found(value: Any) -> str:
    if isinstance(value, bool):
        return _json_text(value)
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "nothing (null)",
             int: "the number", float: "the number"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return f"{name} {value!r}" if kind in (str, int, float) else name
    return f"{type(value).__name__} {value!r}"


def _did_you_mean(word: str, choices: List[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
