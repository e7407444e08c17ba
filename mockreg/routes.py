"""The URL map of the distribution API: which handler answers which method on which path.

Repository names may contain route-like components (`a/blobs/manifests`), so every pattern is
anchored at both ends and the name group uses the spec's grammar; a regex backtracks to the
only split that leaves a valid tail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import RegistryError
from .handlers import blobs, discovery, manifests, uploads
from .reference import NAME_PATTERN

Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    """One path pattern; `kinds` names each method's operation (e.g. "manifest-put") for the
    request journal, fault rules and auth."""

    pattern: re.Pattern[str]
    handlers: Dict[str, Tuple[str, Handler]]

    def allowed(self) -> str:
        return ", ".join(sorted(self.handlers))


@dataclass(frozen=True)
class Match:
    kind: str
    handler: Handler
    params: Dict[str, str]


def route(path: str, **handlers: Tuple[str, Handler]) -> Route:
    pattern = re.compile("^" + path.replace("<name>", f"(?P<name>{NAME_PATTERN})") + "$")
    return Route(pattern, {method.upper(): target for method, target in handlers.items()})


def distribution_routes() -> List[Route]:
    return [
        route("/v2/?", get=("base", discovery.base), head=("base", discovery.base)),
        route("/v2/_catalog", get=("catalog", discovery.catalog)),
        route("/v2/<name>/tags/list", get=("tags-list", discovery.tags_list)),
        route("/v2/<name>/manifests/(?P<reference_>[^/]+)",
              get=("manifest-get", manifests.get), head=("manifest-head", manifests.get),
              put=("manifest-put", manifests.put), delete=("manifest-delete", manifests.delete)),
        route("/v2/<name>/blobs/uploads/?", post=("blob-upload-start", uploads.start)),
        route("/v2/<name>/blobs/uploads/(?P<session_id>[^/]+)",
              get=("blob-upload-status", uploads.status), patch=("blob-upload-patch", uploads.patch),
              put=("blob-upload-put", uploads.finish), delete=("blob-upload-cancel", uploads.cancel)),
        route("/v2/<name>/blobs/(?P<digest>[^/]+)",
              get=("blob-get", blobs.get), head=("blob-head", blobs.get), delete=("blob-delete", blobs.delete)),
        route("/v2/<name>/referrers/(?P<digest>[^/]+)", get=("referrers", discovery.referrers)),
    ]


# A path shaped like a repository route whose name breaks the grammar.
_BAD_NAME = re.compile(
    r"^/v2/(?P<name>.+?)/(?:manifests/[^/]+|blobs/uploads/?[^/]*|blobs/[^/]+|tags/list|referrers/[^/]+)$")


class Router:
    def __init__(self, routes: Optional[List[Route]] = None) -> None:
        self.routes: List[Route] = routes if routes is not None else distribution_routes()

    def add(self, new_route: Route) -> None:
        """Add a route that is tried before the distribution routes (extensions use this)."""
        self.routes.insert(0, new_route)

    def match(self, method: str, path: str) -> Match:
        for candidate in self.routes:
            found = candidate.pattern.match(path)
            if found is None:
                continue
            target = candidate.handlers.get(method)
            if target is None:
                raise RegistryError("UNSUPPORTED", f"{method} is not allowed on {path}",
                                    message="method not allowed", headers=[("Allow", candidate.allowed())])
            return Match(target[0], target[1], found.groupdict())
        bad = _BAD_NAME.match(path)
        if bad is not None:
            raise RegistryError("NAME_INVALID", {"name": bad.group("name")})
        raise RegistryError("UNSUPPORTED", f"no route for {method} {path}", status=404, message="not found")
