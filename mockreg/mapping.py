"""Strict conversion between config objects and plain mappings (scenario files, the control API).

Every edge-case config class (auth, fault rules, rate limits) is a dataclass whose fields are
exactly the keys a YAML/JSON mapping may hold, so `from_dict` and `to_dict` are 1:1 and an
unknown or misspelt key is an error that names the key and lists the known ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Iterable, List, Mapping, Type, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config mapping or value that cannot be used; the message says which key and why."""


def from_mapping(cls: Type[T], mapping: Any, what: str) -> T:
    """Build dataclass `cls` from `mapping`, refusing unknown keys and missing required ones."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{what} must be a mapping, got {type(mapping).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(str(key) for key in mapping if key not in known)
    if unknown:
        raise ConfigError(f"{what}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
    missing = [name for name, f in known.items() if name not in mapping
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{what}: missing required key(s) {', '.join(missing)}")
    try:
        return cls(**dict(mapping))
    except TypeError as exc:  # a wrong value type that __post_init__ did not word itself
        raise ConfigError(f"{what}: {exc}") from None


def to_mapping(obj: Any) -> Dict[str, Any]:
    """The fields of dataclass `obj` that differ from their defaults, as plain values."""
    result: Dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if not f.init:
            continue
        value = getattr(obj, f.name)
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        if f.default_factory is not dataclasses.MISSING and value == f.default_factory():
            continue
        result[f.name] = _plain(value)
    return result


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def string_list(value: Any, what: str, allowed: Iterable[str] = ()) -> List[str]:
    """A list of strings given as a list or a comma-separated string ("pull,push")."""
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        items = list(value)
    else:
        raise ConfigError(f"{what} must be a list of strings or a comma-separated string, got {value!r}")
    choices = set(allowed)
    if choices:
        wrong = [item for item in items if item not in choices]
        if wrong:
            raise ConfigError(f"{what}: unknown value(s) {', '.join(wrong)}; choose from {', '.join(sorted(choices))}")
    return items


def number(value: Any, what: str, minimum: float = 0, maximum: float = float("inf"),
           whole: bool = False) -> Any:
    """A number within [minimum, maximum] (bools refused: YAML `yes` is not a count)."""
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ConfigError(f"{what} must be a {'whole number' if whole else 'number'}, got {value!r}")
    if not minimum <= value <= maximum:
        bound = f"between {minimum} and {maximum}" if maximum != float("inf") else f"at least {minimum}"
        raise ConfigError(f"{what} must be {bound}, got {value!r}")
    return value


def optional_str(value: Any, what: str) -> Any:
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{what} must be a string, got {value!r}")
    return value


def boolean(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{what} must be true or false, got {value!r}")
    return value
