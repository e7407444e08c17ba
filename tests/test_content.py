"""Deterministic content and the arrange helpers built on it."""

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from mockreg import Registry
from mockreg.content import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    EMPTY,
    EMPTY_JSON,
    OCI_CONFIG,
    OCI_LAYER,
    Blob,
    Descriptor,
    build_artifact,
    build_image,
    build_index,
    build_multiplatform,
    generated,
    json_blob,
    parse_platform,
    push,
    push_artifact,
    push_image,
    push_index,
    random_bytes,
    split_reference,
    tar_layer,
)
from mockreg.manifests import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from mockreg.reference import referrers_tag


def test_random_bytes_depend_only_on_size_and_seed():
    assert random_bytes(1000, "a") == random_bytes(1000, "a")
    assert random_bytes(1000, "a") != random_bytes(1000, "b")
    assert len(random_bytes(12345, 7)) == 12345
    assert random_bytes(0) == b""
    with pytest.raises(ValueError):
        random_bytes(-1)


def test_generated_content_is_pinned_across_runs_and_machines():
    # A change here changes every digest users pinned in their tests: make it on purpose only.
    assert random_bytes(8, 0).hex() == PINNED_RANDOM_HEX
    assert build_image([1024, 2048], platform="linux/arm64").digest == PINNED_IMAGE_DIGEST


PINNED_RANDOM_HEX = "b1522484180d7f75"
PINNED_IMAGE_DIGEST = "sha256:27330e6bb889df80e0090f3e2b66d3839df6f11fa154cae64fa7b8874f9fa326"


def test_the_same_inputs_build_the_same_image_and_other_inputs_another():
    assert build_image([100, 200]).digest == build_image([100, 200]).digest
    assert build_image([100, 200]).digest != build_image([100, 200], seed=1).digest
    amd, arm = build_image([100], platform="linux/amd64"), build_image([100], platform="linux/arm64")
    assert amd.digest != arm.digest and amd.layers[0].digest != arm.layers[0].digest


def test_an_image_has_a_config_naming_platform_and_diff_ids_and_layers_of_the_asked_sizes():
    image = build_image([10, b"exact bytes", generated(5, "s", "application/x-custom")],
                        platform="linux/arm64/v8", config={"config": {"Env": ["A=1"]}},
                        annotations={"org.opencontainers.image.title": "demo"})
    manifest = image.json
    assert manifest["mediaType"] == OCI_MANIFEST and image.media_type == OCI_MANIFEST
    assert [layer["size"] for layer in manifest["layers"]] == [10, 11, 5]
    assert [layer["mediaType"] for layer in manifest["layers"]] == [OCI_LAYER, OCI_LAYER, "application/x-custom"]
    assert image.layers[1].data == b"exact bytes"
    config = json.loads(image.config.data)
    assert image.config.media_type == OCI_CONFIG
    assert (config["os"], config["architecture"], config["variant"]) == ("linux", "arm64", "v8")
    assert config["rootfs"] == {"type": "layers", "diff_ids": [b.digest for b in image.layers]}
    assert config["config"] == {"Env": ["A=1"]}
    assert manifest["annotations"] == {"org.opencontainers.image.title": "demo"}
    assert image.descriptor.platform == {"os": "linux", "architecture": "arm64", "variant": "v8"}
    assert image.digest == "sha256:" + hashlib.sha256(image.manifest).hexdigest()


def test_a_config_blob_is_used_as_given():
    config = json_blob({"custom": True}, "application/vnd.example.config+json")
    image = build_image([1], config=config)
    assert image.config is config and image.json["config"]["digest"] == config.digest


def test_a_tar_layer_is_a_real_reproducible_tar_and_its_diff_id_is_the_uncompressed_digest():
    plain = tar_layer({"etc/hello.txt": "hi", "bin/tool": b"\x00\x01"})
    assert plain.digest == tar_layer({"bin/tool": b"\x00\x01", "etc/hello.txt": "hi"}).digest
    with tarfile.open(fileobj=io.BytesIO(plain.data)) as archive:
        assert archive.getnames() == ["bin/tool", "etc/hello.txt"]
        assert archive.extractfile("etc/hello.txt").read() == b"hi"
    packed = tar_layer({"etc/hello.txt": "hi", "bin/tool": b"\x00\x01"}, compress=True)
    assert gzip.decompress(packed.data) == plain.data
    config = json.loads(build_image([packed]).config.data)
    assert config["rootfs"]["diff_ids"] == [plain.digest]


def test_docker_format_uses_docker_media_types_and_refuses_oci_only_fields():
    image = build_image([10], format="docker")
    assert image.media_type == DOCKER_MANIFEST and image.config.media_type == DOCKER_CONFIG
    assert image.json["layers"][0]["mediaType"] == DOCKER_LAYER
    assert build_multiplatform(format="docker").media_type == DOCKER_MANIFEST_LIST
    with pytest.raises(ValueError, match="no annotations"):
        build_image([1], format="docker", annotations={"a": "b"})
    with pytest.raises(ValueError, match="'oci' or 'docker'"):
        build_image([1], format="v1")


def test_bad_layer_and_platform_specs_are_refused_clearly():
    with pytest.raises(TypeError, match="a layer is a size, bytes or a Blob"):
        build_image(["big"])
    with pytest.raises(ValueError, match="os/architecture"):
        parse_platform("linux")
    assert parse_platform({"os": "linux", "architecture": "s390x"}) == {"os": "linux", "architecture": "s390x"}


