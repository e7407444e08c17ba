"""Notifications over the control API (`/_mockreg/notifications`), for clients in other processes.

    GET    /_mockreg/notifications          endpoints (config, header values redacted), their
                                            metrics and delivery attempts; the log's size
    POST   /_mockreg/notifications          one endpoint (reference keys) or a whole
                                            `notifications:` mapping ({"endpoints": [...]})
    DELETE /_mockreg/notifications[/NAME]   remove one endpoint, or all
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from ..errors import RegistryError
from ..mapping import ConfigError
from .sinks import Endpoint

if TYPE_CHECKING:
    from ..registry import Registry


def describe(registry: Registry, name: Optional[str], bad: Callable[[str], RegistryError]) -> Dict[str, Any]:
    hub = registry.notifications
    if name:
        try:
            return endpoint_state(hub.endpoint(name))
        except KeyError as exc:
            raise bad(str(exc.args[0])) from None
    log = hub.log
    return {"endpoints": [endpoint_state(e) for e in hub.endpoints], "pythonapi": hub.python_api,
            "includereferences": hub.include_references,
            "log": None if log is None else {"size": log.size, "kept": len(log), "evicted": log.evicted}}


def endpoint_state(endpoint: Endpoint) -> Dict[str, Any]:
    return {**endpoint.config.to_dict(), "metrics": endpoint.metrics(),
            "deliveries": [d.to_dict() for d in endpoint.deliveries()]}


def add(registry: Registry, body: Dict[str, Any], bad: Callable[[str], RegistryError]) -> Dict[str, Any]:
    hub = registry.notifications
    try:
        if "url" in body:
            added = [hub.add_endpoint(**body)]
        else:
            added = hub.configure(body)
    except (ConfigError, ValueError, TypeError) as exc:
        raise bad(str(exc)) from None
    return {"added": [e.name for e in added]}


def remove(registry: Registry, name: Optional[str], bad: Callable[[str], RegistryError]) -> Dict[str, Any]:
    hub = registry.notifications
    names = [name] if name else [e.name for e in hub.endpoints]
    for each in names:
        try:
            hub.remove_endpoint(each)
        except KeyError as exc:
            raise bad(str(exc.args[0])) from None
    return {"removed": names}
