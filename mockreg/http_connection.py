"""One client connection of the live server: reads HTTP/1.1 requests one after another, runs
the WSGI app on each and writes its answer (see mockreg/server.py for why the server is
mockreg's own). Parsing takes the common case, a whole request head in the read buffer, in one
pass, and anything unusual line by line, with the same rules and answers."""

from __future__ import annotations

import io
import socket
import sys
import time
import traceback
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import unquote

from .connections import NEVER
from .httpdate import date_header
from .request_bodies import BodyInput, ChunkedInput, ContinueFirst

if TYPE_CHECKING:
    from .server import LiveServer

# Responses up to this size go out in one write together with their headers.
_COALESCE_LIMIT = 64 * 1024
_MAX_LINE = 65536
_MAX_HEADERS = 100
_READ_BUFFER = 64 * 1024
_WHITESPACE = " \t\r\n\x0b\x0c"  # what bytes.strip() strips: ASCII only, unlike str.strip()
_monotonic = time.monotonic


class _SocketReader(io.RawIOBase):
    """The raw stream under a connection's buffered reader: a recv per read, as socket.SocketIO
    does, and while a request body is being read each recv is a read-progress deadline for the
    accept loop (the body timeout); outside a body it leaves the connection's deadline alone."""

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self._connection = connection
        self._recv_into = connection.sock.recv_into

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        connection = self._connection
        timeout = connection.progress_timeout
        if not timeout:
            return self._recv_into(target)
        connection.deadline = _monotonic() + timeout
        try:
            return self._recv_into(target)
        finally:
            connection.deadline = NEVER  # bytes came: the registry's own work has no deadline


