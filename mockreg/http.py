"""A thin, fast view of a WSGI request and the response tuple handlers return.

Handlers run for every test request, so this avoids building werkzeug Request/Response objects.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple, Union
from urllib.parse import parse_qs

from .errors import RegistryError

Headers = List[Tuple[str, str]]
Body = Union[bytes, Iterable[bytes]]

# A body is read in slices of this size so that bytes are hashed while they arrive.
READ_SLICE = 1 << 20


class Request:
    __slots__ = ("environ", "method", "path", "_query")

    def __init__(self, environ: Dict[str, Any]) -> None:
        self.environ = environ
        self.method: str = environ["REQUEST_METHOD"].upper()
        self.path: str = environ.get("PATH_INFO") or "/"
        self._query: Optional[Dict[str, List[str]]] = None

    @property
    def query(self) -> Dict[str, List[str]]:
        if self._query is None:
            raw = self.environ.get("QUERY_STRING", "")
            if not raw:
                self._query = {}
            elif "&" in raw or "%" in raw or "+" in raw or ";" in raw:
                self._query = parse_qs(raw, keep_blank_values=True)
            else:  # one plain `name=value`, as most requests carry: what parse_qs gives, cheaper
                name, _, value = raw.partition("=")
                self._query = {name: [value]}
        return self._query

    def arg(self, name: str) -> Optional[str]:
        values = self.query.get(name)
        return values[0] if values else None

    def args(self, name: str) -> List[str]:
        return self.query.get(name, [])

    def origin(self) -> Tuple[str, str]:
        """(scheme, host[:port]) the client used, e.g. ("http", "127.0.0.1:5000")."""
        environ = self.environ
        host = environ.get("HTTP_HOST")
        if not host:
            host = f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
        return environ.get("wsgi.url_scheme", "http"), host

    def replace_query(self, query: str) -> None:
        """Change the query arguments the handler will see (layers clamp `n` or drop `mount` this
        way); the environ keeps what the client sent, for the journal and the request log."""
        self._query = parse_qs(query, keep_blank_values=True)

    def header(self, name: str) -> Optional[str]:
        key = _ENVIRON_KEYS.get(name)
        if key is None:
            key = _environ_key(name)
        return self.environ.get(key)

    @property
    def content_length(self) -> Optional[int]:
        """The declared body length; None when the body is chunked or undeclared."""
        raw = self.environ.get("CONTENT_LENGTH")
        if raw in (None, ""):
            return None
        try:
            value = int(raw)
        except ValueError:
            raise RegistryError("SIZE_INVALID", f"Content-Length is not a number: {raw!r}") from None
        if value < 0:
            raise RegistryError("SIZE_INVALID", "Content-Length is negative")
        return value

    def has_body(self) -> bool:
        """Whether the request brings bytes: a positive Content-Length, or a body read until EOF."""
        length = self.content_length
        return length > 0 if length is not None else self._streams_until_eof()

    def _streams_until_eof(self) -> bool:
        return bool(self.environ.get("wsgi.input_terminated")) or (
            "chunked" in (self.environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
        )

    def read_into(self, sink: Any, hasher: Any, limit: Optional[int] = None) -> int:
        """Append the body to `sink`, handing each slice to `hasher` as it arrives.

        `sink.room()` says how much to read next (a blob's pieces stay aligned, so a full read
        is kept as it is), `sink.append(data)` takes it; `hasher` is a HashPipeline (or anything
        with `update(data, inline)`), which hashes big bodies on a helper thread one slice behind
        the reader and small ones inline. A chunked body is read until EOF. Returns the number of
        bytes read. Raises SIZE_INVALID (413) if more than `limit` bytes arrive, SIZE_INVALID if
        the body ends early; the caller undoes what was appended.
        """
        stream = self.environ["wsgi.input"]
        length = self.content_length
        if length is None and not self._streams_until_eof():
            return 0
        if length is not None and limit is not None and length > limit:
            raise RegistryError("SIZE_INVALID", f"body of {length} bytes exceeds the limit of {limit}", status=413)
        remaining = length
        small = length is not None and length <= READ_SLICE
        # Every slice of a small body is hashed inline (no thread for a manifest or a small layer);
        # so is the first slice of a chunked body, which may well be small too.
        inline = small or length is None
        received = 0
        while remaining is None or remaining > 0:
            wanted = sink.room()
            chunk = _read(stream, wanted if remaining is None else min(remaining, wanted))
            if not chunk:
                break
            received += len(chunk)
            if limit is not None and received > limit:
                raise RegistryError("SIZE_INVALID", f"body exceeds the limit of {limit} bytes", status=413)
            hasher.update(chunk, inline)
            inline = small
            sink.append(chunk)
            if remaining is not None:
                remaining -= len(chunk)
        if remaining:
            raise RegistryError("SIZE_INVALID", f"body ended {remaining} bytes short of Content-Length {length}")
        return received

    def read_all(self, limit: Optional[int]) -> bytes:
        """The whole body, for small documents such as manifests (413 past `limit`)."""
        parts = _Parts()
        self.read_into(parts, _NoHash, limit)
        return b"".join(parts)

    def drain(self) -> None:
        """Consume an unused body, keeping none of it, so the connection stays usable."""
        length = self.content_length
        if length is None and not self._streams_until_eof():
            return
        stream = self.environ["wsgi.input"]
        remaining = length
        while remaining is None or remaining > 0:
            chunk = _read(stream, READ_SLICE if remaining is None else min(remaining, READ_SLICE))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)


# Header name -> environ key, for the few names handlers ask for; bounded all the same.
_ENVIRON_KEYS: Dict[str, str] = {}


def _environ_key(name: str) -> str:
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    if len(_ENVIRON_KEYS) < 256:
        _ENVIRON_KEYS[name] = key
    return key


def _read(stream: Any, size: int) -> bytes:
    try:
        return stream.read(size)
    except ConnectionError as exc:
        raise _broken_body(exc) from None


def _broken_body(exc: Exception) -> RegistryError:
    # The server raises ConnectionError for a body cut short or with broken chunk framing: that
    # is the client's fault, so it gets a 400 (and the server closes the connection after it).
    return RegistryError("SIZE_INVALID", f"request body broken off: {exc}")


class _NoHash:
    @staticmethod
    def update(data: Any, inline: bool = False) -> None:
        return None


class _Parts(list):
    """A sink for `read_into` that keeps the slices as they came."""

    @staticmethod
    def room() -> int:
        return READ_SLICE


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: Optional[Headers] = None, body: Body = b"") -> None:
        self.status = status
        self.headers: Headers = headers if headers is not None else []
        self.body = body


def json_response(status: int, payload: bytes, headers: Optional[Headers] = None,
                  content_type: str = "application/json") -> Response:
    all_headers = [("Content-Type", content_type), ("Content-Length", str(len(payload)))]
    if headers:
        all_headers.extend(headers)
    return Response(status, all_headers, payload)


def empty(status: int, headers: Optional[Headers] = None) -> Response:
    all_headers = [("Content-Length", "0")]
    if headers:
        all_headers.extend(headers)
    return Response(status, all_headers, b"")


def error_response(error: RegistryError) -> Response:
    return json_response(error.status, error.body(), error.headers)
