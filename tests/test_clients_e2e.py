"""One end-to-end scenario (push an image, pull it, list tags, find its referrers) run by real
Python clients over the live server and in process: oras-py, python-dxf, requests and httpx."""

import json
from urllib.parse import urlsplit

import oras.client
import oras.oci
import pytest
import requests
from dxf import DXF

from mockreg.content import OCI_MANIFEST, build_artifact, build_image, random_bytes
from mockreg.journal import CHUNKED, MOUNT, POST_PUT, SINGLE_POST


@pytest.fixture(params=["live", "in-process"])
def host(request, mockreg):
    """host[:port] of this test's registry: the live server, or the in-process `requests` route."""
    if request.param == "live":
        return request.getfixturevalue("mockreg_server").host_port
    return urlsplit(request.getfixturevalue("mockreg_requests").url).netloc


def test_oras(host, mockreg, mockreg_journal, tmp_path):
    layer, chunked = tmp_path / "model.bin", tmp_path / "weights.bin"
    layer.write_bytes(random_bytes(50_000, "oras"))
    chunked.write_bytes(random_bytes(30_000, "chunked"))
    client = oras.client.OrasClient(hostname=host, insecure=True)

    pushed = client.push(target=f"{host}/demo/app:1.0", files=[str(layer)], disable_path_validation=True, quiet=True)
    client.push(target=f"{host}/demo/app:weights", files=[str(chunked)], disable_path_validation=True,
                do_chunked=True, chunk_size=8192, quiet=True)
    image_digest = pushed.headers["Docker-Content-Digest"]
    out = tmp_path / "pulled"
    files = client.pull(target=f"{host}/demo/app:1.0", outdir=str(out))
    assert [open(f, "rb").read() for f in files] == [layer.read_bytes()]
    assert client.get_tags(f"{host}/demo/app") == ["1.0", "weights"]

    stored = mockreg.manifest("demo/app", image_digest)
    subject = oras.oci.Subject(mediaType=stored.media_type, digest=stored.digest, size=len(stored.body))
    signature = tmp_path / "signature.txt"
    signature.write_text("signed")
    client.push(target=f"{host}/demo/app:signature", files=[str(signature)], disable_path_validation=True,
                subject=subject, manifest_annotations={"org.example.kind": "signature"}, quiet=True)
    listed = client.do_request(f"http://{host}/v2/demo/app/referrers/{image_digest}").json()["manifests"]
    assert [entry["annotations"]["org.example.kind"] for entry in listed] == ["signature"]

    mockreg_journal.assert_pushed("demo/app:1.0")
    mockreg_journal.assert_pulled("demo/app:1.0")
    layer_digest = stored.json["layers"][0]["digest"]
    assert mockreg_journal.assert_blob_uploaded("demo/app", layer_digest, how=POST_PUT)
    weights = mockreg.manifest("demo/app", "weights").json["layers"][0]["digest"]
    assert mockreg_journal.assert_blob_uploaded("demo/app", weights, how=CHUNKED).chunks == 4
    mockreg_journal.assert_count("referrers", 1)


