"""The request log of `mockreg serve`: one line per request, as text or JSON lines.

A WSGI wrapper rather than a `Layer`, because only the server sees a streamed blob to its end:
the line is written when the body has been sent (or the client went away), so the duration and
byte count are what the client experienced. Text lines read like a registry's access log::

    2024-05-01T12:00:00.123Z 127.0.0.1 "GET /v2/demo/app/manifests/1.0 HTTP/1.1" 200 1234 0.4ms demo/app sha256:…

`mockreg serve --quiet` does not install it, so a quiet server pays nothing per request.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, TextIO, Tuple

from .digest import looks_like_digest
from .server import WSGIApp

FORMATS = ("text", "json")


def timestamp(seconds: float) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. `2024-05-01T12:00:00.123Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}Z"


class RequestLog:
    """Wraps a WSGI app; writes one line per request to `stream` and counts requests."""

    def __init__(self, app: WSGIApp, stream: TextIO, format: str = "text") -> None:
        if format not in FORMATS:
            raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {format!r}")
        self.app = app
        self._stream = stream
        self._format = self._json_line if format == "json" else self._text_line
        self._lock = threading.Lock()
        self._served = 0

    @property
    def requests_served(self) -> int:
        return self._served

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        sent: List[Any] = []

        def capture(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
            sent[:] = [status, headers]
            return start_response(status, headers, exc_info)

        body = self.app(environ, capture)
        if isinstance(body, list):  # the registry answers small bodies as [bytes]: log right away
            self.write(environ, sent, sum(map(len, body)), started)
            return body
        return _LoggedBody(body, self, environ, sent, started)

    def write(self, environ: Dict[str, Any], sent: List[Any], size: int, started: float) -> None:
        duration = time.perf_counter() - started
        status, headers = sent if sent else ("000 no response", [])
        line = self._format(environ, int(status[:3]), headers, size, duration)
        with self._lock:
            self._served += 1
            self._stream.write(line + "\n")

    def _text_line(self, environ: Dict[str, Any], status: int, headers: List[Tuple[str, str]], size: int,
                   duration: float) -> str:
        repository, digest = _subject(environ, headers)
        about = "".join(f" {part}" for part in (repository, digest) if part)
        return (f'{timestamp(time.time())} {environ.get("REMOTE_ADDR", "-")} "{environ["REQUEST_METHOD"]} '
                f'{_target(environ)} {environ.get("SERVER_PROTOCOL", "HTTP/1.1")}" {status} {size} '
                f"{duration * 1000:.2f}ms{about}")

    def _json_line(self, environ: Dict[str, Any], status: int, headers: List[Tuple[str, str]], size: int,
                   duration: float) -> str:
        repository, digest = _subject(environ, headers)
        match = environ.get("mockreg.match")
        return json.dumps({
            "time": timestamp(time.time()), "remote": environ.get("REMOTE_ADDR"),
            "method": environ["REQUEST_METHOD"], "path": _target(environ), "status": status, "bytes": size,
            "duration_ms": round(duration * 1000, 3), "kind": match.kind if match is not None else None,
            "repository": repository, "digest": digest, "agent": environ.get("HTTP_USER_AGENT"),
        }, separators=(",", ":"))


class _LoggedBody:
    """A streamed response body that counts what was sent and logs when the server closes it."""

    def __init__(self, body: Iterable[bytes], log: RequestLog, environ: Dict[str, Any], sent: List[Any],
                 started: float) -> None:
        self._body = body
        self._log = log
        self._environ = environ
        self._sent = sent
        self._started = started
        self._size = 0

    def __iter__(self) -> Iterator[bytes]:
        for data in self._body:
            self._size += len(data)
            yield data

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._log.write(self._environ, self._sent, self._size, self._started)


def _target(environ: Dict[str, Any]) -> str:
    uri = environ.get("REQUEST_URI")
    if uri:
        return uri
    query = environ.get("QUERY_STRING")
    return environ.get("PATH_INFO", "/") + (f"?{query}" if query else "")


def _subject(environ: Dict[str, Any], headers: List[Tuple[str, str]]) -> Tuple[Optional[str], Optional[str]]:
    """The repository and digest a request concerned: from the route, else the registry's answer."""
    match = environ.get("mockreg.match")
    if match is None:
        return None, None
    params = match.params
    digest = params.get("digest")
    if digest is None:
        reference = params.get("reference_")
        if reference is not None and looks_like_digest(reference):
            digest = reference
        else:
            digest = next((value for key, value in headers if key == "Docker-Content-Digest"), None)
    return params.get("name"), digest
