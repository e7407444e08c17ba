"""Switches that real registries' quirks need (issue 12), as one layer (manifest checks: manifest_policy.py).

`PolicyLayer` is installed only while one of its settings differs from its default, so the
spec-exact registry never runs it. Each refusal is a RegistryError with a stable `reason`
("repository-missing", "name-too-deep", ...) that error rules (`error_rules.py`) can answer the
way a given registry does. See docs/registry.md, "Registry quirks".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlencode

from .errors import RegistryError
from .http import Request, Response
from .layers import Layer
from .routes import Match

if TYPE_CHECKING:
    from .registry import Registry
    from .settings import Settings

# Settings the layer looks at, with the value that leaves it out.
LAYER_DEFAULTS = {
    "repository_must_exist": False, "namespace_must_exist": False, "max_name_components": 0,
    "min_name_components": 0, "max_name_length": 0,
    "tags_page_size": 0, "tags_page_max": 0, "catalog_page_size": 0, "catalog_page_max": 0,
    "link_header": "relative", "blob_mount": True, "chunked_uploads": True, "chunk_max_length": 0,
    "chunk_min_enforced": False,
}
# The requests that create content in a repository; the upload's later requests need a session
# that only a successful start hands out.
_PUSH_STARTS = {"blob-upload-start", "manifest-put"}
_PAGED = {"tags-list": ("tags_page_size", "tags_page_max"), "catalog": ("catalog_page_size", "catalog_page_max")}


def wanted(settings: "Settings") -> bool:
    """Whether any setting needs the layer."""
    return any(getattr(settings, name) != default for name, default in LAYER_DEFAULTS.items())


class PolicyLayer(Layer):
    """Name limits, repositories that must exist, page size caps, Link form, mounts and chunks."""

    order = 15  # after auth: a client without credentials learns that first, as from a real registry

    def before(self, registry: "Registry", request: Request, match: Optional[Match]) -> Optional[Response]:
        if match is None:
            return None
        settings = registry.settings
        kind = match.kind
        name = match.params.get("name")
        if name is not None:
            _check_name_limits(settings, name)
            if kind in _PUSH_STARTS:
                _check_exists(registry, name)
        if kind in _PAGED:
            _page_size(settings, request, *_PAGED[kind])
        elif kind == "blob-upload-start" and not settings.blob_mount and request.arg("mount") is not None:
            _drop_args(request, ("mount", "from"))
        elif kind == "blob-upload-patch":
            _check_chunk(settings, request)
        return None

    def after(self, registry: "Registry", request: Request, match: Optional[Match],
              response: Response) -> Response:
        form = registry.settings.link_header
        if form == "relative":
            return response
        headers = response.headers
        for position, (header, value) in enumerate(headers):
            if header.lower() == "link" and value.startswith("</"):
                if form == "none":
                    response.headers = [h for h in headers if h[0].lower() != "link"]
                    break
                headers[position] = (header, f"<{base_url(request)}{value[1:]}")
        return response


def base_url(request: Request) -> str:
    """scheme://host the client used, e.g. http://127.0.0.1:5000."""
    return "%s://%s" % request.origin()


def _check_exists(registry: "Registry", name: str) -> None:
    settings, store = registry.settings, registry.store
    if settings.repository_must_exist and name not in store.repositories:
        raise RegistryError("NAME_UNKNOWN", {"name": name}, reason="repository-missing",
                            message="repository name not known to registry; create it before pushing")
    if settings.namespace_must_exist and not store.in_namespace(name):
        raise RegistryError("NAME_UNKNOWN", {"name": name}, reason="namespace-missing",
                            message="no namespace of this repository exists; create it before pushing")


def _check_name_limits(settings: "Settings", name: str) -> None:
    components = name.count("/") + 1
    if settings.max_name_components and components > settings.max_name_components:
        raise RegistryError("NAME_INVALID", {"name": name, "max_components": settings.max_name_components},
                            reason="name-too-deep")
    if components < settings.min_name_components:
        raise RegistryError("NAME_INVALID", {"name": name, "min_components": settings.min_name_components},
                            reason="name-too-shallow")
    if settings.max_name_length and len(name) > settings.max_name_length:
        raise RegistryError("NAME_INVALID", {"name": name, "max_length": settings.max_name_length},
                            reason="name-too-long")


def _page_size(settings: "Settings", request: Request, default_name: str, cap_name: str) -> None:
    """Give the handler the `n` this registry would use: its default, or the request's clamped."""
    default, cap = getattr(settings, default_name), getattr(settings, cap_name)
    raw = request.arg("n")
    if raw is None or raw == "":
        if default:
            _set_arg(request, "n", str(default))
        return
    if cap and raw.isascii() and raw.isdigit() and int(raw) > cap:  # a bad n is the handler's 400
        if settings.page_over_max == "error":
            raise RegistryError("UNSUPPORTED", {"n": raw, "max": cap}, status=400, reason="page-size-too-large",
                                message=f"n must not exceed {cap}")
        _set_arg(request, "n", str(cap))


def _check_chunk(settings: "Settings", request: Request) -> None:
    if not settings.chunked_uploads:
        raise RegistryError("UNSUPPORTED", "chunked uploads are not supported; PUT the whole blob",
                            message="PATCH is not allowed here", headers=[("Allow", "GET, PUT, DELETE")],
                            reason="chunked-upload-refused")
    size = request.content_length
    if size is None:
        return  # a chunk of unknown length is judged by the size limits as it arrives
    if settings.chunk_max_length and size > settings.chunk_max_length:
        raise RegistryError("SIZE_INVALID", {"chunk": size, "max": settings.chunk_max_length}, status=413,
                            reason="chunk-too-large", message="chunk too large")
    if settings.chunk_min_enforced and size < settings.chunk_min_length:
        raise RegistryError("BLOB_UPLOAD_INVALID", {"chunk": size, "min": settings.chunk_min_length}, status=416,
                            reason="chunk-too-small", message="chunk smaller than OCI-Chunk-Min-Length")


def _set_arg(request: Request, name: str, value: str) -> None:
    query = {key: values for key, values in request.query.items() if key != name}
    query[name] = [value]
    request.replace_query(urlencode(query, doseq=True))


def _drop_args(request: Request, names: Any) -> None:
    query = {key: values for key, values in request.query.items() if key not in names}
    request.replace_query(urlencode(query, doseq=True))


def sync(registry: "Registry") -> None:
    """Install the layer when the settings need it, remove it when they no longer do."""
    current = next((layer for layer in registry.layers if isinstance(layer, PolicyLayer)), None)
    if wanted(registry.settings):
        if current is None:
            registry.install_layer(PolicyLayer())
    elif current is not None:
        registry.layers.remove(current)
