"""Fault rules in-process (werkzeug test client, httpx over WSGI): matching, triggers, each
action as a client sees it, and the rule's mapping form."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest
import requests
from edge_support import push_image, sha256
from werkzeug.test import Client

from mockreg import Registry
from mockreg.faults import MAX_SLEEP, FaultRule
from mockreg.inprocess import RequestsRouter, httpx_client
from mockreg.journal import attach
from mockreg.mapping import ConfigError

LAYER = bytes(range(256)) * 40  # 10 KiB


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    push_image(registry, "demo/app", layer=LAYER)
    push_image(registry, "other/app", layer=LAYER)
    return registry


@pytest.fixture
def client(registry: Registry) -> Client:
    return Client(registry)


BLOB = f"/v2/demo/app/blobs/{sha256(LAYER)}"


# -- matching and triggers -----------------------------------------------------------------
def test_error_fault_answers_with_spec_error_code_and_retry_after(registry, client):
    registry.add_fault(kinds=["blob-get"], status=503)
    response = client.get(BLOB)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json["errors"][0]["code"] == "UNAVAILABLE"


@pytest.mark.parametrize("status, kind, code", [
    (404, "blob-get", "BLOB_UNKNOWN"), (404, "manifest-get", "MANIFEST_UNKNOWN"), (429, "blob-get", "TOOMANYREQUESTS"),
    (500, "blob-get", "UNKNOWN"), (401, "blob-get", "UNAUTHORIZED"), (403, "blob-get", "DENIED"),
])
def test_default_error_code_follows_status_and_route(registry, client, status, kind, code):
    registry.add_fault(kinds=[kind], status=status)
    path = BLOB if kind == "blob-get" else "/v2/demo/app/manifests/1.0"
    assert client.get(path).json["errors"][0]["code"] == code


def test_explicit_code_message_and_retry_after(registry, client):
    registry.add_fault(kinds=["manifest-put"], status=429, code="TOOMANYREQUESTS", message="slow down",
                       retry_after=30)
    response = client.put("/v2/demo/app/manifests/2.0", data=b"{}")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "30")
    assert response.json["errors"][0]["message"] == "slow down"
    assert registry.tags("demo/app") == ["1.0"]  # the request never reached the handler


def test_nth_matching_call_only(registry, client):
    registry.add_fault(kinds=["blob-get"], nth=2, status=500)
    assert [client.get(BLOB).status_code for _ in range(4)] == [200, 500, 200, 200]


def test_first_n_calls_then_success_and_the_stats(registry, client):
    rule = registry.add_fault(kinds=["blob-get"], first=2, status=503)
    assert [client.get(BLOB).status_code for _ in range(3)] == [503, 503, 200]
    assert registry.faults.stats(rule) == {"calls": 3, "fired": 2}


def test_seeded_probability_is_repeatable():
    outcomes = []
    for _ in range(2):
        registry = Registry()
        push_image(registry, "demo/app", layer=LAYER)
        registry.add_fault(kinds=["blob-get"], probability=0.5, seed=7, status=500)
        client = Client(registry)
        outcomes.append([client.get(BLOB).status_code for _ in range(20)])
    assert outcomes[0] == outcomes[1]
    assert 3 <= outcomes[0].count(500) <= 17


def test_repository_glob_and_methods_narrow_a_rule(registry, client):
    registry.add_fault(repository="demo/*", methods=["HEAD"], status=500)
    assert client.head(BLOB).status_code == 500
    assert client.get(BLOB).status_code == 200
    assert client.head(f"/v2/other/app/blobs/{sha256(LAYER)}").status_code == 200


def test_fault_on_the_token_endpoint(registry, client):
    registry.enable_auth(users=[{"name": "u", "password": "p"}], anonymous={"demo/*": "pull"})
    registry.add_fault(kinds=["token"], first=1, status=503)
    assert client.get("/token?service=mockreg").status_code == 503
    assert client.get("/token?service=mockreg").status_code == 200


def test_fault_on_an_extension_route(registry, client):
    extension = registry.add_extension("_acme", url="https://acme.example/ext")
    extension.repository_endpoint("stats", "summary")(lambda request, registry, name: {"name": name})
    registry.add_fault(kinds=["extension"], status=502)
    assert client.get("/v2/demo/app/_acme/stats/summary").status_code == 502


def test_removed_rule_stops_firing(registry, client):
    rule = registry.add_fault(kinds=["blob-get"], status=500)
    registry.remove_fault(rule)
    assert client.get(BLOB).status_code == 200
    with pytest.raises(KeyError):
        registry.remove_fault(rule)


def test_requests_retry_is_visible_as_repeated_requests(registry):
    """A client that retries 503 makes one request per attempt; the rule and the record agree."""
    journal = attach(registry)
    rule = registry.add_fault(kinds=["blob-get"], first=2, status=503, retry_after=0)
    transport = httpx.WSGITransport(app=registry)
    with httpx.Client(transport=transport, base_url="http://mockreg.test") as http:
        for _attempt in range(5):
            response = http.get(BLOB)
            if response.status_code != 503:
                break
    assert response.content == LAYER
    assert journal.count("blob-get") == 3 and journal.count("blob-get", status=503) == 2
    assert registry.faults.stats(rule)["fired"] == 2


# -- body and header actions in-process ---------------------------------------------------
def test_latency_delays_the_answer(registry, client):
    registry.add_fault(kinds=["blob-get"], latency=0.2)
    started = time.perf_counter()
    assert client.get(BLOB).status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_drip_feeds_the_body_in_small_pieces(registry):
    registry.add_fault(kinds=["blob-get"], drip_bytes=2048, drip_interval=0.02)
    with httpx.Client(transport=httpx.WSGITransport(app=registry), base_url="http://mockreg.test") as http:
        started = time.perf_counter()
        with http.stream("GET", BLOB) as response:
            pieces = list(response.iter_raw())
    assert b"".join(pieces) == LAYER
    assert time.perf_counter() - started >= 0.09  # five pieces, a pause before each


def test_truncate_after_sends_a_short_but_well_formed_body(registry, client):
    registry.add_fault(kinds=["blob-get"], truncate_after=100)
    response = client.get(BLOB)
    assert response.headers["Content-Length"] == "100"
    assert response.data == LAYER[:100]
    assert response.headers["Docker-Content-Digest"] == sha256(LAYER)  # the client must notice


def test_drop_after_raises_connection_error_to_the_in_process_reader(registry, client):
    registry.add_fault(kinds=["blob-get"], drop_after=1000, first=1)
    response = client.get(BLOB)
    assert response.headers["Content-Length"] == str(len(LAYER))
    with pytest.raises(ConnectionError, match="dropped after 1000"):
        response.get_data()
    assert client.get(BLOB).data == LAYER  # the next attempt succeeds


def test_drop_after_through_mockregs_in_process_adapters_looks_like_the_wire(registry):
    registry.add_fault(kinds=["blob-get"], drop_after=1000)
    with RequestsRouter(registry) as router:
        with pytest.raises(requests.exceptions.ConnectionError, match="dropped"):
            requests.get(f"{router.url}{BLOB}")
    with httpx_client(registry) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(BLOB)


def test_corrupt_keeps_length_but_breaks_the_digest(registry, client):
    registry.add_fault(kinds=["blob-get"], corrupt=True)
    data = client.get(BLOB).data
    assert len(data) == len(LAYER) and data != LAYER
    assert sum(a != b for a, b in zip(data, LAYER)) == 1


def test_corrupt_manifest_fails_a_digest_check(registry, client):
    digest = registry.manifest("demo/app", "1.0").digest
    registry.add_fault(kinds=["manifest-get"], corrupt=True)
    response = client.get("/v2/demo/app/manifests/1.0")
    assert "sha256:" + hashlib.sha256(response.data).hexdigest() != digest
    assert response.headers["Docker-Content-Digest"] == digest


@pytest.mark.parametrize("mode", ["wrong", "missing"])
def test_docker_content_digest_wrong_or_missing(registry, client, mode):
    registry.add_fault(kinds=["manifest-head"], digest_header=mode)
    response = client.head("/v2/demo/app/manifests/1.0")
    real = registry.manifest("demo/app", "1.0").digest
    if mode == "missing":
        assert "Docker-Content-Digest" not in response.headers
    else:
        wrong = response.headers["Docker-Content-Digest"]
        assert wrong != real and wrong.startswith("sha256:") and len(wrong) == len(real)


def test_drop_headers_removes_any_header(registry, client):
    registry.add_fault(kinds=["blob-upload-start"], drop_headers=["Location"])
    response = client.post("/v2/demo/app/blobs/uploads/")
    assert response.status_code == 202 and "Location" not in response.headers


def test_warning_headers_follow_the_spec_format(registry, client):
    registry.add_fault(kinds=["manifest-get"], warnings=['This image is "deprecated".', "Second."])
    response = client.get("/v2/demo/app/manifests/1.0")
    assert response.headers.getlist("Warning") == ['299 - "This image is \\"deprecated\\"."', '299 - "Second."']


def test_redirect_to_storage_url_in_process(registry, client):
    registry.add_fault(redirect=True)
    response = client.get(BLOB)
    assert response.status_code == 307
    location = response.headers["Location"]
    assert location.startswith(f"http://localhost/_storage/demo/app/blobs/{sha256(LAYER)}?expires=")
    assert client.get(location).data == LAYER
    registry.clock.advance(3600)
    assert client.get(location).status_code == 403


def test_rules_combine(registry, client):
    registry.add_fault(kinds=["blob-get"], warnings=["slow today"])
    registry.add_fault(kinds=["blob-get"], truncate_after=10)
    response = client.get(BLOB)
    assert response.headers["Warning"] == '299 - "slow today"'
    assert response.data == LAYER[:10]


def test_head_keeps_an_empty_body_under_body_faults(registry, client):
    registry.add_fault(kinds=["blob-head"], corrupt=True, truncate_after=5)
    response = client.head(BLOB)
    assert response.status_code == 200 and response.data == b""


# -- the rule's mapping form ---------------------------------------------------------------
def test_rule_round_trips_through_its_mapping():
    rule = FaultRule(name="flaky", kinds=["blob-get"], repository="library/*", first=2, drop_after=100,
                     warnings=["flaky storage"])
    assert rule.to_dict() == {"name": "flaky", "kinds": ["blob-get"], "repository": "library/*", "first": 2,
                              "drop_after": 100, "warnings": ["flaky storage"]}
    assert FaultRule.from_dict(rule.to_dict()) == rule


@pytest.mark.parametrize("mapping, message", [
    ({"kinds": ["blob-get"]}, "no action"),
    ({"status": 503, "statsu": 1}, "unknown key.*statsu"),
    ({"status": 200}, "status must be between 400 and 599"),
    ({"status": 500, "code": "OOPS"}, "not a spec error code"),
    ({"code": "DENIED"}, "need a status"),
    ({"status": 500, "nth": 1, "first": 2}, "choose one of nth, first, probability"),
    ({"latency": MAX_SLEEP + 1}, "latency must be between"),
    ({"redirect": True, "kinds": ["manifest-get"]}, "redirect applies to kinds"),
    ({"redirect": True, "status": 500}, "status or redirect"),
    ({"digest_header": "absent"}, "'wrong' or 'missing'"),
    ({"methods": ["FETCH"], "status": 500}, "unknown value.*FETCH"),
    ({"truncate_after": 1, "drop_after": 2}, "not both"),
    ({"first": True, "status": 500}, "whole number"),
    ({"warnings": ["x" * 5000]}, "4096"),
])
def test_bad_rules_are_refused_with_a_clear_message(mapping, message):
    with pytest.raises(ConfigError, match=message):
        FaultRule.from_dict(mapping)


def test_duplicate_rule_name_is_refused(registry):
    registry.add_fault(name="x", status=500)
    with pytest.raises(ConfigError, match="exists already"):
        registry.add_fault(name="x", status=503)
