"""A PATCH is answered before its last slice is hashed (issue 17); the next request on the upload
and every read or rollback wait for the hash to settle. Each interleaving is driven here with a
hasher the test holds back, so "the answer came first" is a fact, not a timing."""

from __future__ import annotations

import hashlib
import socket
import threading
from typing import Any, List, Optional

import pytest
from registry_helpers import sha256
from werkzeug.test import Client

from mockreg import Registry
from mockreg.blobdata import PIECE
from mockreg.invariants import check_invariants
from mockreg.server import LiveServer

MiB = 1 << 20
CHUNK_A = bytes(range(256)) * (3 * MiB // 256)     # three slices: two go to the helper thread
CHUNK_B = b"second chunk " * 100_000


class HeldHasher:
    """sha256 whose updates after the first wait until the test releases them."""

    def __init__(self, gate: threading.Event, inner: Any = None) -> None:
        self.gate = gate
        self.inner = inner or hashlib.sha256()
        self.updates = 0
        self.hashed = 0

    def update(self, data: bytes) -> None:
        self.updates += 1
        if self.updates > 1:
            self.gate.wait(30)
        self.inner.update(data)
        self.hashed += len(data)

    def copy(self) -> HeldHasher:
        released = threading.Event()
        released.set()
        return HeldHasher(released, self.inner.copy())

    def hexdigest(self) -> str:
        return self.inner.hexdigest()


def held_upload(registry: Registry, name: str = "demo/app") -> tuple[str, threading.Event, HeldHasher]:
    gate = threading.Event()
    hasher = HeldHasher(gate)
    session = registry.store.start_upload(name, "sha256", hasher)
    return f"/v2/{name}/blobs/uploads/{session.id}", gate, hasher


def patch(client: Client, location: str, data: bytes, start: int) -> Any:
    return client.patch(location, data=data, headers={"Content-Range": f"{start}-{start + len(data) - 1}"})


def in_thread(call: Any) -> tuple[threading.Thread, List[Any]]:
    result: List[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    return thread, result


def test_patch_is_answered_before_its_last_slice_is_hashed_then_status_waits(registry: Registry,
                                                                               client: Client) -> None:
    location, gate, hasher = held_upload(registry)
    answered = patch(client, location, CHUNK_A, 0)
    assert answered.status_code == 202 and answered.headers["Range"] == f"0-{len(CHUNK_A) - 1}"
    assert hasher.hashed < len(CHUNK_A)                       # the answer came before the hash
    status, result = in_thread(lambda: client.get(location))
    status.join(0.3)
    assert status.is_alive() and not result                   # status waits for the hash to settle
    gate.set()
    status.join(30)
    assert result[0].status_code == 204 and result[0].headers["Range"] == f"0-{len(CHUNK_A) - 1}"
    assert hasher.hashed == len(CHUNK_A)
    assert check_invariants(registry) == []


def test_patch_then_patch_then_put_hash_in_order(registry: Registry, client: Client) -> None:
    location, gate, hasher = held_upload(registry)
    assert patch(client, location, CHUNK_A, 0).status_code == 202
    second, result = in_thread(lambda: patch(client, location, CHUNK_B, len(CHUNK_A)))
    gate.set()
    second.join(30)
    assert result[0].status_code == 202
    data = CHUNK_A + CHUNK_B
    assert client.put(f"{location}?digest={sha256(data)}").status_code == 201
    assert registry.blob("demo/app", sha256(data)) == data


def test_patch_then_cancel_waits_then_forgets_the_upload(registry: Registry, client: Client) -> None:
    location, gate, hasher = held_upload(registry)
    assert patch(client, location, CHUNK_A, 0).status_code == 202
    cancel, result = in_thread(lambda: client.delete(location))
    cancel.join(0.3)
    assert cancel.is_alive()                                  # cancel waits for the hash as well
    gate.set()
    cancel.join(30)
    assert result[0].status_code == 204
    assert client.get(location).status_code == 404
    assert registry.store.uploads == {} and registry.store.space.memory == 0


def test_wrong_digest_on_put_restores_the_hash_of_before(registry: Registry, client: Client) -> None:
    location, gate, hasher = held_upload(registry)
    assert patch(client, location, CHUNK_A, 0).status_code == 202
    gate.set()
    wrong = client.put(f"{location}?digest={sha256(b'nope')}", data=CHUNK_B)
    assert wrong.status_code == 400
    session = next(iter(registry.store.uploads.values()))
    assert session.size == len(CHUNK_A) and session.hasher.hexdigest() == hashlib.sha256(CHUNK_A).hexdigest()
    assert client.put(f"{location}?digest={sha256(CHUNK_A + CHUNK_B)}", data=CHUNK_B).status_code == 201


# -- over a real socket -------------------------------------------------------------------
def raw_request(server: LiveServer, head: str, body: bytes, hang_up_after: Optional[int] = None) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n")
        sock.sendall(body[:hang_up_after] if hang_up_after is not None else body)
        if hang_up_after is not None:
            sock.shutdown(socket.SHUT_WR)                     # the client leaves mid-body
        answer = b""
        while True:
            got = sock.recv(65536)
            if not got:
                return answer
            answer += got
            if b"\r\n\r\n" in answer and hang_up_after is None and b"Content-Length: 0" in answer:
                return answer


def patch_head(path: str, start: int, length: int) -> str:
    return (f"PATCH {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {length}\r\n"
            f"Content-Range: {start}-{start + length - 1}")


@pytest.mark.parametrize("cut", [1, PIECE - 1, PIECE + 1, 2 * PIECE + 512])
def test_patch_broken_off_mid_body_rolls_the_upload_back_exactly(registry: Registry, live: LiveServer,
                                                                  cut: int) -> None:
    client = Client(registry)
    registry.configure(blob_memory_limit=2 * MiB)             # some pieces of the lost chunk spill
    location = client.post("/v2/demo/app/blobs/uploads/").headers["Location"]
    first = CHUNK_B[:PIECE // 2]
    assert patch(client, location, first, 0).status_code == 202
    session = next(iter(registry.store.uploads.values()))
    space = (registry.store.space.memory, registry.store.space.disk)
    lost = bytes(reversed(CHUNK_A))
    answer = raw_request(live, patch_head(location, len(first), len(lost)), lost, hang_up_after=cut)
    assert answer.startswith(b"HTTP/1.1 400") or answer == b""  # answered or not, nothing is kept
    with session.lock:
        assert session.size == len(first)
        assert session.hasher.hexdigest() == hashlib.sha256(first).hexdigest()
    assert (registry.store.space.memory, registry.store.space.disk) == space
    rest = CHUNK_A
    assert patch(client, location, rest, len(first)).status_code == 202
    assert client.put(f"{location}?digest={sha256(first + rest)}").status_code == 201
    assert registry.blob("demo/app", sha256(first + rest)) == first + rest
    assert check_invariants(registry, open_uploads=False) == []


def test_concurrent_patches_on_one_upload_apply_one_at_a_time(registry: Registry, live: LiveServer) -> None:
    client = Client(registry)
    location = client.post("/v2/demo/app/blobs/uploads/").headers["Location"]
    a, b = CHUNK_A, bytes(reversed(CHUNK_A))
    # Same Content-Range from two connections at once: exactly one applies, the other is 416.
    results: List[bytes] = []
    threads = [threading.Thread(target=lambda d=d: results.append(
        raw_request(live, patch_head(location, 0, len(d)), d))) for d in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(r[9:12] for r in results)
    assert statuses == [b"202", b"416"], results
    kept = a
    if client.put(f"{location}?digest={sha256(a)}").status_code != 201:
        kept = b                                              # b's PATCH was the one applied
        assert client.put(f"{location}?digest={sha256(b)}").status_code == 201
    assert registry.blob("demo/app", sha256(kept)) == kept
    # No Content-Range: both apply, one after the other, never interleaved.
    location = client.post("/v2/demo/app/blobs/uploads/").headers["Location"]
    heads = [f"PATCH {location} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(d)}" for d in (a, b)]
    threads = [threading.Thread(target=lambda h=h, d=d: raw_request(live, h, d)) for h, d in zip(heads, (a, b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    kept = a + b
    if client.put(f"{location}?digest={sha256(kept)}").status_code != 201:
        kept = b + a  # the other order; a wrong digest left the upload as it was
        assert client.put(f"{location}?digest={sha256(kept)}").status_code == 201
    assert registry.blob("demo/app", sha256(kept)) == kept
    assert check_invariants(registry, open_uploads=False) == []
