"""Blobs larger than memory against a live `mockreg serve` (issue 17): oras-py's chunked-push test
pushes a 16 GiB sparse file in chunks; it must fit an ordinary CI machine. The server's memory is
read from /proc/<pid>/status (VmHWM: the peak since start), digests are computed here while the
bytes go out and again while they come back."""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import sys
import threading
from typing import Callable, Iterator, Optional

import pytest
from cli_helpers import ServeProcess

MiB, GiB = 1 << 20, 1 << 30
CHUNK = 16 * MiB

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status")


def memory(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def spilled(pid: int) -> int:
    """Bytes in the server's spill files (unlinked, so only its descriptors reach them)."""
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if "mockreg-blob-" in os.readlink(f"/proc/{pid}/fd/{fd}"):
                total += os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except OSError:
            continue
    return total


def push_chunked(host_port: str, name: str, chunks: Iterator[bytes]) -> str:
    """POST, one PATCH per chunk (Content-Range), closing PUT; the digest is computed here, on
    a helper thread, while the chunks go out."""
    connection = http.client.HTTPConnection(host_port, timeout=300)
    expected = hashlib.sha256()
    connection.request("POST", f"/v2/{name}/blobs/uploads/")
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 202
    location, offset = answer.headers["Location"], 0
    hashing: Optional[threading.Thread] = None
    for chunk in chunks:
        if hashing is not None:
            hashing.join()
        hashing = threading.Thread(target=expected.update, args=(chunk,))
        hashing.start()
        connection.request("PATCH", location, body=chunk, headers={
            "Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{offset + len(chunk) - 1}"})
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 202, (answer.status, offset)
        location, offset = answer.headers["Location"], offset + len(chunk)
    if hashing is not None:
        hashing.join()
    digest = "sha256:" + expected.hexdigest()
    connection.request("PUT", f"{location}?digest={digest}")
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 201, answer.status
    connection.close()
    return digest


def pulled_digest(host_port: str, name: str, digest: str) -> tuple[str, int]:
    """GET the blob, hashing it as it streams (on a helper thread, one slice behind)."""
    connection = http.client.HTTPConnection(host_port, timeout=300)
    connection.request("GET", f"/v2/{name}/blobs/{digest}")
    answer = connection.getresponse()
    assert answer.status == 200
    hasher, received = hashlib.sha256(), 0
    hashing: Optional[threading.Thread] = None
    while True:
        data = answer.read(8 * MiB)
        if not data:
            break
        received += len(data)
        if hashing is not None:
            hashing.join()
        hashing = threading.Thread(target=hasher.update, args=(data,))
        hashing.start()
    if hashing is not None:
        hashing.join()
    connection.close()
    return "sha256:" + hasher.hexdigest(), received


@pytest.fixture
def serve() -> Iterator[Callable[..., ServeProcess]]:
    started = []

    def start(*options: str) -> ServeProcess:
        started.append(ServeProcess("--quiet", *options))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def test_16_gib_zero_filled_blob_in_16_mib_patches_stays_under_1_gib(serve: Callable[..., ServeProcess]) -> None:
    server = serve()
    pid = server.process.pid
    zeros = bytes(CHUNK)
    size = 16 * GiB
    digest = push_chunked(server.host_port, "oras/sparse", (zeros for _ in range(size // CHUNK)))
    assert memory(pid, "VmHWM") < GiB
    got, received = pulled_digest(server.host_port, "oras/sparse", digest)
    assert (got, received) == (digest, size)
    assert memory(pid, "VmHWM") < GiB, "peak RSS of the server over the whole push and pull"


def rotated_blocks(count: int, seed: int = 17) -> Iterator[bytes]:
    """Pseudo-random chunks no piece of which repeats: one seeded block, rotated by a different
    odd offset each time (so no 1 MiB-aligned window of one chunk equals one of another)."""
    rng = random.Random(seed)
    block = rng.randbytes(CHUNK) if hasattr(rng, "randbytes") else os.urandom(CHUNK)
    for number in range(count):
        turn = (number * 4097) % CHUNK
        yield block[turn:] + block[:turn]


def test_4_gib_random_blob_keeps_rss_under_the_spill_setting(serve: Callable[..., ServeProcess]) -> None:
    limit = 256 * MiB
    server = serve("--set", f"blob_memory_limit={limit}")
    pid = server.process.pid
    idle = memory(pid, "VmRSS")
    size = 4 * GiB
    digest = push_chunked(server.host_port, "big/random", rotated_blocks(size // CHUNK))
    on_disk = spilled(pid)
    assert on_disk >= size - limit, "nothing was deduplicated away: the bytes past the limit are on disk"
    peak = memory(pid, "VmHWM")
    got, received = pulled_digest(server.host_port, "big/random", digest)
    assert (got, received) == (digest, size)
    # Above the idle server: the pieces the setting allows, plus slices in flight and allocator
    # slack (measured: a few MiB).
    assert peak - idle < limit + 32 * MiB, (peak - idle) / MiB
    assert memory(pid, "VmHWM") - idle < limit + 32 * MiB
    connection = http.client.HTTPConnection(server.host_port, timeout=60)
    connection.request("DELETE", f"/v2/big/random/blobs/{digest}")
    assert connection.getresponse().status == 202
    assert spilled(pid) == 0, "deleting the blob gives its disk back"
