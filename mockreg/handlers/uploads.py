"""Push blobs: end-4a/4b/4c (POST), end-11 (mount), end-5 (PATCH), end-6 (PUT),
end-13 (GET status) and end-14 (DELETE cancel).

Bytes are hashed as they arrive; a request that fails leaves the session exactly as it was.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, List, Optional, Tuple

from .. import digest as digests
from ..errors import RegistryError
from ..http import Request, Response, empty
from ..store import UploadSession
from .common import check_digest, check_name, digest_header, method_disabled, whole_number

if TYPE_CHECKING:
    from ..registry import Registry

_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?([0-9]+)-([0-9]+)(?:/(?:[0-9]+|\*))?$")


def start(registry: Registry, request: Request, name: str) -> Response:
    check_name(name)
    mount = request.arg("mount")
    if mount is not None:
        mounted = _mount(registry, request, name, mount)
        if mounted is not None:
            return mounted
    digest = request.arg("digest")
    if digest is not None and registry.settings.single_post_upload:
        return _monolithic(registry, request, name, digest)
    algorithm = request.arg("digest-algorithm") or (
        digest.split(":", 1)[0] if digest and ":" in digest else "sha256")
    if algorithm not in registry.algorithms:
        raise RegistryError("DIGEST_INVALID", f"unsupported digest algorithm {algorithm!r}")
    request.drain()
    session = registry.store.start_upload(name, algorithm, digests.new_hasher(algorithm),
                                          registry.settings.max_upload_sessions)
    headers = _session_headers(registry, session)
    if registry.settings.chunk_min_length:
        headers.append(("OCI-Chunk-Min-Length", str(registry.settings.chunk_min_length)))
    return empty(202, headers)


def _mount(registry: Registry, request: Request, name: str, digest: str) -> Optional[Response]:
    check_digest(registry, digest)
    source = request.arg("from")
    if source is not None:
        check_name(source)
    elif not registry.settings.anonymous_mount or registry.auth is not None:
        # Under auth a mount names its source, whose pull access the auth layer checks: mounting
        # "from anywhere" would hand out blobs of repositories the client may not read.
        return None
    if not registry.store.mount(name, digest, source):
        return None
    request.drain()
    return _created(registry, name, digest)


def _monolithic(registry: Registry, request: Request, name: str, digest: str) -> Response:
    algorithm = check_digest(registry, digest)
    buffer = bytearray()
    hasher = digests.new_hasher(algorithm)
    request.read_into(buffer, hasher, registry.settings.max_upload_size or None)
    actual = f"{algorithm}:{hasher.hexdigest()}"
    if actual != digest:
        raise RegistryError("DIGEST_INVALID", f"content has digest {actual}, not {digest}")
    registry.store.add_blob(name, digest, buffer)
    return _created(registry, name, digest)


def patch(registry: Registry, request: Request, name: str, session_id: str) -> Response:
    check_name(name)
    with registry.store.locked_upload(name, _session_id(session_id)) as session:
        session.last_chunk = _append(registry, request, session)
        return empty(202, _session_headers(registry, session))


def finish(registry: Registry, request: Request, name: str, session_id: str) -> Response:
    check_name(name)
    registry.store.upload(name, _session_id(session_id))  # an unknown session is 404 before the digest is judged
    digest = request.arg("digest") or _digest_in_path(session_id)
    if not digest:
        raise RegistryError("DIGEST_INVALID", "the closing PUT needs a digest query parameter")
    algorithm = check_digest(registry, digest)
    with registry.store.locked_upload(name, _session_id(session_id)) as session:
        size, hasher = session.size, session.hasher.copy()
        _append(registry, request, session)
        if algorithm == session.algorithm:
            actual = f"{algorithm}:{session.hasher.hexdigest()}"
        else:
            actual = digests.of(session.buffer, algorithm)
        if actual != digest:
            # The final chunk is taken back, so the client can retry the PUT on the same session.
            del session.buffer[size:]
            session.hasher = hasher
            raise RegistryError("DIGEST_INVALID", f"content has digest {actual}, not {digest}")
        registry.store.add_blob(name, digest, session.buffer)
        registry.store.end_upload(session)
    return _created(registry, name, digest)


def status(registry: Registry, request: Request, name: str, session_id: str) -> Response:
    check_name(name)
    session = registry.store.upload(name, _session_id(session_id))
    return empty(204, _session_headers(registry, session))


def cancel(registry: Registry, request: Request, name: str, session_id: str) -> Response:
    check_name(name)
    if not registry.settings.upload_cancel:
        raise method_disabled("cancelling uploads", request, "GET, PATCH, PUT")
    with registry.store.locked_upload(name, _session_id(session_id)) as session:
        registry.store.end_upload(session)
    return empty(204)


def _append(registry: Registry, request: Request, session: UploadSession) -> int:
    """Add the request body to the session, honouring Content-Range; all or nothing. Returns
    the number of bytes added."""
    declared = _content_range(request.header("Content-Range"))
    if declared is not None and declared[0] != session.size:
        raise RegistryError(
            "BLOB_UPLOAD_INVALID", f"chunk starts at {declared[0]} but the upload holds {session.size} bytes",
            status=416, headers=_session_headers(registry, session))
    if declared is not None and request.content_length is not None \
            and request.content_length != declared[1] - declared[0] + 1:
        raise RegistryError("SIZE_INVALID", f"Content-Range {declared[0]}-{declared[1]} does not "
                            f"match Content-Length {request.content_length}")
    size, hasher = session.size, session.hasher.copy()
    limit = registry.settings.max_upload_size
    try:
        received = request.read_into(session.buffer, session.hasher, max(limit - size, 0) if limit else None)
        if declared is not None and received != declared[1] - declared[0] + 1:
            raise RegistryError("SIZE_INVALID", f"received {received} bytes for Content-Range "
                                f"{declared[0]}-{declared[1]}")
    except BaseException:
        del session.buffer[size:]
        session.hasher = hasher
        raise
    session.touched = registry.store.clock()
    return received


def _content_range(header: Optional[str]) -> Optional[Tuple[int, int]]:
    if header is None or header.strip() == "":
        return None
    match = _CONTENT_RANGE.match(header.strip())
    if match is None:
        raise RegistryError("BLOB_UPLOAD_INVALID", f"malformed Content-Range {header!r}; expected start-end")
    first, last = whole_number(match.group(1)), whole_number(match.group(2))
    if last < first - 1:  # "5-4" is an empty chunk at offset 5
        raise RegistryError("BLOB_UPLOAD_INVALID", f"Content-Range ends before it starts: {header!r}")
    return first, last


def _session_id(raw: str) -> str:
    # Some clients append "&digest=..." to a Location that has no query string.
    return raw.split("&", 1)[0]


def _digest_in_path(raw: str) -> Optional[str]:
    _, _, rest = raw.partition("&digest=")
    return rest.split("&", 1)[0] or None


def _session_headers(registry: Registry, session: UploadSession) -> List[Tuple[str, str]]:
    # With `upload_location_state`, the Location carries an opaque query as distribution's
    # `_state` does; clients must send it back as given (client rule OCI-C006).
    state = f"?_state={session.id[:8]}.{session.size}" if registry.settings.upload_location_state else ""
    return [
        ("Location", f"/v2/{session.repository}/blobs/uploads/{session.id}{state}"),
        ("Range", f"0-{max(session.size - 1, 0)}"),
        ("Docker-Upload-UUID", session.id),
    ]


def _created(registry: Registry, name: str, digest: str) -> Response:
    return empty(201, [("Location", f"/v2/{name}/blobs/{digest}"), *digest_header(registry, digest)])
