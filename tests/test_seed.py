"""`mockreg seed` into a second `mockreg serve` process (and Debian's docker-registry, the
reference distribution 2.8), read back digest for digest; `mockreg export` from a running
registry and from a scenario file."""

from __future__ import annotations

import hashlib
import re
import socket
from pathlib import Path
from typing import Callable, Iterator, List

import pytest
import requests
from cli_helpers import distribution_registry, serve_processes

from mockreg import Registry
from mockreg.cli import main
from mockreg.content import Image
from mockreg.journal import attach
from mockreg.layout import import_layout
from mockreg.remote import RemoteRegistry
from mockreg.scenario import Scenario
from mockreg.server import LiveServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCENARIOS = [FIXTURES / name for name in ("quickstart.yaml", "multi-arch.yaml", "artifacts-referrers.yaml",
                                          "no-referrers-api.yaml", "nested-names.yaml")]
ACCEPT = ", ".join(["application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json"])
Read = Callable[[str], requests.Response]

@pytest.fixture
def serve():
    with serve_processes() as start:
        yield start



def reader(url: str, credentials=None) -> Read:
    """GET on `url`, answering a Bearer challenge with a token for the scope it names."""
    def read(path: str) -> requests.Response:
        answer = requests.get(url + path, headers={"Accept": ACCEPT})
        if answer.status_code == 401:
            challenge = dict(re.findall(r'(\w+)="([^"]*)"', answer.headers["WWW-Authenticate"]))
            token = requests.get(challenge["realm"], auth=credentials,
                                 params={"service": challenge["service"], "scope": challenge["scope"]}).json()["token"]
            answer = requests.get(url + path, headers={"Accept": ACCEPT, "Authorization": f"Bearer {token}"})
        return answer
    return read


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def assert_holds(read: Read, paths: List[Path]) -> int:
    """The registry behind `read` holds what the scenarios hold: every tag naming the same
    digest, every manifest byte for byte, every blob. Returns how many manifests were checked."""
    expected = Registry()
    scenarios = [Scenario.load(path) for path in paths]
    for scenario in scenarios:
        scenario.apply(expected)
    checked = 0
    for name in expected.repositories():
        listed = read(f"/v2/{name}/tags/list")
        assert listed.status_code == 200, (name, listed.text)
        assert sorted(listed.json()["tags"]) == expected.tags(name)
        for tag in expected.tags(name):
            assert sha256(read(f"/v2/{name}/manifests/{tag}").content) == expected.manifest(name, tag).digest
    for scenario in scenarios:
        for row in scenario.summary():
            name, digest = row["repository"], row["digest"]
            body = read(f"/v2/{name}/manifests/{digest}").content
            assert body == expected.manifest(name, digest).body
            checked += 1
            found = scenario.content(f"{name}@{row['name']}")
            for blob in found.blobs if isinstance(found, Image) else ():
                assert sha256(read(f"/v2/{name}/blobs/{blob.digest}").content) == blob.digest
    return checked


def test_seed_into_mockreg_serve_with_bearer_auth_reads_back_digest_for_digest(serve, capsys):
    target = serve("--auth", "bearer", "--user", "alice:secret")
    argv = ["seed", "--to", target.url, "--user", "alice:secret"]
    for path in SCENARIOS:
        argv += ["--scenario", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    total = sum(len(Scenario.load(path).summary()) for path in SCENARIOS)
    assert out[-1].startswith(f"seeded {target.url}: 10 repositories, ")
    assert "demo/app: manifests 2, blobs 6 (uploaded 6, mounted 0, already there 0), tags 0.9, 1.0, latest" in out
    assert assert_holds(reader(target.url, ("alice", "secret")), SCENARIOS) == total
    signed = Scenario.load(FIXTURES / "artifacts-referrers.yaml")
    referrers = reader(target.url, ("alice", "secret"))(f"/v2/demo/signed/referrers/{signed.digest('demo/signed:1.0')}")
    assert sorted(entry["digest"] for entry in referrers.json()["manifests"]) == sorted(
        signed.digest(f"demo/signed@{name}") for name in ("sbom", "signature", "attestations"))
    assert any('"GET /token?' in line for line in target.stderr_lines)


def test_seed_again_finds_everything_there(serve, capsys):
    target = serve("--quiet")
    argv = ["seed", "--scenario", str(FIXTURES / "quickstart.yaml"), "--to", target.url]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"seeded {target.url}: 2 repositories, 3 manifests, 4 tags; blobs: 0 uploaded (0 B), 0 mounted, "
        "8 already there")


