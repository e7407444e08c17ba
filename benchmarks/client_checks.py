"""What client checks cost per request: the same WSGI calls against a registry with a journal
and checks off, and with checks on (every rule). CPU time, best of several rounds.

    python -m benchmarks.client_checks [--rounds 7] [--count 2000]

Run it with PYTHONPATH pointing at another checkout to compare the checks-off path across
versions (the journal's only addition is one `is None` test before and after each request).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from mockreg import Registry
from mockreg.journal import attach

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _environ(method: str, path: str, query: str = "", body: bytes = b"", **headers: str) -> Dict[str, Any]:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)) if body else "", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "5555",
               "HTTP_USER_AGENT": "bench/1.0", "wsgi.url_scheme": "http", "SERVER_NAME": "localhost",
               "SERVER_PORT": "80"}
    for name, value in headers.items():
        key = name.upper()
        environ[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
    return environ


def workload() -> List[Callable[[], Dict[str, Any]]]:
    """A push-and-pull mix: manifest GET/HEAD, blob GET, monolithic blob POST, manifest PUT."""
    config = b'{"bench": true}'
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [],
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": digest, "size": len(config)}}).encode()
    return [
        lambda: _environ("GET", "/v2/bench/app/manifests/1.0", ACCEPT=OCI_MANIFEST),
        lambda: _environ("HEAD", "/v2/bench/app/manifests/1.0", ACCEPT=OCI_MANIFEST),
        lambda: _environ("GET", f"/v2/bench/app/blobs/{digest}"),
        lambda: _environ("POST", "/v2/bench/app/blobs/uploads/", f"digest={digest}", config),
        lambda: _environ("PUT", "/v2/bench/app/manifests/1.0", "", manifest, CONTENT_TYPE=OCI_MANIFEST),
    ]


def _registry(checks: Optional[bool]) -> Registry:
    registry = Registry()
    if checks is not None:
        journal = attach(registry, maxlen=1000)
        if checks:
            journal.check_clients()
    return seed(registry)


def seed(registry: Registry) -> Registry:
    """Push what the workload's reads ask for (its blob POST and manifest PUT)."""
    work = workload()
    for make in (work[3], work[4]):
        registry(make(), lambda status, headers: None)
    return registry


def per_request(checks: Optional[bool], count: int, rounds: int) -> float:
    """Best CPU microseconds per request over `rounds` rounds of `count` requests."""
    best = float("inf")
    work = workload()
    for _ in range(rounds):
        registry = _registry(checks)
        environs = [work[i % len(work)]() for i in range(count)]
        started = time.process_time()
        for environ in environs:
            for _chunk in registry(environ, lambda status, headers: None):
                pass
        best = min(best, (time.process_time() - started) / count * 1e6)
    return best


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="client checks: CPU cost per request")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--off-only", action="store_true", help="skip checks on (for a checkout without them)")
    args = parser.parse_args(argv)
    rows: List[Tuple[str, float]] = []
    configurations = (("no journal", None), ("journal, checks off", False), ("journal, checks on", True))
    for label, checks in configurations[:2] if args.off_only else configurations:
        rows.append((label, per_request(checks, args.count, args.rounds)))
    base = rows[1][1]
    for label, micros in rows:
        print(f"{label:22s} {micros:8.1f} µs/request  ({micros - base:+.1f} µs vs checks off)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