def test_push_image_stores_blobs_and_manifest_and_tags_it():
    registry = Registry()
    image = push_image(registry, "demo/app:1.0", layers=[64, 128])
    assert registry.tags("demo/app") == ["1.0"]
    assert registry.manifest("demo/app", "1.0").digest == image.digest
    for blob in image.blobs:
        assert registry.blob("demo/app", blob.digest) == blob.data
    untagged = push_image(registry, "demo/other", layers=[1])
    assert registry.tags("demo/other") == [] and registry.manifest("demo/other", untagged.digest)


def test_push_index_pushes_one_image_per_platform_then_the_index():
    registry = Registry()
    index = push_index(registry, "demo/multi:latest", platforms=["linux/amd64", "linux/arm64", "linux/arm/v7"])
    document = registry.manifest("demo/multi", "latest").json
    assert document["mediaType"] == OCI_INDEX and index.media_type == OCI_INDEX
    assert [m["platform"] for m in document["manifests"]] == [
        {"os": "linux", "architecture": "amd64"}, {"os": "linux", "architecture": "arm64"},
        {"os": "linux", "architecture": "arm", "variant": "v7"}]
    for image in index.images:
        assert registry.manifest("demo/multi", image.digest).body == image.manifest
    assert registry.tags("demo/multi") == ["latest"]


def test_an_index_may_reference_descriptors_pushed_before():
    registry = Registry()
    image = push_image(registry, "demo/app:1.0")
    index = push(registry, "demo/app", build_index([image.descriptor], annotations={"k": "v"}), "idx")
    assert registry.manifest("demo/app", "idx").json["manifests"][0]["digest"] == image.digest
    assert index.json["annotations"] == {"k": "v"}


def test_an_artifact_follows_the_image_spec_artifact_guidelines():
    image = build_image([10])
    bare = build_artifact("application/vnd.example.signature", subject=image, annotations={"a": "b"})
    manifest = bare.json
    assert manifest["artifactType"] == "application/vnd.example.signature"
    assert manifest["config"] == EMPTY.descriptor.as_dict()
    assert manifest["config"]["digest"] == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    assert manifest["layers"] == [{"mediaType": EMPTY_JSON, "digest": EMPTY.digest, "size": 2}]
    assert manifest["subject"] == {"mediaType": OCI_MANIFEST, "digest": image.digest, "size": len(image.manifest)}
    with_blobs = build_artifact("application/spdx+json", [b"{}", 3], config=json_blob({"v": 1}, "application/x.cfg"))
    assert [layer["size"] for layer in with_blobs.json["layers"]] == [2, 3]
    assert with_blobs.json["config"]["mediaType"] == "application/x.cfg"
    with pytest.raises(ValueError):
        build_artifact("")


def test_push_artifact_is_listed_by_the_referrers_api_of_its_subject():
    registry = Registry()
    image = push_image(registry, "demo/app:1.0")
    sbom = push_artifact(registry, "demo/app", "application/spdx+json", [b"{}"], subject="1.0",
                         annotations={"org.example.kind": "sbom"})
    assert registry.referrers("demo/app", image.digest) == [{
        "mediaType": OCI_MANIFEST, "digest": sbom.digest, "size": len(sbom.manifest),
        "artifactType": "application/spdx+json", "annotations": {"org.example.kind": "sbom"}}]
    assert referrers_tag(image.digest) not in registry.tags("demo/app")


def test_without_the_referrers_api_push_artifact_maintains_the_fallback_tag():
    registry = Registry(referrers=False)
    image = push_image(registry, "demo/app:1.0")
    first = push_artifact(registry, "demo/app", "application/vnd.example.sig", subject=image)
    second = push_artifact(registry, "demo/app", "application/spdx+json", [b"{}"], subject=image)
    push_artifact(registry, "demo/app", "application/spdx+json", [b"{}"], subject=image)  # the same again
    listed = registry.manifest("demo/app", referrers_tag(image.digest)).json["manifests"]
    assert [(m["digest"], m["artifactType"]) for m in listed] == [
        (first.digest, "application/vnd.example.sig"), (second.digest, "application/spdx+json")]


def test_fallback_tag_can_be_forced_either_way():
    registry = Registry()
    image = push_image(registry, "demo/app:1.0")
    push_artifact(registry, "demo/app", "application/vnd.example.sig", subject=image, fallback_tag=True)
    assert referrers_tag(image.digest) in registry.tags("demo/app")


def test_push_of_a_single_blob_and_descriptor_forms():
    registry = Registry()
    blob = push(registry, "demo/blobs", Blob(b"data", "text/plain", {"k": "v"}))
    assert registry.blob("demo/blobs", blob.digest) == b"data"
    assert blob.descriptor == Descriptor("text/plain", blob.digest, 4, {"k": "v"})
    assert blob.descriptor.as_dict() == {"mediaType": "text/plain", "digest": blob.digest, "size": 4,
                                         "annotations": {"k": "v"}}


def test_split_reference():
    assert split_reference("demo/app:1.0") == ("demo/app", ["1.0"])
    assert split_reference("demo/app") == ("demo/app", [])
