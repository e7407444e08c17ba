"""Recording Debian's docker-registry (distribution 2.8): a skopeo copy and an oras-py push
and pull, without auth and with htpasswd Basic auth over TLS (a local CA from trustme, given
to the recorder as --ca-file), replayed with the same digests and answers."""

from __future__ import annotations

import base64
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, Optional

import bcrypt
import oras.client
import pytest
import requests
import yaml
from cli_helpers import ServeProcess, required_tool
from record_support import record, replay, skopeo, written_text

from mockreg.record import differences, recorded_exchanges

USER, PASSWORD = "ci", "Dist-Secret-Pw-42"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _distribution(tmp_path: Path, extra: str = "", scheme: str = "http", ca: Optional[str] = None) -> Iterator[str]:
    """docker-registry on 127.0.0.1 with filesystem storage in tmp_path: 2.8's `inmemory` driver
    answers tags/list with NAME_UNKNOWN (see tests/test_seed.py)."""
    binary = required_tool("docker-registry")
    port = _free_port()
    config = tmp_path / "config.yml"
    config.write_text("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                      f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'storage'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n{extra}")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/v2/", timeout=5, verify=ca or True).status_code in (200, 401):
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()


@pytest.fixture
def distribution(tmp_path) -> Iterator[str]:
    yield from _distribution(tmp_path)


@pytest.fixture
def seeded(distribution, tmp_path) -> str:
    """The upstream already holds demo/app:1.0 (pushed directly, not through the recorder)."""
    required_tool("skopeo")
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_bytes(b"layer one")
    client = oras.client.OrasClient(hostname=distribution.split("://")[1], insecure=True)
    client.push(files=[str(source / "a.txt")], target=f"{distribution.split('://')[1]}/demo/app:1.0",
                disable_path_validation=True)
    return distribution


def skopeo_copy(host_port: str) -> None:
    skopeo("copy", f"docker://{host_port}/demo/app:1.0", f"docker://{host_port}/demo/copy:1.0")


def test_skopeo_copy_from_docker_registry_replays_with_the_same_digests(seeded, tmp_path):
    out = record(seeded, tmp_path / "rec.yaml", skopeo_copy)
    document = yaml.safe_load(out.read_text())
    recorded = {e["path"]: e["headers"].get("docker-content-digest") for e in document["recorded"]["exchanges"]
                if e["kind"] == "manifest-get"}
    assert replay(out, skopeo_copy, tmp_path / "again.yaml") == []
    replayed = {e["path"]: e["headers"].get("docker-content-digest")
                for e in yaml.safe_load((tmp_path / "again.yaml").read_text())["recorded"]["exchanges"]
                if e["kind"] == "manifest-get"}
    assert recorded == replayed and all(recorded.values())
    # distribution 2.8 has no referrers API and deletes are off by default: nothing asked, nothing set
    assert set(document.get("settings", {})) <= {"sparse_manifests"}


def test_the_recording_replays_under_mockreg_serve_with_the_same_digests(seeded, tmp_path):
    out = record(seeded, tmp_path / "rec.yaml", skopeo_copy)
    served = ServeProcess("--scenario", str(out), "--quiet")
    try:
        record(served.url, tmp_path / "served.yaml", skopeo_copy, backfill=False)
    finally:
        served.process.terminate()
        served.process.wait(timeout=10)
    assert differences(recorded_exchanges(out), recorded_exchanges(tmp_path / "served.yaml")) == []
    digests = [(e["path"], e["headers"].get("docker-content-digest"))
               for e in yaml.safe_load((tmp_path / "served.yaml").read_text())["recorded"]["exchanges"]
               if e["kind"] in ("manifest-get", "manifest-put", "blob-upload-put")]
    assert digests and all(digest for _, digest in digests)


