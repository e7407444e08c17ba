"""Manifest fields the image-spec makes MUSTs are checked on push (issue 17's strictness review):
descriptor media types (RFC 6838 names), digests of registered algorithms, urls, descriptor
annotations, artifactType (and its presence with an empty config), sizes, and an index's platform
objects. Sparse, so that only the field is judged."""

from __future__ import annotations

import json

import pytest

from mockreg import Registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DIGEST = "sha256:" + "a" * 64
CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST, "size": 2}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": DIGEST, "size": 1}
BASE = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": CONFIG, "layers": [LAYER]}


def index_with(platform):
    return {"schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": DIGEST, "size": 9, "platform": platform}]}


@pytest.fixture
def client():
    from werkzeug.test import Client
    return Client(Registry(sparse_manifests=True))


def put(client, document):
    content_type = document.get("mediaType", OCI_MANIFEST)
    return client.put("/v2/demo/app/manifests/t", data=json.dumps(document), headers={"Content-Type": content_type})


@pytest.mark.parametrize("document, detail", [
    ({**BASE, "config": {**CONFIG, "digest": "sha256:abc"}}, "is not a sha256 digest"),
    ({**BASE, "config": {**CONFIG, "digest": "sha256:" + "A" * 64}}, "is not a sha256 digest"),
    ({**BASE, "config": {**CONFIG, "digest": "sha512:" + "a" * 64}}, "is not a sha512 digest"),
    ({**BASE, "layers": [{**LAYER, "mediaType": "not a media type"}]}, "layers[0].mediaType 'not a media type'"),
    ({**BASE, "layers": [{**LAYER, "mediaType": "application/x; charset=utf-8"}]}, "RFC 6838"),
    ({**BASE, "artifactType": "nope"}, "artifactType 'nope'"),
    ({**BASE, "layers": [{**LAYER, "urls": "https://example.com/l"}]}, "urls must be a list of strings"),
    ({**BASE, "layers": [{**LAYER, "annotations": {"n": 1}}]}, "layers[0].annotations must map strings"),
    ({**BASE, "layers": [{**LAYER, "size": 1 << 63}]}, "layers[0].size must be a non-negative integer (int64)"),
    ({**BASE, "config": {**CONFIG, "mediaType": "application/vnd.oci.empty.v1+json"}},
     "artifactType is required when config.mediaType is application/vnd.oci.empty.v1+json"),
    (index_with({"os": "linux"}), "platform.architecture is required"),
    (index_with({"architecture": "amd64"}), "platform.os is required"),
    (index_with("linux/amd64"), "platform must be an object"),
])
def test_a_field_the_image_spec_forbids_is_400_manifest_invalid(client, document, detail):
    response = put(client, document)
    assert response.status_code == 400
    error = response.json["errors"][0]
    assert error["code"] == "MANIFEST_INVALID" and detail in error["detail"]


@pytest.mark.parametrize("document", [
    BASE,
    {**BASE, "artifactType": "application/vnd.example.sbom+json", "layers": [
        {**LAYER, "urls": ["https://example.com/l"], "annotations": {"org.opencontainers.image.title": "l"}}]},
    {**BASE, "config": {**CONFIG, "mediaType": "application/vnd.oci.empty.v1+json"},
     "artifactType": "application/vnd.example.sbom+json"},
    index_with({"architecture": "arm64", "os": "linux", "variant": "v8"}),
    {**index_with(None), "manifests": [{"mediaType": OCI_MANIFEST, "digest": DIGEST, "size": 9}]},
])
def test_the_same_fields_done_right_are_accepted(client, document):
    assert put(client, document).status_code == 201
