"""The live server itself (mockreg/server.py): HTTP/1.1 framing, keep-alive, body handling, stop.

Most tests talk raw bytes over a socket, so that what is on the wire is what is asserted.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading
import time
from typing import Any, BinaryIO, Callable, Dict, Iterable, Tuple

import pytest

from mockreg import Registry
from mockreg.server import LiveServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def echo_app(environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answers with what it saw: method, path, client port and the body's length and digest."""
    body = environ["wsgi.input"].read()
    text = (f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} port={environ['REMOTE_PORT']} "
            f"length={len(body)} sha256={hashlib.sha256(body).hexdigest()}").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
    return [text]


@pytest.fixture
def echo_server():
    with LiveServer(echo_app) as server:
        yield server


def read_response(stream: BinaryIO, method: str = "GET") -> Tuple[int, Dict[str, str], bytes]:
    """One response from a buffered socket file: (status, headers lower-cased, body)."""
    status_line = stream.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers: Dict[str, str] = {}
    while True:
        line = stream.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(status_line.split()[1])
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return status, headers, b""
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int(stream.readline().strip(), 16)
            if size == 0:
                stream.readline()
                return status, headers, body
            body += stream.read(size)
            stream.readline()
    if "content-length" in headers:
        return status, headers, stream.read(int(headers["content-length"]))
    return status, headers, stream.read()  # delimited by the connection closing


def raw_connection(server: LiveServer) -> Tuple[socket.socket, BinaryIO]:
    sock = socket.create_connection((server.host, server.port), timeout=10)
    return sock, sock.makefile("rb")


def seeded_registry() -> Tuple[Registry, bytes]:
    registry = Registry()
    config = b"{}"
    registry.push_blob("demo/app", config)
    manifest = (b'{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":'
                b'"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":2},"layers":[]}'
                % (OCI_MANIFEST.encode(), hashlib.sha256(config).hexdigest().encode()))
    registry.push_manifest("demo/app", manifest, tags="1.0", media_type=OCI_MANIFEST)
    return registry, manifest


# -- keep-alive -------------------------------------------------------------------------------------

def test_sequential_requests_reuse_one_connection(echo_server):
    connection = http.client.HTTPConnection(echo_server.host_port, timeout=10)
    ports = set()
    for number in range(50):
        connection.request("POST", f"/n/{number}", body=b"x" * number)
        response = connection.getresponse()
        text = response.read().decode()
        assert response.status == 200
        assert text.startswith(f"POST /n/{number} ") and f"length={number} " in text
        ports.add(text.split("port=")[1].split()[0])
    assert len(ports) == 1  # every request came in on the same client socket
    connection.close()


def test_pipelined_requests_are_answered_in_order(echo_server):
    sock, stream = raw_connection(echo_server)
    with sock, stream:
        sock.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                     b"GET /third HTTP/1.1\r\nHost: x\r\n\r\n")
        bodies = [read_response(stream)[2].decode() for _ in range(3)]
    assert [body.split()[1] for body in bodies] == ["/first", "/second", "/third"]
    assert f"length=5 sha256={hashlib.sha256(b'hello').hexdigest()}" in bodies[1]


def test_head_sends_headers_only_and_the_connection_stays_in_step():
    registry, manifest = seeded_registry()
    with LiveServer(registry) as server:
        sock, stream = raw_connection(server)
        with sock, stream:
            request = "{} /v2/demo/app/manifests/1.0 HTTP/1.1\r\nHost: x\r\nAccept: " + OCI_MANIFEST + "\r\n\r\n"
            sock.sendall(request.format("HEAD").encode() + request.format("GET").encode())
            head_status, head_headers, _ = read_response(stream, "HEAD")
            get_status, get_headers, body = read_response(stream)
    assert head_status == get_status == 200
    assert head_headers["content-length"] == get_headers["content-length"] == str(len(manifest))
    assert body == manifest  # had HEAD sent a body, this would read it instead


def test_http_1_0_gets_its_answer_and_the_connection_closes(echo_server):
    sock, stream = raw_connection(echo_server)
    with sock, stream:
        sock.sendall(b"GET /old HTTP/1.0\r\n\r\n")
        status, headers, body = read_response(stream)
        assert stream.read() == b""  # closed after the answer
    assert status == 200 and body.startswith(b"GET /old ")
    assert headers["connection"] == "close"


