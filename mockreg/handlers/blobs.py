"""Pull and delete blobs: end-2 (GET/HEAD with Range) and end-10 (DELETE)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterator, Optional, Tuple

from ..errors import RegistryError
from ..http import Request, Response, empty
from .common import check_digest, check_name, digest_header, method_disabled, whole_number

if TYPE_CHECKING:
    from ..registry import Registry
    from ..store import BlobBytes

_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
# Responses are written in slices so that a Range is served without copying the whole blob.
SEND_SLICE = 1 << 20


def get(registry: Registry, request: Request, name: str, digest: str) -> Response:
    check_name(name)
    check_digest(registry, digest)
    data = registry.store.blob(name, digest)
    total = len(data)
    headers = [
        ("Content-Type", "application/octet-stream"),
        ("Accept-Ranges", "bytes"),
        ("ETag", f'"{digest}"'),
        *digest_header(registry, digest),
    ]
    wanted = _requested_range(request.header("Range"), total)
    if wanted is None:
        headers.append(("Content-Length", str(total)))
        body = b"" if request.method == "HEAD" else _slices(data, 0, total)
        return Response(200, headers, body)
    start, end = wanted
    headers += [("Content-Length", str(end - start)), ("Content-Range", f"bytes {start}-{end - 1}/{total}")]
    return Response(206, headers, b"" if request.method == "HEAD" else _slices(data, start, end))


def delete(registry: Registry, request: Request, name: str, digest: str) -> Response:
    check_name(name)
    check_digest(registry, digest)
    if not registry.settings.blob_delete:
        raise method_disabled("blob deletion", request, "GET, HEAD")
    registry.store.delete_blob(name, digest)
    return empty(202)


def _requested_range(header: Optional[str], total: int) -> Optional[Tuple[int, int]]:
    """[start, end) for a single satisfiable byte range; None to send everything (RFC 9110 lets a
    server ignore Range it does not parse, including multiple ranges); 416 when unsatisfiable."""
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if total == 0:  # no byte of an empty blob can be addressed, not even by a suffix range
        raise _unsatisfiable(total)
    if first == "":
        suffix = whole_number(last)
        if suffix == 0:
            raise _unsatisfiable(total)
        return max(total - suffix, 0), total
    start = whole_number(first)
    end = total if last == "" else min(whole_number(last) + 1, total)
    if start >= total or (last != "" and whole_number(last) < start):
        raise _unsatisfiable(total)
    return start, end


def _unsatisfiable(total: int) -> RegistryError:
    return RegistryError("SIZE_INVALID", "requested range not satisfiable", status=416,
                         message="requested range not satisfiable",
                         headers=[("Content-Range", f"bytes */{total}")])


def _slices(data: BlobBytes, start: int, end: int) -> Iterator[bytes]:
    if isinstance(data, bytes) and start == 0 and end == len(data):
        yield data
        return
    with memoryview(data) as view:
        for offset in range(start, end, SEND_SLICE):
            yield bytes(view[offset:min(end, offset + SEND_SLICE)])
