"""Bounded resources: every limit has a sane default, can be changed, answers the spec's error
when exceeded, and frees what the refused request held.

| limit | default | exceeded |
|---|---|---|
| manifest_size_limit | 4 MiB | 413 SIZE_INVALID, nothing read past the limit |
| max_upload_size | 16 GiB | 413 SIZE_INVALID, the chunk's bytes dropped |
| max_upload_sessions | 1000 | 429 TOOMANYREQUESTS with Retry-After |
| upload_timeout | off | idle sessions dropped, memory freed |
| journal maxlen | 10,000 | oldest entries dropped |
"""

from __future__ import annotations

import gc
import socket
import weakref

import pytest
import requests
from registry_helpers import assert_error, image, push, put_manifest, sha256, snapshot, start_upload, streamed
from werkzeug.test import Client

from mockreg import Registry
from mockreg.invariants import check_invariants
from mockreg.journal import DEFAULT_MAXLEN, Journal, attach
from mockreg.server import LiveServer
from mockreg.settings import Settings


def test_every_limit_has_a_finite_sane_default() -> None:
    defaults = Settings()
    assert defaults.manifest_size_limit == 4 * 1024 * 1024       # the spec's "at least 4 megabytes"
    assert defaults.max_upload_size == 16 * 1024 ** 3
    assert defaults.max_upload_sessions == 1000
    assert defaults.upload_timeout == 0                           # off: tests decide when uploads expire
    assert DEFAULT_MAXLEN == 10_000 and Journal().maxlen == DEFAULT_MAXLEN


@pytest.mark.parametrize("name", ["manifest_size_limit", "max_upload_size", "max_upload_sessions",
                                  "upload_timeout"])
def test_limits_are_set_from_text_as_the_cli_and_control_api_give_them(name: str) -> None:
    registry = Registry()
    registry.configure(**{name: "7"})
    assert getattr(registry.settings, name) == 7
    with pytest.raises(ValueError, match="must not be negative"):
        registry.configure(**{name: "-1"})


# -- manifest size ------------------------------------------------------------------------------

def test_manifest_at_the_limit_is_stored_and_one_byte_more_is_413(client: Client, registry: Registry) -> None:
    content = image()
    push(registry, "demo/app", content)
    registry.configure(manifest_size_limit=len(content.body))
    assert put_manifest(client, "demo/app", "fits", content).status_code == 201
    registry.configure(manifest_size_limit=len(content.body) - 1)
    before = snapshot(registry)
    assert_error(put_manifest(client, "demo/app", "too-big", content), 413, "SIZE_INVALID")
    response = streamed(client, "PUT", "/v2/demo/app/manifests/too-big", [content.body],
                        headers={"Content-Type": content.media_type})
    assert_error(response, 413, "SIZE_INVALID")
    assert snapshot(registry) == before


# -- total upload size ---------------------------------------------------------------------------

def test_single_post_over_max_upload_size_is_413_and_stores_nothing(client: Client, registry: Registry) -> None:
    registry.configure(max_upload_size=8)
    data = b"nine bytes"
    assert_error(client.post(f"/v2/demo/app/blobs/uploads/?digest={sha256(data)}", data=data), 413, "SIZE_INVALID")
    assert registry.store.blobs == {} and registry.store.uploads == {}


@pytest.mark.parametrize("how", ["content-length", "chunked"])
def test_chunk_that_grows_an_upload_past_the_limit_is_413_and_its_bytes_are_dropped(
        client: Client, registry: Registry, how: str) -> None:
    registry.configure(max_upload_size=10)
    location = start_upload(client, "demo/app")
    assert client.patch(location, data=b"123456").status_code == 202
    session = next(iter(registry.store.uploads.values()))
    if how == "chunked":
        response = streamed(client, "PATCH", location, [b"78", b"9abc"])
    else:
        response = client.patch(location, data=b"789abc")
    assert_error(response, 413, "SIZE_INVALID")
    assert bytes(session.buffer) == b"123456"                     # the refused chunk is not held
    assert check_invariants(registry) == []                       # and the running hash was rewound
    assert client.put(f"{location}?digest={sha256(b'1234567890')}", data=b"7890").status_code == 201


def test_over_the_limit_on_a_live_server_is_413_and_nothing_is_kept() -> None:
    """A body announced over the limit is answered 413 before it is sent, the connection closed,
    and nothing kept; the next connection is served (tests/test_connection_limits.py has more)."""
    registry = Registry(max_upload_size=1024)
    body = b"x" * (4 * 1024 * 1024)
    with LiveServer(registry) as server:
        with socket.create_connection((server.host, server.port), timeout=10) as raw:
            raw.sendall(f"POST /v2/demo/app/blobs/uploads/?digest={sha256(body)} HTTP/1.1\r\nHost: x\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n".encode())  # the body is never sent
            answer = b""
            while True:
                data = raw.recv(65536)
                if not data:
                    break
                answer += data
        assert requests.get(f"{server.url}/v2/", timeout=10).status_code == 200
    assert answer.startswith(b"HTTP/1.1 413") and b"SIZE_INVALID" in answer, answer[:300]
    assert b"Connection: close" in answer
    assert registry.store.blobs == {} and registry.store.uploads == {} and registry.server_errors == []


