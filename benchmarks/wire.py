"""The work the benchmark does over a socket, the same for every server.

Clients are chosen for the least client-side cost: a raw keep-alive `http.client` connection
for sequential requests, and a single-threaded non-blocking loop over N sockets for concurrent
ones (Python threads would make the client, not the server, the bottleneck). Every response's
status is checked, so a fast stream of errors can never pass for speed.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import selectors
import socket
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
# The reference registry answers an OCI manifest only to clients that say they accept one.
ACCEPT = {"Accept": OCI_MANIFEST}
# Requests `sequential` sends before it starts the clock.
WARMUP = 50
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


def connect(host_port: str, timeout: float = 120) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection(host_port, timeout=timeout)
    connection.connect()
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def call(connection: http.client.HTTPConnection, method: str, path: str, body: Optional[bytes] = None,
         headers: Optional[Dict[str, str]] = None, expect: Tuple[int, ...] = (200,)) -> http.client.HTTPResponse:
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read()
    if response.status not in expect:
        raise RuntimeError(f"{method} {path} answered {response.status}, expected {expect}")
    return response


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def location_path(location: str) -> str:
    """The path and query of a Location header (the reference registry sends absolute URLs)."""
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


def with_digest(path: str, digest: str) -> str:
    return path + ("&" if "?" in path else "?") + "digest=" + digest


def push_blob(connection: http.client.HTTPConnection, repo: str, data: bytes, check_first: bool = False) -> str:
    """POST + PUT, as docker and containerd push a blob (optionally HEAD-checking it first)."""
    digest = digest_of(data)
    if check_first:
        call(connection, "HEAD", f"/v2/{repo}/blobs/{digest}", expect=(404,))
    started = call(connection, "POST", f"/v2/{repo}/blobs/uploads/", expect=(202,))
    call(connection, "PUT", with_digest(location_path(started.headers["Location"]), digest), body=data,
         headers={"Content-Type": "application/octet-stream"}, expect=(201,))
    return digest


@dataclass(frozen=True)
class SmallRequest:
    """One kind of small request of section 2, e.g. HEAD of a manifest by tag."""

    name: str
    method: str
    path: str


def image_manifest(config: Tuple[str, int], layers: List[Tuple[str, int]]) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config[0], "size": config[1]},
        "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": s} for d, s in layers],
    }, separators=(",", ":")).encode()


def push_image(connection: http.client.HTTPConnection, repo: str, tag: str, config: bytes,
               layers: List[bytes], check_first: bool = False) -> str:
    config_digest = push_blob(connection, repo, config, check_first)
    layer_refs = [(push_blob(connection, repo, layer, check_first), len(layer)) for layer in layers]
    manifest = image_manifest((config_digest, len(config)), layer_refs)
    call(connection, "PUT", f"/v2/{repo}/manifests/{tag}", body=manifest,
         headers={"Content-Type": OCI_MANIFEST}, expect=(201,))
    return digest_of(manifest)


SMALL_CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
SMALL_LAYER = b"layer bytes of a small image" * 16
SMALL_MANIFEST = image_manifest((digest_of(SMALL_CONFIG), len(SMALL_CONFIG)),
                                [(digest_of(SMALL_LAYER), len(SMALL_LAYER))])
TAGS = [f"t{number:03d}" for number in range(100)]
SMALL_REQUESTS = [
    SmallRequest("HEAD manifest by tag", "HEAD", "/v2/bench/small/manifests/latest"),
    SmallRequest("GET manifest by digest", "GET", f"/v2/bench/small/manifests/{digest_of(SMALL_MANIFEST)}"),
    SmallRequest("GET tags list (100 tags)", "GET", "/v2/bench/tags/tags/list"),
]


def seed_small(host_port: str) -> None:
    """What SMALL_REQUESTS read: an image tagged `latest` and a repository of 100 tags."""
    connection = connect(host_port)
    push_image(connection, "bench/small", "latest", SMALL_CONFIG, [SMALL_LAYER])
    push_image(connection, "bench/tags", TAGS[0], SMALL_CONFIG, [SMALL_LAYER])
    for tag in TAGS[1:]:
        call(connection, "PUT", f"/v2/bench/tags/manifests/{tag}", body=SMALL_MANIFEST,
             headers={"Content-Type": OCI_MANIFEST}, expect=(201,))
    connection.close()


def sequential(host_port: str, method: str, path: str, count: int,
               server_cpu: Optional[Callable[[], float]] = None) -> Tuple[float, Optional[float]]:
    """Seconds per request of `count` requests in a row on one keep-alive connection, and the
    server's CPU seconds per request when `server_cpu` reads the server's CPU time."""
    connection = connect(host_port)
    for _ in range(WARMUP):  # warm up the connection and the server's code paths
        call(connection, method, path, headers=ACCEPT)
    request, getresponse = connection.request, connection.getresponse
    cpu_before = server_cpu() if server_cpu else 0.0
    started = time.perf_counter()
    for _ in range(count):
        request(method, path, headers=ACCEPT)
        response = getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path} answered {response.status}")
    elapsed = time.perf_counter() - started
    cpu = (server_cpu() - cpu_before) / count if server_cpu else None
    connection.close()
    return elapsed / count, cpu


class _Exchange:
    """One connection of the concurrent load: one request in flight, response parsed minimally."""

    def __init__(self, host_port: str, request: bytes, head_only: bool) -> None:
        host, port = host_port.rsplit(":", 1)
        self.sock = socket.create_connection((host.strip("[]"), int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = request
        self.head_only = head_only
        self.buffer = b""
        self.needed: Optional[int] = None

    def send(self) -> None:
        self.sock.sendall(self.request)

    def receive(self) -> bool:
        """Read what arrived; True once a whole response is in."""
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("server closed a keep-alive connection")
        self.buffer += data
        if self.needed is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = self.buffer[:end]
            if head[9:12] != b"200":
                raise RuntimeError(f"concurrent request answered {head[:40]!r}")
            length = 0
            if not self.head_only:
                found = _CONTENT_LENGTH.search(head)
                if found is None:
                    raise RuntimeError("the concurrent client needs Content-Length on responses")
                length = int(found.group(1))
            self.needed = end + 4 + length
        if len(self.buffer) < self.needed:
            return False
        self.buffer, self.needed = self.buffer[self.needed:], None
        return True


def concurrent(host_port: str, method: str, path: str, connections: int, duration: float) -> float:
    """Requests per second with `connections` keep-alive connections each keeping one request in
    flight for `duration` seconds."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host_port}", f"Accept: {OCI_MANIFEST}"]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    exchanges = [_Exchange(host_port, request, method == "HEAD") for _ in range(connections)]
    selector = selectors.DefaultSelector()
    for exchange in exchanges:
        selector.register(exchange.sock, selectors.EVENT_READ, exchange)
    try:
        for exchange in exchanges:
            exchange.send()
        completed, in_flight = 0, connections
        started = time.perf_counter()
        deadline = last = started + duration
        while in_flight:
            for key, _ in selector.select(timeout=30):
                exchange = key.data
                if not exchange.receive():
                    continue
                now = time.perf_counter()
                if now < deadline:
                    completed += 1
                    last = now
                    exchange.send()
                else:
                    in_flight -= 1
    finally:
        for exchange in exchanges:
            selector.unregister(exchange.sock)
            exchange.sock.close()
        selector.close()
    return completed / (last - started)


