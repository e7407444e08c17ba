"""Rate limits: 429 TOOMANYREQUESTS, Retry-After, Docker Hub's ratelimit headers, windows on the
registry clock, counted per client address, per user, per repository."""

from __future__ import annotations

import pytest
import requests
from edge_support import basic, push_image
from werkzeug.test import Client

from mockreg import Registry
from mockreg.mapping import ConfigError
from mockreg.ratelimit import RateLimit

MANIFEST = "/v2/demo/app/manifests/1.0"


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.clock.freeze(1_700_000_000)
    push_image(registry, "demo/app")
    push_image(registry, "other/app")
    return registry


def from_address(registry: Registry, address: str) -> Client:
    def app(environ, start_response):
        environ["REMOTE_ADDR"] = address
        return registry(environ, start_response)
    return Client(app)


def test_limit_per_client_answers_429_with_retry_after_and_headers(registry):
    registry.rate_limit(2, window=60)
    client = from_address(registry, "10.1.1.1")
    first, second, third = (client.get(MANIFEST) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert first.headers["ratelimit-limit"] == "2;w=60"
    assert [r.headers["ratelimit-remaining"] for r in (first, second, third)] == ["1;w=60", "0;w=60", "0;w=60"]
    assert first.headers["docker-ratelimit-source"] == "10.1.1.1"
    assert third.headers["Retry-After"] == "60"
    assert third.json["errors"][0]["code"] == "TOOMANYREQUESTS"


def test_window_reopens_when_the_clock_moves(registry):
    registry.rate_limit(1, window=60)
    client = from_address(registry, "10.1.1.1")
    assert client.get(MANIFEST).status_code == 200
    registry.clock.advance(45)
    refused = client.get(MANIFEST)
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "15")
    registry.clock.advance(15)
    assert client.get(MANIFEST).status_code == 200


def test_clients_are_counted_apart(registry):
    registry.rate_limit(1, window=60)
    assert from_address(registry, "10.0.0.1").get(MANIFEST).status_code == 200
    assert from_address(registry, "10.0.0.2").get(MANIFEST).status_code == 200
    assert from_address(registry, "10.0.0.1").get(MANIFEST).status_code == 429


def test_authenticated_users_are_counted_by_name(registry):
    registry.enable_auth(scheme="basic", users=[{"name": "a", "password": "p", "access": {"*": "pull"}},
                                                {"name": "b", "password": "p", "access": {"*": "pull"}}])
    registry.rate_limit(1, window=60)
    client = from_address(registry, "10.0.0.1")
    answer = client.get(MANIFEST, headers=basic("a", "p"))
    assert answer.headers["docker-ratelimit-source"] == "a"
    assert client.get(MANIFEST, headers=basic("b", "p")).status_code == 200
    assert client.get(MANIFEST, headers=basic("a", "p")).status_code == 429
    assert client.get(MANIFEST).status_code == 401  # auth answers first: a challenge costs no quota


def test_limit_per_repository(registry):
    registry.rate_limit(1, window=60, per="repository")
    client = Client(registry)
    assert client.get(MANIFEST).status_code == 200
    assert client.get("/v2/other/app/manifests/1.0").status_code == 200
    assert client.get("/v2/demo/app/tags/list").status_code == 429
    assert client.get("/v2/").status_code == 200  # no repository, not counted


def test_docker_hub_counts_manifest_gets_only(registry):
    registry.rate_limit(100, window=21600, kinds=["manifest-get"])
    client = Client(registry)
    head = client.head(MANIFEST)
    assert "ratelimit-remaining" not in head.headers
    assert client.get(MANIFEST).headers["ratelimit-remaining"] == "99;w=21600"
    assert client.get("/v2/demo/app/tags/list").status_code == 200


def test_repository_glob_and_methods(registry):
    registry.rate_limit(0, repository="other/*", methods=["GET"])
    client = Client(registry)
    assert client.get(MANIFEST).status_code == 200
    assert client.get("/v2/other/app/manifests/1.0").status_code == 429
    assert client.head("/v2/other/app/manifests/1.0").status_code == 200


def test_headers_can_be_switched_off(registry):
    registry.rate_limit(1, headers=False)
    client = Client(registry)
    assert "ratelimit-limit" not in client.get(MANIFEST).headers
    refused = client.get(MANIFEST)
    assert refused.status_code == 429 and "ratelimit-limit" not in refused.headers and "Retry-After" in refused.headers


def test_the_strictest_of_several_limits_is_reported(registry):
    registry.rate_limit(10, window=60, name="minute")
    registry.rate_limit(3, window=3600, name="hour")
    response = Client(registry).get(MANIFEST)
    assert response.headers["ratelimit-limit"] == "3;w=3600"
    assert registry.rate_limits.limits().keys() == {"minute", "hour"}


def test_refused_requests_do_not_use_quota(registry):
    registry.rate_limit(1, window=60, name="one")
    registry.rate_limit(5, window=60, name="five")
    client = Client(registry)
    assert client.get(MANIFEST).status_code == 200
    for _ in range(3):
        assert client.get(MANIFEST).status_code == 429
    registry.rate_limits.remove("one")
    assert client.get(MANIFEST).headers["ratelimit-remaining"] == "3;w=60"


def test_live_server_counts_the_client_address(live, registry):
    registry.rate_limit(1, window=60)
    first = requests.get(f"{live.url}{MANIFEST}")
    assert first.headers["docker-ratelimit-source"] == "127.0.0.1"
    assert requests.get(f"{live.url}{MANIFEST}").status_code == 429


def test_rate_limit_round_trips_and_refuses_bad_mappings():
    limit = RateLimit(100, window=21600, kinds=["manifest-get"], name="hub")
    assert limit.to_dict() == {"limit": 100, "window": 21600, "kinds": ["manifest-get"], "name": "hub"}
    assert RateLimit.from_dict(limit.to_dict()) == limit
    with pytest.raises(ConfigError, match="missing required key.*limit"):
        RateLimit.from_dict({"window": 5})
    with pytest.raises(ConfigError, match="per must be one of"):
        RateLimit.from_dict({"limit": 1, "per": "ip"})
    with pytest.raises(ConfigError, match="window must be at least"):
        RateLimit.from_dict({"limit": 1, "window": 0})
    with pytest.raises(ConfigError, match="whole number"):
        RateLimit.from_dict({"limit": "ten"})
