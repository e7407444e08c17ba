"""Nothing a client or a tag does grows the registry without bound (issue 17): rate-limit
windows per client and tag histories keep within their settings, drop the oldest first and count
what they dropped."""

from __future__ import annotations

import socket
import threading
import tracemalloc
from typing import List

from socket_support import read_to_end
from werkzeug.test import Client

from mockreg import Registry
from mockreg.content import push_image
from mockreg.server import LiveServer

CLIENTS = 10_000
TAG_MOVES = 100_000


def _address(index: int) -> str:
    """A distinct loopback address per client: Linux answers on all of 127.0.0.0/8."""
    return f"127.{1 + index // 62500}.{index // 250 % 250}.{1 + index % 250}"


def _get_from(address: str, port: int) -> bytes:
    with socket.socket() as sock:
        sock.bind((address, 0))
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: mockreg\r\nConnection: close\r\n\r\n")
        return read_to_end(sock)


def test_ten_thousand_clients_keep_at_most_rate_limit_windows_windows():
    registry = Registry(rate_limit_windows=1000)
    limit_id = registry.rate_limit(5, window=3600)
    layer = registry.rate_limits
    statuses: List[bytes] = []
    addresses = sorted({_address(i) for i in range(CLIENTS)})
    assert len(addresses) == CLIENTS

    with LiveServer(registry) as server:
        def clients(share: List[str]) -> None:
            for address in share:
                statuses.append(_get_from(address, server.port)[:12])

        threads = [threading.Thread(target=clients, args=(addresses[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # One client over its own limit is still refused: its window is among those kept.
        last = addresses[-1]
        answers = [_get_from(last, server.port)[:12] for _ in range(5)]

    assert statuses == [b"HTTP/1.1 200"] * CLIENTS
    assert answers[-1] == b"HTTP/1.1 429"
    stats = layer.stats(limit_id)
    assert stats["windows"] <= 1000
    assert stats["windows_dropped"] == CLIENTS - stats["windows"]
    # The control API shows the same counters.
    registry.enable_control_api()
    listed = Client(registry).get("/_mockreg/rate-limits").json["rate_limits"][0]
    assert (listed["windows"], listed["windows_dropped"]) == (stats["windows"], stats["windows_dropped"])


def test_closed_windows_are_forgotten_before_open_ones():
    registry = Registry(rate_limit_windows=2)
    registry.clock.freeze(1_700_000_000)
    limit_id = registry.rate_limit(1, window=60)

    def get(address: str) -> int:
        def app(environ, start_response):
            environ["REMOTE_ADDR"] = address
            return registry(environ, start_response)
        return Client(app).get("/v2/").status_code

    assert (get("10.0.0.1"), get("10.0.0.2")) == (200, 200)
    registry.clock.advance(61)
    assert get("10.0.0.2") == 200            # its window reopens and moves to the end
    assert get("10.0.0.3") == 200            # forgets 10.0.0.1's closed window, not 10.0.0.2's
    assert get("10.0.0.2") == 429
    assert registry.rate_limits.stats(limit_id) == {"windows": 2, "windows_dropped": 1}


def test_a_hundred_thousand_tag_moves_keep_memory_flat():
    registry = Registry(tag_history_limit=100)
    one = push_image(registry, "demo/app", layers=[64], annotations={"n": "1"}).digest
    two = push_image(registry, "demo/app", layers=[64], annotations={"n": "2"}).digest
    bodies = [registry.manifest("demo/app", digest).body for digest in (one, two)]
    store = registry.store

    def move(start: int, stop: int) -> None:
        for index in range(start, stop):
            # Ten tags flip between two manifests; every tenth move also creates and deletes a new tag.
            registry.push_manifest("demo/app", bodies[index // 10 % 2], tags=f"flip-{index % 10}")
            if index % 10 == 0:
                registry.push_manifest("demo/app", bodies[0], tags=f"once-{index}")
                store.delete_tag("demo/app", f"once-{index}")

    history = store.repositories["demo/app"].tag_history
    recorded_before = sum(len(moves) for moves in history.values())
    tracemalloc.start()
    try:
        move(0, TAG_MOVES // 2)
        half_way, _ = tracemalloc.get_traced_memory()
        move(TAG_MOVES // 2, TAG_MOVES)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    kept = sum(len(moves) for moves in history.values())
    # At most 100 moves for each of the 10 live tags (+ "latest"), and 100 deleted tags' histories.
    assert len(history) <= 10 + 1 + 100
    assert kept <= 100 * 11 + 100 * 2
    assert history.dropped == recorded_before + TAG_MOVES + 2 * TAG_MOVES // 10 - kept
    # Unbounded, the second half would add ~60,000 records (several MB); bounded, nothing grows.
    assert after - half_way < 256 * 1024
