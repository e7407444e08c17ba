"""Bearer token auth: challenges, the token endpoint (GET and OAuth2 POST), scope enforcement,
expiry on the registry clock, a realm on another port, and the control API's admin guard."""

from __future__ import annotations

import json
import re
import time
from typing import Dict

import pytest
import requests
from edge_support import basic, bearer, push_image
from werkzeug.test import Client

from mockreg import Registry
from mockreg.server import LiveServer

ALICE = basic("alice", "alice-pw")


@pytest.fixture
def registry() -> Registry:
    registry = Registry(control_api=True)
    push_image(registry, "public/base")
    push_image(registry, "team/app")
    push_image(registry, "other/app")
    registry.enable_auth(
        users=[{"name": "alice", "password": "alice-pw", "access": {"team/*": "*"}, "catalog": True},
               {"name": "bob", "password": "bob-pw", "access": {"team/*": "pull", "other/*": "pull,push"}},
               {"name": "root", "password": "root-pw", "admin": True}],
        anonymous={"public/*": "pull"})
    return registry


@pytest.fixture
def client(registry: Registry) -> Client:
    return Client(registry)


def challenge(response) -> Dict[str, str]:
    scheme, _, params = response.headers["WWW-Authenticate"].partition(" ")
    assert scheme == "Bearer"
    return dict(re.findall(r'(\w+)="([^"]*)"', params))


def token(client: Client, *scopes: str, headers=None, **params) -> str:
    query = [("service", "mockreg"), *[("scope", s) for s in scopes], *params.items()]
    response = client.get("/token", query_string=query, headers=headers or {})
    assert response.status_code == 200, response.data
    return response.json["token"]


@pytest.mark.parametrize("method, path, scope", [
    ("GET", "/v2/team/app/manifests/1.0", "repository:team/app:pull"),
    ("HEAD", "/v2/team/app/manifests/1.0", "repository:team/app:pull"),
    ("GET", "/v2/team/app/tags/list", "repository:team/app:pull"),
    ("GET", f"/v2/team/app/referrers/sha256:{'a' * 64}", "repository:team/app:pull"),
    ("PUT", "/v2/team/app/manifests/2.0", "repository:team/app:pull,push"),
    ("POST", "/v2/team/app/blobs/uploads/", "repository:team/app:pull,push"),
    ("PATCH", "/v2/team/app/blobs/uploads/abc", "repository:team/app:pull,push"),
    ("DELETE", f"/v2/team/app/manifests/sha256:{'a' * 64}", "repository:team/app:delete"),
    ("DELETE", f"/v2/team/app/blobs/sha256:{'a' * 64}", "repository:team/app:delete"),
    ("POST", f"/v2/team/app/blobs/uploads/?mount=sha256:{'a' * 64}&from=public/base",
     "repository:team/app:pull,push repository:public/base:pull"),
    ("GET", "/v2/_catalog", "registry:catalog:*"),
])
def test_challenge_names_realm_service_and_scope_per_route(client, method, path, scope):
    response = client.open(path, method=method)
    assert response.status_code == 401
    assert challenge(response) == {"realm": "http://localhost/token", "service": "mockreg", "scope": scope}
    if method != "HEAD":
        assert response.json["errors"][0]["code"] == "UNAUTHORIZED"


def test_base_endpoint_challenge_has_no_scope_and_any_token_passes(client):
    response = client.get("/v2/")
    assert response.status_code == 401
    assert challenge(response) == {"realm": "http://localhost/token", "service": "mockreg"}
    assert client.get("/v2/", headers=bearer(token(client))).status_code == 200


def test_anonymous_token_pulls_public_but_not_private(client):
    anonymous = token(client, "repository:public/base:pull", "repository:team/app:pull")
    assert client.get("/v2/public/base/manifests/1.0", headers=bearer(anonymous)).status_code == 200
    refused = client.get("/v2/team/app/manifests/1.0", headers=bearer(anonymous))
    assert refused.status_code == 401
    assert challenge(refused)["error"] == "insufficient_scope"


def test_token_answer_has_token_access_token_seconds_and_rfc3339(registry, client):
    registry.clock.freeze(1_700_000_000)
    response = client.get("/token?service=mockreg&scope=repository:team/app:pull", headers=ALICE)
    body = response.json
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    assert body["issued_at"] == "2023-11-14T22:13:20Z"
    assert "refresh_token" not in body
    assert response.headers["Cache-Control"] == "no-store"


