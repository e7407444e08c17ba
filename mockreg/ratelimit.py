"""Rate limits: `429 TOOMANYREQUESTS` with `Retry-After`, and Docker Hub's headers.

A `RateLimit` allows `limit` counted requests per `window` seconds for each client (the
authenticated user, else the client address), each repository, or the whole registry. Windows
are fixed: one opens at a key's first counted request and closes `window` seconds later on the
registry clock, so `registry.clock.advance(window)` lifts a limit at once. Counted responses,
refusals included, carry `ratelimit-limit: N;w=SECONDS`, `ratelimit-remaining: N;w=SECONDS`
and `docker-ratelimit-source`, as Docker Hub sends them. Docker Hub itself counts manifest GETs
only: `RateLimit(limit=100, window=21600, kinds=["manifest-get"])`.

The windows a limit keeps are bounded by the `rate_limit_windows` setting (keys per limit):
opening one more first forgets the windows that have closed, then the oldest opened; forgetting
a window only makes its key's next request start a fresh one. `stats(limit_id)` (and the control
API's listing) shows how many are kept and how many were dropped.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from .errors import RegistryError
from .http import Request, Response
from .layers import Layer
from .mapping import ConfigError, boolean, from_mapping, number, optional_str, string_list, to_mapping
from .routes import Match

if TYPE_CHECKING:
    from .registry import Registry

PER = ("client", "repository", "registry")


@dataclass
class RateLimit:
    """One limit; fields are the keys of its scenario-file / control-API mapping."""

    limit: int
    window: float = 60.0
    per: str = "client"
    methods: List[str] = field(default_factory=list)
    kinds: List[str] = field(default_factory=list)
    repository: Optional[str] = None
    headers: bool = True
    name: Optional[str] = None

    def __post_init__(self) -> None:
        what = f"rate limit {self.name!r}" if self.name else "rate limit"
        number(self.limit, f"{what} limit", whole=True)
        number(self.window, f"{what} window", minimum=0.001)
        if self.per not in PER:
            raise ConfigError(f"{what} per must be one of {', '.join(PER)}, got {self.per!r}")
        self.methods = [m.upper() for m in string_list(self.methods, f"{what} methods")]
        self.kinds = string_list(self.kinds, f"{what} kinds")
        optional_str(self.repository, f"{what} repository")
        boolean(self.headers, f"{what} headers")
        optional_str(self.name, f"{what} name")

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> RateLimit:
        return from_mapping(cls, mapping, "rate limit")

    def to_dict(self) -> Dict[str, Any]:
        return {"limit": self.limit, **to_mapping(self)}

    def key(self, request: Request, match: Optional[Match]) -> Optional[str]:
        """The counter this request is charged to, or None when the limit does not apply."""
        if self.methods and request.method not in self.methods:
            return None
        kind = match.kind if match is not None else ""
        if (self.kinds or kind.startswith("control")) and kind not in self.kinds:
            return None  # the control API is limited only when named, so it can always lift limits
        name = match.params.get("name") if match is not None else None
        if self.repository is not None and (name is None or not fnmatch.fnmatchcase(name, self.repository)):
            return None
        if self.per == "repository":
            return name
        if self.per == "registry":
            return "registry"
        environ = request.environ
        return environ.get("mockreg.user") or environ.get("REMOTE_ADDR") or "unknown"


class RateLimitLayer(Layer):
    """Counts requests per limit and key; refuses those over the limit."""

    order = 20

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._limits: Dict[str, RateLimit] = {}
        # limit id -> key -> (window start, requests counted)
        self._windows: Dict[str, OrderedDict[str, Tuple[float, int]]] = {}
        self._dropped: Dict[str, int] = {}  # limit id -> windows forgotten to stay within the bound
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, limit: RateLimit) -> str:
        with self._lock:
            limit_id = limit.name or f"rate-limit-{next(self._ids)}"
            if limit_id in self._limits:
                raise ConfigError(f"a rate limit named {limit_id!r} exists already")
            self._limits[limit_id] = limit
            self._windows[limit_id] = OrderedDict()
            self._dropped[limit_id] = 0
        return limit_id

    def remove(self, limit_id: str) -> None:
        with self._lock:
            if self._limits.pop(limit_id, None) is None:
                raise KeyError(f"no rate limit {limit_id!r}; rate limits: {', '.join(self._limits) or 'none'}")
            del self._windows[limit_id]
            del self._dropped[limit_id]

    def clear(self) -> None:
        with self._lock:
            self._limits.clear()
            self._windows.clear()
            self._dropped.clear()

    def reset_windows(self) -> None:
        """Forget what was counted; the limits stay."""
        with self._lock:
            for windows in self._windows.values():
                windows.clear()

    def stats(self, limit_id: str) -> Dict[str, int]:
        """How many windows a limit keeps (`windows`) and how many it forgot (`windows_dropped`)."""
        with self._lock:
            return {"windows": len(self._windows.get(limit_id, ())), "windows_dropped": self._dropped.get(limit_id, 0)}

    def limits(self) -> Dict[str, RateLimit]:
        with self._lock:
            return dict(self._limits)

    def before(self, registry: Registry, request: Request, match: Optional[Match]) -> Optional[Response]:
        if not self._limits:
            return None
        now = registry.clock()
        charged: List[Tuple[str, RateLimit, str, float, int]] = []
        with self._lock:
            for limit_id, limit in self._limits.items():
                key = limit.key(request, match)
                if key is None:
                    continue
                start, count = self._windows[limit_id].get(key, (now, 0))
                if now >= start + limit.window:
                    start, count = now, 0
                charged.append((limit_id, limit, key, start, count))
                if count >= limit.limit:
                    retry = max(1, math.ceil(start + limit.window - now))
                    headers = [("Retry-After", str(retry)), *_headers(limit, key, 0)]
                    raise RegistryError("TOOMANYREQUESTS", f"{limit.limit} requests per {limit.window:g} s "
                                        f"for {limit.per} {key}; retry after {retry} s", headers=headers)
            bound = registry.settings.rate_limit_windows
            for limit_id, limit, key, start, count in charged:
                windows = self._windows[limit_id]
                if count == 0:
                    windows.pop(key, None)  # a fresh window goes to the end: windows stay in opening order
                    if bound and len(windows) >= bound:
                        self._dropped[limit_id] += _make_room(windows, bound - 1, now, limit.window)
                windows[key] = (start, count + 1)
        shown = [(limit, key, limit.limit - count - 1) for _, limit, key, _, count in charged if limit.headers]
        if shown:
            request.environ["mockreg.ratelimit"] = min(shown, key=lambda item: item[2])
        return None

    def after(self, registry: Registry, request: Request, match: Optional[Match],
              response: Response) -> Response:
        shown = request.environ.get("mockreg.ratelimit")
        if shown is not None:
            response.headers.extend(_headers(*shown))
        return response


def _make_room(windows: OrderedDict[str, Tuple[float, int]], keep: int, now: float, window: float) -> int:
    """Forget closed windows, then the oldest opened, until at most `keep` remain; how many went.

    Windows are in opening order, so the closed ones are at the front: this costs what it drops.
    """
    dropped = 0
    while windows:
        start = next(iter(windows.values()))[0]
        if len(windows) <= keep and now < start + window:
            break
        windows.popitem(last=False)
        dropped += 1
    return dropped


def _headers(limit: RateLimit, key: str, remaining: int) -> List[Tuple[str, str]]:
    if not limit.headers:
        return []
    window = f"{limit.window:g}"
    return [("ratelimit-limit", f"{limit.limit};w={window}"), ("ratelimit-remaining", f"{remaining};w={window}"),
            ("docker-ratelimit-source", key)]


def find(registry: Registry) -> Optional[RateLimitLayer]:
    return next((layer for layer in registry.layers if isinstance(layer, RateLimitLayer)), None)


def layer_of(registry: Registry) -> RateLimitLayer:
    """The registry's rate-limit layer, installed on first use."""
    layer = find(registry)
    if layer is None:
        layer = RateLimitLayer(registry)
        registry.install_layer(layer)
    return layer
