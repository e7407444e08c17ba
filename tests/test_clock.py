"""One controllable clock per registry: real by default, moved by tests instead of sleeping, and
used for token expiry, upload-session expiry, rate-limit windows and tag-history timestamps."""

from __future__ import annotations

import time

import pytest
from edge_support import basic, bearer, push_image, sha256
from werkzeug.test import Client

from mockreg import Registry
from mockreg.clock import Clock


def test_the_clock_is_real_time_by_default():
    registry = Registry()
    assert abs(registry.clock() - time.time()) < 1
    assert not registry.clock.frozen


def test_advance_freeze_and_unfreeze():
    clock = Clock()
    clock.freeze(1000)
    clock.advance(60)
    assert clock() == 1060 and clock.frozen
    clock.unfreeze()
    assert abs(clock() - 1060) < 1 and not clock.frozen
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_two_registries_have_independent_clocks():
    first, second = Registry(), Registry()
    first.clock.advance(3600)
    assert first.clock() - second.clock() >= 3599


def test_token_expiry_follows_the_registry_clock():
    registry = Registry()
    registry.enable_auth(users=[{"name": "u", "password": "p", "access": {"*": "pull"}}], token_ttl=60)
    client = Client(registry)
    token = client.get("/token?scope=repository:a/b:pull", headers=basic("u", "p")).json["token"]
    registry.clock.advance(59)
    assert client.get("/v2/", headers=bearer(token)).status_code == 200
    registry.clock.advance(1)
    assert client.get("/v2/", headers=bearer(token)).status_code == 401


@pytest.fixture
def uploads() -> Registry:
    registry = Registry(upload_timeout=600)
    registry.clock.freeze(1_700_000_000)
    return registry


def test_an_idle_upload_session_expires(uploads):
    client = Client(uploads)
    location = client.post("/v2/demo/app/blobs/uploads/").headers["Location"]
    uploads.clock.advance(601)
    response = client.patch(location, data=b"late", headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 404
    assert response.json["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
    assert client.get(location).status_code == 404


def test_activity_keeps_an_upload_alive(uploads):
    client = Client(uploads)
    location = client.post("/v2/demo/app/blobs/uploads/").headers["Location"]
    for _ in range(3):
        uploads.clock.advance(500)
        response = client.patch(location, data=b"chunk", headers={"Content-Type": "application/octet-stream"})
        assert response.status_code == 202
        location = response.headers["Location"]
    uploads.clock.advance(500)
    finished = client.put(f"{location}{'&' if '?' in location else '?'}digest={sha256(b'chunk' * 3)}")
    assert finished.status_code == 201


def test_upload_timeout_zero_keeps_uploads_forever():
    registry = Registry()
    client = Client(registry)
    location = client.post("/v2/demo/app/blobs/uploads/").headers["Location"]
    registry.clock.advance(10 ** 8)
    assert client.get(location).status_code == 204


def test_upload_timeout_can_change_at_run_time(uploads):
    client = Client(uploads)
    location = client.post("/v2/demo/app/blobs/uploads/").headers["Location"]
    uploads.clock.advance(100)
    uploads.configure(upload_timeout=60)
    assert client.get(location).status_code == 404


def test_rate_limit_window_follows_the_registry_clock():
    registry = Registry()
    push_image(registry, "demo/app")
    registry.rate_limit(1, window=3600)
    client = Client(registry)
    assert client.get("/v2/demo/app/tags/list").status_code == 200
    assert client.get("/v2/demo/app/tags/list").status_code == 429
    registry.clock.advance(3600)
    assert client.get("/v2/demo/app/tags/list").status_code == 200


def test_tag_history_is_stamped_by_the_registry_clock():
    registry = Registry(clock=Clock(frozen_at=1_704_067_200))  # 2024-01-01T00:00:00Z
    registry.extensions.enable("history")
    first, _ = push_image(registry, "demo/app", tag="latest", layer=b"one")
    registry.clock.advance(90)
    second, _ = push_image(registry, "demo/app", tag="latest", layer=b"two")
    history = Client(registry).get("/v2/demo/app/_chainguard/history/latest").json["history"]
    assert history == [{"updateTimestamp": "2024-01-01T00:00:00.000Z", "digest": first},
                       {"updateTimestamp": "2024-01-01T00:01:30.000Z", "digest": second}]
