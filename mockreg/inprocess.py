"""Reaching a registry without a socket: `requests` routed through `responses`, and `httpx`
through `httpx.WSGITransport`.

`requests`: a `RequestsRouter` sends every request for its base URLs (any method, any path) to a
WSGI app. It decides per request which adapter a `requests.Session` uses: URLs under its hosts
get an in-process adapter that answers through a private `responses.RequestsMock` (whose
callbacks call the app); other URLs keep their usual adapter, so they reach the network or a
`responses` mock of the test's own, whichever was started first or last. With
`passthrough=False` other hosts are refused instead, with `responses`' message listing routes
(hosts of an enclosing router and prefixes given to `allow` still get through).
"""

from __future__ import annotations

import io
import re
import sys
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple
from unittest import mock
from urllib.parse import unquote, urlsplit

import requests
import responses
from requests.adapters import HTTPAdapter

DEFAULT_BASE_URL = "http://mockreg.test"
METHODS = ("GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS")

WSGIApp = Callable[[Dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RequestsRouter:
    """Routes `requests` calls for one or more base URLs to `app` in process.

    Use as a context manager or with `start()`/`stop()`::

        with RequestsRouter(Registry()) as router:
            requests.get(f"{router.url}/v2/")
    """

    def __init__(self, app: WSGIApp, base_urls: Sequence[str] = (DEFAULT_BASE_URL,), *,
                 passthrough: bool = True) -> None:
        self.app = app
        self.passthrough = passthrough
        # Never started itself: used only to match, build responses and emulate the adapter's
        # urllib3 Retry; so it patches nothing and cannot disturb a test's own responses mock.
        self.mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        self._send = self.mock.unbound_on_send()
        self._prefixes: List[str] = []
        self._allowed: List[str] = []
        self._patcher: Optional[Any] = None
        for url in base_urls:
            self.add_host(url)

    @property
    def url(self) -> str:
        """The first base URL, e.g. "http://mockreg.test"."""
        return self._prefixes[0]

    @property
    def urls(self) -> List[str]:
        return list(self._prefixes)

    def add_host(self, base_url: str) -> str:
        """Route everything under `base_url` (scheme://host[:port], no path) to the app."""
        prefix = _normalise(base_url)
        if prefix not in self._prefixes:
            self._prefixes.append(prefix)
            pattern = re.compile(re.escape(prefix) + r"(?:[/?#].*)?\Z", re.IGNORECASE | re.DOTALL)
            for method in METHODS:
                # A list of header pairs (so repeated headers survive): responses accepts it, though
                # its annotation says Mapping.
                self.mock.add_callback(method, pattern, callback=self._call_app,  # type: ignore[arg-type]
                                       content_type=None)
        return prefix

    def allow(self, prefix: str) -> None:
        """Let URLs starting with `prefix` through even when `passthrough` is off (e.g. a live server)."""
        self._allowed.append(prefix)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> RequestsRouter:
        if self._patcher is None:
            original = requests.Session.get_adapter
            self._patcher = mock.patch.object(requests.Session, "get_adapter", self._adapter_for(original))
            self._patcher.start()
        return self

    def stop(self) -> None:
        if self._patcher is not None:
            self._patcher.stop()
            self._patcher = None

    def __enter__(self) -> RequestsRouter:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _adapter_for(self, original: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
        router = self

        def get_adapter(session: requests.Session, url: str) -> Any:
            usual = original(session, url)
            if router._routes(url):
                return _InProcessAdapter(router._send, getattr(usual, "max_retries", None))
            if router.passthrough or router._is_allowed(url) or isinstance(usual, _InProcessAdapter):
                return usual  # the usual adapter, or an enclosing router's in-process one
            return _InProcessAdapter(router._send, None)  # refused, with responses' list of routes

        return get_adapter

    def _routes(self, url: str) -> bool:
        lowered = url[:200].lower()
        return any(lowered.startswith(p) and lowered[len(p):len(p) + 1] in ("", "/", "?", "#")
                   for p in self._prefixes)

    def _is_allowed(self, url: str) -> bool:
        return any(url.startswith(prefix) for prefix in self._allowed)

    # -- the responses callback ---------------------------------------------------------------
    def _call_app(self, request: requests.PreparedRequest) -> Tuple[int, List[Tuple[str, str]], bytes]:
        captured: List[Any] = []

        def start_response(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Callable:
            captured[:] = [status, headers]
            return _discard

        result = self.app(_environ(request), start_response)
        try:
            body = _collect(result, request)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = captured
        return int(status[:3]), headers, body


class _InProcessAdapter(HTTPAdapter):
    """An adapter that never opens a socket: `send` hands the request to the router's mock."""

    def __init__(self, send: Callable[..., Any], max_retries: Any) -> None:
        # HTTPAdapter.__init__ would build a connection pool this adapter never uses.
        self._mock_send = send
        self.max_retries = max_retries if max_retries is not None else requests.adapters.Retry(0, read=False)

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        return self._mock_send(self, request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                               proxies=proxies)

    def close(self) -> None:
        return None


def _discard(data: bytes) -> None:
    return None


def _environ(request: requests.PreparedRequest) -> Dict[str, Any]:
    url = urlsplit(request.url or "")
    https = url.scheme == "https"
    environ: Dict[str, Any] = {
        "REQUEST_METHOD": request.method or "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(url.path or "/", "latin-1"),
        "QUERY_STRING": url.query,
        "SERVER_NAME": url.hostname or "",
        "SERVER_PORT": str(url.port or (443 if https else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url.scheme,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for key, value in request.headers.items():
        name = key.upper().replace("-", "_")
        if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = "HTTP_" + name
        environ[name] = value.decode("latin-1") if isinstance(value, bytes) else value
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        data = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        environ["wsgi.input"] = io.BytesIO(data)
        if data or "CONTENT_LENGTH" in environ:
            environ["CONTENT_LENGTH"] = str(len(data))
    elif hasattr(body, "read"):
        environ["wsgi.input"] = body
    else:  # a generator or other iterable: streamed, its length unknown until it ends
        environ["wsgi.input"] = _IterableInput(body)
        environ["wsgi.input_terminated"] = True
    return environ


def _collect(result: Iterable[bytes], request: requests.PreparedRequest) -> bytes:
    if isinstance(result, list) and len(result) == 1:
        return result[0]
    try:
        return b"".join(result)
    except ConnectionError as exc:  # the registry dropped the connection (a fault rule)
        raise requests.exceptions.ConnectionError(f"connection dropped by the registry: {exc}",
                                                  request=request) from exc


class _IterableInput:
    """wsgi.input over an iterable request body (requests sends those with chunked encoding)."""

    def __init__(self, chunks: Iterable[Any]) -> None:
        self._chunks: Iterator[Any] = iter(chunks)
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        parts = [self._pending]
        have = len(self._pending)
        while size < 0 or have < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            if isinstance(chunk, str):
                chunk = chunk.encode("utf-8")
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        if 0 <= size < len(data):
            data, self._pending = data[:size], data[size:]
        else:
            self._pending = b""
        return data


def _normalise(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"a base URL is http(s)://host[:port], got {base_url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"a base URL has no path, query or fragment (the registry is at its root), got {base_url!r}")
    return f"{parts.scheme}://{parts.netloc}".lower()


# -- httpx ------------------------------------------------------------------------------------
def httpx_transport(app: WSGIApp) -> Any:
    """An `httpx.WSGITransport` for `app` that reports a dropped connection as httpx does
    (`httpx.RemoteProtocolError`) rather than as a bare ConnectionError."""
    return _httpx_transport_class()(app=app)


def httpx_client(app: WSGIApp, base_url: str = DEFAULT_BASE_URL, **options: Any) -> Any:
    """An `httpx.Client` whose requests go to `app` in process; `options` go to `httpx.Client`."""
    import httpx

    return httpx.Client(transport=httpx_transport(app), base_url=_normalise(base_url), **options)


_TRANSPORT_CLASS: Dict[str, Any] = {}


def _httpx_transport_class() -> type:
    # httpx is optional: the class is made on first use, so importing mockreg never needs it
    # (and made again if httpx was re-imported, as pytester's module snapshots do).
    import httpx

    if _TRANSPORT_CLASS.get("module") is httpx:
        return _TRANSPORT_CLASS["class"]  # type: ignore[no-any-return]

    class InProcessTransport(httpx.WSGITransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            try:
                response = super().handle_request(request)
            except ConnectionError as exc:
                raise httpx.RemoteProtocolError(f"connection dropped by the registry: {exc}",
                                                request=request) from exc
            response.stream = _DropTranslatingStream(response.stream, request)
            return response

    class _DropTranslatingStream(httpx.SyncByteStream):
        def __init__(self, stream: Any, request: httpx.Request) -> None:
            self._stream = stream
            self._request = request

        def __iter__(self) -> Iterator[bytes]:
            try:
                yield from self._stream
            except ConnectionError as exc:
                raise httpx.RemoteProtocolError(f"connection dropped by the registry: {exc}",
                                                request=self._request) from exc

        def close(self) -> None:
            self._stream.close()

    _TRANSPORT_CLASS["module"], _TRANSPORT_CLASS["class"] = httpx, InProcessTransport
    return InProcessTransport
