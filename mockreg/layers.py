"""The extension point around request handling: auth, rate limits, faults and the request
journal are `Layer`s that a `Registry` runs before and after each handler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from .http import Request, Response
from .routes import Match

if TYPE_CHECKING:
    from .registry import Registry


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
