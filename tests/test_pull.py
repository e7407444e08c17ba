"""Spec section "Pull": end-2 (blobs, with Range) and end-3 (manifests), GET and HEAD."""

from __future__ import annotations

import pytest
from registry_helpers import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    assert_error,
    image,
    index,
    push,
    sha256,
)

BLOB = b"0123456789abcdefghij"  # 20 bytes


@pytest.fixture
def blob_digest(registry):
    return registry.push_blob("demo/app", BLOB)


# -- blobs (end-2) ---------------------------------------------------------------------------

def test_blob_get_answers_200_with_the_bytes_and_their_digest(client, blob_digest):
    response = client.get(f"/v2/demo/app/blobs/{blob_digest}")
    assert response.status_code == 200
    assert response.data == BLOB
    assert response.headers["Docker-Content-Digest"] == blob_digest
    assert response.headers["Content-Length"] == str(len(BLOB))
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_blob_get_advertises_byte_ranges(client, blob_digest):
    assert client.get(f"/v2/demo/app/blobs/{blob_digest}").headers["Accept-Ranges"] == "bytes"


def test_blob_head_answers_200_with_empty_body_content_length_and_digest(client, blob_digest):
    response = client.head(f"/v2/demo/app/blobs/{blob_digest}")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Length"] == str(len(BLOB))
    assert response.headers["Docker-Content-Digest"] == blob_digest


def test_blob_get_of_unknown_digest_is_404_blob_unknown(client, blob_digest):
    assert_error(client.get(f"/v2/demo/app/blobs/{sha256(b'other')}"), 404, "BLOB_UNKNOWN")


def test_blob_head_of_unknown_digest_is_404_with_empty_body(client, blob_digest):
    response = client.head(f"/v2/demo/app/blobs/{sha256(b'other')}")
    assert response.status_code == 404
    assert response.data == b""


def test_blob_get_in_unknown_repository_is_404_blob_unknown(client, blob_digest):
    assert_error(client.get(f"/v2/nowhere/blobs/{blob_digest}"), 404, "BLOB_UNKNOWN")


def test_blob_pushed_to_one_repository_is_not_readable_from_another(client, blob_digest, registry):
    registry.push_blob("other/repo", b"something else")
    assert_error(client.get(f"/v2/other/repo/blobs/{blob_digest}"), 404, "BLOB_UNKNOWN")
    assert client.head(f"/v2/other/repo/blobs/{blob_digest}").status_code == 404


@pytest.mark.parametrize("header, start, end", [
    ("bytes=0-4", 0, 4),
    ("bytes=5-", 5, 19),
    ("bytes=-3", 17, 19),
    ("bytes=15-1000", 15, 19),       # a last-pos past the end is clamped (RFC 9110 14.1.2)
    ("bytes=-1000", 0, 19),          # a suffix longer than the blob means all of it
    ("bytes=19-19", 19, 19),
    ("bytes = 2 - 3", 2, 3),         # optional whitespace
])
def test_blob_range_answers_206_with_content_range(client, blob_digest, header, start, end):
    response = client.get(f"/v2/demo/app/blobs/{blob_digest}", headers={"Range": header})
    assert response.status_code == 206
    assert response.data == BLOB[start:end + 1]
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(BLOB)}"
    assert response.headers["Content-Length"] == str(end - start + 1)
    assert response.headers["Docker-Content-Digest"] == blob_digest


def test_blob_head_with_range_answers_206_with_empty_body(client, blob_digest):
    response = client.head(f"/v2/demo/app/blobs/{blob_digest}", headers={"Range": "bytes=2-5"})
    assert response.status_code == 206
    assert response.data == b""
    assert response.headers["Content-Range"] == f"bytes 2-5/{len(BLOB)}"
    assert response.headers["Content-Length"] == "4"


@pytest.mark.parametrize("header", [
    "bytes=20-",      # first-pos at the end
    "bytes=100-200",  # wholly past the end
    "bytes=-0",       # an empty suffix
    "bytes=5-2",      # last-pos before first-pos: invalid, rejected (RFC 9110 14.2 allows ignore or reject)
])
def test_blob_unsatisfiable_range_is_416_with_complete_length(client, blob_digest, header):
    response = client.get(f"/v2/demo/app/blobs/{blob_digest}", headers={"Range": header})
    assert_error(response, 416, "SIZE_INVALID")
    assert response.headers["Content-Range"] == f"bytes */{len(BLOB)}"


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=-5"])
def test_blob_range_of_an_empty_blob_is_416(client, registry, header):
    digest = registry.push_blob("demo/app", b"")
    response = client.get(f"/v2/demo/app/blobs/{digest}", headers={"Range": header})
    assert_error(response, 416, "SIZE_INVALID")
    assert response.headers["Content-Range"] == "bytes */0"


@pytest.mark.parametrize("header", [
    "bytes=0-1,4-5",   # multiple ranges: a server may send the whole representation instead
    "items=0-1",       # a unit the server does not know must be ignored (RFC 9110 14.2)
    "bytes=abc",       # unparseable
    "bytes=-",
])
def test_blob_range_the_registry_does_not_serve_is_ignored_with_200(client, blob_digest, header):
    response = client.get(f"/v2/demo/app/blobs/{blob_digest}", headers={"Range": header})
    assert response.status_code == 200
    assert response.data == BLOB


