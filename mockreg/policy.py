"""Switches that real registries' quirks need (issue 12), as one layer (the checks of uploads and
manifests live in upload_policy.py and manifest_policy.py).

`PolicyLayer` is installed only while one of its settings differs from its default, so the
spec-exact registry never runs it. Each refusal is a RegistryError with a stable `reason`
("repository-missing", "name-too-deep", ...) that error rules (`error_rules.py`) can answer the
way a given registry does. See docs/registry.md, "Registry quirks".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlencode

from . import manifest_policy, upload_policy
from .errors import RegistryError
from .http import Request, Response, error_response
from .layers import Layer
from .routes import Match
from .settings import Settings

if TYPE_CHECKING:
    from .registry import Registry

# Settings the layer looks at; at their defaults it is left out.
LAYER_SETTINGS = (
    "repository_must_exist", "namespace_must_exist", "max_name_components", "min_name_components", "max_name_length",
    "tags_page_size", "tags_page_max", "catalog_page_size", "catalog_page_max", "link_header", "link_extra_params",
    "tags_pagination", "blob_mount", "mount_namespace_depth", "chunked_uploads", "chunk_max_length",
    "chunk_min_rule", "oci_accept_negotiation",
)
_DEFAULTS = Settings()
# The requests that create content in a repository; the upload's later requests need a session
# that only a successful start hands out.
_PUSH_STARTS = {"blob-upload-start", "manifest-put"}
# Headers every answer carries, kept when the layer answers in place of the handler.
_REGISTRY_HEADERS = ("Docker-Distribution-API-Version", "Date")
_PAGED = {"tags-list": ("tags_page_size", "tags_page_max"), "catalog": ("catalog_page_size", "catalog_page_max")}


def wanted(settings: Settings) -> bool:
    """Whether any setting needs the layer."""
    return any(getattr(settings, name) != getattr(_DEFAULTS, name) for name in LAYER_SETTINGS)


class PolicyLayer(Layer):
    """Name limits, repositories that must exist, page sizes, Link form, mounts, chunks, Accept."""

    order = 15  # after auth: a client without credentials learns that first, as from a real registry

    def before(self, registry: Registry, request: Request, match: Optional[Match]) -> Optional[Response]:
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
            if kind == "tags-list" and not settings.tags_pagination:
                _drop_args(request, ("n", "last"))  # every tag, no Link, as registries without paging do
            else:
                _page_size(settings, request, *_PAGED[kind])
        elif kind == "blob-upload-start" and request.arg("mount") is not None:
            if not upload_policy.mount_allowed(settings, name or "", request.arg("from")):
                _drop_args(request, ("mount", "from"))
        elif kind in ("blob-upload-patch", "blob-upload-put"):
            upload_policy.check_chunk(registry, request, kind, name or "", match.params.get("session_id", ""))
        return None

    def after(self, registry: Registry, request: Request, match: Optional[Match],
              response: Response) -> Response:
        settings = registry.settings
        if settings.oci_accept_negotiation and match is not None and match.kind in ("manifest-get", "manifest-head"):
            refusal = manifest_policy.unacceptable(request, response)
            if refusal is not None:
                request.environ["mockreg.error"] = refusal  # error rules may re-answer it
                answer = error_response(refusal)
                answer.headers += [h for h in response.headers if h[0] in _REGISTRY_HEADERS]
                return answer
        if settings.link_header != "relative" or settings.link_extra_params:
            _rewrite_links(settings, request, response)
        return response


def _rewrite_links(settings: Settings, request: Request, response: Response) -> None:
    headers = response.headers
    extra = settings.link_extra_params
    for position, (header, value) in enumerate(headers):
        if header.lower() != "link" or not value.startswith("</"):
            continue
        if settings.link_header == "none":
            response.headers = [h for h in headers if h[0].lower() != "link"]
            return
        target, _, rest = value[1:].partition(">")
        if extra:
            target += ("&" if "?" in target else "?") + extra
        prefix = base_url(request) if settings.link_header == "absolute" else ""
        headers[position] = (header, f"<{prefix}{target}>{rest}")


def base_url(request: Request) -> str:
    """scheme://host the client used, e.g. http://127.0.0.1:5000."""
    scheme, host = request.origin()
    return f"{scheme}://{host}"


def _check_exists(registry: Registry, name: str) -> None:
    settings, store = registry.settings, registry.store
    if settings.repository_must_exist and name not in store.repositories:
        raise RegistryError("NAME_UNKNOWN", {"name": name}, reason="repository-missing",
                            message="repository name not known to registry; create it before pushing")
    if settings.namespace_must_exist and not store.in_namespace(name):
        raise RegistryError("NAME_UNKNOWN", {"name": name}, reason="namespace-missing",
                            message="no namespace of this repository exists; create it before pushing")


def _check_name_limits(settings: Settings, name: str) -> None:
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


def _page_size(settings: Settings, request: Request, default_name: str, cap_name: str) -> None:
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


def _set_arg(request: Request, name: str, value: str) -> None:
    query = {key: values for key, values in request.query.items() if key != name}
    query[name] = [value]
    request.replace_query(urlencode(query, doseq=True))


def _drop_args(request: Request, names: Any) -> None:
    query = {key: values for key, values in request.query.items() if key not in names}
    request.replace_query(urlencode(query, doseq=True))


def sync(registry: Registry) -> None:
    """Install the layer when the settings need it, remove it when they no longer do."""
    current = next((layer for layer in registry.layers if isinstance(layer, PolicyLayer)), None)
    if wanted(registry.settings):
        if current is None:
            registry.install_layer(PolicyLayer())
    elif current is not None:
        registry.layers.remove(current)