def test_a_large_blob_goes_in_chunks_with_progress_and_is_mounted_elsewhere(serve, tmp_path, capsys):
    scenario = tmp_path / "large.yaml"
    scenario.write_text("version: 1\nrepositories:\n"
                        "  big/one:\n    images:\n      - tags: ['1.0']\n        layers: [{size: 3145728, seed: big}]\n"
                        "  big/two:\n    images:\n      - tags: ['1.0']\n"
                        "        layers: [{size: 3145728, seed: big}, {size: 10}]\n")
    target = serve()
    assert main(["seed", "--scenario", str(scenario), "--to", target.url, "--chunk-size", "1MiB"]) == 0
    out, err = capsys.readouterr()
    big = Scenario.load(scenario).digest("big/one:1.0", "layer", 0)
    assert err.splitlines() == [f"  big/one: {big[:19]}… {n}.0 MiB of 3.0 MiB ({pct}%)"
                                for n, pct in ((1, 33), (2, 66), (3, 100))]
    assert "big/two: manifests 1, blobs 3 (uploaded 2, mounted 1, already there 0), tags 1.0" in out
    log = target.stderr_until(lambda line: "/v2/big/two/manifests/1.0" in line)
    assert len([line for line in log if '"PATCH /v2/big/one/blobs/uploads/' in line and " 202 " in line]) == 3
    assert any(f'"POST /v2/big/two/blobs/uploads/?mount={big.replace(":", "%3A")}&from=big%2Fone ' in line
               and " 201 " in line for line in log)
    assert assert_holds(reader(target.url), [scenario]) == 2


def test_credentials_problems_are_one_line_and_exit_1(serve, capsys):
    target = serve("--quiet", "--auth", "basic", "--user", "ci:pw")
    quickstart = str(FIXTURES / "quickstart.yaml")
    assert main(["seed", "--scenario", quickstart, "--to", target.url]) == 1
    assert capsys.readouterr().err == \
        f"mockreg: error: {target.url} asks for credentials (Basic auth); pass --user NAME:PASSWORD\n"
    assert main(["seed", "--scenario", quickstart, "--to", target.url, "--user", "ci:wrong"]) == 1
    assert capsys.readouterr().err.startswith(f"mockreg: error: GET {target.url}/v2/: 401 UNAUTHORIZED")
    assert main(["seed", "--scenario", quickstart, "--to", target.url, "--user", "ci:pw"]) == 0