def test_connection_close_from_the_client_is_honoured(echo_server):
    sock, stream = raw_connection(echo_server)
    with sock, stream:
        sock.sendall(b"GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, _ = read_response(stream)
        assert stream.read() == b""
    assert status == 200 and headers["connection"] == "close"


# -- request bodies -----------------------------------------------------------------------------------

def test_chunked_request_body_with_extensions_and_trailers(echo_server):
    data = os.urandom(3000)
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(part), part) for part in (data[:1000], data[1000:]))
    sock, stream = raw_connection(echo_server)
    with sock, stream:
        sock.sendall(b"PUT /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + chunks + b"0\r\nX-Trailer: yes\r\n\r\n"
                     + b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        _, _, first = read_response(stream)
        _, _, second = read_response(stream)
    assert f"length=3000 sha256={hashlib.sha256(data).hexdigest()}".encode() in first
    assert second.startswith(b"GET /after ")


def test_unread_body_is_drained_so_the_next_request_starts_in_place():
    def ignores_body(environ, start_response):
        start_response("204 No Content", [])
        return [b""]

    with LiveServer(ignores_body) as server:
        sock, stream = raw_connection(server)
        with sock, stream:
            sock.sendall(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n" + b"G" * 70000
                         + b"PUT /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                         + b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
            statuses = [read_response(stream)[0] for _ in range(3)]
    assert statuses == [204, 204, 204]


def test_expect_100_continue_gets_an_interim_answer_first(echo_server):
    sock, stream = raw_connection(echo_server)
    with sock, stream:
        sock.sendall(b"PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        interim, _, _ = read_response(stream)
        sock.sendall(b"data")
        final, _, body = read_response(stream)
    assert (interim, final) == (100, 200)
    assert b"length=4 " in body


def test_a_body_cut_short_is_a_400_and_no_server_error():
    registry = Registry()
    with LiveServer(registry) as server:
        sock, stream = raw_connection(server)
        with sock, stream:
            sock.sendall(b"POST /v2/demo/app/blobs/uploads/?digest=sha256:" + b"0" * 64
                         + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
            sock.shutdown(socket.SHUT_WR)
            status, _, _ = read_response(stream)
    assert status == 400
    assert registry.server_errors == []


# -- big bodies through the registry (hashed on a helper thread) ----------------------------------------

def test_large_monolithic_upload_and_pull_round_trip():
    registry = Registry()
    data = os.urandom(5 * (1 << 20) + 123)  # several read slices and a ragged end
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with LiveServer(registry) as server:
        connection = http.client.HTTPConnection(server.host_port, timeout=30)
        connection.request("POST", f"/v2/big/blob/blobs/uploads/?digest={digest}", body=data)
        response = connection.getresponse()
        response.read()
        assert response.status == 201
        connection.request("GET", f"/v2/big/blob/blobs/{digest}")
        response = connection.getresponse()
        assert response.status == 200 and response.read() == data
    assert registry.blob("big/blob", digest) == data


def test_large_upload_with_a_wrong_digest_keeps_nothing():
    registry = Registry()
    data = os.urandom(3 * (1 << 20))
    wrong = "sha256:" + hashlib.sha256(b"something else").hexdigest()
    with LiveServer(registry) as server:
        connection = http.client.HTTPConnection(server.host_port, timeout=30)
        connection.request("POST", f"/v2/big/blob/blobs/uploads/?digest={wrong}", body=data)
        response = connection.getresponse()
        assert response.status == 400 and b"DIGEST_INVALID" in response.read()
    assert not registry.has_blob("big/blob", wrong)
    assert registry.store.blobs == {}


def test_large_chunked_upload_in_patches_and_transfer_encoding():
    registry = Registry()
    data = os.urandom(4 * (1 << 20) + 7)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with LiveServer(registry) as server:
        connection = http.client.HTTPConnection(server.host_port, timeout=30)
        connection.request("POST", "/v2/big/blob/blobs/uploads/")
        response = connection.getresponse()
        response.read()
        location = response.headers["Location"]
        half = len(data) // 2
        connection.request("PATCH", location, body=data[:half],
                           headers={"Content-Range": f"0-{half - 1}", "Content-Type": "application/octet-stream"})
        response = connection.getresponse()
        response.read()
        assert response.status == 202 and response.headers["Range"] == f"0-{half - 1}"
        # the rest as a Transfer-Encoding: chunked body (no Content-Length), 1 MiB chunks
        rest = (data[offset:offset + (1 << 20)] for offset in range(half, len(data), 1 << 20))
        connection.request("PUT", f"{location}?digest={digest}", body=rest, encode_chunked=True)
        response = connection.getresponse()
        response.read()
        assert response.status == 201
    assert registry.blob("big/blob", digest) == data


# -- responses ------------------------------------------------------------------------------------------

def test_a_body_without_length_is_sent_chunked():
    def streaming(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"one ", b"", b"two"])

    with LiveServer(streaming) as server:
        sock, stream = raw_connection(server)
        with sock, stream:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            first = read_response(stream)
            second = read_response(stream)
    assert first[1]["transfer-encoding"] == "chunked"
    assert first[2] == second[2] == b"one two"


def test_connection_error_from_the_body_drops_the_connection_and_serving_goes_on():
    def dropping(environ, start_response):
        start_response("200 OK", [("Content-Length", "100")])

        def body():
            yield b"partial"
            raise ConnectionError("fault: drop")
        return body()

    with LiveServer(dropping) as server:
        for _ in range(2):  # the second connection shows the server still serves
            sock, stream = raw_connection(server)
            with sock, stream:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                received = stream.read()  # until the server hangs up
            assert received.startswith(b"HTTP/1.1 200 OK\r\n") and received.endswith(b"partial")


def test_the_app_can_be_swapped_while_running():
    def answer(text):
        def app(environ, start_response):
            start_response("200 OK", [("Content-Length", str(len(text)))])
            return [text]
        return app

    with LiveServer(answer(b"first")) as server:
        connection = http.client.HTTPConnection(server.host_port, timeout=10)
        connection.request("GET", "/")
        assert connection.getresponse().read() == b"first"
        server.app = answer(b"second")
        connection.request("GET", "/")  # the same keep-alive connection sees the new app
        assert connection.getresponse().read() == b"second"


# -- malformed requests -------------------------------------------------------------------------------

@pytest.mark.parametrize("request_bytes, status", [
    (b"NONSENSE\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\nNo-Colon-Here\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % n for n in range(101)) + b"\r\n", 431),
    (b"PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
])
def test_malformed_requests_get_a_clear_status_and_a_closed_connection(echo_server, request_bytes, status):
    sock, stream = raw_connection(echo_server)
    with sock, stream:
        sock.sendall(request_bytes)
        answer, headers, _ = read_response(stream)
        assert stream.read() == b""
    assert answer == status and headers["connection"] == "close"


# -- addresses and lifecycle ------------------------------------------------------------------------

def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_serves_on_ipv6_loopback(echo_server):
    with LiveServer(echo_app, host="::1") as server:
        assert server.url == f"http://[::1]:{server.port}"
        connection = http.client.HTTPConnection("::1", server.port, timeout=10)
        connection.request("GET", "/six")
        assert connection.getresponse().read().startswith(b"GET /six ")


def test_stop_is_prompt_closes_the_port_and_hangs_up_idle_connections():
    server = LiveServer(echo_app).start()
    sock, stream = raw_connection(server)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(stream)[0] == 200  # the connection is now idle, kept alive
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 1.0
    assert stream.read() == b""  # the idle connection was hung up, not left dangling
    sock.close()
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=2).close()
    deadline = time.monotonic() + 2
    while [t for t in threading.enumerate() if t.name.startswith(f"mockreg-{server.port}")]:
        assert time.monotonic() < deadline, "a server thread outlived stop()"
        time.sleep(0.01)


def test_serve_forever_returns_on_stop_from_another_thread():
    server = LiveServer(echo_app)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    connection = http.client.HTTPConnection(server.host_port, timeout=10)
    connection.request("GET", "/")
    assert connection.getresponse().status == 200
    connection.close()
    server.stop()
    thread.join(timeout=2)
    assert not thread.is_alive()


def test_bind_failure_is_an_oserror_and_leaks_no_socket():
    with LiveServer(echo_app) as server:
        with pytest.raises(OSError):
            LiveServer(echo_app, port=server.port)
