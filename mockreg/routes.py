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
    # Text every path this route matches contains (e.g. "/manifests/"): a substring test is far
    # cheaper than the pattern, whose name grammar backtracks, so most routes are skipped by it.
    marker: str = ""

    def allowed(self) -> str:
        return ", ".join(sorted(self.handlers))


class Match:
    """The route a request took: its kind, handler and path parameters. A plain class with slots
    (a frozen dataclass costs a microsecond more per request, in `object.__setattr__`)."""

    __slots__ = ("kind", "handler", "params")

    def __init__(self, kind: str, handler: Handler, params: Dict[str, str]) -> None:
        self.kind = kind
        self.handler = handler
        self.params = params

    def __repr__(self) -> str:
        return f"Match(kind={self.kind!r}, params={self.params!r})"


def route(path: str, **handlers: Tuple[str, Handler]) -> Route:
    if "<name>" in path and not _top_level_alternation(path):
        pattern: Any = _NamedPath(path)
    else:
        pattern = re.compile("^" + path.replace("<name>", f"(?P<name>{NAME_PATTERN})") + "$")
    return Route(pattern, {method.upper(): target for method, target in handlers.items()}, _marker(path))


_NAME = re.compile(NAME_PATTERN)
# Names already matched against the grammar (every request of a push names the same repository);
# bounded, so a client inventing names cannot grow it.
_NAME_FITS: Dict[str, bool] = {}
_MAX_NAME_FITS = 1024


def _fits_name_grammar(name: str) -> bool:
    fits = _NAME_FITS.get(name)
    if fits is None:
        fits = _NAME.fullmatch(name) is not None
        if len(_NAME_FITS) < _MAX_NAME_FITS:
            _NAME_FITS[name] = fits
    return fits


def _top_level_alternation(path: str) -> bool:
    depth, escaped = 0, False
    for char in path:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
    return False


class _NamedPath:
    """Matches `<prefix><name><tail>` exactly as the anchored regex `^prefix(?P<name>NAME)tail$`
    would, without its backtracking (which cost more than the rest of a small request). Every
    tail here starts with `/` and ends in a literal or a `[^/]+` parameter, so only one position
    can split name from tail: the tail, searched anchored at the end, finds it; the name left of
    it must then fit the grammar."""

    def __init__(self, path: str) -> None:
        self.prefix, _, tail = path.partition("<name>")
        self.tail = re.compile(tail + "$")

    def match(self, path: str) -> Optional[Found]:
        if not path.startswith(self.prefix):
            return None
        found = self.tail.search(path, len(self.prefix))
        if found is None:
            return None
        name = path[len(self.prefix):found.start()]
        if not _fits_name_grammar(name):
            return None
        params = found.groupdict()
        params["name"] = name
        return Found(params)


class Found:
    """What Router reads from a pattern match: the route parameters (also built by the
    extension routes, whose patterns validate the name while matching)."""

    __slots__ = ("params",)

    def __init__(self, params: Dict[str, str]) -> None:
        self.params = params

    def groupdict(self) -> Dict[str, str]:
        return self.params


def _marker(path: str) -> str:
    """The literal text right after `<name>` (or from the start, for a route without one) up to
    the first regex syntax; a character that a quantifier makes optional is left out."""
    if _top_level_alternation(path):
        return ""  # `a|b` matches paths that need not contain any one text
    before, has_name, after = path.partition("<name>")
    literal = after if has_name else before
    for position, char in enumerate(literal):
        if char in "\\.^$*+?{}[]|()":
            return literal[:position - 1] if char in "?*{" else literal[:position]
    return literal


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
            if candidate.marker not in path:
                continue
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