def test_unreachable_registry_and_wrong_scheme_are_exit_1(serve, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    quickstart = str(FIXTURES / "quickstart.yaml")
    assert main(["seed", "--scenario", quickstart, "--to", f"http://127.0.0.1:{closed}"]) == 1
    assert capsys.readouterr().err == f"mockreg: error: GET http://127.0.0.1:{closed}/v2/: Connection refused\n"
    plain = serve("--quiet")
    assert main(["seed", "--scenario", quickstart, "--to", f"https://{plain.host_port}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mockreg: error: https://{plain.host_port}/v2/: TLS failed (") \
        and "for a plain-http registry give an http:// URL" in err


def test_seed_refuses_a_scenario_with_missing_blobs(serve, tmp_path, capsys):
    sparse = tmp_path / "sparse.yaml"
    sparse.write_text("version: 1\nsettings: {sparse_manifests: true}\nrepositories:\n  demo/sparse:\n"
                      "    images:\n      - tags: ['1.0']\n        layers: [{size: 64, missing: true}]\n")
    target = serve("--quiet")
    assert main(["seed", "--scenario", str(sparse), "--to", target.url]) == 2
    missing = Scenario.load(sparse).digest("demo/sparse:1.0", "layer", 0)
    err = capsys.readouterr().err
    assert err.startswith(f"mockreg: error: demo/sparse@{Scenario.load(sparse).digest('demo/sparse:1.0')} refers "
                          f"to blob(s) this registry leaves out ({missing}")
    assert requests.get(f"{target.url}/v2/_catalog").json()["repositories"] == []  # nothing was sent


# -- export --------------------------------------------------------------------------------------

def test_export_from_a_running_registry_follows_children_and_referrers(serve, tmp_path, capsys):
    target = serve("--quiet")
    signed, multi = FIXTURES / "artifacts-referrers.yaml", FIXTURES / "multi-arch.yaml"
    assert main(["seed", "--scenario", str(signed), "--scenario", str(multi), "--to", target.url]) == 0
    capsys.readouterr()
    for repository, path in (("demo/signed", signed), ("demo/multi", multi)):
        destination = tmp_path / repository.replace("/", "-")
        assert main(["export", target.url, "--repo", repository, "--to", str(destination)]) == 0
        assert capsys.readouterr().out.startswith(f"wrote {destination}: OCI image layout of {repository}")
        copy = Registry()
        imported = import_layout(copy, destination, repository)
        scenario = Scenario.load(path)
        assert imported.tags == {row_tag: row["digest"] for row in scenario.summary() for row_tag in row["tags"]}
        for row in scenario.summary():  # untagged children and referrers came along
            assert copy.manifest(repository, row["digest"]).digest == row["digest"]


def test_export_from_a_scenario_as_directory_and_tar(tmp_path, capsys):
    scenario = Scenario.load(FIXTURES / "quickstart.yaml")
    for destination in (tmp_path / "app", tmp_path / "app.tar"):
        argv = ["export", str(FIXTURES / "quickstart.yaml"), "--repo", "demo/app", "--to", str(destination)]
        assert main(argv) == 0
        assert capsys.readouterr().out == \
            f"wrote {destination}: OCI image layout of demo/app (tags: 0.9, 1.0, latest)\n"
        imported = import_layout(Registry(), destination, "copy/app")
        assert imported.tags == {tag: scenario.digest(f"demo/app:{tag}") for tag in ("0.9", "1.0", "latest")}
    assert main(["export", str(FIXTURES / "quickstart.yaml"), "--repo", "demo/app", "--to", str(tmp_path / "app")]) == 2
    assert capsys.readouterr().err == (f"mockreg: error: {tmp_path / 'app'} already exists; export into a new or "
                                       "empty directory or .tar path\n")


def test_export_of_a_repository_the_registry_lacks_is_exit_1(serve, tmp_path, capsys):
    target = serve("--quiet")
    assert main(["export", target.url, "--repo", "no/such", "--to", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (f"mockreg: error: GET {target.url}/v2/no/such/tags/list: "
                                       "404 NAME_UNKNOWN: repository name not known to registry\n")


# -- the reference registry ------------------------------------------------------------------------

@pytest.fixture
def distribution(tmp_path) -> Iterator[str]:
    """Debian's docker-registry (distribution 2.8): see cli_helpers.distribution_registry."""
    yield from distribution_registry(tmp_path)


def test_seed_into_the_reference_registry_reads_back_digest_for_digest(distribution, capsys):
    argv = ["seed", "--to", distribution]
    for path in SCENARIOS:
        argv += ["--scenario", str(path)]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"seeded {distribution}: 10 repositories")
    assert assert_holds(reader(distribution), SCENARIOS) == sum(len(Scenario.load(p).summary()) for p in SCENARIOS)


def test_an_expired_token_is_fetched_again_and_mount_scopes_name_both_repositories():
    registry = Registry()
    registry.enable_auth(scheme="bearer", token_ttl=60, users=[{"name": "ci", "password": "pw", "access": {"*": "*"}}])
    journal = attach(registry)
    with LiveServer(registry) as server:
        remote = RemoteRegistry(server.url, credentials=("ci", "pw"))
        remote.push_blob("a/one", sha256(b"first"), b"first")
        registry.clock.advance(61)  # the token of the first push has expired
        remote.push_blob("a/one", sha256(b"second"), b"second")
        assert remote.mount("a/two", sha256(b"first"), "a/one")
    assert registry.blob("a/two", sha256(b"first")) == b"first"
    tokens = [entry.args.get("scope") for entry in journal if entry.path == "/token"]
    assert tokens == [["repository:a/one:pull,push"], ["repository:a/one:pull,push"],
                      ["repository:a/two:pull,push", "repository:a/one:pull"]]
    assert [entry.status for entry in journal if entry.path != "/token"].count(401) == 2
