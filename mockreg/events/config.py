"""Notification endpoints configured with the reference registry's keys, so a user can paste theirs.

Source: distribution `configuration/configuration.go` (`Notifications`, `Endpoint`, `Ignore`,
`Events`) and `docs/content/about/configuration.md` ("notifications"):

    notifications:
      events:
        includereferences: true
      endpoints:
        - name: alistener
          disabled: false
          url: https://my.listener.com/event
          headers: {Authorization: [Bearer <token>]}
          timeout: 1s
          threshold: 10
          backoff: 1s
          ignoredmediatypes: [application/octet-stream]
          ignore: {mediatypes: [application/octet-stream], actions: [pull]}

Defaults follow `notifications/endpoint.go` (`defaults()`): timeout 1s, threshold 10, backoff 1s.
Durations are Go durations ("500ms", "1m30s"; a bare number is nanoseconds, as the docs say).
mockreg adds three keys of its own, documented in docs/events.md: `format` (distribution, the
default, as registry 2.8 sends; distribution-v3; cloudevents, as zot sends), `queuesize` (how
many events may wait, default 1000) and, at the top level, `pythonapi` (also notify changes
made through the Python API).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from ..mapping import ConfigError


class KeyedConfigError(ConfigError):
    """A ConfigError whose message starts with the key it is about, e.g.
    "notifications.endpoints[0].timeout must be …"; `keys` gives that path for file:line messages."""

    @property
    def keys(self) -> Tuple[Any, ...]:
        where = str(self).split(" ", 1)[0].rstrip(":")
        return tuple(int(part) if part.isdigit() else part for part in re.split(r"[.\[\]]+", where) if part)


FORMATS = ("distribution", "distribution-v3", "cloudevents")
ACTIONS = ("push", "pull", "mount", "delete")
DEFAULT_QUEUE_SIZE = 1000
_ENDPOINT_KEYS = ("name", "disabled", "url", "headers", "timeout", "threshold", "backoff", "ignoredmediatypes",
                  "ignore", "format", "queuesize")
_TOP_KEYS = ("endpoints", "events", "pythonapi")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")


@dataclass(frozen=True)
class EndpointConfig:
    """One webhook endpoint; durations in seconds."""

    name: str
    url: str
    headers: Tuple[Tuple[str, str], ...] = field(default=(), repr=False)  # may hold tokens
    timeout: float = 1.0
    threshold: int = 10
    backoff: float = 1.0
    ignored_media_types: FrozenSet[str] = frozenset()
    ignored_actions: FrozenSet[str] = frozenset()
    disabled: bool = False
    format: str = "distribution"
    queue_size: int = DEFAULT_QUEUE_SIZE

    def ignores(self, action: str, media_type: Optional[str]) -> bool:
        """distribution `ignoredSink`: media types and actions filter independently (OR)."""
        return action in self.ignored_actions or (media_type or "") in self.ignored_media_types

    def to_dict(self, redact: bool = True) -> Dict[str, Any]:
        """The reference keys again (header values redacted unless asked: they often hold tokens)."""
        headers: Dict[str, List[str]] = {}
        for key, value in self.headers:
            headers.setdefault(key, []).append("(redacted)" if redact else value)
        return {"name": self.name, "url": self.url, "disabled": self.disabled, "headers": headers,
                "timeout": _go_duration(self.timeout), "threshold": self.threshold,
                "backoff": _go_duration(self.backoff), "ignore": {"mediatypes": sorted(self.ignored_media_types),
                                                                  "actions": sorted(self.ignored_actions)},
                "format": self.format, "queuesize": self.queue_size}


@dataclass(frozen=True)
class NotificationsConfig:
    endpoints: Tuple[EndpointConfig, ...] = ()
    include_references: bool = False
    python_api: Optional[bool] = None  # None: leave the registry's switch as it is


def parse_notifications(mapping: Any, where: str = "notifications") -> NotificationsConfig:
    """The `notifications:` mapping of a registry config file or a scenario; ConfigError names the key."""
    _require_mapping(mapping, where)
    _known_keys(mapping, _TOP_KEYS, where)
    events = mapping.get("events") or {}
    _require_mapping(events, f"{where}.events")
    _known_keys(events, ("includereferences",), f"{where}.events")
    raw = mapping.get("endpoints") or []
    if not isinstance(raw, list):
        raise KeyedConfigError(f"{where}.endpoints must be a list of endpoint mappings")
    endpoints = tuple(parse_endpoint(item, f"{where}.endpoints[{index}]") for index, item in enumerate(raw))
    names = [e.name for e in endpoints]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise KeyedConfigError(f"{where}.endpoints: two endpoints are named {duplicate!r}")
    python_api = mapping.get("pythonapi")
    if python_api is not None and not isinstance(python_api, bool):
        raise KeyedConfigError(f"{where}.pythonapi must be true or false, got {python_api!r}")
    return NotificationsConfig(endpoints, _boolean(events.get("includereferences", False),
                                                   f"{where}.events.includereferences"), python_api)


def parse_endpoint(mapping: Any, where: str = "endpoint") -> EndpointConfig:
    _require_mapping(mapping, where)
    _known_keys(mapping, _ENDPOINT_KEYS, where)
    url = mapping.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
        raise KeyedConfigError(f"{where}.url must be an http:// or https:// URL, got {url!r}")
    name = mapping.get("name", url)
    if not isinstance(name, str) or not name:
        raise KeyedConfigError(f"{where}.name must be a non-empty string, got {name!r}")
    ignore = mapping.get("ignore") or {}
    _require_mapping(ignore, f"{where}.ignore")
    _known_keys(ignore, ("mediatypes", "actions"), f"{where}.ignore")
    media_types = _strings(mapping.get("ignoredmediatypes"), f"{where}.ignoredmediatypes") + \
        _strings(ignore.get("mediatypes"), f"{where}.ignore.mediatypes")
    actions = _strings(ignore.get("actions"), f"{where}.ignore.actions")
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown:
        raise KeyedConfigError(f"{where}.ignore.actions: unknown action(s) {', '.join(unknown)}; "
                          f"actions are {', '.join(ACTIONS)}")
    form = mapping.get("format", "distribution")
    if form not in FORMATS:
        raise KeyedConfigError(f"{where}.format must be one of {', '.join(FORMATS)}, got {form!r}")
    threshold = mapping.get("threshold", 10)
    queue_size = mapping.get("queuesize", DEFAULT_QUEUE_SIZE)
    for key, number in (("threshold", threshold), ("queuesize", queue_size)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise KeyedConfigError(f"{where}.{key} must be a whole number >= 0, got {number!r}")
    return EndpointConfig(
        name=name, url=url, headers=_headers(mapping.get("headers"), f"{where}.headers"),
        # endpoint.go defaults(): a value <= 0 means the default
        timeout=parse_duration(mapping.get("timeout", "1s"), f"{where}.timeout") or 1.0,
        threshold=threshold or 10,
        backoff=parse_duration(mapping.get("backoff", "1s"), f"{where}.backoff") or 1.0,
        ignored_media_types=frozenset(media_types), ignored_actions=frozenset(actions),
        disabled=_boolean(mapping.get("disabled", False), f"{where}.disabled"), format=form,
        queue_size=queue_size or DEFAULT_QUEUE_SIZE)


def parse_duration(value: Any, where: str) -> float:
    """A Go duration ("500ms", "1m30s", a bare number of nanoseconds) or a number in seconds
    from Python, in seconds."""
    if isinstance(value, bool):
        raise KeyedConfigError(f"{where} must be a duration such as 500ms or 1s, got {value!r}")
    if isinstance(value, (int, float)):
        if isinstance(value, int) and value > 1000:  # YAML `timeout: 500000000` is nanoseconds in Go
            return value * 1e-9
        if value < 0:
            raise KeyedConfigError(f"{where} must not be negative, got {value!r}")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text) * 1e-9
        parts = _DURATION_PART.findall(text)
        if parts and "".join(number + unit for number, unit in parts) == text:
            return sum(float(number) * _UNITS[unit] for number, unit in parts)
    raise KeyedConfigError(f"{where} must be a duration such as 500ms, 1s or 1m30s, got {value!r}")


def _go_duration(seconds: float) -> str:
    if seconds and seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def _headers(value: Any, where: str) -> Tuple[Tuple[str, str], ...]:
    """`http.Header`: each name maps to a list of values (a single string is accepted too)."""
    if value is None:
        return ()
    _require_mapping(value, where)
    pairs = []
    for key, values in value.items():
        if not isinstance(key, str) or not re.match(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", key):
            raise KeyedConfigError(f"{where}: {key!r} is not a header name")
        for item in [values] if isinstance(values, str) else _strings(values, f"{where}.{key}"):
            if "\n" in item or "\r" in item:
                raise KeyedConfigError(f"{where}.{key}: a header value may not contain a line break")
            pairs.append((key, item))
    return tuple(pairs)


def _strings(value: Any, where: str) -> List[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise KeyedConfigError(f"{where} must be a list of strings, got {value!r}")
    return list(value)


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise KeyedConfigError(f"{where} must be true or false, got {value!r}")
    return value


def _require_mapping(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise KeyedConfigError(f"{where} must be a mapping, got {type(value).__name__}")


def _known_keys(mapping: Mapping[str, Any], known: Tuple[str, ...], where: str) -> None:
    unknown = sorted(str(key) for key in mapping if key not in known)
    if unknown:
        raise KeyedConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(known)}")
