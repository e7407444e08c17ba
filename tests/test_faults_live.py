"""Fault actions over a real socket, as requests and httpx see them: dropped connections,
short bodies, stalls, redirects across hosts, and client retries counted on the server."""

from __future__ import annotations

import time

import httpx
import pytest
import requests
from edge_support import push_image, sha256
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from mockreg import Registry
from mockreg.journal import attach
from mockreg.server import LiveServer

LAYER = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    push_image(registry, "demo/app", layer=LAYER)
    return registry


def blob_url(live: LiveServer) -> str:
    return f"{live.url}/v2/demo/app/blobs/{sha256(LAYER)}"


def test_dropped_connection_mid_body_then_success(live, registry):
    journal = attach(registry)
    registry.add_fault(kinds=["blob-get"], first=1, drop_after=64 * 1024)
    with requests.Session() as session:
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            _ = session.get(blob_url(live)).content
        assert session.get(blob_url(live)).content == LAYER
    assert journal.count("blob-get") == 2


def test_dropped_connection_seen_by_httpx(live, registry):
    registry.add_fault(kinds=["blob-get"], drop_after=1000)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(blob_url(live))


def test_server_keeps_serving_other_connections_after_a_drop(live, registry):
    registry.add_fault(kinds=["blob-get"], nth=1, drop_after=0)
    with pytest.raises(requests.exceptions.RequestException):
        _ = requests.get(blob_url(live)).content
    assert requests.get(f"{live.url}/v2/").status_code == 200


def test_truncated_body_is_complete_http_but_fails_the_digest(live, registry):
    registry.add_fault(kinds=["blob-get"], truncate_after=1000)
    response = requests.get(blob_url(live))
    assert len(response.content) == 1000
    assert sha256(response.content) != response.headers["Docker-Content-Digest"]


def test_corrupted_bytes_over_the_wire(live, registry):
    registry.add_fault(kinds=["blob-get"], corrupt=True)
    data = requests.get(blob_url(live)).content
    assert len(data) == len(LAYER) and sha256(data) != sha256(LAYER)


def test_latency_trips_a_client_timeout(live, registry):
    registry.add_fault(kinds=["manifest-get"], latency=0.5, first=1)
    url = f"{live.url}/v2/demo/app/manifests/1.0"
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(url, timeout=0.1)
    assert requests.get(url, timeout=5).status_code == 200


def test_drip_feeds_a_slow_body(live, registry):
    registry.add_fault(kinds=["blob-get"], drip_bytes=256 * 1024, drip_interval=0.05)
    started = time.perf_counter()
    assert requests.get(blob_url(live)).content == LAYER
    assert time.perf_counter() - started >= 0.2  # four pieces


def test_urllib3_retries_503_and_honours_retry_after(live, registry):
    journal = attach(registry)
    registry.add_fault(kinds=["blob-get"], first=2, status=503, retry_after=0)
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=Retry(total=3, status_forcelist=[503],
                                                                respect_retry_after_header=True)))
        assert session.get(blob_url(live)).content == LAYER
    assert [entry.status for entry in journal.filter("blob-get")] == [503, 503, 200]


def test_redirect_to_storage_on_another_host_drops_authorization(registry):
    registry.enable_auth(scheme="basic", users=[{"name": "u", "password": "p", "access": {"demo/*": "pull"}}])
    journal = attach(registry)
    with LiveServer(registry, host="127.0.0.1") as api, LiveServer(registry, host="127.0.0.1") as storage:
        storage_base = f"http://localhost:{storage.port}"
        registry.add_fault(redirect=True, redirect_to=storage_base)
        response = requests.get(blob_url(api), auth=("u", "p"))
    assert response.content == LAYER
    assert response.history[0].status_code == 307
    assert response.url.startswith(f"{storage_base}/_storage/demo/app/blobs/")
    assert [entry.kind for entry in journal.entries] == ["blob-get", "storage-blob-get"]
    # not sent to storage:
    assert ["Authorization" in entry.request_headers for entry in journal.entries] == [True, False]


def test_redirect_is_followed_by_httpx_on_the_same_host(live, registry):
    registry.add_fault(redirect=True)
    response = httpx.get(blob_url(live), follow_redirects=True)
    assert response.content == LAYER
    assert [r.status_code for r in response.history] == [307]


def test_storage_target_can_fail_too(live, registry):
    registry.add_fault(redirect=True)
    registry.add_fault(kinds=["storage-blob-get"], first=1, status=500)
    assert requests.get(blob_url(live)).status_code == 500
    assert requests.get(blob_url(live)).content == LAYER


def test_warning_and_missing_digest_headers_over_the_wire(live, registry):
    registry.add_fault(kinds=["manifest-get"], warnings=["deprecated"], digest_header="missing")
    response = requests.get(f"{live.url}/v2/demo/app/manifests/1.0")
    assert response.headers["Warning"] == '299 - "deprecated"'
    assert "Docker-Content-Digest" not in response.headers
