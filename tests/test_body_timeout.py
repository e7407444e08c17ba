"""No client can stall the others mid-body (issue 17): a client that stops sending in the middle
of a request body is hung up on after the body (read-progress) timeout, and its upload is rolled
back exactly as for a client that disconnects; a slow client that keeps sending is not cut off.

No assertion is on a duration: "not held" means another client's request completes while the
staller is still connected, and the staller's connection is then closed by the server."""

from __future__ import annotations

import hashlib
import socket
import time
from typing import Iterator

import pytest
import requests
from registry_helpers import sha256
from socket_support import GENEROUS, read_to_end, wait_until
from werkzeug.test import Client

from mockreg import Registry
from mockreg.blobdata import PIECE
from mockreg.connections import ConnectionLimits
from mockreg.invariants import check_invariants
from mockreg.server import LiveServer

FIRST = b"kept chunk " * 1000
LOST = bytes(range(256)) * (3 * PIECE // 256)  # big enough to reach the helper hashing thread


@pytest.fixture
def server(registry: Registry) -> Iterator[LiveServer]:
    with LiveServer(registry, limits=ConnectionLimits(body_timeout=0.5)) as live:
        yield live


def start_upload(client: Client) -> str:
    location: str = client.post("/v2/demo/app/blobs/uploads/").headers["Location"]
    answer = client.patch(location, data=FIRST, headers={"Content-Range": f"0-{len(FIRST) - 1}"})
    assert answer.status_code == 202
    return location


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("sent", [0, 1000, 2 * PIECE + 512])
def test_a_client_stalling_mid_patch_is_hung_up_on_and_its_upload_rolled_back(
        registry: Registry, server: LiveServer, sent: int, chunked: bool) -> None:
    client = Client(registry)
    location = start_upload(client)
    session = next(iter(registry.store.uploads.values()))
    space = (registry.store.space.memory, registry.store.space.disk)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(LOST)}"
    staller = socket.create_connection((server.host, server.port), timeout=GENEROUS)
    staller.sendall(f"PATCH {location} HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n".encode())
    if sent:
        part = LOST[:sent]
        staller.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
    # ... and nothing more. Meanwhile another client is served:
    assert requests.get(f"{server.url}/v2/", timeout=GENEROUS).status_code == 200
    answer = read_to_end(staller)  # the server hangs up; the staller never closes
    staller.close()
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400")
    assert wait_until(lambda: len(server.connections) == 0)
    assert server.connections.expired >= 1
    with session.lock:  # exactly as before the stalled PATCH
        assert session.size == len(FIRST)
        assert session.hasher.hexdigest() == hashlib.sha256(FIRST).hexdigest()
    assert (registry.store.space.memory, registry.store.space.disk) == space
    # The upload goes on as if the stalled request had never been sent.
    rest = LOST
    assert client.patch(location, data=rest,
                        headers={"Content-Range": f"{len(FIRST)}-{len(FIRST) + len(rest) - 1}"}).status_code == 202
    assert client.put(f"{location}?digest={sha256(FIRST + rest)}").status_code == 201
    assert registry.blob("demo/app", sha256(FIRST + rest)) == FIRST + rest
    assert check_invariants(registry, open_uploads=False) == []


def test_a_slow_client_that_keeps_sending_is_not_cut_off(registry: Registry) -> None:
    # Each pause (0.1 s) is well inside the body timeout (2 s); the whole body takes longer than it.
    body = b"slow but steady " * 1024
    pieces = [body[i:i + len(body) // 30] for i in range(0, len(body), len(body) // 30)]
    with LiveServer(registry, limits=ConnectionLimits(body_timeout=2)) as live:
        location = start_upload(Client(registry))
        started = time.monotonic()
        with socket.create_connection((live.host, live.port), timeout=GENEROUS) as sock:
            sock.sendall(f"PATCH {location} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode())
            for piece in pieces:
                sock.sendall(piece)
                time.sleep(0.1)
            answer = read_to_end(sock)
        assert time.monotonic() - started > 2  # the premise (the body outlasted the timeout), not a speed claim
        assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
        assert f"Range: 0-{len(FIRST) + len(body) - 1}".encode() in answer
        assert live.connections.expired == 0


def test_the_body_timeout_does_not_apply_outside_a_body(registry: Registry) -> None:
    # A request without a body whose answer takes the registry longer than the body timeout is
    # answered: the deadline is only armed while a read of the body waits for the client.
    slow_app_calls = []

    def slow_app(environ, start_response):  # type: ignore[no-untyped-def]
        slow_app_calls.append(environ["PATH_INFO"])
        time.sleep(0.6)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    with LiveServer(slow_app, limits=ConnectionLimits(body_timeout=0.2)) as live:
        answer = requests.put(f"{live.url}/slow", data=b"x" * 10, timeout=GENEROUS)
        assert answer.status_code == 200 and answer.text == "ok"
        assert live.connections.expired == 0 and slow_app_calls == ["/slow"]


def test_serve_has_a_body_timeout_option() -> None:
    from mockreg.cli import build_parser
    from mockreg.cli.common import CommandError
    from mockreg.cli.connection_options import limits_from

    assert limits_from(build_parser().parse_args(["serve", "--body-timeout", "7.5"])).body_timeout == 7.5
    assert limits_from(build_parser().parse_args(["serve"])).body_timeout == ConnectionLimits().body_timeout == 60
    with pytest.raises(CommandError, match="--body-timeout: expected a finite number of seconds"):
        build_parser().parse_args(["serve", "--body-timeout", "-1"])
    with pytest.raises(ValueError, match="body_timeout"):
        ConnectionLimits(body_timeout=-1)