def test_repeated_and_space_separated_scopes_are_granted_only_what_is_permitted(client):
    granted = token(client, "repository:team/app:pull,push repository:other/app:pull",
                    "repository:other/app:push", headers=basic("bob", "bob-pw"))
    headers = bearer(granted)
    assert client.get("/v2/team/app/tags/list", headers=headers).status_code == 200
    assert client.get("/v2/other/app/tags/list", headers=headers).status_code == 200
    assert client.post("/v2/other/app/blobs/uploads/", headers=headers).status_code == 202
    assert client.post("/v2/team/app/blobs/uploads/", headers=headers).status_code == 403


def test_token_for_one_repository_is_insufficient_for_another(client):
    team_only = token(client, "repository:team/app:pull", headers=ALICE)
    response = client.get("/v2/team/other/tags/list", headers=bearer(team_only))
    assert response.status_code == 401
    assert challenge(response) == {"realm": "http://localhost/token", "service": "mockreg",
                                   "scope": "repository:team/other:pull", "error": "insufficient_scope"}


def test_authenticated_user_not_permitted_gets_403_denied(client):
    bob_token = token(client, "repository:team/app:push", headers=basic("bob", "bob-pw"))
    response = client.put("/v2/team/app/manifests/2.0", headers=bearer(bob_token), data=b"{}")
    assert response.status_code == 403
    assert response.json["errors"][0]["code"] == "DENIED"


def test_expired_token_is_rejected_with_invalid_token(registry, client):
    registry.clock.freeze()  # expiry is in whole seconds: real time moving on would make this flaky
    pull = token(client, "repository:team/app:pull", headers=ALICE)
    registry.clock.advance(299)
    assert client.get("/v2/team/app/tags/list", headers=bearer(pull)).status_code == 200
    registry.clock.advance(1)
    response = client.get("/v2/team/app/tags/list", headers=bearer(pull))
    assert response.status_code == 401
    assert challenge(response)["error"] == "invalid_token"
    assert response.json["errors"][0]["detail"] == "token has expired"


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer not.a.token", "Bearer a.b", "Bearer !!!.@@@.###", "Basic YWxpY2U6YWxpY2UtcHc=",
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.", "bearer  ", "\u00e9\u00e9",
])
def test_malformed_or_forged_bearer_headers_are_401_never_500(registry, client, header):
    response = client.get("/v2/team/app/tags/list", headers={"Authorization": header})
    assert response.status_code == 401
    assert registry.server_errors == []


def test_token_signed_by_another_registry_is_invalid(client):
    stranger = Registry()
    stranger.enable_auth(users=[{"name": "alice", "password": "alice-pw", "access": {"team/*": "*"}}])
    forged = stranger.auth.issue_token("alice", ["repository:team/app:pull"])
    response = client.get("/v2/team/app/tags/list", headers=bearer(forged))
    assert challenge(response)["error"] == "invalid_token"


def test_token_endpoint_refuses_wrong_credentials_and_unknown_service(client):
    response = client.get("/token?service=mockreg", headers=basic("alice", "wrong"))
    assert response.status_code == 401
    assert response.json["errors"][0]["code"] == "UNAUTHORIZED"
    assert client.get("/token?service=elsewhere").status_code == 400


def test_no_anonymous_tokens_without_anonymous_access():
    registry = Registry()
    registry.enable_auth(users=[{"name": "u", "password": "p"}])
    assert Client(registry).get("/token?service=mockreg").status_code == 401


def test_offline_token_gives_a_refresh_token_usable_with_oauth2_post(registry, client):
    response = client.get("/token?service=mockreg&offline_token=true&client_id=test", headers=ALICE)
    refresh = response.json["refresh_token"]
    registry.clock.advance(3600)
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "service": "mockreg",
            "client_id": "test", "scope": "repository:team/app:pull repository:other/app:pull"}
    answer = client.post("/token", data=form)
    assert answer.status_code == 200
    body = answer.json
    assert body["scope"] == "repository:team/app:pull"  # other/app is not alice's
    assert body["access_token"] == body["token"]
    assert body["refresh_token"] == refresh
    assert client.get("/v2/team/app/tags/list", headers=bearer(body["access_token"])).status_code == 200


