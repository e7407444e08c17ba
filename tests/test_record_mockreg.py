"""Recording mockreg itself as the upstream under several settings, faults and auth, then
replaying: the client meets the same answers request by request."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import oras.client
import pytest
import requests
import yaml
from cli_helpers import required_tool
from record_support import record, replay, skopeo, written_text

from mockreg import Registry
from mockreg.scenario import Scenario
from mockreg.server import LiveServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def upstream():
    """mockreg serving the quickstart scenario; the test may change its settings first."""
    registry = Registry()
    Scenario.load(FIXTURES / "quickstart.yaml").apply(registry)
    with LiveServer(registry) as server:
        server.registry = registry
        yield server


def mount_and_referrers(host_port: str) -> None:
    """A client that mounts a layer into another repository and asks for referrers."""
    base = f"http://{host_port}/v2"
    manifest = requests.get(f"{base}/demo/app/manifests/1.0",
                            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    layer = manifest.json()["layers"][0]["digest"]
    requests.head(f"{base}/demo/app/blobs/{layer}")
    mounted = requests.post(f"{base}/demo/mounted/blobs/uploads/?mount={layer}&from=demo/app")
    if mounted.status_code == 202:
        requests.delete(f"http://{host_port}{mounted.headers['Location']}"
                        if mounted.headers["Location"].startswith("/") else mounted.headers["Location"])
    requests.get(f"{base}/demo/app/referrers/{sha256(manifest.content)}")


def test_referrers_404_and_mount_202_are_recorded_as_settings_and_replay_that_way(upstream, tmp_path):
    upstream.registry.configure(referrers=False, blob_mount=False)
    out = record(upstream.url, tmp_path / "rec.yaml", mount_and_referrers)
    text = out.read_text()
    document = yaml.safe_load(text)
    assert document["settings"]["referrers"] is False and document["settings"]["blob_mount"] is False
    assert "referrers: false  # from: GET /v2/demo/app/referrers/sha256:" in text
    assert "blob_mount: false  # from: POST /v2/demo/mounted/blobs/uploads/?mount=sha256:" in text
    assert replay(out, mount_and_referrers, tmp_path / "again.yaml") == []
    statuses = [(e["kind"], e["status"]) for e in yaml.safe_load((tmp_path / "again.yaml").read_text())
                ["recorded"]["exchanges"]]
    assert ("referrers", 404) in statuses and ("blob-upload-start", 202) in statuses


def test_an_upstream_that_mounts_and_lists_referrers_sets_no_switch(upstream, tmp_path):
    out = record(upstream.url, tmp_path / "rec.yaml", mount_and_referrers)
    document = yaml.safe_load(out.read_text())
    assert set(document.get("settings", {})) <= {"sparse_manifests"}  # the config blob was never fetched
    assert replay(out, mount_and_referrers, tmp_path / "again.yaml") == []


def copy_and_back(host_port: str) -> None:
    skopeo("copy", f"docker://{host_port}/demo/app:1.0", f"docker://{host_port}/demo/copy:1.0")


def test_skopeo_copy_within_the_upstream_replays_with_the_same_exchanges(upstream, tmp_path):
    required_tool("skopeo")
    out = record(upstream.url, tmp_path / "rec.yaml", copy_and_back)
    document = yaml.safe_load(out.read_text())
    assert list(document["repositories"]) == ["demo/app"]  # the state before: demo/copy is what skopeo made
    assert "demo/copy" in document["recorded"]["pushed"]
    assert replay(out, copy_and_back, tmp_path / "again.yaml") == []


def test_faults_missing_digest_header_and_server_errors_become_faults(upstream, tmp_path):
    upstream.registry.add_fault(kinds=["manifest-get"], digest_header="missing")
    upstream.registry.add_fault(kinds=["tags-list"], first=1, status=503, retry_after=2)

    def client(host_port: str) -> None:
        requests.get(f"http://{host_port}/v2/demo/app/tags/list")
        requests.get(f"http://{host_port}/v2/demo/app/tags/list")
        requests.get(f"http://{host_port}/v2/demo/app/manifests/1.0",
                     headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})

    out = record(upstream.url, tmp_path / "rec.yaml", client)
    faults = yaml.safe_load(out.read_text())["faults"]
    assert {"name": "recorded-missing-digest-header", "kinds": ["manifest-get"], "digest_header": "missing"} in faults
    assert any(f["status"] == 503 and f["nth"] == 1 and f["kinds"] == ["tags-list"] and f["retry_after"] == 2
               for f in faults if "status" in f)
    assert replay(out, client, tmp_path / "again.yaml") == []


def test_rate_limit_headers_become_a_rate_limit(upstream, tmp_path):
    upstream.registry.rate_limit(100, window=21600, kinds=["manifest-get"])

    def client(host_port: str) -> None:
        requests.get(f"http://{host_port}/v2/demo/app/manifests/1.0",
                     headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})

    out = record(upstream.url, tmp_path / "rec.yaml", client)
    limits = yaml.safe_load(out.read_text())["rate_limits"]
    assert limits == [{"name": "recorded-rate-limit-1", "limit": 100, "window": 21600, "kinds": ["manifest-get"]}]
    assert replay(out, client, tmp_path / "again.yaml") == []


@pytest.mark.parametrize("storage_host", ["same", "other"])
def test_storage_redirects_pass_through_the_proxy_without_writing_the_signed_url(upstream, tmp_path, storage_host):
    storage = LiveServer(upstream.registry).start()  # another host:port serving the storage URLs
    upstream.registry.add_fault(redirect=True, redirect_to=storage.url if storage_host == "other" else None)
    inner = upstream.app

    def signing(environ, start_response):  # a storage backend's signed URL, as S3 hands out
        def start(status, headers, exc_info=None):
            headers = [(k, v + "&X-Amz-Signature=s3cr3tsig&X-Amz-Credential=AKIAEXAMPLE" if k == "Location" else v)
                       for k, v in headers]
            return start_response(status, headers, exc_info)
        return inner(environ, start)

    upstream.app = signing

    def client(host_port: str) -> None:
        manifest = requests.get(f"http://{host_port}/v2/demo/app/manifests/1.0",
                                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).json()
        digest = manifest["layers"][0]["digest"]
        blob = requests.get(f"http://{host_port}/v2/demo/app/blobs/{digest}")
        assert blob.history[0].status_code == 307, blob.history
        assert blob.history[0].headers["Location"].startswith(f"http://{host_port}/_record/storage/")
        assert sha256(blob.content) == digest, (blob.status_code, blob.url, blob.content[:300])

    try:
        out = record(upstream.url, tmp_path / "rec.yaml", client)
        written = written_text(out)
        assert b"s3cr3tsig" not in written and b"AKIAEXAMPLE" not in written and storage.url.encode() not in written
        assert {"name": "recorded-storage-redirect", "kinds": ["blob-get"], "redirect": True} in \
            yaml.safe_load(out.read_text())["faults"]
        assert replay(out, client, tmp_path / "again.yaml") == []
    finally:
        storage.stop()


USER, PASSWORD = "alice", "alice-Pa55word-xyz"


@pytest.fixture
def bearer_upstream(upstream):
    upstream.registry.enable_auth(scheme="bearer", service="upstream-svc",
                                  users=[{"name": USER, "password": PASSWORD, "access": {"*": "*"}}])
    return upstream


def oras_push_pull(password: str, push: bool = True):
    backend = "basic" if push else "token"

    def operation(host_port: str) -> None:
        artifact = Path("artifact.txt")
        artifact.write_bytes(b"recorded artifact")
        # oras-py keeps its first token for the whole session and a pull token cannot push
        # (tests/test_auth_clients.py), so under bearer auth skopeo pushes and oras-py pulls.
        if push:
            pusher = oras.client.OrasClient(hostname=host_port, insecure=True, auth_backend="basic")
            pusher.auth.set_basic_auth(USER, password)
            pusher.push(files=[str(artifact)], target=f"{host_port}/demo/art:v1", disable_path_validation=True)
        else:
            skopeo("copy", f"docker://{host_port}/demo/app:1.0", f"docker://{host_port}/demo/art:v1",
                   creds=f"{USER}:{password}")
        puller = oras.client.OrasClient(hostname=host_port, insecure=True, auth_backend=backend)
        puller.auth.set_basic_auth(USER, password)
        assert puller.pull(target=f"{host_port}/demo/art:v1", outdir="pulled")
    return operation


def test_oras_push_and_pull_under_basic_auth_replay_with_the_replay_password(upstream, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    upstream.registry.enable_auth(scheme="basic", users=[{"name": USER, "password": PASSWORD, "access": {"*": "*"}}])
    out = record(upstream.url, tmp_path / "rec.yaml", oras_push_pull(PASSWORD))
    document = yaml.safe_load(out.read_text())
    assert document["auth"]["scheme"] == "basic" and document["auth"]["users"][0]["password"] == "replay"
    written = written_text(out)
    for secret in (PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()):
        assert secret.encode() not in written
    assert replay(out, oras_push_pull("replay"), tmp_path / "again.yaml") == []


def test_skopeo_copy_and_oras_pull_under_bearer_auth_replay_the_same_token_flow(bearer_upstream, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tokens = []
    original = requests.Session.send

    def spy(session, request, **kwargs):  # the tokens the client is handed, to prove none is written
        response = original(session, request, **kwargs)
        if "/_record/token/" in request.url and response.status_code == 200:
            tokens.append(response.json()["token"])
        return response

    monkeypatch.setattr(requests.Session, "send", spy)
    required_tool("skopeo")
    out = record(bearer_upstream.url, tmp_path / "rec.yaml", oras_push_pull(PASSWORD, push=False))
    document = yaml.safe_load(out.read_text())
    assert document["auth"] == {"scheme": "bearer", "service": "upstream-svc",
                                "users": [{"name": USER, "password": "replay", "access": {"*": "*"},
                                           "catalog": False}], "token_ttl": 300}
    assert document["recorded"]["auth"]["challenge"].startswith('Bearer realm="<realm>",service="upstream-svc"')
    assert tokens
    written = written_text(out)
    for secret in [PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(), *tokens]:
        assert secret.encode() not in written
    monkeypatch.setattr(requests.Session, "send", original)
    assert replay(out, oras_push_pull("replay", push=False), tmp_path / "again.yaml") == []


def test_recorder_credentials_answer_the_upstream_and_the_client_sees_no_challenge(bearer_upstream, tmp_path):
    def client(host_port: str) -> None:
        assert requests.get(f"http://{host_port}/v2/demo/app/tags/list").json()["tags"]

    out = record(bearer_upstream.url, tmp_path / "rec.yaml", client, credentials=(USER, PASSWORD))
    document = yaml.safe_load(out.read_text())
    assert "auth" not in document and PASSWORD.encode() not in written_text(out)
    assert [e["status"] for e in document["recorded"]["exchanges"]] == [200]
    assert "answered with its own credentials" in document["recorded"]["notes"][0]["behaviour"]
    assert replay(out, client, tmp_path / "again.yaml") == []


def test_a_given_token_is_sent_for_the_client_and_never_written(bearer_upstream, tmp_path):
    token = bearer_upstream.registry.auth.issue_token(USER, ["repository:demo/app:pull"])

    def client(host_port: str) -> None:
        assert requests.get(f"http://{host_port}/v2/demo/app/tags/list").json()["tags"]

    out = record(bearer_upstream.url, tmp_path / "rec.yaml", client, token=token)
    assert token.encode() not in written_text(out)
    assert [e["status"] for e in yaml.safe_load(out.read_text())["recorded"]["exchanges"]] == [200]


def test_credentials_in_the_upstream_url_are_refused_before_they_could_be_written(tmp_path):
    with pytest.raises(ValueError, match="not in the URL"):
        record(f"http://{USER}:{PASSWORD}@127.0.0.1:1", tmp_path / "rec.yaml", lambda host_port: None)


def test_the_recorded_scenario_holds_the_content_the_client_met(upstream, tmp_path):
    out = record(upstream.url, tmp_path / "rec.yaml", mount_and_referrers)
    registry = Registry()
    Scenario.load(out).apply(registry)
    original = upstream.registry.manifest("demo/app", "1.0")
    assert registry.manifest("demo/app", "1.0").digest == original.digest
    layer = json.loads(original.body)["layers"][0]["digest"]
    assert registry.has_blob("demo/app", layer)  # only HEADed by the client: fetched by the backfill


def catalog_client(password: str):
    def client(host_port: str) -> None:
        session = requests.Session()
        challenge = session.get(f"http://{host_port}/v2/_catalog")
        realm = challenge.headers["WWW-Authenticate"].split('realm="', 1)[1].split('"', 1)[0]
        token = session.get(realm, params={"service": "upstream-svc", "scope": "registry:catalog:*"},
                            auth=(USER, password)).json()["token"]
        session.get(f"http://{host_port}/v2/_catalog", headers={"Authorization": f"Bearer {token}"})
    return client


def test_catalog_refused_under_auth_replays_refused(bearer_upstream, tmp_path):
    out = record(bearer_upstream.url, tmp_path / "rec.yaml", catalog_client(PASSWORD))
    document = yaml.safe_load(out.read_text())
    catalog = [(e["status"], e.get("code")) for e in document["recorded"]["exchanges"] if e["kind"] == "catalog"]
    assert catalog[0] == (401, "UNAUTHORIZED") and catalog[1][0] in (401, 403)
    assert document["auth"]["users"][0]["catalog"] is False
    assert replay(out, catalog_client("replay"), tmp_path / "again.yaml") == []


def test_absolute_link_urls_are_pointed_back_at_the_proxy(upstream, tmp_path):
    inner = upstream.app

    def absolute_links(environ, start_response):
        def start(status, headers, exc_info=None):
            headers = [(k, v.replace("</v2/", f"<{upstream.url}/v2/") if k == "Link" else v) for k, v in headers]
            return start_response(status, headers, exc_info)
        return inner(environ, start)

    upstream.app = absolute_links
    pages = []

    def client(host_port: str) -> None:
        url = f"http://{host_port}/v2/demo/app/tags/list?n=1"
        while url:
            answer = requests.get(url)
            pages.append(answer.json()["tags"])
            url = answer.links.get("next", {}).get("url")
            assert url is None or url.startswith(f"http://{host_port}/v2/")

    out = record(upstream.url, tmp_path / "rec.yaml", client)
    assert len(pages) == len(upstream.registry.tags("demo/app")) > 1
    assert yaml.safe_load(out.read_text())["settings"]["link_header"] == "absolute"
    replayed = Registry()
    Scenario.load(out).apply(replayed)
    with LiveServer(replayed) as server:
        link = requests.get(f"{server.url}/v2/demo/app/tags/list?n=1").headers["Link"]
    assert link.startswith(f"<{server.url}/v2/demo/app/tags/list?")


def test_a_replay_can_be_compared_with_the_request_journal(upstream, tmp_path):
    from mockreg.journal import attach
    from mockreg.record import differences, recorded_exchanges, replayed_exchanges

    upstream.registry.configure(referrers=False, blob_mount=False)
    out = record(upstream.url, tmp_path / "rec.yaml", mount_and_referrers)
    replayed = Registry()
    Scenario.load(out).apply(replayed)
    journal = attach(replayed)
    with LiveServer(replayed) as server:
        mount_and_referrers(server.host_port)
    assert differences(recorded_exchanges(out), replayed_exchanges(journal)) == []
    replayed.configure(referrers=True)  # a replay that answers differently is caught
    journal.clear()
    with LiveServer(replayed) as server:
        mount_and_referrers(server.host_port)
    found = differences(recorded_exchanges(out), replayed_exchanges(journal))
    assert len(found) == 1 and found[0].startswith("GET /v2/demo/app/referrers/sha256:")


def test_a_multi_platform_index_copied_whole_replays_with_every_child(tmp_path):
    required_tool("skopeo")
    registry = Registry()
    Scenario.load(FIXTURES / "multi-arch.yaml").apply(registry)

    def copy_all(host_port: str) -> None:
        skopeo("copy", "--all", f"docker://{host_port}/demo/multi:1.0", f"docker://{host_port}/demo/copy:1.0")

    with LiveServer(registry) as server:
        out = record(server.url, tmp_path / "rec.yaml", copy_all)
    index = registry.manifest("demo/multi", "1.0")
    replayed = Registry()
    Scenario.load(out).apply(replayed)
    assert replayed.manifest("demo/multi", "1.0").digest == index.digest
    for child in json.loads(index.body)["manifests"]:
        assert replayed.manifest("demo/multi", child["digest"]).digest == child["digest"]
    assert replay(out, copy_all, tmp_path / "again.yaml") == []


def test_the_description_says_what_the_file_holds(upstream, tmp_path):
    out = record(upstream.url, tmp_path / "rec.yaml", mount_and_referrers)
    assert yaml.safe_load(out.read_text())["description"] == (
        f"Recorded from {upstream.url}: 1 repository and 1 manifest as they were before the client's operations, "
        "4 exchanges")  # manifest GET, blob HEAD, mount (201), referrers


def test_an_unquoted_realm_is_pointed_at_the_token_proxy_too(bearer_upstream, tmp_path):
    inner = bearer_upstream.app

    def bare_realm(environ, start_response):  # realm=URL as a token, which RFC 9110 allows
        def start(status, headers, exc_info=None):
            headers = [(k, v.replace('realm="', "realm=", 1).replace('",service', ",service", 1)
                        if k == "WWW-Authenticate" else v) for k, v in headers]
            return start_response(status, headers, exc_info)
        return inner(environ, start)

    bearer_upstream.app = bare_realm

    def client(host_port: str) -> None:
        challenge = requests.get(f"http://{host_port}/v2/demo/app/tags/list").headers["WWW-Authenticate"]
        assert challenge.startswith(f'Bearer realm="http://{host_port}/_record/token/1",'), challenge
        token = requests.get(f"http://{host_port}/_record/token/1", params={"scope": "repository:demo/app:pull"},
                             auth=(USER, PASSWORD)).json()["token"]
        assert requests.get(f"http://{host_port}/v2/demo/app/tags/list",
                            headers={"Authorization": f"Bearer {token}"}).status_code == 200

    out = record(bearer_upstream.url, tmp_path / "rec.yaml", client)
    assert yaml.safe_load(out.read_text())["auth"]["service"] == "upstream-svc"
