"""`mockreg serve --profile NAME --user USER:PASSWORD` for every shipped profile: over a real
socket, a client that follows the registry's challenge (Basic, or Bearer through the profile's
own token realm) logs in as that user, pushes an image and pulls it back."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Dict

import pytest
import requests

from mockreg import profiles
from mockreg.cli import build_parser, serve
from mockreg.server import LiveServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
USER, PASSWORD = "alice", "secret"


def served_registry(name: str):
    args = build_parser().parse_args(["serve", "--profile", name, "--user", f"{USER}:{PASSWORD}", "--quiet"])
    return serve._registry(args, serve._Messages("text"))


class ChallengeClient:
    """Answers 401 challenges as docker does: Basic credentials, or a token from the realm."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.tokens: Dict[str, str] = {}

    def request(self, method: str, path: str, **options) -> requests.Response:
        url = path if path.startswith("http") else self.base + path
        answer = self.session.request(method, url, **options)
        challenge = answer.headers.get("WWW-Authenticate", "")
        if answer.status_code != 401 or not challenge:
            return answer
        if challenge.lower().startswith("basic"):
            return self.session.request(method, url, auth=(USER, PASSWORD), **options)
        fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        query = {key: fields[key] for key in ("service", "scope") if key in fields}
        token_answer = requests.get(fields["realm"], params=query, auth=(USER, PASSWORD))
        assert token_answer.status_code == 200, token_answer.text
        body = token_answer.json()
        token = body.get("token") or body["access_token"]
        headers = {**options.pop("headers", {}), "Authorization": f"Bearer {token}"}
        return self.session.request(method, url, headers=headers, **options)


def repository_for(registry) -> str:
    depth = max(registry.settings.min_name_components, 2)
    name = "/".join(["team", "app", "img", "x"][:depth])
    registry.create_repository(name)                       # as a user of a create-first registry would
    registry.create_namespace(name.split("/", 1)[0])
    registry.create_namespace("/".join(name.split("/")[:2]))
    return name


def push_blob(client: ChallengeClient, name: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = client.request("POST", f"/v2/{name}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    separator = "&" if "?" in location else "?"
    finished = client.request("PUT", f"{location}{separator}digest={digest}", data=data,
                              headers={"Content-Type": "application/octet-stream"})
    assert finished.status_code == 201, finished.text
    return digest


@pytest.mark.parametrize("name", profiles.names())
def test_serve_profile_user_pushes_and_pulls_under_the_profiles_auth(name):
    registry = served_registry(name)
    with LiveServer(registry) as server:
        client = ChallengeClient(server.url)
        repository = repository_for(registry)
        config = push_blob(client, repository, b"{}")
        layer = push_blob(client, repository, b"layer bytes")
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": 11}],
        }).encode()
        pushed = client.request("PUT", f"/v2/{repository}/manifests/1.0", data=manifest,
                                headers={"Content-Type": OCI_MANIFEST})
        assert pushed.status_code == 201, pushed.text
        pulled = client.request("GET", f"/v2/{repository}/manifests/1.0", headers={"Accept": OCI_MANIFEST})
        assert pulled.status_code == 200 and pulled.content == manifest
        assert client.request("GET", f"/v2/{repository}/blobs/{layer}").content == b"layer bytes"
        if registry.auth is not None:                     # and without credentials the profile's auth says no
            anonymous = requests.put(f"{server.url}/v2/{repository}/manifests/2.0", data=manifest,
                                     headers={"Content-Type": OCI_MANIFEST})
            assert anonymous.status_code in (401, 403)