def oras_push_pull(creds: Optional[str] = None, with_skopeo: bool = False, **options):
    def operation(host_port: str) -> None:
        artifact = Path("artifact.txt")
        artifact.write_bytes(b"recorded through the proxy")
        for step in ("push", "pull"):
            client = oras.client.OrasClient(hostname=host_port, insecure=True, **options)
            if creds:
                client.auth.set_basic_auth(*creds.split(":", 1))
            if step == "push":
                client.push(files=[str(artifact)], target=f"{host_port}/demo/art:v1", disable_path_validation=True)
            else:
                assert client.pull(target=f"{host_port}/demo/art:v1", outdir="pulled")
        if with_skopeo:
            skopeo("copy", f"docker://{host_port}/demo/art:v1", f"docker://{host_port}/demo/copy:v1", creds=creds)
        # a client asking for referrers meets distribution 2.8's 404
        requests.get(f"http://{host_port}/v2/demo/art/referrers/sha256:{'0' * 64}",
                     auth=tuple(creds.split(":", 1)) if creds else None)
    return operation


def test_oras_push_pull_against_docker_registry_replays_and_referrers_404_is_recorded(distribution, tmp_path,
                                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = record(distribution, tmp_path / "rec.yaml", oras_push_pull())
    document = yaml.safe_load(out.read_text())
    assert document["settings"]["referrers"] is False
    assert replay(out, oras_push_pull(), tmp_path / "again.yaml") == []
    # distribution answers the route it lacks in plain text, and the replay does too
    again = yaml.safe_load((tmp_path / "again.yaml").read_text())["recorded"]
    assert [e["body"] for e in again["errors"] if e["kind"] == "referrers"] == ["404 page not found\n"]


def test_error_messages_replay_in_the_upstreams_words(seeded, tmp_path):
    def client(host_port: str) -> None:
        requests.get(f"http://{host_port}/v2/demo/app/manifests/missing",
                     headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        requests.get(f"http://{host_port}/v2/demo/none/tags/list")

    out = record(seeded, tmp_path / "rec.yaml", client)
    replay(out, client, tmp_path / "again.yaml")
    errors = [{k: e.get(k) for k in ("kind", "status", "code", "message")}
              for e in yaml.safe_load(out.read_text())["recorded"]["errors"]]
    replayed = [{k: e.get(k) for k in ("kind", "status", "code", "message")}
                for e in yaml.safe_load((tmp_path / "again.yaml").read_text())["recorded"]["errors"]]
    assert errors == replayed and {e["code"] for e in errors} == {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"}


@pytest.fixture
def basic_tls_distribution(tmp_path) -> Iterator[tuple]:
    """docker-registry with htpasswd Basic auth. 2.8.2 accepts htpasswd over plain http too
    (tried: it starts and answers 200 to good credentials); it is served over https here, with a
    certificate from a throwaway trustme CA, to record an https upstream through --ca-file. Its
    htpasswd entries are bcrypt hashes (the `bcrypt` package, a test dependency: the stdlib's
    `crypt` is gone in Python 3.13)."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem.bytes())
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    # bcrypt cost 4 (the minimum): distribution checks the hash on every request
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$", 1)
    (tmp_path / "htpasswd").write_text(f"{USER}:{hashed}\n")
    extra = (f"  tls:\n    certificate: {tmp_path / 'cert.pem'}\n    key: {tmp_path / 'key.pem'}\n"
             f"auth:\n  htpasswd:\n    realm: basic-realm\n    path: {tmp_path / 'htpasswd'}\n")
    for url in _distribution(tmp_path, extra, "https", str(tmp_path / "ca.pem")):
        yield url, str(tmp_path / "ca.pem")


def test_oras_and_skopeo_under_basic_auth_over_tls_are_recorded_without_secrets_and_replay(
        basic_tls_distribution, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url, ca_file = basic_tls_distribution
    required_tool("skopeo")
    out = record(url, tmp_path / "rec.yaml",
                 oras_push_pull(f"{USER}:{PASSWORD}", with_skopeo=True, auth_backend="basic"), ca_file=ca_file)
    document = yaml.safe_load(out.read_text())
    assert document["auth"]["scheme"] == "basic"
    assert document["auth"]["users"] == [{"name": USER, "password": "replay", "access": {"*": "*"},
                                          "catalog": False}]
    written = written_text(out)
    for secret in (PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()):
        assert secret.encode() not in written
    assert replay(out, oras_push_pull(f"{USER}:replay", with_skopeo=True, auth_backend="basic"),
                  tmp_path / "again.yaml") == []
