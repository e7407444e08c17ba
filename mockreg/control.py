"""The control API: runtime control over HTTP for clients in other processes, under `/_mockreg/`.

Off unless enabled (`Registry(control_api=True)`, `mockreg serve --control-api`); when auth is
on, only admin users may call it. JSON in, JSON out; errors use the registry's error body.

    GET    /_mockreg/                   what this API offers
    POST   /_mockreg/reset              forget content, uploads, fault rules and rate limits
    GET    /_mockreg/settings           current settings; POST a mapping to change some
    POST   /_mockreg/scenario           {"path": FILE}: load a scenario file into the registry
    GET    /_mockreg/faults             fault rules with their counters; POST one rule to add it
    DELETE /_mockreg/faults[/ID]        remove one rule, or all
    GET    /_mockreg/rate-limits        rate limits; POST one to add it; DELETE [/ID] removes
    GET    /_mockreg/clock              {"now", "frozen"}; POST {"advance": S} / {"freeze": true|T} /
                                        {"unfreeze": true}
    GET    /_mockreg/journal            the request journal, where the registry keeps one
    GET    /_mockreg/profile            the registry profile in use, with its behaviours and sources
    GET    /_mockreg/repositories       every repository and namespace; POST {"name": REPO} creates an
                                        empty repository, {"namespace": PREFIX} a namespace
    GET    /_mockreg/client-checks      client rule violations, when client checks are on
    GET|POST|DELETE /_mockreg/notifications[/NAME]  webhook endpoints, their deliveries
                                        (mockreg/events/control.py, docs/events.md)
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from . import faults, ratelimit
from .errors import RegistryError
from .http import Request, Response, json_response
from .mapping import ConfigError
from .routes import Route, route

if TYPE_CHECKING:
    from .registry import Registry

PREFIX = "/_mockreg"
_BODY_LIMIT = 1024 * 1024
_LATEST_TIME = 1e11  # seconds since 1970: about the year 5100
ENDPOINTS = [
    "GET /_mockreg/", "POST /_mockreg/reset", "GET|POST /_mockreg/settings", "POST /_mockreg/scenario",
    "GET|POST|DELETE /_mockreg/faults", "GET|DELETE /_mockreg/faults/ID",
    "GET|POST|DELETE /_mockreg/rate-limits", "DELETE /_mockreg/rate-limits/ID",
    "GET|POST /_mockreg/clock", "GET /_mockreg/journal", "GET /_mockreg/client-checks", "GET /_mockreg/profile",
    "GET|POST /_mockreg/repositories", "GET|POST|DELETE /_mockreg/notifications",
    "DELETE /_mockreg/notifications/NAME",
]


def _json(payload: Any, status: int = 200) -> Response:
    return json_response(status, json.dumps(payload, indent=1, default=str).encode())


def _bad(detail: str, status: int = 400) -> RegistryError:
    return RegistryError("UNSUPPORTED", detail, status=status, message="bad control request")


def _body(request: Request) -> Dict[str, Any]:
    raw = request.read_all(_BODY_LIMIT)
    try:
        payload = json.loads(raw or b"{}")
    except ValueError as exc:
        raise _bad(f"the body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise _bad("the body must be a JSON object")
    return payload


def _checked(registry: Registry) -> None:
    if not registry.control_api:
        raise RegistryError("UNSUPPORTED", "the control API is off", status=404, message="not found")


def index(registry: Registry, request: Request) -> Response:
    _checked(registry)
    return _json({"endpoints": ENDPOINTS})


def reset(registry: Registry, request: Request) -> Response:
    _checked(registry)
    registry.reset()
    for layer in (faults.find(registry), ratelimit.find(registry)):
        if layer is not None:
            layer.clear()
    if registry.profile is not None:  # a profile's rate limits are part of how the registry behaves
        for limit in registry.profile.rate_limits:
            registry.rate_limit(limit)
    kept = _journal_of(registry)
    if kept is not None:
        kept.clear()
    return _json({"reset": True})


def settings(registry: Registry, request: Request) -> Response:
    _checked(registry)
    if request.method == "POST":
        try:
            registry.configure(**_body(request))
        except ValueError as exc:
            raise _bad(str(exc)) from None
    return _json(dataclasses.asdict(registry.settings))


def scenario(registry: Registry, request: Request) -> Response:
    """Load a scenario file the server can read (client and server share a machine)."""
    _checked(registry)
    body = _body(request)
    if set(body) != {"path"} or not isinstance(body["path"], str):
        raise _bad('POST {"path": "FILE"} naming a scenario file')
    from .scenario import Scenario  # scenarios import the registry; load them only when asked
    try:
        loaded = Scenario.load(body["path"])
        loaded.apply(registry)
    except (OSError, ValueError) as exc:
        raise _bad(str(exc)) from None
    return _json({"loaded": body["path"], "repositories": sorted(loaded.repositories)})


def fault_rules(registry: Registry, request: Request, rule_id: Optional[str] = None) -> Response:
    _checked(registry)
    layer = faults.layer_of(registry)
    changed = _add_or_remove(request, layer, rule_id, faults.FaultRule.from_dict, layer.rules, "faults")
    if changed is not None:
        return changed
    listed = [{"id": key, **rule.to_dict(), **layer.stats(key)} for key, rule in layer.rules().items()
              if not rule_id or key == rule_id]
    if rule_id and not listed:
        raise _bad(f"no fault {rule_id!r}", status=404)
    return _json(listed[0] if rule_id else {"faults": listed})


def rate_limits(registry: Registry, request: Request, limit_id: Optional[str] = None) -> Response:
    _checked(registry)
    layer = ratelimit.layer_of(registry)
    changed = _add_or_remove(request, layer, limit_id, ratelimit.RateLimit.from_dict, layer.limits, "rate-limits")
    if changed is not None:
        return changed
    return _json({"rate_limits": [{"id": key, **limit.to_dict(), **layer.stats(key)}
                                  for key, limit in layer.limits().items()]})


def _add_or_remove(request: Request, layer: Any, item_id: Optional[str], parse: Callable[[Any], Any],
                   items: Callable[[], Dict[str, Any]], path: str) -> Optional[Response]:
    """POST adds an item (201 with its id), DELETE removes one or all; None for a GET."""
    if request.method == "POST":
        if item_id:
            raise _bad(f"POST a new item to /_mockreg/{path}", status=405)
        try:
            new_id = layer.add(parse(_body(request)))
        except ConfigError as exc:
            raise _bad(str(exc)) from None
        return _json({"id": new_id, **items()[new_id].to_dict()}, status=201)
    if request.method == "DELETE":
        _remove(layer, item_id)
        return _json({"removed": item_id or "all"})
    return None


def _remove(layer: Any, item_id: Optional[str]) -> None:
    if not item_id:
        layer.clear()
        return
    try:
        layer.remove(item_id)
    except KeyError as exc:
        raise _bad(str(exc.args[0]), status=404) from None


def clock(registry: Registry, request: Request) -> Response:
    _checked(registry)
    if request.method == "POST":
        _move_clock(registry, _body(request))
    return _json({"now": registry.clock(), "frozen": registry.clock.frozen})


def _move_clock(registry: Registry, change: Dict[str, Any]) -> None:
    unknown = sorted(set(change) - {"advance", "freeze", "unfreeze"})
    if unknown or len(change) != 1:
        raise _bad("POST one of {\"advance\": SECONDS}, {\"freeze\": true or TIMESTAMP}, {\"unfreeze\": true}")
    (action, value), = change.items()
    # JSON lets Infinity and NaN through; a clock past year 5000 breaks token dates (gmtime).
    number_ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and abs(value) <= _LATEST_TIME
    if action == "advance":
        if not number_ok or value < 0 or registry.clock() + value > _LATEST_TIME:
            raise _bad(f"advance takes a non-negative number of seconds, got {value!r}")
        registry.clock.advance(value)
    elif action == "freeze":
        if value is True:
            registry.clock.freeze()
        elif number_ok:
            registry.clock.freeze(float(value))
        else:
            raise _bad(f"freeze takes true or a timestamp, got {value!r}")
    elif value is True:
        registry.clock.unfreeze()
    else:
        raise _bad(f"unfreeze takes true, got {value!r}")


def _journal_of(registry: Registry) -> Any:
    # Duck-typed so the control API does not install a journal where none is kept.
    return next((layer for layer in registry.layers if type(layer).__name__ == "Journal"), None)


_ENTRY_FIELDS = ("seq", "time", "method", "path", "query", "kind", "params", "status")


def _entry(entry: Any) -> Dict[str, Any]:
    found = {name: getattr(entry, name) for name in _ENTRY_FIELDS if hasattr(entry, name)}
    headers = dict(getattr(entry, "request_headers", {}) or {})
    if "Authorization" in headers:  # say which scheme was used, not the secret
        headers["Authorization"] = headers["Authorization"].split(" ", 1)[0] + " (redacted)"
    found["request_headers"] = headers
    found["response_headers"] = [list(pair) for pair in getattr(entry, "response_headers", [])]
    return found


def journal(registry: Registry, request: Request) -> Response:
    _checked(registry)
    kept = _journal_of(registry)
    if kept is None:
        raise RegistryError("UNSUPPORTED", "this registry keeps no request journal", status=404,
                            message="not found")
    return _json({"entries": [_entry(entry) for entry in kept.entries]})


def profile(registry: Registry, request: Request) -> Response:
    _checked(registry)
    applied = registry.profile
    return _json(applied.summary() if applied is not None else {"name": None})


def repositories(registry: Registry, request: Request) -> Response:
    """POST {"name": REPO} creates a repository, {"namespace": PREFIX} a namespace."""
    _checked(registry)
    if request.method == "POST":
        body = _body(request)
        if len(body) != 1 or set(body) - {"name", "namespace"} or not isinstance(next(iter(body.values())), str):
            raise _bad('POST {"name": "REPOSITORY"} or {"namespace": "PREFIX"} to create one')
        if "name" in body:
            registry.create_repository(body["name"])  # NAME_INVALID for a bad name
        else:
            registry.create_namespace(body["namespace"])
    with registry.store.lock:
        namespaces = sorted(registry.store.namespaces)
    return _json({"repositories": registry.repositories(), "namespaces": namespaces})


def client_checks(registry: Registry, request: Request) -> Response:
    """Violations found so far, `?level=MUST|SHOULD|INTEROP` (default INTEROP: all)."""
    _checked(registry)
    kept = _journal_of(registry)
    if kept is None or getattr(kept, "checks", None) is None:
        raise RegistryError("UNSUPPORTED", "client checks are off (mockreg serve --check-clients)", status=404,
                            message="not found")
    level = (request.arg("level") or "INTEROP").upper()
    try:
        found = kept.checks.violations(level)
    except ValueError as exc:
        raise _bad(str(exc)) from None
    return _json({"level": level, "violations": [violation.to_dict() for violation in found]})


def notifications(registry: Registry, request: Request, endpoint: Optional[str] = None) -> Response:
    _checked(registry)
    from .events import control as events_control  # the events package loads only when used
    if request.method == "POST":
        if endpoint:
            raise _bad("POST a new endpoint to /_mockreg/notifications", status=405)
        return _json(events_control.add(registry, _body(request), _bad), status=201)
    missing = lambda detail: _bad(detail, status=404)  # noqa: E731 - one line, used twice
    if request.method == "DELETE":
        return _json(events_control.remove(registry, endpoint, missing))
    return _json(events_control.describe(registry, endpoint, missing))


def routes() -> List[Route]:
    return [
        route(f"{PREFIX}/?", get=("control-index", index)),
        route(f"{PREFIX}/reset", post=("control-reset", reset)),
        route(f"{PREFIX}/settings", get=("control-settings", settings), post=("control-settings-change", settings)),
        route(f"{PREFIX}/scenario", post=("control-scenario", scenario)),
        route(f"{PREFIX}/faults(?:/(?P<rule_id>[^/]+))?", get=("control-faults", fault_rules),
              post=("control-faults-add", fault_rules), delete=("control-faults-remove", fault_rules)),
        route(f"{PREFIX}/rate-limits(?:/(?P<limit_id>[^/]+))?", get=("control-rate-limits", rate_limits),
              post=("control-rate-limits-add", rate_limits), delete=("control-rate-limits-remove", rate_limits)),
        route(f"{PREFIX}/clock", get=("control-clock", clock), post=("control-clock-change", clock)),
        route(f"{PREFIX}/journal", get=("control-journal", journal)),
        route(f"{PREFIX}/profile", get=("control-profile", profile)),
        route(f"{PREFIX}/repositories", get=("control-repositories", repositories),
              post=("control-repository-create", repositories)),
        route(f"{PREFIX}/client-checks", get=("control-client-checks", client_checks)),
        route(f"{PREFIX}/notifications(?:/(?P<endpoint>[^/]+))?", get=("control-notifications", notifications),
              post=("control-notifications-add", notifications),
              delete=("control-notifications-remove", notifications)),
    ]
