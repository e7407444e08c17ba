"""Blobs larger than memory (issue 17): pieces kept once when they repeat, spilled to temporary
files past `blob_memory_limit`, refused past `blob_disk_limit`, served by slices, and every byte
of memory and disk given back when the blob, the upload or the registry goes."""

from __future__ import annotations

import gc
import os
import random
from typing import List

import pytest
from registry_helpers import assert_error, sha256, snapshot, start_upload
from werkzeug.test import Client

from mockreg import Registry
from mockreg.blobdata import PIECE, PieceBlob

MiB = 1 << 20


def pseudo_random(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size) if hasattr(random.Random, "randbytes") else \
        bytes(random.Random(seed).getrandbits(8) for _ in range(size))


def spill_files() -> List[str]:
    """This process's open unnamed spill files (Linux shows them as deleted paths in /proc)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "mockreg-blob-" in target:
            found.append(target)
    return found


def patch(client: Client, location: str, data: bytes, start: int) -> str:
    response = client.patch(location, data=data, headers={
        "Content-Type": "application/octet-stream", "Content-Range": f"{start}-{start + len(data) - 1}"})
    assert response.status_code == 202, response.data
    return response.headers["Location"]


def push_chunked(client: Client, name: str, data: bytes, chunk: int) -> None:
    location = start_upload(client, name)
    for offset in range(0, len(data), chunk):
        location = patch(client, location, data[offset:offset + chunk], offset)
    response = client.put(f"{location}?digest={sha256(data)}")
    assert response.status_code == 201, response.data


def test_zero_filled_blob_costs_one_piece_and_pulls_back_whole(registry: Registry, client: Client) -> None:
    data = bytes(40 * MiB + 123)
    push_chunked(client, "demo/zeros", data, 3 * MiB + 5)   # chunks that do not line up with pieces
    stored = registry.store.blobs[sha256(data)]
    assert isinstance(stored, PieceBlob)
    assert registry.store.space.memory <= PIECE + 123      # one shared zero piece and the short last one
    assert registry.store.space.disk == 0
    pulled = client.get(f"/v2/demo/zeros/blobs/{sha256(data)}")
    assert pulled.status_code == 200 and pulled.data == data


def test_repetitive_content_is_kept_once_but_distinct_pieces_are_not_merged(registry: Registry,
                                                                            client: Client) -> None:
    unit = pseudo_random(PIECE)
    other = bytearray(unit)
    other[PIECE // 3] ^= 1                                  # same samples, one byte apart
    data = unit * 5 + bytes(other) + unit * 2
    push_chunked(client, "demo/repeat", data, 8 * MiB)
    assert registry.store.space.memory == 2 * PIECE         # `unit` and `other`, nothing else
    assert client.get(f"/v2/demo/repeat/blobs/{sha256(data)}").data == data


def test_pieces_past_the_memory_limit_spill_to_disk_and_ranges_cross_them(client: Client) -> None:
    registry = client.application
    registry.configure(blob_memory_limit=4 * MiB)
    data = pseudo_random(12 * MiB + 777)
    push_chunked(client, "demo/big", data, 5 * MiB)
    store = registry.store
    assert store.space.memory <= 4 * MiB + 777 and store.space.disk == 8 * MiB
    assert len(spill_files()) == 1
    digest = sha256(data)
    assert client.get(f"/v2/demo/big/blobs/{digest}").data == data
    for first, last in [(0, 0), (PIECE - 3, PIECE + 2), (4 * MiB - 1, 9 * MiB + 17), (12 * MiB, 12 * MiB + 776)]:
        got = client.get(f"/v2/demo/big/blobs/{digest}", headers={"Range": f"bytes={first}-{last}"})
        assert got.status_code == 206 and got.data == data[first:last + 1], (first, last)
    assert registry.blob("demo/big", digest) == data


def test_deleting_the_blob_or_resetting_gives_memory_and_disk_back(client: Client) -> None:
    registry = client.application
    registry.configure(blob_memory_limit=2 * MiB)
    gc.collect()                                              # registries of earlier tests
    before = len(spill_files())
    data = pseudo_random(6 * MiB)
    push_chunked(client, "demo/a", data, 4 * MiB)
    client.post(f"/v2/demo/b/blobs/uploads/?mount={sha256(data)}&from=demo/a")
    assert registry.store.space.disk == 4 * MiB and len(spill_files()) == before + 1
    assert client.delete(f"/v2/demo/a/blobs/{sha256(data)}").status_code == 202
    assert registry.store.space.disk == 4 * MiB              # still linked from demo/b
    assert client.delete(f"/v2/demo/b/blobs/{sha256(data)}").status_code == 202
    assert registry.store.space.memory == 0 and registry.store.space.disk == 0
    assert len(spill_files()) == before
    push_chunked(client, "demo/a", data, 4 * MiB)
    assert len(spill_files()) == before + 1
    registry.reset()
    assert len(spill_files()) == before
    assert registry.store.space.disk == 0


def test_a_registry_nobody_holds_closes_its_spill_files_at_once() -> None:
    gc.collect()
    before = len(spill_files())
    registry = Registry(blob_memory_limit=1 * MiB)
    push_chunked(Client(registry), "demo/a", pseudo_random(3 * MiB), 2 * MiB)
    assert len(spill_files()) == before + 1
    gc.disable()                                              # no reference cycle needs the collector
    try:
        del registry
        assert len(spill_files()) == before
    finally:
        gc.enable()


def test_disk_limit_refuses_the_push_with_denied_and_loses_nothing(client: Client) -> None:
    registry = client.application
    registry.configure(blob_memory_limit=1 * MiB, blob_disk_limit=3 * MiB)
    data = pseudo_random(8 * MiB)
    location = start_upload(client, "demo/full")
    location = patch(client, location, data[:2 * MiB], 0)    # one piece in memory, one on disk
    before, space = snapshot(registry), (registry.store.space.memory, registry.store.space.disk)
    refused = client.patch(location, data=data[2 * MiB:], headers={"Content-Range": f"{2 * MiB}-{8 * MiB - 1}"})
    error = assert_error(refused, 403, "DENIED")
    assert "blob_disk_limit" in error["detail"]
    assert snapshot(registry) == before
    assert (registry.store.space.memory, registry.store.space.disk) == space
    # What fits still goes through on the same upload.
    location = patch(client, location, data[2 * MiB:4 * MiB], 2 * MiB)
    finished = client.put(f"{location}?digest={sha256(data[:4 * MiB])}")
    assert finished.status_code == 201
    assert registry.blob("demo/full", sha256(data[:4 * MiB])) == data[:4 * MiB]


def test_a_failed_request_rolls_back_pieces_memory_and_disk_exactly(client: Client) -> None:
    registry = client.application
    registry.configure(blob_memory_limit=2 * MiB)
    data = pseudo_random(7 * MiB + 99)
    location = start_upload(client, "demo/rollback")
    location = patch(client, location, data[:PIECE + 10], 0)  # the upload ends inside a piece
    before, space = snapshot(registry), (registry.store.space.memory, registry.store.space.disk)
    # A closing PUT with the wrong digest takes its chunk (crossing pieces, some spilled) back.
    wrong = client.put(f"{location}?digest={sha256(b'other')}", data=data[PIECE + 10:])
    assert_error(wrong, 400, "DIGEST_INVALID")
    assert snapshot(registry) == before
    assert (registry.store.space.memory, registry.store.space.disk) == space
    finished = client.put(f"{location}?digest={sha256(data)}", data=data[PIECE + 10:])
    assert finished.status_code == 201
    assert client.get(f"/v2/demo/rollback/blobs/{sha256(data)}").data == data


def test_sha512_upload_of_a_spilled_blob(client: Client) -> None:
    import hashlib

    registry = client.application
    registry.configure(blob_memory_limit=1 * MiB)
    data = pseudo_random(3 * MiB + 1)
    location = start_upload(client, "demo/sha512")
    location = patch(client, location, data, 0)
    digest = "sha512:" + hashlib.sha512(data).hexdigest()  # another algorithm than the session's
    assert client.put(f"{location}?digest={digest}").status_code == 201
    assert registry.blob("demo/sha512", digest) == data


def test_layout_export_streams_a_spilled_blob(tmp_path, client: Client) -> None:
    from registry_helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor

    from mockreg.layout import export_layout, import_layout

    registry = client.application
    registry.configure(blob_memory_limit=1 * MiB)
    layer, config = pseudo_random(3 * MiB + 5), b"{}"
    push_chunked(client, "demo/export", layer, 2 * MiB)
    registry.push_blob("demo/export", config)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                "layers": [descriptor(OCI_LAYER, layer)]}
    registry.push_manifest("demo/export", manifest, tags=["v1"])
    for target in (tmp_path / "dir", tmp_path / "image.tar"):
        export_layout(registry, target, "demo/export")
        again = Registry()
        import_layout(again, target, "demo/copy")
        assert again.blob("demo/copy", sha256(layer)) == layer


@pytest.mark.parametrize("limit", [0, 2 * MiB])
def test_monolithic_push_of_a_big_blob(limit: int, client: Client) -> None:
    registry = client.application
    registry.configure(blob_memory_limit=limit)
    data = pseudo_random(5 * MiB + 3)
    location = start_upload(client, "demo/mono")
    assert client.put(f"{location}?digest={sha256(data)}", data=data).status_code == 201
    assert registry.store.space.disk == (3 * MiB if limit else 0)
    assert client.get(f"/v2/demo/mono/blobs/{sha256(data)}").data == data


@pytest.mark.parametrize("chunk_size", [64 * MiB, 1 * MiB + 17])
def test_a_spilled_blob_is_pushed_to_another_registry_by_windows(live, chunk_size: int) -> None:
    from mockreg.remote import RemoteRegistry

    source = Registry(blob_memory_limit=1 * MiB)
    data = pseudo_random(3 * MiB + 9)
    push_chunked(Client(source), "demo/src", data, 2 * MiB)
    digest = sha256(data)
    stored = source.store.blobs[digest]
    assert isinstance(stored, PieceBlob) and stored.spilled
    RemoteRegistry(live.url, chunk_size=chunk_size).push_blob("demo/dst", digest, stored)
    assert live.app.blob("demo/dst", digest) == data