def test_oauth2_password_grant(client):
    form = {"grant_type": "password", "username": "alice", "password": "alice-pw", "service": "mockreg",
            "client_id": "test", "access_type": "offline", "scope": "repository:team/app:pull,push"}
    body = client.post("/token", data=form).json
    assert body["scope"] == "repository:team/app:pull,push"
    assert body["refresh_token"]
    assert body["expires_in"] == 300


@pytest.mark.parametrize("form, error", [
    ({"grant_type": "password", "username": "alice", "password": "bad"}, "invalid_grant"),
    ({"grant_type": "refresh_token", "refresh_token": "forged"}, "invalid_grant"),
    ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ({"grant_type": "password", "service": "elsewhere"}, "invalid_request"),
])
def test_oauth2_errors_follow_rfc6749(client, form, error):
    response = client.post("/token", data=form)
    assert response.status_code == 400
    assert response.json["error"] == error


def test_access_token_is_not_a_refresh_token(client):
    access = token(client, headers=ALICE)
    response = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": access})
    assert response.json["error"] == "invalid_grant"
    refresh = client.get("/token?offline_token=true", headers=ALICE).json["refresh_token"]
    assert client.get("/v2/", headers=bearer(refresh)).status_code == 401


def test_catalog_scope(client):
    alice = token(client, "registry:catalog:*", headers=ALICE)
    assert client.get("/v2/_catalog", headers=bearer(alice)).json["repositories"] == [
        "other/app", "public/base", "team/app"]
    bob = token(client, "registry:catalog:*", headers=basic("bob", "bob-pw"))
    assert client.get("/v2/_catalog", headers=bearer(bob)).status_code == 403


def test_realm_on_another_port(registry):
    with LiveServer(registry) as tokens, LiveServer(registry) as api:
        registry.enable_auth(registry.auth.config.__class__.from_dict(
            {**registry.auth.config.to_dict(), "realm": f"{tokens.url}/token"}))
        response = requests.get(f"{api.url}/v2/team/app/tags/list")
        realm = challenge(response)["realm"]
        assert realm == f"{tokens.url}/token"
        answer = requests.get(realm, params={"service": "mockreg", "scope": challenge(response)["scope"]},
                              auth=("alice", "alice-pw"))
        retried = requests.get(f"{api.url}/v2/team/app/tags/list", headers=bearer(answer.json()["token"]))
        assert retried.json()["tags"] == ["1.0"]


def test_default_realm_follows_the_host_the_client_used(live):
    response = requests.get(f"{live.url}/v2/team/app/tags/list")
    assert challenge(response)["realm"] == f"{live.url}/token"


def test_control_api_needs_an_admin(client):
    assert client.get("/_mockreg/faults").status_code == 401
    assert client.get("/_mockreg/faults", headers=ALICE).status_code == 403
    assert client.get("/_mockreg/faults", headers=basic("root", "root-pw")).status_code == 200
    root_token = token(client, headers=basic("root", "root-pw"))
    assert client.get("/_mockreg/faults", headers=bearer(root_token)).status_code == 200
    assert client.get("/_mockreg/faults", headers={"Authorization": "Bearer junk"}).status_code == 401


def test_admin_may_do_everything(client):
    root = token(client, "repository:anything/at/all:delete", headers=basic("root", "root-pw"))
    assert client.delete(f"/v2/anything/at/all/blobs/sha256:{'a' * 64}", headers=bearer(root)).status_code == 404


def test_extension_routes_need_pull_on_their_repository(registry, client):
    extension = registry.add_extension("_acme", url="https://acme.example/ext")
    extension.repository_endpoint("stats", "summary")(lambda request, registry, name: {"name": name})
    response = client.get("/v2/team/app/_acme/stats/summary")
    assert challenge(response)["scope"] == "repository:team/app:pull"
    bob = token(client, "repository:team/app:pull", headers=basic("bob", "bob-pw"))
    assert json.loads(client.get("/v2/team/app/_acme/stats/summary", headers=bearer(bob)).data) == {
        "name": "team/app"}
    discover = client.get("/v2/_oci/ext/discover")
    assert discover.status_code == 401 and "scope" not in challenge(discover)


def test_token_requests_are_fast_enough_for_test_suites(client):
    started = time.perf_counter()
    for _ in range(200):
        token(client, "repository:team/app:pull", headers=ALICE)
    assert time.perf_counter() - started < 2.0
