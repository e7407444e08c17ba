"""Spec section "Content Management": end-9 (delete tags and manifests) and end-10 (delete blobs)."""

from __future__ import annotations

import json

import pytest
from registry_helpers import assert_error, image, push, sha256


@pytest.fixture
def pushed(registry):
    content = image()
    push(registry, "demo/app", content, tags=["v1", "stable"])
    return content


# -- tags ----------------------------------------------------------------------------------------

def test_tag_delete_is_202_and_the_tag_is_gone(client, pushed, registry):
    response = client.delete("/v2/demo/app/manifests/v1")
    assert response.status_code == 202
    assert_error(client.get("/v2/demo/app/manifests/v1"), 404, "MANIFEST_UNKNOWN")
    assert registry.tags("demo/app") == ["stable"]


def test_tag_delete_leaves_the_manifest(client, pushed):
    client.delete("/v2/demo/app/manifests/v1")
    assert client.get(f"/v2/demo/app/manifests/{pushed.digest}").status_code == 200
    assert client.get("/v2/demo/app/manifests/stable").status_code == 200


def test_tag_delete_of_unknown_tag_is_404_manifest_unknown(client, pushed):
    assert_error(client.delete("/v2/demo/app/manifests/v9"), 404, "MANIFEST_UNKNOWN")


def test_tag_delete_in_unknown_repository_is_404_name_unknown(client):
    assert_error(client.delete("/v2/no/repo/manifests/v1"), 404, "NAME_UNKNOWN")


# -- manifests -----------------------------------------------------------------------------------

def test_manifest_delete_is_202_and_the_manifest_and_its_tags_are_gone(client, pushed, registry):
    response = client.delete(f"/v2/demo/app/manifests/{pushed.digest}")
    assert response.status_code == 202
    assert_error(client.get(f"/v2/demo/app/manifests/{pushed.digest}"), 404, "MANIFEST_UNKNOWN")
    assert_error(client.get("/v2/demo/app/manifests/v1"), 404, "MANIFEST_UNKNOWN")
    assert_error(client.get("/v2/demo/app/manifests/stable"), 404, "MANIFEST_UNKNOWN")
    assert json.loads(client.get("/v2/demo/app/tags/list").data)["tags"] == []


def test_manifest_delete_keeps_the_blobs(client, pushed):
    client.delete(f"/v2/demo/app/manifests/{pushed.digest}")
    for digest in pushed.blobs:
        assert client.head(f"/v2/demo/app/blobs/{digest}").status_code == 200


def test_manifest_delete_of_unknown_digest_is_404_manifest_unknown(client, pushed):
    assert_error(client.delete(f"/v2/demo/app/manifests/{sha256(b'none')}"), 404, "MANIFEST_UNKNOWN")


def test_manifest_delete_in_unknown_repository_is_404_name_unknown(client, pushed):
    assert_error(client.delete(f"/v2/no/repo/manifests/{pushed.digest}"), 404, "NAME_UNKNOWN")


def test_manifest_delete_in_one_repository_leaves_the_other(client, pushed, registry):
    push(registry, "other/repo", pushed, tags=["v1"])
    client.delete(f"/v2/demo/app/manifests/{pushed.digest}")
    assert client.get("/v2/other/repo/manifests/v1").data == pushed.body


def test_deleting_a_referrer_removes_it_from_the_referrers_list(client, pushed, registry):
    signature = image("sig", subject=pushed.descriptor(), artifact_type="application/vnd.example.sig")
    push(registry, "demo/app", signature)
    listed = json.loads(client.get(f"/v2/demo/app/referrers/{pushed.digest}").data)["manifests"]
    assert [m["digest"] for m in listed] == [signature.digest]
    assert client.delete(f"/v2/demo/app/manifests/{signature.digest}").status_code == 202
    assert json.loads(client.get(f"/v2/demo/app/referrers/{pushed.digest}").data)["manifests"] == []


# -- blobs ---------------------------------------------------------------------------------------

def test_blob_delete_is_202_and_the_blob_is_gone(client, registry):
    digest = registry.push_blob("demo/app", b"bytes")
    response = client.delete(f"/v2/demo/app/blobs/{digest}")
    assert response.status_code == 202
    assert_error(client.get(f"/v2/demo/app/blobs/{digest}"), 404, "BLOB_UNKNOWN")


def test_blob_delete_of_unknown_blob_is_404_blob_unknown(client, registry):
    registry.push_blob("demo/app", b"bytes")
    assert_error(client.delete(f"/v2/demo/app/blobs/{sha256(b'none')}"), 404, "BLOB_UNKNOWN")


def test_blob_delete_in_one_repository_leaves_the_other(client, registry):
    digest = registry.push_blob("demo/app", b"bytes")
    registry.push_blob("other/repo", b"bytes")
    client.delete(f"/v2/demo/app/blobs/{digest}")
    assert client.get(f"/v2/other/repo/blobs/{digest}").data == b"bytes"


def test_blob_bytes_are_freed_when_no_repository_links_them(client, registry):
    digest = registry.push_blob("demo/app", b"bytes")
    registry.push_blob("other/repo", b"bytes")
    client.delete(f"/v2/demo/app/blobs/{digest}")
    assert digest in registry.store.blobs
    client.delete(f"/v2/other/repo/blobs/{digest}")
    assert digest not in registry.store.blobs


def test_blob_delete_with_malformed_digest_is_400_digest_invalid(client):
    assert_error(client.delete("/v2/demo/app/blobs/sha256:short"), 400, "DIGEST_INVALID")
