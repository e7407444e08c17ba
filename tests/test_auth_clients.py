"""Token auth driven by real clients: oras-py (plain HTTP) and python-dxf (which insists on HTTPS
for the token realm, so it talks to a TLS server with a throwaway CA)."""

from __future__ import annotations

import ssl
from typing import Iterator

import oras.client
import pytest
import requests
import trustme
from dxf import DXF
from dxf.exceptions import DXFUnauthorizedError
from edge_support import push_image, sha256

from mockreg import Registry
from mockreg.journal import attach
from mockreg.server import LiveServer


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    push_image(registry, "public/base", layer=b"public layer")
    push_image(registry, "team/app", layer=b"team layer")
    registry.enable_auth(
        users=[{"name": "alice", "password": "alice-pw", "access": {"team/*": "*"}},
               {"name": "bob", "password": "bob-pw", "access": {"team/*": "pull"}}],
        anonymous={"public/*": "pull"})
    return registry


# -- oras-py -----------------------------------------------------------------------------
def oras_client(live: LiveServer) -> oras.client.OrasClient:
    return oras.client.OrasClient(hostname=live.host_port, insecure=True)


def test_oras_anonymous_pull_of_a_public_repository(live, registry, tmp_path):
    journal = attach(registry)
    files = oras_client(live).pull(target=f"{live.host_port}/public/base:1.0", outdir=str(tmp_path))
    assert [open(path, "rb").read() for path in files] == [b"public layer"]
    assert journal.count("token", status=200) == 1  # one anonymous token, then every request passes


def test_oras_anonymous_push_is_denied(live, registry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "artifact.txt").write_bytes(b"hello")
    with pytest.raises(ValueError, match="UNAUTHORIZED"):
        oras_client(live).push(files=["artifact.txt"], target=f"{live.host_port}/public/base:2.0")
    assert registry.tags("public/base") == ["1.0"]


def test_oras_reuses_a_pull_token_for_push_and_is_denied(live, registry, tmp_path, monkeypatch):
    """oras-py keeps its first token and only fetches a new one after a 403, so a pull-scoped
    token meets the push's `insufficient_scope` challenge, as it would on docker/distribution."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "artifact.txt").write_bytes(b"hello")
    journal = attach(registry)
    client = oras_client(live)
    client.auth.set_basic_auth("alice", "alice-pw")
    with pytest.raises(ValueError, match="UNAUTHORIZED"):
        client.push(files=["artifact.txt"], target=f"{live.host_port}/team/app:2.0")
    assert journal.count("blob-upload-start", status=401) == 2  # the request and oras-py's retry with the same token
    assert registry.tags("team/app") == ["1.0"]


def test_oras_push_with_a_token_scoped_for_push(live, registry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "artifact.txt").write_bytes(b"hello")
    client = oras_client(live)
    client.auth.set_token_auth(registry.auth.issue_token("alice", ["repository:team/app:pull,push"]))
    client.push(files=["artifact.txt"], target=f"{live.host_port}/team/app:2.0")
    assert registry.tags("team/app") == ["1.0", "2.0"]
    assert registry.blob("team/app", sha256(b"hello")) == b"hello"


# -- python-dxf over TLS -----------------------------------------------------------------
@pytest.fixture(scope="module")
def tls() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def secure(registry: Registry, tls: trustme.CA, tmp_path) -> Iterator[LiveServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.issue_cert("127.0.0.1").configure_cert(context)
    with LiveServer(registry, ssl_context=context) as server:
        server.ca_file = str(tmp_path / "ca.pem")  # type: ignore[attr-defined]
        tls.cert_pem.write_to_path(server.ca_file)  # type: ignore[attr-defined]
        yield server


def dxf_client(server: LiveServer, repo: str, user: str = "", password: str = "") -> DXF:
    def authenticate(dxf: DXF, response: requests.Response) -> None:
        if user:
            dxf.authenticate(user, password, response=response)
        else:
            dxf.authenticate(response=response)
    return DXF(server.host_port, repo, auth=authenticate, tlsverify=server.ca_file)  # type: ignore[attr-defined]


def test_dxf_anonymous_pull(secure, registry):
    dxf = dxf_client(secure, "public/base")
    assert dxf.list_aliases() == ["1.0"]
    assert b"".join(dxf.pull_blob(sha256(b"public layer"))) == b"public layer"


def test_dxf_anonymous_push_denied(secure):
    dxf = dxf_client(secure, "public/base")
    with pytest.raises(DXFUnauthorizedError):
        dxf.push_blob(data=iter([b"nope"]), digest=sha256(b"nope"))


def test_dxf_user_without_push_is_denied_403(secure, registry):
    dxf = dxf_client(secure, "team/app", "bob", "bob-pw")
    with pytest.raises(requests.HTTPError) as caught:
        dxf.push_blob(data=iter([b"nope"]), digest=sha256(b"nope"))
    assert caught.value.response.status_code == 403
    assert not registry.has_blob("team/app", sha256(b"nope"))


def test_dxf_push_with_a_permitted_user(secure, registry):
    dxf = dxf_client(secure, "team/app", "alice", "alice-pw")
    digest = dxf.push_blob(data=iter([b"new ", b"layer"]), digest=sha256(b"new layer"))
    assert registry.blob("team/app", digest) == b"new layer"


def test_dxf_refreshes_an_expired_token(secure, registry):
    journal = attach(registry)
    dxf = dxf_client(secure, "team/app", "alice", "alice-pw")
    assert dxf.list_aliases() == ["1.0"]
    assert journal.count("token") == 1
    registry.clock.advance(registry.auth.config.token_ttl + 1)
    assert dxf.list_aliases() == ["1.0"]
    assert journal.count("tags-list", status=401) == 2  # the first request, and the one with the expired token
    assert journal.count("token") == 2
