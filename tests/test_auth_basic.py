"""Basic auth: users, per-repository grants with globs, anonymous pull, 401/403 as clients expect."""

from __future__ import annotations

import pytest
import requests
from edge_support import basic, push_image, sha256
from werkzeug.test import Client

from mockreg import Registry
from mockreg.auth import AuthConfig, User
from mockreg.mapping import ConfigError

ALICE = basic("alice", "alice-pw")
BOB = basic("bob", "bob-pw")


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    push_image(registry, "public/base")
    push_image(registry, "team/app")
    registry.enable_auth(
        scheme="basic",
        users=[{"name": "alice", "password": "alice-pw", "access": {"team/*": "*"}, "catalog": True},
               {"name": "bob", "password": "bob-pw", "access": {"team/*": ["pull"]}}],
        anonymous={"public/*": "pull"})
    return registry


def test_anonymous_pull_of_a_public_repository_is_allowed(live):
    response = requests.get(f"{live.url}/v2/public/base/manifests/1.0")
    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"].startswith("sha256:")


def test_anonymous_pull_of_a_private_repository_is_challenged(live):
    response = requests.get(f"{live.url}/v2/team/app/manifests/1.0")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="mockreg"'
    error = response.json()["errors"][0]
    assert error["code"] == "UNAUTHORIZED"
    assert error["detail"] == [{"Type": "repository", "Class": "", "Name": "team/app", "Action": "pull"}]


def test_requests_basic_auth_pulls_after_the_challenge(live):
    response = requests.get(f"{live.url}/v2/team/app/tags/list", auth=("bob", "bob-pw"))
    assert response.json() == {"name": "team/app", "tags": ["1.0"]}


def test_anonymous_push_is_denied_even_to_a_public_repository(live):
    response = requests.post(f"{live.url}/v2/public/base/blobs/uploads/")
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_authenticated_user_without_push_gets_403_denied(live):
    response = requests.post(f"{live.url}/v2/team/app/blobs/uploads/", headers=BOB)
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert error["code"] == "DENIED"
    assert error["detail"][0]["Action"] == "push"


def test_user_with_push_pushes_a_blob(live, registry):
    data = b"new layer"
    response = requests.post(f"{live.url}/v2/team/app/blobs/uploads/?digest={sha256(data)}", data=data,
                             headers=ALICE)
    assert response.status_code == 201
    assert registry.blob("team/app", sha256(data)) == data


def test_wrong_password_is_401_not_403(live):
    response = requests.get(f"{live.url}/v2/team/app/tags/list", auth=("alice", "wrong"))
    assert response.status_code == 401
    assert "wrong user name or password" in response.json()["errors"][0]["detail"]


def test_glob_covers_nested_repositories_and_nothing_else(registry):
    client = Client(registry)
    push_image(registry, "team/deep/nested")
    push_image(registry, "teammates")
    assert client.get("/v2/team/deep/nested/tags/list", headers=BOB).status_code == 200
    assert client.get("/v2/teammates/tags/list", headers=BOB).status_code == 403


def test_delete_needs_the_delete_action(registry):
    client = Client(registry)
    digest = registry.manifest("team/app", "1.0").digest
    assert client.delete(f"/v2/team/app/manifests/{digest}", headers=BOB).status_code == 403
    assert client.delete(f"/v2/team/app/manifests/{digest}", headers=ALICE).status_code == 202


def test_mount_needs_pull_on_the_source_repository(registry):
    _, layer = push_image(registry, "secret/src", layer=b"secret layer")
    client = Client(registry)
    response = client.post(f"/v2/team/app/blobs/uploads/?mount={layer}&from=secret/src", headers=ALICE)
    assert response.status_code == 403
    assert {"Type": "repository", "Class": "", "Name": "secret/src", "Action": "pull"} in \
        response.json["errors"][0]["detail"]
    assert not registry.has_blob("team/app", layer)


def test_catalog_needs_the_catalog_permission(registry):
    client = Client(registry)
    assert client.get("/v2/_catalog", headers=ALICE).status_code == 200
    assert client.get("/v2/_catalog", headers=BOB).status_code == 403
    assert client.get("/v2/_catalog").status_code == 401


def test_base_endpoint_answers_anonymous_clients_when_anonymous_access_is_on(registry):
    client = Client(registry)
    assert client.get("/v2/").status_code == 200
    assert client.get("/v2/", headers=basic("alice", "nope")).status_code == 401


def test_base_endpoint_challenges_when_there_is_no_anonymous_access():
    registry = Registry()
    registry.enable_auth(scheme="basic", users=[{"name": "u", "password": "p"}])
    client = Client(registry)
    response = client.get("/v2/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert client.get("/v2/", headers=basic("u", "p")).status_code == 200


@pytest.mark.parametrize("header", [
    "Basic", "Basic !!!not-base64!!!", "Basic " + "bm9jb2xvbg==",  # "nocolon"
    "Basic /w==",  # not UTF-8
    "Digest username=alice", "Bearer", "garbage", " ", "Basic YWxpY2U6YWxpY2UtcHc= extra",
])
def test_malformed_authorization_headers_are_401_never_500(registry, header):
    response = Client(registry).get("/v2/team/app/tags/list", headers={"Authorization": header})
    assert response.status_code == 401, response.data
    assert response.json["errors"][0]["code"] == "UNAUTHORIZED"
    assert registry.server_errors == []


def test_extension_routes_are_covered_like_repositories(registry):
    extension = registry.add_extension("_acme", url="https://acme.example/ext")
    extension.repository_endpoint("stats", "summary")(lambda request, registry, name: {"name": name})
    client = Client(registry)
    assert client.get("/v2/team/app/_acme/stats/summary").status_code == 401
    assert client.get("/v2/team/app/_acme/stats/summary", headers=BOB).status_code == 200
    assert client.get("/v2/public/base/_acme/stats/summary").status_code == 200
    assert client.get("/v2/_oci/ext/discover").status_code == 200  # registry-level: anonymous allowed here


def test_auth_config_round_trips_and_rejects_unknown_keys():
    config = AuthConfig(scheme="basic", users=[User("alice", "pw", {"team/*": ["pull", "push"]})],
                        anonymous={"public/*": ["pull"]})
    assert AuthConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown key.*usres.*known keys"):
        AuthConfig.from_dict({"usres": []})
    with pytest.raises(ConfigError, match="unknown value.*pul"):
        AuthConfig.from_dict({"anonymous": {"a/*": "pul"}})
    with pytest.raises(ConfigError, match="duplicate"):
        AuthConfig.from_dict({"users": [{"name": "a", "password": "x"}, {"name": "a", "password": "y"}]})
