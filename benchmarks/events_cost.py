#!/usr/bin/env python
"""What registry events cost per request, called in process (no socket), CPU time per request.

    python benchmarks/events_cost.py [--requests N] [--repetitions R]

Modes, interleaved per repetition so machine load hits all alike:
  off      a registry with no endpoint and no events extension (what every test pays)
  log      the events extension's log only
  webhook  one endpoint whose receiver lives in this process and answers 200 at once
Requests: a blob GET (a pull event) and a manifest PUT (a push event). Run it with another
checkout first on PYTHONPATH to compare "off" with a mockreg that has no events at all (only
`off` runs there).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent)) if "--installed" not in sys.argv else None

from mockreg import Registry  # noqa: E402

DATA = b"x" * 1024
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST,
                                  "size": len(DATA)}, "layers": []}).encode()


def environ(method: str, path: str, body: bytes = b"", content_type: str = "") -> Dict[str, Any]:
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "5000", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "HTTP_HOST": "127.0.0.1:5000",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": content_type, "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr}


def registry_for(mode: str) -> Registry:
    registry = Registry()
    registry.push_blob("demo/app", DATA)
    return observe(registry, mode)


def observe(registry: Registry, mode: str) -> Registry:
    """Turn on the events of `mode` ("off": nothing) on `registry`."""
    if mode == "log":
        registry.extensions.enable("events")
        registry.notifications.log.size  # noqa: B018 - present
    elif mode == "webhook":
        registry.notifications.receive_locally("http://hook.test/", lambda method, url, headers, body: 200)
        registry.notifications.add_endpoint("http://hook.test/", queuesize=10_000_000)
    return registry


def cost(registry: Registry, make: Callable[[], Dict[str, Any]], requests: int) -> Tuple[float, float]:
    """CPU seconds per request: of the requesting thread (the request path), and of the whole
    process (delivery workers included, waited for)."""
    def start_response(status: str, headers: List[Any]) -> None:
        pass

    started, thread_started = time.process_time(), time.thread_time()
    for _ in range(requests):
        for _chunk in registry(make(), start_response):
            pass
    on_thread = time.thread_time() - thread_started
    if "_notifications" in registry.__dict__:
        registry.notifications.flush(60)
    return on_thread / requests, (time.process_time() - started) / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--installed", action="store_true", help="use the mockreg on PYTHONPATH (compare checkouts)")
    args = parser.parse_args()
    has_events = hasattr(Registry, "notifications")
    modes = ["off", "log", "webhook"] if has_events else ["off"]
    kinds = {
        "blob GET (pull)": lambda: environ("GET", f"/v2/demo/app/blobs/{DIGEST}"),
        "manifest PUT (push)": lambda: environ("PUT", "/v2/demo/app/manifests/1.0", MANIFEST,
                                               "application/vnd.oci.image.manifest.v1+json"),
    }
    results: Dict[str, Dict[str, List[Tuple[float, float]]]] = {k: {m: [] for m in modes} for k in kinds}
    for _ in range(args.repetitions):
        for kind, make in kinds.items():
            for mode in modes:
                registry = registry_for(mode)
                results[kind][mode].append(cost(registry, make, args.requests))
                if has_events:
                    registry.notifications.close()
    print(f"mockreg from {Path(sys.modules['mockreg'].__file__).parent}; {args.requests} requests x "
          f"{args.repetitions} repetitions; median CPU µs per request: request thread / whole process")
    for kind, by_mode in results.items():
        off = statistics.median(t for t, _ in by_mode["off"])
        cells = []
        for mode, pairs in by_mode.items():
            thread, process = statistics.median(t for t, _ in pairs), statistics.median(p for _, p in pairs)
            cells.append(f"{mode} {thread * 1e6:5.1f} / {process * 1e6:5.1f} µs ({thread / off:4.2f}x)")
        print(f"  {kind:20} " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
