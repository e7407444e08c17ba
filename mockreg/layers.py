"""The extension point around request handling: auth, rate limits, faults and the request
journal are `Layer`s that a `Registry` runs before and after each handler."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Generic, List, Optional, Type, TypeVar

from .http import Request, Response
from .routes import Match

if TYPE_CHECKING:
    from .registry import Registry

R = TypeVar("R")
L = TypeVar("L", bound="Layer")


class Layer:
    """A policy applied to every request. Subclasses override what they need.

    `before` runs in order before the handler (and before a routing error is answered, with
    `match` None); returning a Response or raising RegistryError answers the request there.
    `after` runs in reverse order on every response, errors included, and may replace it.
    """

    def before(self, registry: Registry, request: Request, match: Optional[Match]) -> Optional[Response]:
        return None

    def after(self, registry: Registry, request: Request, match: Optional[Match],
              response: Response) -> Response:
        return response


class RuleListLayer(Layer, Generic[R]):
    """A layer holding an ordered list of rules that tests add and clear while requests run.

    Each change swaps in a new list under the lock, so `after` iterates `self._rules` without it.
    """

    def __init__(self) -> None:
        self._rules: List[R] = []
        self._lock = threading.Lock()

    def add(self, rule: R) -> None:
        with self._lock:
            self._rules = self._rules + [rule]

    def rules(self) -> List[R]:
        return list(self._rules)

    def clear(self) -> None:
        with self._lock:
            self._rules = []


def installed(registry: Registry, kind: Type[L]) -> L:
    """The registry's layer of this class, installed (with no arguments) on first use."""
    layer = next((layer for layer in registry.layers if isinstance(layer, kind)), None)
    if layer is None:
        layer = kind()
        registry.install_layer(layer)
    return layer