def push_images(host_port: str, count: int, tag_prefix: str,
                server_cpu: Optional[Callable[[], float]] = None) -> Tuple[float, Optional[float]]:
    """Images per second, and the server's CPU seconds per image when `server_cpu` reads it:
    for each image the config and two 4 KiB layers are HEAD-checked, POSTed and PUT, then the
    manifest is PUT, all on one keep-alive connection (the workflow of an independent
    side-by-side run against ggcr's in-memory registry, whose layers were 4 KiB too)."""
    connection = connect(host_port)
    token = os.urandom(8).hex()
    images = []
    for number in range(count):
        unique = f"{tag_prefix}-{number}-{token}".encode()
        config = b'{"architecture":"amd64","os":"linux","created":"%s"}' % unique
        filler = 4096 - len(unique) - 2
        layers = [unique + b":a" + os.urandom(filler), unique + b":b" + os.urandom(filler)]
        images.append((f"{tag_prefix}-{number}", config, layers))
    push_image(connection, "bench/push", f"{tag_prefix}-warm", b'{"warm":"%s"}' % token.encode(),
               [token.encode()])  # the connection's thread exists before the CPU reading
    cpu_before = server_cpu() if server_cpu else 0.0
    started = time.perf_counter()
    for tag, config, layers in images:
        push_image(connection, "bench/push", tag, config, layers, check_first=True)
    elapsed = time.perf_counter() - started
    cpu = (server_cpu() - cpu_before) / count if server_cpu else None
    connection.close()
    return count / elapsed, cpu
