"""The edge-case scenarios shipped in fixtures/, driven over a live server by `requests`."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator, Optional, Tuple

import pytest
import requests

from mockreg import Registry
from mockreg.scenario import Scenario
from mockreg.server import LiveServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"}


@pytest.fixture
def serve(request: pytest.FixtureRequest) -> Iterator:
    servers = []

    def start(name: str) -> Tuple[Scenario, Registry, str]:
        scenario = Scenario.load(FIXTURES / name)
        registry = Registry()
        scenario.apply(registry)
        server = LiveServer(registry).start()
        servers.append(server)
        return scenario, registry, server.url

    yield start
    for server in servers:
        server.stop()


def token(url: str, scope: str, auth: Optional[Tuple[str, str]] = None, service: str = "mockreg") -> str:
    answer = requests.get(f"{url}/token", params={"service": service, "scope": scope}, auth=auth)
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def test_bearer_auth_challenges_and_enforces_scopes(serve) -> None:
    _, _, url = serve("bearer-auth.yaml")
    challenge = requests.get(f"{url}/v2/team/app/manifests/1.0", headers=ACCEPT)
    assert challenge.status_code == 401
    assert challenge.headers["WWW-Authenticate"] == (
        f'Bearer realm="{url}/token",service="mockreg",scope="repository:team/app:pull"')
    assert challenge.json()["errors"][0]["code"] == "UNAUTHORIZED"
    alice = token(url, "repository:team/app:pull,push", ("alice", "alice-password"))
    assert requests.get(f"{url}/v2/team/app/manifests/1.0", headers={**ACCEPT, "Authorization": f"Bearer {alice}"}).ok
    upload = requests.post(f"{url}/v2/team/app/blobs/uploads/", headers={"Authorization": f"Bearer {alice}"})
    assert upload.status_code == 202
    bob = token(url, "repository:team/app:pull,push", ("bob", "bob-password"))
    denied = requests.post(f"{url}/v2/team/app/blobs/uploads/", headers={"Authorization": f"Bearer {bob}"})
    assert denied.status_code == 403 and denied.json()["errors"][0]["code"] == "DENIED"
    anonymous = token(url, "repository:public/app:pull")
    assert requests.get(f"{url}/v2/public/app/manifests/1.0",
                        headers={**ACCEPT, "Authorization": f"Bearer {anonymous}"}).ok
    assert requests.get(f"{url}/token", params={"scope": "repository:team/app:pull"},
                        auth=("alice", "wrong")).status_code == 401


def test_dockerhub_like_rate_limits_anonymous_manifest_pulls(serve) -> None:
    _, registry, url = serve("dockerhub-like.yaml")
    granted = token(url, "repository:library/alpine:pull", service="registry.docker.io")
    headers = {**ACCEPT, "Authorization": f"Bearer {granted}"}
    remaining = []
    for _ in range(10):
        answer = requests.get(f"{url}/v2/library/alpine/manifests/latest", headers=headers)
        assert answer.status_code == 200
        remaining.append(answer.headers["ratelimit-remaining"])
    assert remaining[0] == "9;w=21600" and remaining[-1] == "0;w=21600"
    limited = requests.get(f"{url}/v2/library/alpine/manifests/latest", headers=headers)
    assert limited.status_code == 429 and limited.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert int(limited.headers["Retry-After"]) > 0
    registry.clock.advance(21600)
    headers["Authorization"] = f"Bearer {token(url, 'repository:library/alpine:pull', service='registry.docker.io')}"
    assert requests.get(f"{url}/v2/library/alpine/manifests/latest", headers=headers).status_code == 200


def test_flaky_blob_download_drops_then_succeeds(serve) -> None:
    scenario, _, url = serve("flaky-blobs.yaml")
    digest = scenario.digest("demo/app:1.0", "layer", 0)
    with pytest.raises(requests.exceptions.RequestException):
        _ = requests.get(f"{url}/v2/demo/app/blobs/{digest}").content
    retry = requests.get(f"{url}/v2/demo/app/blobs/{digest}")
    assert "sha256:" + hashlib.sha256(retry.content).hexdigest() == digest


def test_storage_redirect_is_followed_to_the_blob(serve) -> None:
    scenario, _, url = serve("storage-redirect.yaml")
    digest = scenario.digest("demo/app:1.0", "layer", 0)
    answer = requests.get(f"{url}/v2/demo/app/blobs/{digest}")
    assert [r.status_code for r in answer.history] == [307]
    assert "/_storage/" in answer.url
    assert "sha256:" + hashlib.sha256(answer.content).hexdigest() == digest


def test_lost_uploads_expire_and_a_new_upload_works(serve) -> None:
    _, registry, url = serve("lost-uploads.yaml")
    location = requests.post(f"{url}/v2/demo/app/blobs/uploads/").headers["Location"]
    assert requests.patch(f"{url}{location}", data=b"first").status_code == 202
    registry.clock.advance(31)
    lost = requests.patch(f"{url}{location}", data=b"second")
    assert lost.status_code == 404 and lost.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
    data = b"again"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    retried = requests.post(f"{url}/v2/demo/app/blobs/uploads/", params={"digest": digest}, data=data)
    assert retried.status_code == 201