def test_large_blob_range_is_served_from_the_middle(client, registry):
    data = bytes(range(256)) * 10_000  # 2.5 MB: spans several send slices
    digest = registry.push_blob("big/blob", data)
    response = client.get(f"/v2/big/blob/blobs/{digest}", headers={"Range": "bytes=1048570-2097160"})
    assert response.status_code == 206
    assert response.data == data[1048570:2097161]
    assert client.get(f"/v2/big/blob/blobs/{digest}").data == data


# -- manifests (end-3) -----------------------------------------------------------------------

@pytest.fixture
def pushed(registry):
    content = image("pull")
    push(registry, "demo/app", content, tags=["v1"])
    return content


@pytest.mark.parametrize("reference", ["tag", "digest"])
def test_manifest_get_answers_200_with_the_exact_bytes(client, pushed, reference):
    ref = "v1" if reference == "tag" else pushed.digest
    response = client.get(f"/v2/demo/app/manifests/{ref}")
    assert response.status_code == 200
    assert response.data == pushed.body
    assert response.headers["Docker-Content-Digest"] == pushed.digest
    assert response.headers["Content-Length"] == str(len(pushed.body))
    assert response.headers["Content-Type"] == OCI_MANIFEST


@pytest.mark.parametrize("reference", ["tag", "digest"])
def test_manifest_head_answers_200_with_empty_body_content_length_and_digest(client, pushed, reference):
    ref = "v1" if reference == "tag" else pushed.digest
    response = client.head(f"/v2/demo/app/manifests/{ref}")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Length"] == str(len(pushed.body))
    assert response.headers["Docker-Content-Digest"] == pushed.digest
    assert response.headers["Content-Type"] == OCI_MANIFEST


def test_manifest_etag_is_the_quoted_digest(client, pushed):
    assert client.get("/v2/demo/app/manifests/v1").headers["ETag"] == f'"{pushed.digest}"'


def test_manifest_get_with_matching_if_none_match_is_304(client, pushed):
    response = client.get("/v2/demo/app/manifests/v1", headers={"If-None-Match": f'"{pushed.digest}"'})
    assert response.status_code == 304
    assert response.data == b""


@pytest.mark.parametrize("kind", ["oci-manifest", "oci-index", "docker-manifest", "docker-manifest-list"])
def test_manifest_content_type_is_the_pushed_media_type(client, registry, kind):
    child = image("child", media_type=DOCKER_MANIFEST if kind.startswith("docker") else OCI_MANIFEST)
    push(registry, "demo/app", child)
    content = {
        "oci-manifest": lambda: image("pull"),
        "oci-index": lambda: index([child]),
        "docker-manifest": lambda: image("pull", media_type=DOCKER_MANIFEST),
        "docker-manifest-list": lambda: index([child], media_type=DOCKER_MANIFEST_LIST),
    }[kind]()
    push(registry, "demo/app", content, tags=["t"])
    response = client.get("/v2/demo/app/manifests/t")
    assert response.headers["Content-Type"] == content.media_type
    assert response.data == content.body


def test_manifest_without_media_type_field_is_served_with_the_pushed_content_type(client, registry):
    content = image("plain", declare_media_type=False, media_type=DOCKER_MANIFEST)
    for data in content.blobs.values():
        registry.push_blob("demo/app", data)
    # The reference registry requires a Docker manifest's mediaType field (tests/test_manifest_content_type.py);
    # the lenient setting accepts it, and the pushed type is what a pull gets.
    refused = client.put("/v2/demo/app/manifests/t", data=content.body, headers={"Content-Type": DOCKER_MANIFEST})
    assert refused.status_code == 400
    registry.configure(manifest_content_type_check=False)
    response = client.put("/v2/demo/app/manifests/t", data=content.body, headers={"Content-Type": DOCKER_MANIFEST})
    assert response.status_code == 201
    assert client.get("/v2/demo/app/manifests/t").headers["Content-Type"] == DOCKER_MANIFEST


def test_manifest_get_of_unknown_tag_is_404_manifest_unknown(client, pushed):
    assert_error(client.get("/v2/demo/app/manifests/v2"), 404, "MANIFEST_UNKNOWN")


def test_manifest_get_of_unknown_digest_is_404_manifest_unknown(client, pushed):
    assert_error(client.get(f"/v2/demo/app/manifests/{sha256(b'nothing')}"), 404, "MANIFEST_UNKNOWN")


def test_manifest_get_in_unknown_repository_is_404(client, pushed):
    assert_error(client.get("/v2/no/such/repo/manifests/v1"), 404, "MANIFEST_UNKNOWN")


def test_manifest_head_of_unknown_reference_is_404_with_empty_body(client, pushed):
    response = client.head("/v2/demo/app/manifests/v2")
    assert response.status_code == 404
    assert response.data == b""


def test_manifest_is_also_readable_through_the_blob_endpoint(client, pushed):
    response = client.get(f"/v2/demo/app/blobs/{pushed.digest}")
    assert response.status_code == 200
    assert response.data == pushed.body


def test_manifest_in_one_repository_is_not_readable_from_another(client, pushed, registry):
    registry.push_blob("other/repo", b"x")
    assert_error(client.get(f"/v2/other/repo/manifests/{pushed.digest}"), 404, "MANIFEST_UNKNOWN")