def test_python_dxf(host, mockreg, mockreg_journal, tmp_path):
    layer_file = tmp_path / "layer.tar"
    layer_file.write_bytes(random_bytes(40_000, "dxf"))
    image = build_image([layer_file.read_bytes()], platform="linux/amd64")
    dxf = DXF(host, "demo/app", insecure=True)

    assert dxf.push_blob(str(layer_file)) == image.layers[0].digest
    dxf.push_blob(data=iter([image.config.data[:10], image.config.data[10:]]), digest=image.config.digest)
    dxf.set_manifest("1.0", image.manifest.decode())
    assert dxf.list_aliases() == ["1.0"]
    assert json.loads(dxf.get_manifest("1.0")) == image.json
    assert b"".join(dxf.pull_blob(image.layers[0].digest)) == layer_file.read_bytes()
    assert DXF(host, "demo/copy", insecure=True).mount_blob("demo/app", image.layers[0].digest)

    sbom = build_artifact("application/spdx+json", [b'{"spdxVersion": "SPDX-2.3"}'], subject=image)
    for blob in sbom.blobs:
        dxf.push_blob(data=iter([blob.data]), digest=blob.digest)
    dxf.set_manifest(sbom.digest, sbom.manifest.decode())
    listed = requests.get(f"http://{host}/v2/demo/app/referrers/{image.digest}").json()["manifests"]
    assert [(e["digest"], e["artifactType"]) for e in listed] == [(sbom.digest, "application/spdx+json")]

    mockreg_journal.assert_pushed("demo/app:1.0")
    mockreg_journal.assert_pulled(f"demo/app@{image.layers[0].digest}")
    mockreg_journal.assert_blob_uploaded("demo/app", image.layers[0].digest, how=POST_PUT)
    streamed = mockreg_journal.assert_blob_uploaded("demo/app", image.config.digest, how=POST_PUT)
    assert streamed.entries[-1].request_bytes == image.config.size  # sent chunked, counted as read
    mockreg_journal.assert_blob_uploaded("demo/copy", image.layers[0].digest, how=MOUNT)


def scenario(call, journal):
    """The same steps by hand: `call(method, path, body=None, headers=None)` returns a response
    with .status_code, .headers, .content and .json() (requests and httpx both do)."""
    image = build_image([4096, 8192], platform="linux/arm64")
    for blob in image.blobs:
        assert call("POST", f"/v2/demo/app/blobs/uploads/?digest={blob.digest}", blob.data).status_code == 201
    put = call("PUT", "/v2/demo/app/manifests/1.0", image.manifest, {"Content-Type": OCI_MANIFEST})
    assert put.status_code == 201 and put.headers["Docker-Content-Digest"] == image.digest

    pulled = call("GET", "/v2/demo/app/manifests/1.0", headers={"Accept": OCI_MANIFEST})
    assert pulled.content == image.manifest
    for layer in pulled.json()["layers"]:
        assert call("GET", f"/v2/demo/app/blobs/{layer['digest']}").content in [b.data for b in image.layers]
    assert call("GET", "/v2/demo/app/tags/list").json() == {"name": "demo/app", "tags": ["1.0"]}

    signature = build_artifact("application/vnd.example.signature", subject=image, annotations={"k": "v"})
    for blob in signature.blobs:
        call("POST", f"/v2/demo/app/blobs/uploads/?digest={blob.digest}", blob.data)
    referred = call("PUT", f"/v2/demo/app/manifests/{signature.digest}", signature.manifest,
                    {"Content-Type": OCI_MANIFEST})
    assert referred.headers["OCI-Subject"] == image.digest
    index = call("GET", f"/v2/demo/app/referrers/{image.digest}").json()
    assert index["manifests"] == [{**signature.descriptor.as_dict(), "annotations": {"k": "v"}}]

    assert journal.pushed_tags() == ["demo/app:1.0"] and journal.pulled_tags() == ["demo/app:1.0"]
    assert {u.how for u in journal.blob_uploads()} == {SINGLE_POST}
    assert sorted(journal.pulled_blobs()) == sorted(f"demo/app@{b.digest}" for b in image.layers)


def test_requests_in_process(mockreg_requests, mockreg_journal):
    def call(method, path, body=None, headers=None):
        return requests.request(method, mockreg_requests.url + path, data=body, headers=headers)
    scenario(call, mockreg_journal)


def test_httpx_in_process(mockreg_httpx, mockreg_journal):
    def call(method, path, body=None, headers=None):
        return mockreg_httpx.request(method, path, content=body, headers=headers)
    scenario(call, mockreg_journal)


def test_requests_over_the_live_server(mockreg_server):
    with requests.Session() as session:
        def call(method, path, body=None, headers=None):
            return session.request(method, mockreg_server.url + path, data=body, headers=headers)
        scenario(call, mockreg_server.journal)
