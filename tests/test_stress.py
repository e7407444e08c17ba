"""Concurrency: eight and more client threads over one live server doing everything at once
(chunked and monolithic pushes, pulls with and without Range, mounts, tag moves, deletes,
referrers, indexes) on shared and separate repositories; afterwards nothing is lost or broken.

Bounded in time (MOCKREG_STRESS_SECONDS, default 3 s per run); benchmarks/fuzz_long.py runs the
same workload for longer.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from registry_helpers import image, push
from stress_workload import run

from mockreg import Registry
from mockreg.invariants import check_invariants
from mockreg.server import LiveServer

SECONDS = float(os.environ.get("MOCKREG_STRESS_SECONDS", "3"))


@pytest.mark.parametrize("threads, seed", [(8, 1), (12, 2)])
def test_concurrent_clients_leave_a_consistent_registry(threads: int, seed: int) -> None:
    registry = Registry()
    with LiveServer(registry) as server:
        report, workers = run(server.url, threads=threads, seconds=SECONDS, seed=seed)
    print(f"\nstress ({threads} threads, {SECONDS:g} s): {report.summary()}")
    assert report.violations == [], "\n".join(report.violations[:20])
    assert registry.server_errors == []
    assert check_invariants(registry, open_uploads=False) == []
    for worker in workers:  # everything a client was told is stored is still there, byte for byte
        for repository, digest, body in worker.expectations():
            assert registry.manifest(repository, digest).body == body
    # The run really mixed its operations across threads rather than idling.
    assert report.requests >= 200 * SECONDS / 3
    assert {"push-shared", "pull-shared", "tag-move", "manifest-delete", "referrer", "mount"} <= set(report.operations)


def test_invariant_checker_catches_each_kind_of_damage() -> None:
    """The checker that the stress run relies on is not blind: break the store each way it checks."""
    registry = Registry()
    subject = image("subject")
    push(registry, "demo/app", subject, tags=["v1"])
    push(registry, "demo/app", image("sig", subject=subject.descriptor()))
    session = registry.store.start_upload("demo/app", "sha256", hashlib.sha256())
    session.buffer += b"abc"
    session.hasher.update(b"abc")
    assert check_invariants(registry) == []
    assert len(check_invariants(registry, open_uploads=False)) == 1

    store = registry.store
    repo = store.repositories["demo/app"]
    layer = next(iter(subject.blobs))
    store.blobs[layer] = b"tampered"                                   # bytes differ from digest
    repo.tags["v2"] = "sha256:" + "0" * 64                             # tag to nothing
    repo.referrers.clear()                                             # index lost an entry
    repo.blobs.discard(next(d for d in subject.blobs if d != layer))   # manifest's blob unlinked
    session.buffer += b"unhashed"                                      # upload bytes nobody hashed
    found = "\n".join(check_invariants(registry))
    for expected in ["holds bytes of another digest", "v2 points at", "referrers of", "which is missing",
                     "link counts disagree", "running hash does not match"]:
        assert expected in found, (expected, found)
