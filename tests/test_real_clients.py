"""Round trips with real client libraries from PyPI (oras-py, python-dxf) over a live server.

One server on an ephemeral port serves the module; each test swaps in a fresh `Registry`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import pytest
from dxf import DXF
from oras.oci import Subject
from oras.provider import Registry as OrasRegistry

from mockreg import Registry
from mockreg.server import LiveServer

SBOM = "application/vnd.example.sbom.v1+json"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer(Registry()) as live:
        yield live


@pytest.fixture
def live(server: LiveServer) -> Iterator[Registry]:
    registry = Registry()
    server.app = registry
    yield registry
    assert registry.server_errors == []


@pytest.fixture
def oras(live: Registry, server: LiveServer) -> OrasRegistry:
    return OrasRegistry(hostname=server.host_port, insecure=True)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write(directory: Path, name: str, data: bytes) -> str:
    path = directory / name
    path.write_bytes(data)
    return str(path)


# -- oras-py -------------------------------------------------------------------------------------

def test_oras_push_then_pull_gives_back_the_files(oras, live, server, tmp_path):
    files = [write(tmp_path, "readme.txt", b"hello registry\n"), write(tmp_path, "data.bin", bytes(range(256)) * 64)]
    target = f"{server.host_port}/demo/artifact:v1"
    response = oras.push(target=target, files=files, disable_path_validation=True, quiet=True)
    assert response.status_code == 201
    pulled = oras.pull(target=target, outdir=str(tmp_path / "out"))
    assert sorted(Path(p).name for p in pulled) == ["data.bin", "readme.txt"]
    for path in pulled:
        assert Path(path).read_bytes() == (tmp_path / Path(path).name).read_bytes()
    assert live.tags("demo/artifact") == ["v1"]


def test_oras_chunked_upload_arrives_whole(oras, live, server, tmp_path):
    data = bytes(range(256)) * 40  # 10240 bytes in chunks of 1000
    path = write(tmp_path, "chunked.bin", data)
    oras.push(target=f"{server.host_port}/demo/chunked:v1", files=[path], disable_path_validation=True,
              do_chunked=True, chunk_size=1000, quiet=True)
    assert live.blob("demo/chunked", digest_of(data)) == data


def test_oras_lists_and_deletes_tags(oras, live, server, tmp_path):
    path = write(tmp_path, "f.txt", b"tagged")
    for tag in ("b", "a", "c"):
        oras.push(target=f"{server.host_port}/demo/tags:{tag}", files=[path], disable_path_validation=True,
                  quiet=True)
    assert oras.get_tags(f"{server.host_port}/demo/tags") == ["a", "b", "c"]
    assert oras.get_tags(f"{server.host_port}/demo/tags", N=2) == ["a", "b"]
    oras.delete_tags(f"{server.host_port}/demo/tags", "b")  # deletes the manifest behind the tag
    assert live.tags("demo/tags") == []


def test_oras_artifact_with_subject_is_listed_by_the_referrers_api(oras, live, server, tmp_path):
    image_target = f"{server.host_port}/demo/app:v1"
    oras.push(target=image_target, files=[write(tmp_path, "app.txt", b"the app")], disable_path_validation=True,
              quiet=True)
    subject = live.manifest("demo/app", "v1")
    config = write(tmp_path, "sbom-config.json", b'{"format": "spdx"}')
    response = oras.push(
        target=f"{server.host_port}/demo/app:sbom", files=[write(tmp_path, "sbom.json", b'{"packages": []}')],
        disable_path_validation=True, manifest_config=f"{config}:{SBOM}",
        manifest_annotations={"org.example.kind": "sbom"},
        subject=Subject(subject.media_type, subject.digest, len(subject.body)), quiet=True)
    assert response.headers["OCI-Subject"] == subject.digest
    listing = oras.do_request(f"http://{server.host_port}/v2/demo/app/referrers/{subject.digest}")
    assert listing.headers["Content-Type"] == "application/vnd.oci.image.index.v1+json"
    sbom = live.manifest("demo/app", "sbom")
    assert listing.json()["manifests"] == [{
        "mediaType": sbom.media_type, "digest": sbom.digest, "size": len(sbom.body),
        "artifactType": SBOM, "annotations": {"org.example.kind": "sbom"},
    }]


# -- python-dxf ----------------------------------------------------------------------------------

@pytest.fixture
def dxf(live: Registry, server: LiveServer) -> DXF:
    return DXF(server.host_port, "demo/dxf", insecure=True)


def test_dxf_pushes_blobs_from_a_file_and_from_a_chunked_stream(dxf, live, tmp_path):
    from_file = b"a file" * 1000
    streamed = [b"first part, ", b"second part, ", b"last part"]
    d1 = dxf.push_blob(write(tmp_path, "layer.bin", from_file))
    d2 = dxf.push_blob(data=iter(streamed), digest=digest_of(b"".join(streamed)))  # Transfer-Encoding: chunked
    assert b"".join(dxf.pull_blob(d1)) == from_file
    assert b"".join(dxf.pull_blob(d2)) == b"".join(streamed)
    assert dxf.blob_size(d2) == len(b"".join(streamed))
    assert live.blob("demo/dxf", d2) == b"".join(streamed)


def test_dxf_alias_round_trip_with_docker_schema2_manifest(dxf, live, tmp_path):
    digests = [dxf.push_blob(write(tmp_path, f"l{i}", f"layer {i}".encode())) for i in range(2)]
    manifest = dxf.set_alias("v1", *digests)  # dxf answers with the manifest it pushed
    assert dxf.get_alias("v1") == digests
    assert dxf.get_digest("v1") == digests[0]  # dxf's config descriptor points at the first layer
    stored = live.manifest("demo/dxf", "v1")
    assert stored.body == manifest.encode()
    assert stored.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert dxf.get_manifest("v1") == manifest
    assert dxf.del_alias("v1") == digests
    assert live.tags("demo/dxf") == []


def test_dxf_lists_aliases_page_by_page_following_link(dxf, live, tmp_path):
    layer = dxf.push_blob(write(tmp_path, "l", b"one layer"))
    names = [f"t{i:02d}" for i in range(7)]
    for name in names:
        dxf.set_alias(name, layer)
    assert dxf.list_aliases(batch_size=3) == names
    assert dxf.list_aliases() == names


def test_dxf_mounts_deletes_blobs_and_lists_repositories(dxf, live, server, tmp_path):
    digest = dxf.push_blob(write(tmp_path, "shared", b"shared bytes"))
    other = DXF(server.host_port, "demo/other", insecure=True)
    assert other.mount_blob("demo/dxf", digest) == digest
    assert b"".join(other.pull_blob(digest)) == b"shared bytes"
    dxf.del_blob(digest)
    assert not live.has_blob("demo/dxf", digest)
    assert live.has_blob("demo/other", digest)
    assert other.list_repos() == ["demo/dxf", "demo/other"]