# -- concurrent upload sessions ------------------------------------------------------------------

def test_one_session_more_than_max_upload_sessions_is_429_with_retry_after(client: Client,
                                                                         registry: Registry) -> None:
    registry.configure(max_upload_sessions=3)
    open_sessions = [start_upload(client, f"demo/app{i}") for i in range(3)]
    before = snapshot(registry)
    response = client.post("/v2/demo/app/blobs/uploads/")
    error = assert_error(response, 429, "TOOMANYREQUESTS")
    assert response.headers["Retry-After"] == "1"
    assert "3 uploads are open" in error["detail"]
    assert snapshot(registry) == before
    # Uploads that need no session still work at the limit: single POST and mount.
    assert client.post(f"/v2/demo/app/blobs/uploads/?digest={sha256(b'x')}", data=b"x").status_code == 201
    assert client.post(f"/v2/other/blobs/uploads/?mount={sha256(b'x')}&from=demo/app").status_code == 201
    # Finishing or cancelling one makes room again.
    assert client.put(f"{open_sessions[0]}?digest={sha256(b'')}").status_code == 201
    open_sessions[0] = start_upload(client, "demo/app")
    assert client.delete(open_sessions[1]).status_code == 204
    start_upload(client, "demo/app")
    assert_error(client.post("/v2/demo/app/blobs/uploads/"), 429, "TOOMANYREQUESTS")


def test_a_failed_mount_counts_as_a_session_and_is_refused_at_the_limit(client: Client,
                                                                       registry: Registry) -> None:
    registry.configure(max_upload_sessions=1)
    start_upload(client, "demo/app")
    response = client.post(f"/v2/demo/app/blobs/uploads/?mount={sha256(b'absent')}&from=demo/other")
    assert_error(response, 429, "TOOMANYREQUESTS")


def test_zero_means_no_limit_on_sessions(client: Client, registry: Registry) -> None:
    registry.configure(max_upload_sessions=0)
    for _ in range(1200):
        client.post("/v2/demo/app/blobs/uploads/")
    assert len(registry.store.uploads) == 1200


# -- abandoned sessions ----------------------------------------------------------------------------

def test_abandoned_uploads_are_freed_by_the_next_upload_after_upload_timeout(client: Client,
                                                                           registry: Registry) -> None:
    registry.configure(upload_timeout=60, max_upload_sessions=2)
    registry.clock.freeze(1000.0)
    abandoned = [start_upload(client, "demo/app") for _ in range(2)]
    for location in abandoned:
        assert client.patch(location, data=b"x" * 1_000_000).status_code == 202
    held = [weakref.ref(session) for session in registry.store.uploads.values()]
    registry.clock.advance(61)
    fresh = start_upload(client, "demo/app")                      # at the limit, but the old ones expired
    gc.collect()
    assert [ref() for ref in held] == [None, None]                # their megabytes are really gone
    assert list(registry.store.uploads) == [fresh.rsplit("/", 1)[1]]
    for location in abandoned:
        assert_error(client.patch(location, data=b"late"), 404, "BLOB_UPLOAD_UNKNOWN")


def test_an_upload_taking_a_chunk_is_not_dropped_as_idle(client: Client, registry: Registry) -> None:
    registry.configure(upload_timeout=60)
    registry.clock.freeze(1000.0)
    busy = start_upload(client, "demo/app")
    session = next(iter(registry.store.uploads.values()))
    registry.clock.advance(61)
    with session.lock:                                            # as while a long PATCH streams in
        start_upload(client, "demo/app")
    assert session.id in registry.store.uploads
    assert busy.endswith(session.id)


def test_an_upload_in_use_is_never_idle(client: Client, registry: Registry) -> None:
    registry.configure(upload_timeout=60)
    registry.clock.freeze(1000.0)
    location = start_upload(client, "demo/app")
    for _ in range(5):                                            # 5 x 50 s, each chunk in time
        registry.clock.advance(50)
        assert client.patch(location, data=b"ab").status_code == 202
        start_upload(client, "demo/other")
    assert client.put(f"{location}?digest={sha256(b'ab' * 5)}").status_code == 201


# -- the request journal ---------------------------------------------------------------------------

def test_journal_keeps_only_its_last_entries_and_counts_the_rest() -> None:
    registry = Registry()
    journal = attach(registry, maxlen=5)
    client = Client(registry)
    for number in range(20):
        client.get(f"/v2/demo/app/manifests/t{number}")
    assert len(journal) == 5 and journal.dropped == 15
    assert [entry.reference for entry in journal.entries] == [f"t{n}" for n in range(15, 20)]
    with pytest.raises(ValueError, match="at least one entry"):
        Journal(0)
