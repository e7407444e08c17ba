"""Conditional requests on manifests, checked against RFC 9110 section 13 (and 8.8.3 for ETags).

Clients that maintain the referrers fallback tag use If-Match / If-None-Match on PUT so that two
writers cannot overwrite each other's index; GET with If-None-Match saves a download.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import List

import pytest
from edge_support import OCI_MANIFEST, push_image
from werkzeug.test import Client

from mockreg import Registry

TAG = "/v2/demo/app/manifests/1.0"


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    push_image(registry, "demo/app")
    return registry


@pytest.fixture
def client(registry: Registry) -> Client:
    return Client(registry)


def etag_of(registry: Registry) -> str:
    return f'"{registry.manifest("demo/app", "1.0").digest}"'


def other_manifest(registry: Registry, layer: bytes) -> bytes:
    layer_digest = registry.push_blob("demo/app", layer)
    config = registry.manifest("demo/app", "1.0").json["config"]
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                   "digest": layer_digest, "size": len(layer)}]}).encode()


def put(client: Client, body: bytes, **headers: str):
    return client.put(TAG, data=body, headers={"Content-Type": OCI_MANIFEST, **headers})


# -- ETag (8.8.3): a strong, quoted entity tag --------------------------------------------
def test_manifest_get_and_head_carry_a_strong_quoted_etag(registry, client):
    for response in (client.get(TAG), client.head(TAG)):
        assert response.headers["ETag"] == etag_of(registry)
        assert not response.headers["ETag"].startswith("W/")


# -- If-None-Match on GET/HEAD (13.1.2): 304 when any listed tag matches, weak comparison --
@pytest.mark.parametrize("header", ["{etag}", '"sha256:other", {etag}', "*", "W/{etag}"])
def test_if_none_match_that_matches_gives_304_without_body(registry, client, header):
    value = header.format(etag=etag_of(registry))
    for method in ("GET", "HEAD"):
        response = client.open(TAG, method=method, headers={"If-None-Match": value})
        assert response.status_code == 304, (method, value)
        assert response.data == b""
        assert response.headers["ETag"] == etag_of(registry)  # 15.4.5: sent as a 200 would be


def test_if_none_match_that_does_not_match_gives_the_manifest(registry, client):
    response = client.get(TAG, headers={"If-None-Match": '"sha256:other"'})
    assert response.status_code == 200 and response.data == registry.manifest("demo/app", "1.0").body


# -- If-Match (13.1.1): strong comparison; false -> 412 for any method ----------------------
def test_if_match_on_get_that_fails_is_412(registry, client):
    assert client.get(TAG, headers={"If-Match": '"sha256:other"'}).status_code == 412
    assert client.get(TAG, headers={"If-Match": etag_of(registry)}).status_code == 200


def test_if_match_uses_strong_comparison(registry, client):
    body = other_manifest(registry, b"second")
    assert put(client, body, **{"If-Match": "W/" + etag_of(registry)}).status_code == 412


def test_put_with_current_if_match_replaces_the_tag(registry, client):
    body = other_manifest(registry, b"second")
    response = put(client, body, **{"If-Match": etag_of(registry)})
    assert response.status_code == 201
    assert registry.manifest("demo/app", "1.0").body == body


def test_put_with_stale_if_match_is_412_and_changes_nothing(registry, client):
    before = registry.manifest("demo/app", "1.0")
    response = put(client, other_manifest(registry, b"second"), **{"If-Match": '"sha256:stale"'})
    assert response.status_code == 412
    assert registry.manifest("demo/app", "1.0") == before


def test_if_match_star_needs_a_current_manifest(registry, client):
    body = other_manifest(registry, b"second")
    missing = client.put("/v2/demo/app/manifests/new", data=body,
                         headers={"Content-Type": OCI_MANIFEST, "If-Match": "*"})
    assert missing.status_code == 412
    assert registry.tags("demo/app") == ["1.0"]


# -- If-None-Match on PUT: "*" creates only; a match is 412 ------------------------------------
def test_if_none_match_star_creates_a_missing_tag_only(registry, client):
    body = other_manifest(registry, b"second")
    assert put(client, body, **{"If-None-Match": "*"}).status_code == 412
    created = client.put("/v2/demo/app/manifests/2.0", data=body,
                         headers={"Content-Type": OCI_MANIFEST, "If-None-Match": "*"})
    assert created.status_code == 201


def test_if_none_match_with_the_current_etag_on_put_is_412(registry, client):
    assert put(client, other_manifest(registry, b"x"), **{"If-None-Match": etag_of(registry)}).status_code == 412


def test_412_body_is_the_error_json(registry, client):
    response = put(client, other_manifest(registry, b"x"), **{"If-Match": '"sha256:stale"'})
    error = response.json["errors"][0]
    assert error["message"] == "precondition failed" and "If-Match" in error["detail"]


# -- the reason it exists: two writers, one tag -------------------------------------------
def test_concurrent_conditional_puts_let_exactly_one_writer_win(registry):
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so a check-then-write race would show
    try:
        for round_ in range(20):
            _race(registry, round_)
    finally:
        sys.setswitchinterval(interval)


def _race(registry: Registry, round_: int) -> None:
    etag = etag_of(registry)
    bodies = [other_manifest(registry, f"round {round_} writer {i}".encode()) for i in range(8)]
    statuses: List[int] = []
    barrier = threading.Barrier(len(bodies))

    def write(body: bytes) -> None:
        barrier.wait()
        statuses.append(put(Client(registry), body, **{"If-Match": etag}).status_code)

    threads = [threading.Thread(target=write, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [412] * (len(bodies) - 1)
