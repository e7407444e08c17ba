"""A threaded HTTP/1.1 WSGI server with keep-alive, for the live registry.

werkzeug's development server closes every connection after one response, which makes each
request of a test suite pay a TCP handshake; this one keeps connections open, answers with
one write per small response, and sets TCP_NODELAY so small requests do not wait on Nagle.
"""

from __future__ import annotations

import http.server
import socket
import socketserver
import ssl
import sys
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import unquote

WSGIApp = Callable[[Dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Responses up to this size go out in one write together with their headers.
_COALESCE_LIMIT = 64 * 1024


class _BodyInput:
    """wsgi.input for a request with Content-Length: never reads past the body."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream = stream
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        if size < 0 or size > self.remaining:
            size = self.remaining
        data = self._stream.read(size)
        self.remaining -= len(data)
        return data

    def readinto(self, target: Any) -> int:
        if self.remaining <= 0:
            return 0
        view = memoryview(target)
        if len(view) > self.remaining:
            view = view[: self.remaining]
        got = self._stream.readinto(view)
        self.remaining -= got or 0
        return got or 0

    def drain(self) -> None:
        while self.remaining > 0 and self.read(1 << 16):
            pass


class _ChunkedInput:
    """wsgi.input for a `Transfer-Encoding: chunked` request body, read until its end."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._left = 0
        self._done = False

    def _next_chunk(self) -> None:
        line = self._stream.readline(1024)
        try:
            self._left = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ConnectionError(f"malformed chunk size line {line!r}") from None
        if self._left == 0:
            while self._stream.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            self._done = True

    def read(self, size: int = -1) -> bytes:
        parts: List[bytes] = []
        wanted = size if size >= 0 else sys.maxsize
        while wanted > 0 and not self._done:
            if self._left == 0:
                self._next_chunk()
                continue
            data = self._stream.read(min(self._left, wanted))
            if not data:
                raise ConnectionError("chunked body ended early")
            parts.append(data)
            self._left -= len(data)
            wanted -= len(data)
            if self._left == 0:
                self._stream.readline(1024)
        return b"".join(parts)

    def drain(self) -> None:
        while self.read(1 << 16):
            pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_ThreadedServer"

    def setup(self) -> None:
        super().setup()
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (ConnectionError, socket.timeout, ssl.SSLError):
            self.close_connection = True
            return
        if not self.raw_requestline or len(self.raw_requestline) > 65536:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        try:
            self._run_app()
        except (ConnectionError, BrokenPipeError, socket.timeout, ssl.SSLError):
            self.close_connection = True

    def _environ(self) -> Tuple[Dict[str, Any], Any]:
        path, _, query = self.path.partition("?")
        if path.startswith(("http://", "https://")):
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        environ: Dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query,
            "REQUEST_URI": self.path,
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.server.ssl_context else "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "mockreg.connection": self.connection,
        }
        for key, value in self.headers.items():
            if "_" in key:
                continue  # header smuggling: "X_Y" would collide with "X-Y"
            name = key.upper().replace("-", "_")
            if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                name = "HTTP_" + name
            environ[name] = f"{environ[name]},{value}" if name in environ else value
        body: Any
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = _ChunkedInput(self.rfile)
            environ["wsgi.input_terminated"] = True
            environ.pop("CONTENT_LENGTH", None)
        else:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = 0
            body = _BodyInput(self.rfile, max(length, 0))
        environ["wsgi.input"] = body
        return environ, body

    def _run_app(self) -> None:
        environ, body = self._environ()
        status_headers: List[Any] = []

        def start_response(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Callable:
            status_headers[:] = [status, headers]
            return lambda data: None

        result = self.server.app(environ, start_response)
        try:
            status, headers = status_headers
            body.drain()
            self._write_response(status, headers, result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _write_response(self, status: str, headers: List[Tuple[str, str]], result: Iterable[bytes]) -> None:
        head = [f"HTTP/1.1 {status}\r\n"]
        has_length = False
        for key, value in headers:
            if key.lower() == "content-length":
                has_length = True
            head.append(f"{key}: {value}\r\n")
        code = int(status[:3])
        chunked = not has_length and self.command != "HEAD" and code >= 200 and code not in (204, 304)
        if chunked:
            head.append("Transfer-Encoding: chunked\r\n")
        if self.close_connection:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        pending = "".join(head).encode("latin-1")
        send = self.connection.sendall
        for data in result:
            if not data:
                continue
            if chunked:
                data = b"%x\r\n%s\r\n" % (len(data), data)
            if pending and len(data) <= _COALESCE_LIMIT:
                send(pending + data)
            else:
                if pending:
                    send(pending)
                send(data)
            pending = b""
        if chunked:
            pending += b"0\r\n\r\n"
        if pending:
            send(pending)

    def log_message(self, format: str, *args: Any) -> None:
        return  # the request journal and `mockreg serve` log requests themselves


class _ThreadedServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: Tuple[str, int], app: WSGIApp, ssl_context: Optional[ssl.SSLContext]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        self.ssl_context = ssl_context
        super().__init__(address, _Handler)

    def get_request(self) -> Tuple[socket.socket, Any]:
        connection, address = self.socket.accept()
        if self.ssl_context is not None:
            connection = self.ssl_context.wrap_socket(connection, server_side=True)
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout)):
            return
        super().handle_error(request, client_address)


class LiveServer:
    """Serves a WSGI app on a real socket in a background thread.

    `app` may be replaced while running; the next request uses the new one.
    """

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self._server = _ThreadedServer((host, port), app, ssl_context)
        self._thread: Optional[threading.Thread] = None
        self.host = host
        self.port: int = self._server.server_address[1]
        self.scheme = "https" if ssl_context else "http"

    @property
    def app(self) -> WSGIApp:
        return self._server.app

    @app.setter
    def app(self, app: WSGIApp) -> None:
        self._server.app = app

    @property
    def host_port(self) -> str:
        """`host:port` as image references use it, e.g. `127.0.0.1:5000` or `[::1]:5000`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_port}"

    def start(self) -> "LiveServer":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"mockreg-{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        """Release the socket of a server run with `serve_forever` in this thread."""
        self._server.server_close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
