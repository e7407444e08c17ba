"""A threaded HTTP/1.1 WSGI server with keep-alive, for the live registry.

werkzeug's development server closes every connection after one response, which makes each
request of a test suite pay a TCP handshake; this one keeps connections open, parses requests
itself (the stdlib's email-based header parser costs more than the registry's own work on a
small request), answers with one write per small response, and sets TCP_NODELAY so small
requests do not wait on Nagle. A stop wakes the accept loop at once.

No client can stall the others: handshake, header and idle deadlines and a bound on open
connections (`ConnectionLimits`, see mockreg/connections.py) are enforced by the accept loop; a
request refused on its headers alone (`413` for an announced body over the limit) is answered at
once and the connection closed, without reading the body, and `100 Continue` is only sent when
the registry starts reading the body.

Why not werkzeug's server, request and response objects (werkzeug is a dependency): measured by
`python -m benchmarks.werkzeug_pieces`, werkzeug 3.1's server answers `Connection: close` to every
request, and its Request + Map + Response cost several times the registry's own work per request.
docs/design.md has the numbers and where mockreg does use werkzeug.
"""

from __future__ import annotations

import selectors
import socket
import ssl
import threading
import time
from typing import Any, Callable, Dict, Iterable, Optional

from .connections import NEVER, ConnectionLimits, ConnectionTable, hang_up
from .http_connection import Connection

WSGIApp = Callable[[Dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LiveServer:
    """Serves a WSGI app on a real socket in a background thread.

    `app` may be replaced while running; the next request uses the new one.
    """

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0,
                 ssl_context: Optional[ssl.SSLContext] = None, limits: Optional[ConnectionLimits] = None) -> None:
        self.app = app
        self.connections = ConnectionTable(limits or ConnectionLimits())
        self.ssl_context = ssl_context
        self.host = host
        self.scheme = "https" if ssl_context else "http"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
            self._socket.listen(1024)
            self._socket.setblocking(False)
        except OSError:
            self._socket.close()
            raise
        self.port: int = self._socket.getsockname()[1]
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._thread: Optional[threading.Thread] = None
        self._serving = False
        self._loop_ended = threading.Event()

    @property
    def host_port(self) -> str:
        """`host:port` as image references use it, e.g. `127.0.0.1:5000` or `[::1]:5000`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_port}"

    def start(self) -> LiveServer:
        self._thread = threading.Thread(target=self.serve_forever, name=f"mockreg-{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Accept connections until `stop()` (or an exception in this thread, e.g. Ctrl-C)."""
        self._loop_ended.clear()
        self._serving = True
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self._socket, selectors.EVENT_READ)
                selector.register(self._wake_reader, selectors.EVENT_READ)
                interval = self.connections.limits.check_interval
                next_check = time.monotonic() + interval
                while True:
                    for key, _ in selector.select(interval):
                        if key.fileobj is self._wake_reader:
                            return
                        self._accept()
                    if time.monotonic() >= next_check:
                        self.connections.expire()
                        next_check = time.monotonic() + interval
        finally:
            self._serving = False
            self._loop_ended.set()

    def _accept(self) -> None:
        try:
            sock, address = self._socket.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        connection = Connection(self, sock, address)
        limits = self.connections.limits
        timeout = limits.handshake_timeout if self.ssl_context is not None else limits.idle_timeout
        connection.deadline = connection.since + timeout if timeout else NEVER
        if not self.connections.admit(connection):
            self.connections.refuse(sock, tls=self.ssl_context is not None)
            return
        sock.setblocking(True)
        threading.Thread(target=connection.serve, name=f"mockreg-{self.port}-connection", daemon=True).start()

    def close(self) -> None:
        """Release the listening socket and hang up on open connections."""
        self._socket.close()
        for connection in self.connections.snapshot():
            hang_up(connection)
        self._wake_reader.close()
        self._wake_writer.close()

    def stop(self) -> None:
        """Stop accepting, wait for the accept loop (in whichever thread) to end, then `close()`."""
        if self._serving:
            try:
                self._wake_writer.send(b"x")
            except OSError:
                pass
            self._loop_ended.wait(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.close()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