class BadRequest(Exception):
    """A request refused on its head alone: answered with `status` and a plain-text reason, then
    the connection is closed."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class Connection:
    """One client connection: reads requests one after another, answers each through the app."""

    def __init__(self, server: LiveServer, sock: socket.socket, address: Any) -> None:
        self.server = server
        self.sock = sock
        self.address = address
        self.close = False
        self.linger = False  # after an error answer: read what the client still sends before closing
        # Read by the server's ConnectionTable: when this connection must have made progress,
        # since when it waits, whether it may be closed to make room, whether it was.
        self.deadline = NEVER
        self.since = _monotonic()
        self.reclaimable = True
        self.evicted = False
        limits = server.connections.limits
        self._idle_timeout = limits.idle_timeout or NEVER
        self._header_timeout = limits.header_timeout or NEVER
        self._body_timeout = limits.body_timeout
        self.progress_timeout = 0.0  # the body timeout while a request is in progress, else 0

    def serve(self) -> None:
        try:
            if self.server.ssl_context is not None:
                # In this thread, under the handshake deadline set when the connection was admitted;
                # self.sock is the TLS socket before the handshake starts, so a hang-up reaches it.
                self.sock = self.server.ssl_context.wrap_socket(self.sock, server_side=True,
                                                                do_handshake_on_connect=False)
                self.sock.do_handshake()
            if self.sock.family in (socket.AF_INET, socket.AF_INET6):
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.rfile = io.BufferedReader(_SocketReader(self), _READ_BUFFER)
            self.base = self._base_environ()
            while not self.close:
                self.handle_one_request()
        except (OSError, ValueError):
            pass  # the client went away, a TLS handshake failed, or stop() shut the socket
        except Exception:
            print("mockreg server: connection failed\n" + traceback.format_exc(), file=sys.stderr)
        finally:
            self.server.connections.forget(self)
            self._hang_up()

    def _hang_up(self) -> None:
        # The buffered reader holds its own reference to the socket: close it too, or the
        # descriptor (and the client's connection) would stay open.
        rfile = getattr(self, "rfile", None)
        if rfile is not None:
            rfile.close()
        try:
            self.sock.shutdown(socket.SHUT_WR)
            if self.linger:
                # Closing with unread input would send a reset that can destroy the error answer
                # before the client reads it, so take in (briefly) what it is still sending.
                self.sock.settimeout(0.2)
                for _ in range(64):
                    if not self.sock.recv(1 << 16):
                        break
        except OSError:
            pass
        self.sock.close()

    def _base_environ(self) -> Dict[str, Any]:
        host, port = self.server.host, self.server.port
        remote = self.address if isinstance(self.address, tuple) else ("", 0)
        return {
            "SCRIPT_NAME": "", "SERVER_NAME": host, "SERVER_PORT": str(port),
            "REMOTE_ADDR": remote[0], "REMOTE_PORT": str(remote[1]),
            "wsgi.version": (1, 0), "wsgi.url_scheme": self.server.scheme, "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "mockreg.connection": self.sock,
        }

    def handle_one_request(self) -> None:
        self.since = now = _monotonic()
        self.deadline = now + self._idle_timeout
        self.reclaimable = True
        self.progress_timeout = 0.0
        rfile = self.rfile
        buffered = rfile.peek(1)
        if not buffered:
            self.close = True
            return
        self.deadline = _monotonic() + self._header_timeout  # the request has begun: its headers must follow
        try:
            parsed = self._parse_buffered(buffered)
            if parsed is None:  # the head is not all in the buffer yet, or is unusual: line by line
                line = rfile.readline(_MAX_LINE + 1)
                if line in (b"\r\n", b"\n"):  # RFC 9112: ignore an empty line before a request line
                    line = rfile.readline(_MAX_LINE + 1)
                if not line:
                    self.close = True
                    return
                environ, body = self._environ(*self._parse(line))
            else:
                environ, body = parsed
        except BadRequest as bad:
            self.close = True
            self._send_simple(bad.status, str(bad))
            return
        # A request in progress is never closed for room, and its only deadline is the body timeout
        # (set by each read of the body, see _SocketReader).
        self.reclaimable = False
        self.deadline = NEVER
        self.progress_timeout = self._body_timeout
        if environ.get("HTTP_EXPECT", "").lower() == "100-continue" and environ["SERVER_PROTOCOL"] == "HTTP/1.1":
            body._stream = ContinueFirst(body, self.rfile, self.sock)
        try:
            self._run_app(environ, body)
        except ConnectionError:
            self.close = True  # an app's body iterator asked to drop the connection, or the client left

    def _parse_buffered(self, buffered: bytes) -> Optional[Tuple[Dict[str, Any], Any]]:
        """The common case in one pass: request line and headers already in the read buffer, lines
        ending in CRLF, no empty line first, at most _MAX_HEADERS headers. Same rules and answers as
        `_parse` + `_environ` (which handle everything else); None when the case does not apply."""
        end = buffered.find(b"\r\n\r\n")
        if end <= 0 or buffered.startswith(b"\r\n"):
            return None
        text = buffered[:end].decode("latin-1")
        lines = text.split("\r\n")
        if len(lines) > _MAX_HEADERS + 1 or text.count("\n") != len(lines) - 1:
            return None  # bare LFs (or too many headers): the line-by-line path has the exact rules
        self.rfile.read(end + 4)
        request_line = buffered[:len(lines[0]) + 2]
        parts = request_line.split()  # bytes.split(): ASCII whitespace only, as in _parse
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            raise BadRequest("400 Bad Request", f"malformed request line {request_line[:100]!r}")
        version = parts[2].decode("latin-1")
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            self._bad_version(version)
        environ = self._start_environ(parts[0].decode("latin-1"), parts[1].decode("latin-1"), version)
        keys = _ENVIRON_KEYS
        for index in range(1, len(lines)):
            line = lines[index]
            name, colon, value = line.partition(":")
            key = keys.get(name) if colon else None  # a cached name is a valid one
            if key is None:
                if not colon or not name or " " in name or "\t" in name:  # also rejects obs-fold lines
                    raw = (line + "\r\n").encode("latin-1")
                    raise BadRequest("400 Bad Request", f"malformed header line {raw[:100]!r}")
                key = _environ_key(name)
            if not key:
                continue  # header smuggling: "X_Y" would collide with "X-Y"
            value = value.strip(_WHITESPACE)
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ, self._framing(environ, version)

    def _parse(self, line: bytes) -> Tuple[str, str, str, List[Tuple[str, str]]]:
        if len(line) > _MAX_LINE:
            raise BadRequest("414 URI Too Long", "request line too long")
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            raise BadRequest("400 Bad Request", f"malformed request line {line[:100]!r}")
        version = parts[2].decode("latin-1")
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            self._bad_version(version)
        headers: List[Tuple[str, str]] = []
        readline = self.rfile.readline
        while True:
            raw = readline(_MAX_LINE + 1)
            if raw in (b"\r\n", b"\n"):
                break
            if not raw:
                raise ConnectionError("connection closed inside the request headers")
            if len(raw) > _MAX_LINE or len(headers) >= _MAX_HEADERS:
                raise BadRequest("431 Request Header Fields Too Large", "request headers too large")
            name, colon, value = raw.partition(b":")
            if not colon or not name or b" " in name or b"\t" in name:  # also rejects obs-fold lines
                raise BadRequest("400 Bad Request", f"malformed header line {raw[:100]!r}")
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        return parts[0].decode("latin-1"), parts[1].decode("latin-1"), version, headers

    @staticmethod
    def _bad_version(version: str) -> None:
        if version[5:6].isdigit() and version[5:6] >= "2":
            raise BadRequest("505 HTTP Version Not Supported", f"{version} is not supported")
        raise BadRequest("400 Bad Request", f"malformed HTTP version {version!r}")

    def _environ(self, method: str, target: str, version: str,
                 headers: List[Tuple[str, str]]) -> Tuple[Dict[str, Any], Any]:
        environ = self._start_environ(method, target, version)
        for key, value in headers:
            name = _environ_key(key)
            if not name:
                continue
            environ[name] = f"{environ[name]},{value}" if name in environ else value
        return environ, self._framing(environ, version)

    def _start_environ(self, method: str, target: str, version: str) -> Dict[str, Any]:
        path, _, query = target.partition("?")
        if path.startswith(("http://", "https://")):  # absolute-form, as sent to proxies
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        environ = self.base.copy()
        environ["REQUEST_METHOD"] = method
        environ["PATH_INFO"] = unquote(path, "latin-1")
        environ["QUERY_STRING"] = query
        environ["REQUEST_URI"] = target
        environ["SERVER_PROTOCOL"] = version
        return environ

    def _framing(self, environ: Dict[str, Any], version: str) -> Any:
        """Keep-alive from the Connection header, and the body's reader (wsgi.input)."""
        connection = environ.get("HTTP_CONNECTION", "").lower()
        if version == "HTTP/1.0":
            self.close = "keep-alive" not in connection
        elif "close" in connection:
            self.close = True
        body: Any
        if "HTTP_TRANSFER_ENCODING" in environ:
            if environ["HTTP_TRANSFER_ENCODING"].lower().strip() != "chunked":
                self.close = True  # no other coding is understood, so the body's end is unknown
                raise BadRequest("501 Not Implemented", "only chunked transfer coding is supported")
            body = ChunkedInput(self.rfile)
            environ["wsgi.input_terminated"] = True
            if environ.pop("CONTENT_LENGTH", None) is not None:
                self.close = True  # both framings present: RFC 9112 says close after answering
        else:
            raw = environ.get("CONTENT_LENGTH", "")
            length = int(raw) if raw.isdigit() else 0
            if raw and not raw.isdigit():
                self.close = True  # the app answers 400; the body's end is unknown, so hang up after
            body = BodyInput(self.rfile, length)
        environ["wsgi.input"] = body
        return body

    def _run_app(self, environ: Dict[str, Any], body: Any) -> None:
        status_headers: List[Any] = []

        def start_response(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Callable:
            status_headers[:] = [status, headers]
            return _no_write

        try:
            result = self.server.app(environ, start_response)
        except ConnectionError:
            raise
        except Exception:
            self._app_failed(environ)
            return
        try:
            status, headers = status_headers
            if status.startswith("413") or isinstance(body._stream, ContinueFirst):
                # Refused for its size, or answered before the client was asked for the body: don't
                # read (or wait for) the body, answer now and hang up.
                self.close = self.linger = True
            else:
                try:
                    body.drain()  # whatever the app left unread, so the next request starts in the right place
                except ConnectionError:
                    self.close = True  # the body is broken: answer, then hang up
            self._write_response(environ, status, headers, result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _app_failed(self, environ: Dict[str, Any]) -> None:
        # The Registry answers its own errors; an exception escaping the app (a broken layer, a
        # wrapper) drops the connection, as werkzeug's server does, so no test mistakes it for an answer.
        print(f"mockreg server: the app failed on {environ['REQUEST_METHOD']} {environ['REQUEST_URI']}\n"
              + traceback.format_exc(), file=sys.stderr)
        self.close = True

    def _write_response(self, environ: Dict[str, Any], status: str, headers: List[Tuple[str, str]],
                        result: Iterable[bytes]) -> None:
        head = [f"HTTP/1.1 {status}\r\n"]
        has_length = has_date = False
        kinds = _RESPONSE_KINDS
        for key, value in headers:
            kind = kinds.get(key)
            if kind is None:
                kind = _response_kind(key)
            if kind:
                if kind == "content-length":
                    has_length = True
                elif kind == "date":
                    has_date = True
                elif "close" in value.lower():
                    self.close = True
            head.append(f"{key}: {value}\r\n")
        if not has_date:  # the Registry sends its own; any other WSGI app served here gets one too
            head.append(f"Date: {date_header()[1]}\r\n")
        code = int(status[:3])
        bodyless = environ["REQUEST_METHOD"] == "HEAD" or code < 200 or code in (204, 304)
        chunked = False
        if not has_length and not bodyless:
            if environ["SERVER_PROTOCOL"] == "HTTP/1.1":
                chunked = True
                head.append("Transfer-Encoding: chunked\r\n")
            else:
                self.close = True  # an HTTP/1.0 client reads such a body until the connection closes
        if self.close:
            head.append("Connection: close\r\n")
        elif environ["SERVER_PROTOCOL"] == "HTTP/1.0":
            head.append("Connection: keep-alive\r\n")
        head.append("\r\n")
        pending = "".join(head).encode("latin-1")
        send = self.sock.sendall
        for data in result:
            if not data or bodyless:
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

    def _send_simple(self, status: str, text: str) -> None:
        self.linger = True
        body = (text + "\n").encode("latin-1", "replace")
        self.sock.sendall(f"HTTP/1.1 {status}\r\nDate: {date_header()[1]}\r\nContent-Type: text/plain\r\n"
                          f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1") + body)


# Header name as sent -> its environ key ("" for a name with "_", which is dropped: "X_Y" would
# collide with "X-Y"). Clients send the same few names again and again; the cache is bounded.
_ENVIRON_KEYS: Dict[str, str] = {}


def _environ_key(name: str) -> str:
    key = _ENVIRON_KEYS.get(name)
    if key is None:
        if "_" in name:
            key = ""
        else:
            key = name.upper().replace("-", "_")
            if key != "CONTENT_TYPE" and key != "CONTENT_LENGTH":
                key = "HTTP_" + key
        if len(_ENVIRON_KEYS) < 1024:
            _ENVIRON_KEYS[name] = key
    return key


# Response header name as the app spells it -> what the server must know about it.
_RESPONSE_KINDS: Dict[str, str] = {}


def _response_kind(name: str) -> str:
    kind = _RESPONSE_KINDS.get(name)
    if kind is None:
        lowered = name.lower()
        kind = lowered if lowered in ("content-length", "date", "connection") else ""
        if len(_RESPONSE_KINDS) < 1024:
            _RESPONSE_KINDS[name] = kind
    return kind


def _no_write(data: bytes) -> None:
    raise NotImplementedError("mockreg's server does not support the WSGI write() callable")
