"""The `Registry` Python API (arrange and inspect state without HTTP), and docs/registry.md's
examples, which run here exactly as printed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from doc_examples import run_page
from registry_helpers import OCI_INDEX, OCI_MANIFEST, SPEC_ERROR_CODES, image, index, push, sha256, sha512
from werkzeug.test import Client

from mockreg import Registry, RegistryError, Settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "registry.md"


def test_every_python_example_in_the_registry_doc_runs():
    run_page(DOC, minimum=6)


def test_the_doc_settings_table_lists_every_setting():
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", table, flags=re.M)
    assert sorted(documented) == sorted(Settings.names())


def test_the_doc_error_table_uses_only_spec_codes():
    table = DOC.read_text(encoding="utf-8").split("## Errors", 1)[1].split("\n## ", 1)[0]
    first_column = re.findall(r"^\| ([^|]+) \|", table, flags=re.M)[1:]  # below the header row
    codes = {code for cell in first_column for code in re.findall(r"`([A-Z_]+)`", cell)}
    assert codes == SPEC_ERROR_CODES  # every spec code is explained, and no other


# -- blobs -----------------------------------------------------------------------------------------

def test_push_blob_returns_the_digest_and_blob_returns_the_bytes():
    registry = Registry()
    digest = registry.push_blob("demo/app", b"hello")
    assert digest == sha256(b"hello")
    assert registry.blob("demo/app", digest) == b"hello"
    assert registry.has_blob("demo/app", digest)


def test_push_blob_with_sha512():
    registry = Registry()
    assert registry.push_blob("demo/app", b"hello", algorithm="sha512") == sha512(b"hello")


def test_push_blob_with_an_unknown_algorithm_is_a_value_error():
    with pytest.raises(ValueError, match="unsupported digest algorithm"):
        Registry().push_blob("demo/app", b"hello", algorithm="md5")


def test_push_blob_to_an_invalid_name_raises_name_invalid():
    with pytest.raises(RegistryError) as caught:
        Registry().push_blob("Not/Valid", b"x")
    assert (caught.value.code, caught.value.status) == ("NAME_INVALID", 400)


def test_blob_of_another_repository_is_unknown():
    registry = Registry()
    digest = registry.push_blob("demo/app", b"hello")
    assert not registry.has_blob("other/repo", digest)
    with pytest.raises(RegistryError) as caught:
        registry.blob("other/repo", digest)
    assert caught.value.code == "BLOB_UNKNOWN"


def test_blob_returns_a_copy_that_cannot_change_the_store():
    registry = Registry()
    client = Client(registry)
    location = client.post("/v2/demo/app/blobs/uploads/").headers["Location"]
    client.put(f"{location}?digest={sha256(b'abc')}", data=b"abc")
    copy = registry.blob("demo/app", sha256(b"abc"))
    assert isinstance(copy, bytes)
    assert client.get(f"/v2/demo/app/blobs/{sha256(b'abc')}").data == b"abc"


# -- manifests -------------------------------------------------------------------------------------

def test_push_manifest_stores_bytes_exactly_and_tags_them():
    registry = Registry()
    content = image()
    digest = push(registry, "demo/app", content, tags=["b", "a"])
    stored = registry.manifest("demo/app", "a")
    assert (stored.digest, stored.media_type, stored.body) == (digest, OCI_MANIFEST, content.body)
    assert stored.json == content.json
    assert registry.tags("demo/app") == ["a", "b"]


def test_push_manifest_of_a_dict_is_serialised_compactly():
    registry = Registry()
    content = image()
    for data in content.blobs.values():
        registry.push_blob("demo/app", data)
    digest = registry.push_manifest("demo/app", content.json, "v1")
    assert registry.manifest("demo/app", "v1").body == json.dumps(content.json, separators=(",", ":")).encode()
    assert digest == sha256(registry.manifest("demo/app", "v1").body)


def test_push_manifest_validates_like_a_put():
    registry = Registry()
    with pytest.raises(RegistryError) as missing:
        registry.push_manifest("demo/app", image().body)
    assert missing.value.code == "MANIFEST_BLOB_UNKNOWN"
    with pytest.raises(RegistryError) as invalid:
        registry.push_manifest("demo/app", b"{}")
    assert invalid.value.code == "MANIFEST_INVALID"
    with pytest.raises(RegistryError) as bad_tag:
        push(registry, "demo/app", image(), tags=["-no"])
    assert bad_tag.value.code == "MANIFEST_INVALID"
    assert registry.repositories() == ["demo/app"]  # the blobs pushed by `push`; no manifest, no tag
    assert registry.tags("demo/app") == []


def test_push_manifest_honours_sparse_manifests():
    registry = Registry(sparse_manifests=True)
    content = image()
    assert registry.push_manifest("demo/app", content.body, "v1") == content.digest


def test_push_manifest_of_an_index_with_media_type():
    registry = Registry()
    child = image("child")
    push(registry, "demo/app", child)
    parent = index([child])
    document = parent.json
    del document["mediaType"]
    body = json.dumps(document).encode()
    registry.push_manifest("demo/app", body, "multi", media_type=OCI_INDEX)
    assert registry.manifest("demo/app", "multi").media_type == OCI_INDEX


def test_manifest_of_unknown_reference_raises_manifest_unknown():
    with pytest.raises(RegistryError) as caught:
        Registry().manifest("demo/app", "v1")
    assert (caught.value.code, caught.value.status) == ("MANIFEST_UNKNOWN", 404)


def test_tags_of_unknown_repository_is_empty():
    assert Registry().tags("no/such") == []


def test_referrers_lists_descriptors_and_returns_copies():
    registry = Registry()
    subject = image("subject")
    push(registry, "demo/app", subject)
    signature = image("sig", subject=subject.descriptor(), annotations={"k": "v"})
    push(registry, "demo/app", signature)
    listed = registry.referrers("demo/app", subject.digest)
    assert [d["digest"] for d in listed] == [signature.digest]
    listed[0]["annotations"]["k"] = "changed"
    listed[0]["digest"] = "sha256:" + "0" * 64
    assert registry.referrers("demo/app", subject.digest)[0]["annotations"] == {"k": "v"}
    assert registry.referrers("demo/app", subject.digest)[0]["digest"] == signature.digest


def test_delete_methods_remove_content_whatever_the_settings():
    registry = Registry(blob_delete=False, manifest_delete=False, tag_delete=False)
    content = image()
    digest = push(registry, "demo/app", content, tags=["v1", "v2"])
    registry.delete_tag("demo/app", "v1")
    assert registry.tags("demo/app") == ["v2"]
    registry.delete_manifest("demo/app", digest)
    assert registry.tags("demo/app") == []
    layer = content.json["layers"][0]["digest"]
    registry.delete_blob("demo/app", layer)
    assert not registry.has_blob("demo/app", layer)


def test_reset_forgets_content_and_uploads_but_keeps_settings():
    registry = Registry(referrers=False)
    push(registry, "demo/app", image(), tags=["v1"])
    client = Client(registry)
    location = client.post("/v2/demo/app/blobs/uploads/").headers["Location"]
    registry.reset()
    assert registry.repositories() == []
    assert client.get(location).status_code == 404
    assert registry.settings.referrers is False


def test_two_registries_share_nothing():
    first, second = Registry(), Registry()
    push(first, "demo/app", image(), tags=["v1"])
    assert second.repositories() == [] and second.tags("demo/app") == []
    assert first.store is not second.store


def test_settings_object_and_switches_combine():
    registry = Registry(Settings(referrers=False), tag_delete=False)
    assert (registry.settings.referrers, registry.settings.tag_delete, registry.settings.blob_delete) == (
        False, False, True)
