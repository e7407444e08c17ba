"""The readers a request body is read through (wsgi.input): one for a body with
Content-Length, one for a chunked body, and the stand-in that sends `100 Continue` only when the
registry first reads the body."""

from __future__ import annotations

import socket
import sys
from typing import Any, List

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class BodyInput:
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
        self.remaining = self.remaining - len(data) if data else 0
        return data

    def readinto(self, target: Any) -> int:
        if self.remaining <= 0:
            return 0
        view = memoryview(target)
        if len(view) > self.remaining:
            view = view[: self.remaining]
        got = self._stream.readinto(view) or 0
        self.remaining = self.remaining - got if got else 0
        return got

    def drain(self) -> None:
        while self.remaining > 0:
            data = self._stream.read(min(self.remaining, 1 << 16))
            if not data:
                raise ConnectionError(f"body ended {self.remaining} bytes short of its Content-Length")
            self.remaining -= len(data)


class ChunkedInput:
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
        if self._left < 0:
            raise ConnectionError(f"negative chunk size {line!r}")
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


class ContinueFirst:
    """Stands in for the connection's reader until the app first reads the body; only then is
    `100 Continue` sent, so a request refused on its headers (413, 401) never draws the body."""

    def __init__(self, body: Any, rfile: Any, sock: socket.socket) -> None:
        self._body, self._rfile, self._sock = body, rfile, sock

    def _go_on(self) -> Any:
        self._sock.sendall(_CONTINUE)
        self._body._stream = self._rfile
        return self._rfile

    def read(self, size: int = -1) -> bytes:
        return self._go_on().read(size)

    def readinto(self, target: Any) -> int:
        return self._go_on().readinto(target)

    def readline(self, size: int = -1) -> bytes:
        return self._go_on().readline(size)
