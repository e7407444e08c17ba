"""Big-blob transfers: monolithic push, chunked push and a pull hashed as it streams.

A push gets a time cap: the reference registry's in-memory driver slows down badly on big
uploads, so past the cap the client stops and the rate is reported as an upper bound ("≤").
"""

from __future__ import annotations

import hashlib
import itertools
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

from .wire import call, connect, location_path, with_digest

SEND_SLICE = 8 << 20
PULL_SLICE = 1 << 20


@dataclass(frozen=True)
class Transfer:
    """Bytes per second of one transfer; `capped` means it was cut off, so the true rate is lower."""

    rate: float
    capped: bool = False


def push_monolithic(host_port: str, repo: str, data: memoryview, digest: str, cap: float) -> Transfer:
    """POST, then one PUT carrying the whole blob (Content-Length), as `docker push` does."""
    connection = connect(host_port, timeout=max(cap * 4, 60))
    try:
        started = time.perf_counter()
        session = call(connection, "POST", f"/v2/{repo}/blobs/uploads/", expect=(202,))
        connection.putrequest("PUT", with_digest(location_path(session.headers["Location"]), digest))
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(len(data)))
        connection.endheaders()
        sent = _send(connection, data, started + cap)
        if sent < len(data):
            return Transfer(sent / (time.perf_counter() - started), capped=True)
        response = connection.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"monolithic PUT answered {response.status}")
        return Transfer(len(data) / (time.perf_counter() - started))
    finally:
        connection.close()


def push_chunked(host_port: str, repo: str, data: memoryview, digest: str, chunk: int, cap: float) -> Transfer:
    """POST, PATCHes of `chunk` bytes with Content-Range, and a closing PUT with the digest."""
    connection = connect(host_port, timeout=max(cap * 4, 60))
    try:
        started = time.perf_counter()
        deadline = started + cap
        location = call(connection, "POST", f"/v2/{repo}/blobs/uploads/", expect=(202,)).headers["Location"]
        for offset in range(0, len(data), chunk):
            piece = data[offset:offset + chunk]
            if time.perf_counter() > deadline:
                return Transfer(offset / (time.perf_counter() - started), capped=True)
            connection.putrequest("PATCH", location_path(location))
            connection.putheader("Content-Type", "application/octet-stream")
            connection.putheader("Content-Range", f"{offset}-{offset + len(piece) - 1}")
            connection.putheader("Content-Length", str(len(piece)))
            connection.endheaders()
            connection.sock.sendall(piece)
            response = connection.getresponse()
            response.read()
            if response.status != 202:
                raise RuntimeError(f"PATCH at {offset} answered {response.status}")
            location = response.headers["Location"]
        call(connection, "PUT", with_digest(location_path(location), digest), expect=(201,))
        return Transfer(len(data) / (time.perf_counter() - started))
    finally:
        connection.close()


def pull(host_port: str, repo: str, digest: str, size: int) -> Transfer:
    """GET the blob and hash it as it streams in; the digest must come out right.

    The client hashes on a helper thread one slice behind its reads (hashlib and recv both
    release the GIL), as a good client would, so what is measured is how fast the server sends.
    """
    connection = connect(host_port)
    buffers = [memoryview(bytearray(PULL_SLICE)) for _ in range(3)]  # reading, queued, hashing
    hasher = hashlib.sha256()
    slices: queue.Queue[Optional[memoryview]] = queue.Queue(maxsize=1)
    worker = threading.Thread(target=_hash_slices, args=(hasher, slices), daemon=True)
    worker.start()
    received = 0
    try:
        started = time.perf_counter()
        connection.request("GET", f"/v2/{repo}/blobs/{digest}")
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"blob GET answered {response.status}")
        for turn in itertools.count():
            buffer = buffers[turn % 3]
            got = response.readinto(buffer)
            if not got:
                break
            slices.put(buffer[:got])
            received += got
    finally:
        slices.put(None)
        worker.join()
        connection.close()
    elapsed = time.perf_counter() - started
    if received != size or "sha256:" + hasher.hexdigest() != digest:
        raise RuntimeError(f"pulled {received} bytes with the wrong digest")
    return Transfer(size / elapsed)


def _hash_slices(hasher: Any, slices: queue.Queue[Optional[memoryview]]) -> None:
    while True:
        piece = slices.get()
        if piece is None:
            return
        hasher.update(piece)


def delete_blob(host_port: str, repo: str, digest: str) -> None:
    connection = connect(host_port)
    try:
        call(connection, "DELETE", f"/v2/{repo}/blobs/{digest}", expect=(202,))
    finally:
        connection.close()


def _send(connection, data: memoryview, deadline: float) -> int:
    sent = 0
    while sent < len(data):
        if time.perf_counter() > deadline:
            return sent
        piece = data[sent:sent + SEND_SLICE]
        connection.sock.sendall(piece)
        sent += len(piece)
    return sent
