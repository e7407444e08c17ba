"""How long a client may hold a connection of the live server, and how many it may hold.

Every connection has its own thread, so a client that connects and then says nothing, or
trickles its headers, would hold a thread forever. `ConnectionLimits` bounds that:

- `handshake_timeout`: a TLS handshake must finish this many seconds after the connection is
  accepted (the handshake runs in the connection's thread, never in the accept loop);
- `header_timeout`: once a request's first byte has arrived, its request line and headers must be
  complete within this many seconds (a slow-loris client is cut off);
- `idle_timeout`: a connection waiting for its next request (or its first) is closed after this
  many seconds;
- `body_timeout`: while a request is in progress, every read of its body must bring bytes within
  this many seconds (a read-progress timeout, as nginx's `client_body_timeout`): a client that
  stops sending in the middle of a body is hung up on, and the registry rolls back what that
  request had appended exactly as for a client that disconnects. A slow client that keeps
  sending is never cut off, however long its body takes;
- `max_connections`: connections (and so threads) open at once. When one more client connects,
  the connection that has waited longest without a request in progress (idle, in its handshake
  or in its headers) is closed to make room; only when every connection is in the middle of a
  request is the new client turned away: `503 UNAVAILABLE` with `Retry-After` over plain HTTP,
  closed at once over TLS (answering would need a handshake in the accept loop).

Apart from `body_timeout`, a request in progress (the registry's work, its answer) has no
deadline: a 16 GiB push may take minutes. `0` switches a timeout or the bound off. The deadlines are checked by the
accept loop a few times a second, so a request pays two clock reads and no system call for them.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional, Set

if TYPE_CHECKING:
    from .http_connection import Connection

NEVER = math.inf
_REFUSAL_BODY = (b'{"errors":[{"code":"UNAVAILABLE","message":"service unavailable",'
                 b'"detail":"every connection of this server is busy; retry later"}]}')


@dataclass
class ConnectionLimits:
    """Timeouts (seconds) and the connection bound of a `LiveServer`; 0 switches one off."""

    handshake_timeout: float = 10.0
    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    body_timeout: float = 60.0
    max_connections: int = 1000
    retry_after: int = 1  # seconds, in the 503 a client gets when every connection is busy

    def __post_init__(self) -> None:
        for name in ("handshake_timeout", "header_timeout", "idle_timeout", "body_timeout", "max_connections",
                     "retry_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"{name} must be a finite number of at least 0, got {value!r}")

    @property
    def check_interval(self) -> float:
        """How often the accept loop looks for expired deadlines: a quarter of the shortest one."""
        timeouts = [t for t in (self.handshake_timeout, self.header_timeout, self.idle_timeout, self.body_timeout)
                    if t]
        return min(1.0, max(0.01, min(timeouts) / 4)) if timeouts else 1.0


class ConnectionTable:
    """The open connections of one server: admission at the bound, and expiry of deadlines."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._open: Set[Connection] = set()
        self._lock = threading.Lock()
        self._closing = 0  # connections hung up on whose threads have not ended yet
        self.refused = 0  # clients turned away because every connection was busy
        self.reclaimed = 0  # connections closed to make room for a new client
        self.expired = 0  # connections closed by a handshake, header, idle or body timeout

    def __len__(self) -> int:
        return len(self._open)

    def snapshot(self) -> List[Connection]:
        with self._lock:
            return list(self._open)

    def admit(self, connection: Connection) -> bool:
        """Take a new connection in, closing the longest-waiting idle one at the bound; False if full."""
        bound = self.limits.max_connections
        with self._lock:
            if bound and len(self._open) - self._closing >= bound:
                waiting = [c for c in self._open if c.reclaimable and not c.evicted]
                if not waiting:
                    self.refused += 1
                    return False
                victim = min(waiting, key=lambda c: c.since)
                victim.evicted = True
                self._closing += 1
                self.reclaimed += 1
                hang_up(victim)
            self._open.add(connection)
        return True

    def forget(self, connection: Connection) -> None:
        with self._lock:
            if connection in self._open:
                self._open.discard(connection)
                self._closing -= connection.evicted

    def expire(self) -> None:
        """Hang up on connections past their deadline; their threads then end on their own."""
        now = time.monotonic()
        with self._lock:
            late = [c for c in self._open if c.deadline <= now and not c.evicted]
            for connection in late:
                connection.evicted = True
            self._closing += len(late)
        self.expired += len(late)
        for connection in late:
            hang_up(connection)

    def refuse(self, sock: socket.socket, tls: bool) -> None:
        """Turn a client away without a thread: a 503 over plain HTTP, a closed connection over TLS."""
        try:
            sock.setblocking(False)
            if not tls:
                _discard_input(sock)
                sock.send(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                          b"Retry-After: %d\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                          % (self.limits.retry_after, len(_REFUSAL_BODY), _REFUSAL_BODY))
                sock.shutdown(socket.SHUT_WR)
                _discard_input(sock)  # what already arrived would otherwise turn the close into a reset
        except OSError:
            pass
        finally:
            sock.close()


def hang_up(connection: Connection) -> None:
    """Shut a connection's socket so its thread's blocked read ends (TLS sockets too)."""
    try:
        socket.socket.shutdown(connection.sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _discard_input(sock: socket.socket) -> Optional[bytes]:
    try:
        return sock.recv(1 << 16)
    except (BlockingIOError, InterruptedError):
        return None
