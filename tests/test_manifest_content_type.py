"""A manifest PUT's Content-Type must be the manifest's type (setting `manifest_content_type_check`,
on by default), as distribution-spec "Pushing Manifests" requires of clients and the reference
registry enforces; the lenient behaviour stays one setting away.

The reference registry (docker-registry 2.8.2, measured; distribution `manifests.go`
UnmarshalManifest) answers 400 MANIFEST_INVALID to each case refused here and 201 to each accepted."""

from __future__ import annotations

import json
from typing import Optional

import pytest
from registry_helpers import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, image, index, push, sha256


def put(client, content, content_type: Optional[str], tag: str = "t"):
    headers = {} if content_type is None else {"Content-Type": content_type}
    return client.put(f"/v2/demo/app/manifests/{tag}", data=content.body, headers=headers)


def problem(response) -> str:
    assert response.status_code == 400, response.data
    error = response.json["errors"][0]
    assert error["code"] == "MANIFEST_INVALID"
    return str(error["detail"])


@pytest.fixture
def oci(registry):
    content = image("strict")
    for data in content.blobs.values():
        registry.push_blob("demo/app", data)
    return content


@pytest.mark.parametrize("content_type", ["application/json", None, "application/octet-stream", "text/plain"])
def test_an_oci_manifest_pushed_as_another_type_is_400_naming_both_types(client, registry, oci, content_type):
    before = push(registry, "demo/app", image("before"), tags=["t"])
    detail = problem(put(client, oci, content_type))
    assert OCI_MANIFEST in detail and (repr(content_type) if content_type else "missing") in detail
    assert registry.store.repositories["demo/app"].tags["t"] == before   # the tag was not overwritten
    assert sha256(oci.body) not in registry.store.repositories["demo/app"].manifests


@pytest.mark.parametrize("content_type", [f"{OCI_MANIFEST}; charset=utf-8", OCI_MANIFEST.upper(),
                                          f" {OCI_MANIFEST} ;charset=UTF-8"])
def test_parameters_and_case_of_the_content_type_are_ignored(client, registry, oci, content_type):
    assert put(client, oci, content_type).status_code == 201
    assert client.get("/v2/demo/app/manifests/t").headers["Content-Type"] == OCI_MANIFEST


def test_an_oci_manifest_without_media_type_needs_a_manifest_content_type(client, registry):
    content = image("bare", declare_media_type=False)
    for data in content.blobs.values():
        registry.push_blob("demo/app", data)
    detail = problem(put(client, content, "application/json"))
    assert "'application/json'" in detail and OCI_MANIFEST in detail and "without a mediaType" in detail
    assert put(client, content, OCI_MANIFEST).status_code == 201


def test_an_index_pushed_as_json_is_refused_and_as_an_index_accepted(client, registry, oci):
    push(registry, "demo/app", oci)
    content = index([oci])
    assert OCI_INDEX in problem(put(client, content, "application/json"))
    assert OCI_INDEX in problem(put(client, content, OCI_MANIFEST))      # header and mediaType disagree
    assert put(client, content, OCI_INDEX).status_code == 201


def test_docker_manifests_must_carry_their_media_type(client, registry):
    declared = image("docker", media_type=DOCKER_MANIFEST)
    bare = image("docker-bare", media_type=DOCKER_MANIFEST, declare_media_type=False)
    for content in (declared, bare):
        for data in content.blobs.values():
            registry.push_blob("demo/app", data)
    assert put(client, declared, DOCKER_MANIFEST).status_code == 201
    assert DOCKER_MANIFEST in problem(put(client, declared, OCI_MANIFEST))
    assert "has none" in problem(put(client, bare, DOCKER_MANIFEST))
    assert DOCKER_MANIFEST in problem(put(client, declared, "application/json"))


def test_a_docker_manifest_list_must_carry_its_media_type(client, registry):
    child = image("docker-child", media_type=DOCKER_MANIFEST)
    push(registry, "demo/app", child)
    listed = index([child], media_type=DOCKER_MANIFEST_LIST)
    document = json.loads(listed.body)
    del document["mediaType"]
    bare = type(listed)(json.dumps(document).encode(), DOCKER_MANIFEST_LIST, {})
    assert "has none" in problem(put(client, bare, DOCKER_MANIFEST_LIST))
    assert put(client, listed, DOCKER_MANIFEST_LIST).status_code == 201


def test_the_lenient_setting_accepts_the_type_from_the_body(client, registry, oci):
    registry.configure(manifest_content_type_check=False)
    assert put(client, oci, "application/json").status_code == 201
    assert client.get("/v2/demo/app/manifests/t").headers["Content-Type"] == OCI_MANIFEST
    # A header that contradicts the body's mediaType is refused either way.
    assert put(client, oci, DOCKER_MANIFEST).status_code == 400


def test_the_python_api_infers_the_type_without_a_header(registry, oci):
    digest = registry.push_manifest("demo/app", oci.body, "t")
    assert registry.manifest("demo/app", digest).media_type == OCI_MANIFEST


def test_the_fuzzers_rule_flags_an_accepted_manifest_of_the_wrong_type():
    from fuzz_support import BODIES, FuzzRequest, accepted_invalid_manifest

    body = next(b for b in BODIES if b.startswith(b'{"schemaVersion": 2, "mediaType"'))
    pushed_as = lambda content_type: FuzzRequest("PUT", "/v2/fz/x/manifests/v1", [],  # noqa: E731
                                                 {"Content-Type": content_type}, body)
    assert "pushed as 'application/json'" in accepted_invalid_manifest(pushed_as("application/json"), 201)
    assert accepted_invalid_manifest(pushed_as(OCI_MANIFEST + "; charset=utf-8"), 201) is None
    assert accepted_invalid_manifest(pushed_as("application/json"), 400) is None
