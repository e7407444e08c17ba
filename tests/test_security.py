"""Security: loopback by default, YAML loaded safely, no file read outside what a scenario's
directory holds, auth enforced for every scope on every route that needs it, and the control
API off unless asked for."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
from registry_helpers import image, push, sha256, snapshot
from werkzeug.test import Client

from mockreg import Registry
from mockreg.cli import build_parser
from mockreg.scenario import Scenario, ScenarioError
from mockreg.server import LiveServer
from mockreg.session import MockRegistry

# -- listening address -----------------------------------------------------------------------------


def test_live_server_binds_loopback_by_default() -> None:
    with LiveServer(Registry()) as server:
        assert server.host == "127.0.0.1"
        assert server._socket.getsockname()[0] == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")


def test_cli_serve_listens_on_loopback_unless_told_otherwise() -> None:
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"


def test_unittest_api_listens_on_loopback() -> None:
    with MockRegistry(live=True) as mock:
        assert mock.host_port.startswith("127.0.0.1:")


def test_pytest_plugin_server_listens_on_loopback(mockreg_server: Any) -> None:
    assert mockreg_server.url.startswith("http://127.0.0.1:")
    host, port = mockreg_server.host_port.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5):
        pass


# -- scenario files -----------------------------------------------------------------------------------

@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:pathlib.Path {{}}",
])
def test_python_tags_in_a_scenario_are_refused_with_a_clear_error(tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text("version: 1\ndescription: " + tag.format(marker=marker) + "\n")
    with pytest.raises(ScenarioError) as raised:
        Scenario.load(path)
    message = str(raised.value)
    assert "evil.yaml:2:14" in message and "!!python/" in message and "is not allowed" in message, message
    assert not marker.exists()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory holding a scenario, beside files it must not reach."""
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "other.yaml").write_text("version: 1\nsettings: {referrers: false}\n")
    layout = tmp_path / "layout"
    (layout / "blobs").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    inner = tmp_path / "scenarios"
    inner.mkdir()
    (inner / "link-to-secret.txt").symlink_to(tmp_path / "secret.txt")
    (inner / "link-to-layout").symlink_to(layout)
    return inner


TRAVERSALS = {
    "file ..": "repositories:\n  a/b:\n    blobs: [{file: ../secret.txt}]",
    "file absolute": "repositories:\n  a/b:\n    blobs: [{file: %(root)s/secret.txt}]",
    "file symlink": "repositories:\n  a/b:\n    blobs: [{file: link-to-secret.txt}]",
    "file deep ..": "repositories:\n  a/b:\n    blobs: [{file: ./x/../../secret.txt}]",
    "include ..": "include: [../other.yaml]",
    "include absolute": "include: [%(root)s/other.yaml]",
    "layout ..": "repositories:\n  a/b:\n    layouts: [{path: ../layout}]",
    "layout absolute": "repositories:\n  a/b:\n    layouts: [{path: %(root)s/layout}]",
    "layout symlink": "repositories:\n  a/b:\n    layouts: [{path: link-to-layout}]",
}


@pytest.mark.parametrize("case", sorted(TRAVERSALS))
def test_scenario_paths_cannot_leave_the_scenario_directory(outside: Path, case: str) -> None:
    path = outside / "s.yaml"
    path.write_text("version: 1\n" + TRAVERSALS[case] % {"root": outside.parent} + "\n")
    registry = Registry()
    with pytest.raises(ScenarioError, match="lies outside the scenario's directory"):
        Scenario.load(path).apply(registry)
    assert registry.repositories() == [] and registry.settings.referrers


def test_files_inside_the_scenario_directory_are_read(outside: Path) -> None:
    (outside / "data").mkdir()
    (outside / "data" / "blob.bin").write_bytes(b"inside")
    (outside / "base.yaml").write_text("version: 1\nsettings: {catalog: false}\n")
    path = outside / "s.yaml"
    path.write_text("version: 1\ninclude: [base.yaml]\nrepositories:\n  a/b:\n    blobs: [{file: data/blob.bin}]\n")
    registry = Registry()
    Scenario.load(path).apply(registry)
    assert registry.blob("a/b", sha256(b"inside")) == b"inside" and not registry.settings.catalog


