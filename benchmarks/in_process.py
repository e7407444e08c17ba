"""Section 5: the same small requests through `requests` and `httpx` with no socket at all.

`requests` is routed to the WSGI app through `responses` by `mockreg.inprocess.RequestsRouter`
(what the `mockreg_requests` fixture uses); `httpx` goes through its own `WSGITransport`.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from mockreg import Registry

from .wire import OCI_MANIFEST, SMALL_CONFIG, SMALL_LAYER, SMALL_MANIFEST, TAGS

IN_PROCESS_URL = "http://mockreg.test"


def seeded_registry() -> Registry:
    """A registry holding exactly what `wire.seed_small` pushes over HTTP."""
    registry = Registry()
    for repo in ("bench/small", "bench/tags"):
        registry.push_blob(repo, SMALL_CONFIG)
        registry.push_blob(repo, SMALL_LAYER)
    registry.push_manifest("bench/small", SMALL_MANIFEST, tags="latest", media_type=OCI_MANIFEST)
    registry.push_manifest("bench/tags", SMALL_MANIFEST, tags=TAGS, media_type=OCI_MANIFEST)
    return registry


def loop(send: Callable[[str, str], Any], method: str, url: str, count: int) -> float:
    """Seconds per request of `count` calls of a client's `send(method, url)`."""
    for _ in range(min(20, count)):
        _check(send(method, url))
    started = time.perf_counter()
    for _ in range(count):
        response = send(method, url)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {url} answered {response.status_code}")
    return (time.perf_counter() - started) / count


def _check(response: Any) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.method} {response.request.url} answered {response.status_code}")
