"""Routing `/v2/_<ext>/<component>/<module>` and `/v2/<name>/_<ext>/<component>/<module>`.

A repository name never has a component starting with `_` (spec name grammar), so the first
`_`-segment after `/v2/` starts the extension and everything before it is the repository. These
routes are tried after the distribution routes: a path like `/v2/a/manifests/_tag` is a manifest
(tags may start with `_`), and no distribution route can match a path that has a `_`-segment in
the name position, so the two never compete.

Each request gets a Match like any other `/v2` route: kind "extension-discover" or "extension",
params `name` (repository-level only), `extension` and `path`, so auth and fault layers see the
repository an extension call is about.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from .. import reference
from ..errors import RegistryError
from ..http import Request, Response, json_response
from ..routes import Found, Route
from .model import METHODS, REGISTRY, REPOSITORY, Endpoint
from .negotiation import negotiate

if TYPE_CHECKING:
    from ..registry import Registry

_EXTENSION_PATH = re.compile(
    r"^/v2/(?:(?P<name>[^_/][^/]*(?:/[^_/][^/]*)*)/)?(?P<extension>_[^/]*)(?:/(?P<path>.*))?$")
_DISCOVER = ("_oci", "ext/discover")


class _ExtensionPath:
    """A path pattern (duck-typed for Router) that validates the repository name while matching,
    so a bad name is a routing error (400 NAME_INVALID) just as on the distribution routes."""

    def __init__(self, discover: bool) -> None:
        self.discover = discover

    def match(self, path: str) -> Optional[Found]:
        found = _EXTENSION_PATH.match(path)
        if found is None:
            return None
        extension, rest = found.group("extension"), found.group("path") or ""
        if ((extension, rest) == _DISCOVER) != self.discover:
            return None
        params = {} if self.discover else {"extension": extension, "path": rest}
        name = found.group("name")
        if name is not None:
            if not reference.is_valid_name(name):
                raise RegistryError("NAME_INVALID", {"name": name})
            params["name"] = name
        return Found(params)


def extension_routes() -> List[Route]:
    discover_route = Route(_ExtensionPath(discover=True),  # type: ignore[arg-type]
                           {"GET": ("extension-discover", discover), "HEAD": ("extension-discover", discover)})
    any_method = {method: ("extension", dispatch) for method in METHODS}
    return [discover_route, Route(_ExtensionPath(discover=False), any_method)]  # type: ignore[arg-type]


def discover(registry: Registry, request: Request, name: Optional[str] = None) -> Response:
    return dispatch(registry, request, *_DISCOVER, name=name)


def dispatch(registry: Registry, request: Request, extension: str, path: str,
             name: Optional[str] = None) -> Response:
    if not registry.settings.extensions:
        raise RegistryError("UNSUPPORTED", "extensions are disabled on this registry", status=404)
    level = REGISTRY if name is None else REPOSITORY
    served = registry.extensions.known(extension, level, name)
    if served is None:
        detail = {"extension": extension, **({"name": name} if name is not None else {})}
        raise RegistryError("EXTENSION_UNKNOWN", detail)
    parts = path.split("/")
    resolved = served.resolve(level, parts[0], parts[1]) if len(parts) == 2 else None
    if resolved is None:
        raise RegistryError("UNSUPPORTED", {"path": request.path, "endpoints": served.paths(level, name)},
                            status=404, message=f"no such endpoint of extension {extension}")
    endpoint, params = resolved
    return _run(endpoint, params, registry, request, name)


def _run(endpoint: Endpoint, params: Dict[str, str], registry: Registry, request: Request,
         name: Optional[str]) -> Response:
    method = request.method
    operation = endpoint.operations.get(method)
    if operation is None and method == "HEAD":
        operation = endpoint.operations.get("GET")
    if operation is None:
        raise RegistryError("UNSUPPORTED", f"{method} is not allowed on {request.path}", message="method not allowed",
                            headers=[("Allow", endpoint.allowed())])
    media_type = negotiate(request.header("Accept"), operation.produces)
    kwargs: Dict[str, Any] = dict(params)
    if operation.wants_media_type:
        kwargs["media_type"] = media_type
    args = (request, registry) if name is None else (request, registry, name)
    return _response(operation.handler(*args, **kwargs), media_type)


def _response(result: Any, media_type: Optional[str]) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, (dict, list)):
        return json_response(200, json.dumps(result).encode(), content_type=media_type or "application/json")
    raise TypeError(f"an extension handler must return a mockreg.http.Response, a dict or a list; got {result!r}")