# -- auth, scope by scope --------------------------------------------------------------------------

DATA = b"layer bytes"


def _basic(user: str) -> Dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:pw".encode()).decode()}


USERS = [
    {"name": "puller", "password": "pw", "access": {"team/app": "pull"}},
    {"name": "pusher", "password": "pw", "access": {"team/app": "push"}},
    {"name": "deleter", "password": "pw", "access": {"team/app": "delete"}},
    {"name": "cataloguer", "password": "pw", "catalog": True},
    {"name": "mounter", "password": "pw", "access": {"team/app": "push", "team/source": "pull"}},
    {"name": "pusher-only", "password": "pw", "access": {"team/app": "pull,push"}},
    {"name": "root", "password": "pw", "admin": True},
]


def _arranged(scheme: str) -> Registry:
    registry = Registry(control_api=True)
    content = image("app")
    push(registry, "team/app", content, tags=["v1"])
    push(registry, "team/app", image("sig", subject=content.descriptor()))
    registry.push_blob("team/source", DATA)
    registry.push_blob("team/app", DATA)
    extension = registry.add_extension("_acme", url="https://acme.example/ext")
    extension.registry_endpoint("stats", "summary")(lambda request, reg: {"ok": True})
    extension.repository_endpoint("stats", "summary", methods=("GET", "POST"))(
        lambda request, reg, name: {"name": name})
    registry.enable_auth(scheme=scheme, users=USERS, secret="s")
    return registry


def _upload(registry: Registry, client: Client) -> str:
    admin = _basic("root") if registry.auth.config.scheme == "basic" else _bearer(registry, "root")
    return client.post("/v2/team/app/blobs/uploads/", headers=admin).headers["Location"]


CONTENT = image("app")
# Each request, the user who may make it (exactly that scope), and one who may not.
REQUESTS: Dict[str, Any] = {
    "pull: manifest GET": ("GET", "/v2/team/app/manifests/v1", "puller", "pusher"),
    "pull: manifest HEAD": ("HEAD", f"/v2/team/app/manifests/{CONTENT.digest}", "puller", "deleter"),
    "pull: blob GET": ("GET", f"/v2/team/app/blobs/{sha256(DATA)}", "puller", "pusher"),
    "pull: blob HEAD": ("HEAD", f"/v2/team/app/blobs/{sha256(DATA)}", "puller", "cataloguer"),
    "pull: tags list": ("GET", "/v2/team/app/tags/list", "puller", "deleter"),
    "pull: referrers": ("GET", f"/v2/team/app/referrers/{CONTENT.digest}", "puller", "pusher"),
    "push: upload start": ("POST", "/v2/team/app/blobs/uploads/", "pusher", "puller"),
    "push: single POST": ("POST", f"/v2/team/app/blobs/uploads/?digest={sha256(b'new')}", "pusher", "puller"),
    "push: upload status": ("GET", "{upload}", "pusher", "puller"),
    "push: upload PATCH": ("PATCH", "{upload}", "pusher", "deleter"),
    "push: upload PUT": ("PUT", "{upload}?digest=" + sha256(b"new"), "pusher", "puller"),
    "push: upload cancel": ("DELETE", "{upload}", "pusher", "deleter"),
    "push: manifest PUT": ("PUT", "/v2/team/app/manifests/v2", "pusher", "puller"),
    "delete: manifest": ("DELETE", f"/v2/team/app/manifests/{CONTENT.digest}", "deleter", "pusher-only"),
    "delete: tag": ("DELETE", "/v2/team/app/manifests/v1", "deleter", "pusher-only"),
    "delete: blob": ("DELETE", f"/v2/team/app/blobs/{sha256(DATA)}", "deleter", "pusher-only"),
    "catalog": ("GET", "/v2/_catalog", "cataloguer", "puller"),
    "mount-from": ("POST", f"/v2/team/app/blobs/uploads/?mount={sha256(DATA)}&from=team/source", "mounter",
                   "pusher"),
    "extension, repository level GET": ("GET", "/v2/team/app/_acme/stats/summary", "puller", "pusher"),
    "extension, repository level POST": ("POST", "/v2/team/app/_acme/stats/summary", "pusher", "puller"),
    "control API": ("GET", "/_mockreg/settings", "root", "pusher-only"),
}


