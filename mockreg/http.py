"""A thin, fast view of a WSGI request and the response tuple handlers return.

Handlers run for every test request, so this avoids building werkzeug Request/Response objects.
"""

from __future__ import annotations

import queue
import threading
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
            self._query = parse_qs(self.environ.get("QUERY_STRING", ""), keep_blank_values=True)
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
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
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

    def read_into(self, buffer: bytearray, hasher: Any, limit: Optional[int] = None) -> int:
        """Append the body to `buffer`, updating `hasher` as each slice arrives.

        From the second slice on, hashing runs on a helper thread one slice behind the reader
        (hashlib releases the GIL), so a big upload is received and hashed on two cores. The
        buffer grows by appending rather than being sized up front: zero-filling a fresh
        256 MiB bytearray costs as much as hashing it, and appending touches each page once, as
        bytes arrive. A chunked body is read until EOF. Returns the number of bytes read. Raises
        SIZE_INVALID if more than `limit` bytes arrive or the body ends early.
        """
        stream = self.environ["wsgi.input"]
        length = self.content_length
        start = len(buffer)
        if length is None and not self._streams_until_eof():
            return 0
        if length is not None and limit is not None and length > limit:
            raise RegistryError("SIZE_INVALID", f"body of {length} bytes exceeds the limit of {limit}", status=413)
        remaining = length
        feed = _PipelinedHasher(hasher, inline_first=length is None or length <= READ_SLICE)
        try:
            while remaining is None or remaining > 0:
                chunk = _read(stream, READ_SLICE if remaining is None else min(remaining, READ_SLICE))
                if not chunk:
                    break
                if limit is not None and len(buffer) - start + len(chunk) > limit:
                    del buffer[start:]
                    raise RegistryError("SIZE_INVALID", f"body exceeds the limit of {limit} bytes", status=413)
                feed.update(chunk)
                buffer += chunk
                if remaining is not None:
                    remaining -= len(chunk)
        finally:
            feed.close()  # the hasher is complete (or idle) before anyone reads or restores it
        if remaining:
            del buffer[start:]
            raise RegistryError("SIZE_INVALID", f"body ended {remaining} bytes short of Content-Length {length}")
        return len(buffer) - start

    def read_all(self, limit: Optional[int]) -> bytes:
        """The whole body, for small documents such as manifests (413 past `limit`)."""
        buffer = bytearray()
        self.read_into(buffer, _NoHash, limit)
        return bytes(buffer)

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


def _read(stream: Any, size: int) -> bytes:
    try:
        return stream.read(size)
    except ConnectionError as exc:
        raise _broken_body(exc) from None


def _broken_body(exc: Exception) -> RegistryError:
    # The server raises ConnectionError for a body cut short or with broken chunk framing: that
    # is the client's fault, so it gets a 400 (and the server closes the connection after it).
    return RegistryError("SIZE_INVALID", f"request body broken off: {exc}")


class _PipelinedHasher:
    """Feeds slices to `hasher` on a helper thread that hashes one slice while the reader receives
    the next. With `inline_first` the first slice is hashed inline, so a body that turns out to
    be one slice long never starts a thread."""

    def __init__(self, hasher: Any, inline_first: bool) -> None:
        self._hasher = hasher
        self._first = inline_first
        self._slices: Optional[queue.Queue[Optional[bytes]]] = None
        self._thread: Optional[threading.Thread] = None
        self._failure: Optional[BaseException] = None

    def update(self, data: bytes) -> None:
        if self._thread is None:
            if self._first or self._hasher is _NoHash:
                self._first = False
                self._hasher.update(data)
                return
            self._slices = queue.Queue(maxsize=1)
            self._thread = threading.Thread(target=self._run, name="mockreg-hash", daemon=True)
            self._thread.start()
        self._slices.put(data)  # type: ignore[union-attr]

    def _run(self) -> None:
        while True:
            data = self._slices.get()  # type: ignore[union-attr]
            if data is None:
                return
            if self._failure is None:
                try:
                    self._hasher.update(data)
                except BaseException as exc:  # handed to the reader in close(); keep draining
                    self._failure = exc

    def close(self) -> None:
        if self._thread is not None:
            self._slices.put(None)  # type: ignore[union-attr]
            self._thread.join()
            self._thread = None
        if self._failure is not None:
            raise self._failure


class _NoHash:
    @staticmethod
    def update(_: Any) -> None:
        return None


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
