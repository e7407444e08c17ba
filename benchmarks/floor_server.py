"""The floor: a minimal keep-alive Python HTTP server that returns a canned answer.

It does what any Python server must do per request (stdlib request-line and header parsing, one
write of a prepared answer, TCP_NODELAY) and nothing else, so a server's µs per request divided
by this one's says what its own work costs. Run as a script it prints its URL and serves forever.
"""

from __future__ import annotations

import http.server
import socket

# About the size of a small image manifest, so GET moves as many bytes as the real thing.
BODY = b'{"schemaVersion":2,"canned":"' + b"x" * 480 + b'"}'
_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
         b"Content-Length: %d\r\n\r\n" % len(BODY))


class CannedHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_HEAD(self) -> None:
        self.wfile.write(_HEAD)

    def do_GET(self) -> None:
        self.wfile.write(_HEAD + BODY)

    def log_message(self, format: str, *args: object) -> None:
        return


class CannedServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops a burst of connects for a 1 s SYN retry


def main() -> None:
    server = CannedServer(("127.0.0.1", 0), CannedHandler)
    print(f"floor serving on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
