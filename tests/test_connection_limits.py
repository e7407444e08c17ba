"""No client can stall the live server (issue 17): silent TLS clients, slow-loris clients and
thousands of idle connections neither delay other clients nor grow the server without bound; at
the connection bound new clients get a clear answer; a body announced over the limit is answered
413 at once and the connection closed.

No assertion here is on a duration: "not delayed" means the other client's request completes
(with a generous client timeout) while the stalling clients are still connected."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path
from typing import List

import pytest
import requests
from socket_support import GENEROUS, read_to_end, wait_until

from mockreg import Registry
from mockreg.connections import ConnectionLimits
from mockreg.server import LiveServer
from mockreg.tls import self_signed

CLOSE = {"Connection": "close"}  # so the server's count of connections can return to 0


def connect(server: LiveServer) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=GENEROUS)


def is_closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


# -- silent TLS clients ---------------------------------------------------------------------------

def test_silent_tls_clients_neither_delay_others_nor_stay(tmp_path: Path) -> None:
    tls = self_signed(tmp_path, host="127.0.0.1")
    limits = ConnectionLimits(handshake_timeout=1)
    with LiveServer(Registry(), "127.0.0.1", 0, tls.context, limits=limits) as server:
        silent = [connect(server) for _ in range(50)]  # connected, never send a ClientHello
        answer = requests.get(f"{server.url}/v2/", verify=str(tls.ca_file), timeout=GENEROUS, headers=CLOSE)
        assert answer.status_code == 200            # served while all fifty are still connected
        assert wait_until(lambda: all(is_closed_by_server(s) for s in silent))
        assert wait_until(lambda: len(server.connections) == 0)
        assert server.connections.expired >= 50
        for sock in silent:
            sock.close()


# -- slow loris -------------------------------------------------------------------------------------

def test_slow_loris_clients_are_cut_off_at_the_header_timeout_and_delay_no_one() -> None:
    request = b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    limits = ConnectionLimits(header_timeout=1)
    with LiveServer(Registry(), limits=limits) as server:
        cut_off: List[bool] = []
        stop = threading.Event()

        def trickle() -> None:
            with connect(server) as sock:
                try:
                    for byte in request:  # one byte every 50 ms: 11 s for the whole request
                        sock.sendall(bytes([byte]))
                        if stop.wait(0.05):
                            return
                    cut_off.append(False)
                except OSError:
                    cut_off.append(True)
                    return
                cut_off.append(read_to_end(sock) == b"")

        lorises = [threading.Thread(target=trickle) for _ in range(20)]
        for thread in lorises:
            thread.start()
        assert wait_until(lambda: len(server.connections) == 20)
        answer = requests.get(f"{server.url}/v2/", timeout=GENEROUS, headers=CLOSE)
        assert answer.status_code == 200
        for thread in lorises:
            thread.join(GENEROUS)
        stop.set()
        assert cut_off == [True] * 20                # every trickler was hung up on
        assert server.connections.expired >= 20
        assert wait_until(lambda: len(server.connections) == 0)


# -- idle connections and the bound ---------------------------------------------------------------

def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads RSS from /proc")
def test_thousands_of_idle_connections_stay_within_the_bound_and_delay_no_one() -> None:
    limits = ConnectionLimits(max_connections=200, idle_timeout=0)  # idle forever: only the bound helps
    with LiveServer(Registry(), limits=limits) as server:
        threads_before, rss_before = threading.active_count(), _rss()
        idle = [connect(server) for _ in range(2000)]
        assert requests.get(f"{server.url}/v2/", timeout=GENEROUS).status_code == 200
        assert wait_until(lambda: server.connections.reclaimed >= 2000 - 200 + 1)
        # Connections hung up on to make room end their threads a moment later.
        assert wait_until(lambda: len(server.connections) <= 200)
        assert wait_until(lambda: threading.active_count() <= threads_before + 200 + 5)
        # What 2,000 idle connections leave behind is bounded by the 200 kept (thread stacks and
        # read buffers), far less than 2,000 of them would cost.
        assert _rss() - rss_before < 200 * 1024 * 1024
        closed = sum(is_closed_by_server(sock) for sock in idle)
        assert closed >= 2000 - 200
        for sock in idle:
            sock.close()


def test_idle_connections_are_closed_after_the_idle_timeout(live: LiveServer) -> None:
    with LiveServer(Registry(), limits=ConnectionLimits(idle_timeout=0.5)) as server:
        session = requests.Session()
        assert session.get(f"{server.url}/v2/", timeout=GENEROUS).status_code == 200
        assert wait_until(lambda: len(server.connections) == 0)   # the kept-alive connection went
        assert session.get(f"{server.url}/v2/", timeout=GENEROUS).status_code == 200  # the client reconnects


def test_when_every_connection_is_busy_a_new_client_gets_503_with_retry_after() -> None:
    with LiveServer(Registry(), limits=ConnectionLimits(max_connections=2, retry_after=3)) as server:
        busy = []
        for _ in range(2):  # mid-request: announced a body and sent only part of it
            sock = connect(server)
            sock.sendall(b"PUT /v2/demo/app/manifests/1.0 HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 100\r\n\r\n{")
            busy.append(sock)
        assert wait_until(lambda: len(server.connections) == 2 and not any(
            c.reclaimable for c in server.connections.snapshot()))
        with connect(server) as refused:
            refused.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_to_end(refused)
        assert answer.startswith(b"HTTP/1.1 503 "), answer
        assert b"Retry-After: 3\r\n" in answer and b'"code":"UNAVAILABLE"' in answer
        assert server.connections.refused == 1
        for sock in busy:
            sock.close()
        assert wait_until(lambda: len(server.connections) == 0)
        assert requests.get(f"{server.url}/v2/", timeout=GENEROUS).status_code == 200


def test_over_tls_a_client_over_the_bound_is_refused(tmp_path: Path) -> None:
    tls = self_signed(tmp_path, host="127.0.0.1")
    limits = ConnectionLimits(max_connections=1)
    with LiveServer(Registry(), "127.0.0.1", 0, tls.context, limits=limits) as server:
        context = ssl.create_default_context(cafile=str(tls.ca_file))
        with context.wrap_socket(connect(server), server_hostname="127.0.0.1") as busy:
            busy.sendall(b"PUT /v2/demo/app/manifests/1.0 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            assert wait_until(lambda: not any(c.reclaimable for c in server.connections.snapshot()))
            with pytest.raises((ssl.SSLError, OSError)):
                with context.wrap_socket(connect(server), server_hostname="127.0.0.1") as refused:
                    refused.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
                    if not refused.recv(1):
                        raise ConnectionResetError("closed")
        assert server.connections.refused == 1


def test_connection_limits_refuse_nonsense() -> None:
    for bad in ({"idle_timeout": -1}, {"max_connections": float("inf")}, {"header_timeout": "10"}):
        with pytest.raises(ValueError):
            ConnectionLimits(**bad)  # type: ignore[arg-type]


# -- early 413 -----------------------------------------------------------------------------------

def test_a_manifest_announced_over_the_limit_is_413_at_once_and_the_connection_closed(live: LiveServer) -> None:
    with connect(live) as sock:
        sock.sendall(b"PUT /v2/demo/app/manifests/1.0 HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
                     b"Content-Length: 10737418240\r\n\r\n")          # 10 GiB announced, none sent
        answer = read_to_end(sock)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"SIZE_INVALID" in answer
    assert b"Connection: close\r\n" in answer


def test_a_chunked_body_is_cut_off_at_the_limit(registry: Registry, live: LiveServer) -> None:
    registry.configure(max_upload_size=1024 * 1024)
    location = requests.post(f"{live.url}/v2/demo/app/blobs/uploads/", timeout=GENEROUS).headers["Location"]
    path = location.split("://", 1)[-1].split("/", 1)[-1] if "://" in location else location.lstrip("/")
    with connect(live) as sock:
        sock.sendall(f"PATCH /{path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        piece = b"x" * 65536
        try:
            for _ in range(32):                    # 2 MiB in chunks, and no last chunk ever
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        except OSError:
            pass                                   # the server may hang up while we still send
        answer = read_to_end(sock)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"SIZE_INVALID" in answer
    session = next(iter(registry.store.uploads.values()))
    assert session.size == 0                       # nothing of the refused body is kept


def test_expect_100_continue_is_answered_413_without_asking_for_the_body(live: LiveServer) -> None:
    with connect(live) as sock:
        sock.sendall(b"PUT /v2/demo/app/manifests/1.0 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
                     b"Content-Length: 10737418240\r\n\r\n")
        answer = read_to_end(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]    # no "100 Continue" before it


def test_expect_100_continue_still_sends_continue_when_the_body_is_wanted(live: LiveServer,
                                                                       registry: Registry) -> None:
    with connect(live) as sock:
        digest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"  # of "hello"
        sock.sendall(f"POST /v2/demo/app/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\n"
                     "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"hello")
        sock.settimeout(GENEROUS)
        assert sock.recv(1000).startswith(b"HTTP/1.1 201 ")
    assert registry.blob("demo/app", digest) == b"hello"


# -- mockreg serve --------------------------------------------------------------------------------

def test_serve_options_set_the_connection_limits() -> None:
    from mockreg.cli import build_parser
    from mockreg.cli.common import CommandError
    from mockreg.cli.connection_options import limits_from

    args = build_parser().parse_args(["serve", "--handshake-timeout", "2", "--header-timeout", "0.5",
                                      "--idle-timeout", "0", "--max-connections", "3"])
    assert limits_from(args) == ConnectionLimits(handshake_timeout=2, header_timeout=0.5, idle_timeout=0,
                                                 max_connections=3)
    assert limits_from(build_parser().parse_args(["serve"])) == ConnectionLimits()
    with pytest.raises(CommandError, match="--idle-timeout: expected seconds such as 10 or 0.5, got 'soon'"):
        build_parser().parse_args(["serve", "--idle-timeout", "soon"])