def _send(client: Client, method: str, path: str, headers: Dict[str, str]) -> Any:
    body = b"new" if method in ("PATCH", "PUT", "POST") else b""
    if path == "/v2/team/app/manifests/v2":
        body, headers = CONTENT.body, {**headers, "Content-Type": CONTENT.media_type}
    return client.open(path, method=method, data=body, headers=headers)


def _bearer(registry: Registry, user: str) -> Dict[str, str]:
    """A token with every scope `user` could get for this request, as a client would ask."""
    scopes = ["repository:team/app:pull,push,delete", "repository:team/source:pull", "registry:catalog:*"]
    return {"Authorization": "Bearer " + registry.auth.issue_token(user, scopes)}


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
@pytest.mark.parametrize("case", sorted(REQUESTS))
def test_each_scope_is_enforced(scheme: str, case: str) -> None:
    method, path, allowed, refused = REQUESTS[case]
    registry = _arranged(scheme)
    client = Client(registry)
    if "{upload}" in path:
        path = path.format(upload=_upload(registry, client))

    def credentials(user: Optional[str]) -> Dict[str, str]:
        if user is None:
            return {}
        if scheme == "basic" or case == "control API":
            return _basic(user)
        return _bearer(registry, user)

    before = snapshot(registry)
    anonymous = _send(client, method, path, credentials(None))
    assert anonymous.status_code == 401, (case, anonymous.data)
    assert "WWW-Authenticate" in anonymous.headers
    other = _send(client, method, path, credentials(refused))
    assert other.status_code in (401, 403), (case, other.status_code, other.data)
    if other.status_code == 401:   # bearer: a token without the scope is insufficient_scope
        assert 'error="insufficient_scope"' in other.headers["WWW-Authenticate"]
    assert snapshot(registry) == before, f"{case}: a refused request changed the registry"
    permitted = _send(client, method, path, credentials(allowed))
    assert permitted.status_code < 400, (case, permitted.status_code, permitted.data)
    assert registry.server_errors == []


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_registry_level_extension_needs_credentials_or_anonymous_access(scheme: str) -> None:
    registry = _arranged(scheme)
    client = Client(registry)
    assert client.get("/v2/_acme/stats/summary").status_code == 401
    headers = _basic("puller") if scheme == "basic" else _bearer(registry, "puller")
    assert client.get("/v2/_acme/stats/summary", headers=headers).json == {"ok": True}


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_mount_without_from_cannot_reach_repositories_the_client_may_not_read(scheme: str) -> None:
    """With auth on, a mount must name its source: "from anywhere" would copy blobs out of
    repositories the client cannot pull. It becomes an ordinary upload (202)."""
    registry = _arranged(scheme)
    secret = registry.push_blob("hidden/repo", b"top secret")
    client = Client(registry)
    headers = _basic("pusher") if scheme == "basic" else _bearer(registry, "pusher")
    response = client.post(f"/v2/team/app/blobs/uploads/?mount={secret}", headers=headers)
    assert response.status_code == 202
    assert not registry.has_blob("team/app", secret)


def test_the_control_api_is_off_by_default() -> None:
    registry = Registry()
    client = Client(registry)
    for method, path in [("GET", "/_mockreg/"), ("POST", "/_mockreg/reset"), ("POST", "/_mockreg/settings"),
                         ("POST", "/_mockreg/faults"), ("GET", "/_mockreg/journal"), ("POST", "/_mockreg/clock")]:
        response = client.open(path, method=method, data=b'{"status": 500}')
        assert response.status_code == 404, (method, path)
        assert json.loads(response.data)["errors"][0]["code"] == "UNSUPPORTED"
    assert not registry.control_api and registry.faults.rules() == {}
    assert build_parser().parse_args(["serve"]).control_api is False
