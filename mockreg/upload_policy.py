"""Upload switches real registries' quirks need (issue 12): no chunked uploads, chunk size
limits, and mounts that are never or only sometimes fulfilled. Called by the policy layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from .errors import RegistryError
from .http import Request

if TYPE_CHECKING:
    from .registry import Registry
    from .settings import Settings


def mount_allowed(settings: Settings, name: str, source: Optional[str]) -> bool:
    """Whether a mount request may mount; if not, it starts an ordinary upload (202)."""
    if not settings.blob_mount:
        return False
    depth = settings.mount_namespace_depth
    if depth and source is not None:
        return name.split("/")[:depth] == source.split("/")[:depth]
    return True


def check_chunk(registry: Registry, request: Request, kind: str, name: str, session_id: str) -> None:
    """Refuse a PATCH (or a closing PUT that brings bytes) the chunk switches forbid."""
    settings = registry.settings
    size = request.content_length
    if kind == "blob-upload-patch":
        if not settings.chunked_uploads:
            raise RegistryError("UNSUPPORTED", "chunked uploads are not supported; PUT the whole blob",
                                message="PATCH is not allowed here", headers=[("Allow", "GET, PUT, DELETE")],
                                reason="chunked-upload-refused")
        if size is not None and settings.chunk_max_length and size > settings.chunk_max_length:
            raise RegistryError("SIZE_INVALID", {"chunk": size, "max": settings.chunk_max_length}, status=413,
                                reason="chunk-too-large", message="chunk too large")
        if size is not None and settings.chunk_min_rule == "every-patch" and size < settings.chunk_min_length:
            raise _too_small(size, settings.chunk_min_length)
    if settings.chunk_min_rule == "all-but-last" and request.has_body():
        # Only the last chunk may be short: one that is followed by more bytes was not the last.
        session = registry.store.upload(name, session_id.split("&", 1)[0])
        if 0 < session.last_chunk < settings.chunk_min_length:
            raise _too_small(session.last_chunk, settings.chunk_min_length)


def _too_small(size: int, minimum: int) -> RegistryError:
    return RegistryError("BLOB_UPLOAD_INVALID", {"chunk": size, "min": minimum}, status=416,
                         reason="chunk-too-small", message="chunk smaller than the minimum chunk size")
