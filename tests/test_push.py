"""Spec section "Push": blob uploads (end-4a/4b/4c, 5, 6, 11, 13, 14) and manifests (end-7a/7b)."""

from __future__ import annotations

import http.client
import io
import json
import re
import threading
import time

import pytest
from registry_helpers import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    assert_error,
    image,
    index,
    push,
    put_manifest,
    sha256,
    sha512,
    start_upload,
    streamed,
    upload,
)
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request

from mockreg import Registry
from mockreg.server import LiveServer

DATA = b"a blob pushed over HTTP"


def chunks(location: str, client, *parts: bytes, prefix: str = ""):
    """PATCH each part with its Content-Range; returns the last response."""
    offset, response = 0, None
    for part in parts:
        response = client.patch(location, data=part, headers={
            "Content-Range": f"{prefix}{offset}-{offset + len(part) - 1}",
            "Content-Type": "application/octet-stream"})
        assert response.status_code == 202, response.data
        location = response.headers["Location"]
        offset += len(part)
    return response


# -- obtaining a session (end-4a) ------------------------------------------------------------

def test_post_opens_a_session_with_202_location_uuid_and_range(client):
    response = client.post("/v2/demo/app/blobs/uploads/", headers={"Content-Length": "0"})
    assert response.status_code == 202
    location = response.headers["Location"]
    uuid = response.headers["Docker-Upload-UUID"]
    assert re.fullmatch(rf"/v2/demo/app/blobs/uploads/{uuid}", location)
    assert re.fullmatch(r"[0-9a-f]{32}", uuid)
    assert response.headers["Range"] == "0-0"
    assert response.headers["Content-Length"] == "0"


def test_each_post_opens_a_different_session(client):
    assert start_upload(client, "demo/app") != start_upload(client, "demo/app")


def test_post_without_trailing_slash_opens_a_session(client):
    assert client.post("/v2/demo/app/blobs/uploads").status_code == 202


# -- POST then PUT (end-6) -------------------------------------------------------------------

def test_post_then_put_answers_201_with_blob_location_and_digest(client):
    response = upload(client, "demo/app", DATA)
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/demo/app/blobs/{sha256(DATA)}"
    assert response.headers["Docker-Content-Digest"] == sha256(DATA)
    assert client.get(response.headers["Location"]).data == DATA


def test_put_location_with_appended_ampersand_digest_is_understood(client):
    location = start_upload(client, "demo/app")
    response = client.put(f"{location}&digest={sha256(DATA)}", data=DATA)
    assert response.status_code == 201
    assert client.get(f"/v2/demo/app/blobs/{sha256(DATA)}").data == DATA


def test_put_without_digest_is_400_digest_invalid(client):
    location = start_upload(client, "demo/app")
    assert_error(client.put(location, data=DATA), 400, "DIGEST_INVALID")


def test_put_with_malformed_digest_is_400_digest_invalid(client):
    location = start_upload(client, "demo/app")
    assert_error(client.put(f"{location}?digest=sha256:nothex", data=DATA), 400, "DIGEST_INVALID")


def test_put_with_wrong_digest_is_400_digest_invalid_and_the_session_stays_usable(client):
    location = start_upload(client, "demo/app")
    chunks(location, client, b"first ")
    wrong = client.put(f"{location}?digest={sha256(b'other')}", data=b"second")
    assert_error(wrong, 400, "DIGEST_INVALID")
    assert client.get(location).headers["Range"] == "0-5"  # the final chunk was taken back
    right = client.put(f"{location}?digest={sha256(b'first second')}", data=b"second")
    assert right.status_code == 201
    assert client.get(f"/v2/demo/app/blobs/{sha256(b'first second')}").data == b"first second"


def test_finished_session_is_gone(client):
    location = start_upload(client, "demo/app")
    assert client.put(f"{location}?digest={sha256(DATA)}", data=DATA).status_code == 201
    assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.patch(location, data=b"more"), 404, "BLOB_UPLOAD_UNKNOWN")


def test_body_shorter_than_content_length_is_400_size_invalid(client):
    location = start_upload(client, "demo/app")
    environ = EnvironBuilder(path=location, method="PUT", query_string={"digest": sha256(DATA)}).get_environ()
    environ.update({"CONTENT_LENGTH": str(len(DATA)), "wsgi.input": io.BytesIO(DATA[:5])})  # the client hung up
    assert_error(client.open(Request(environ)), 400, "SIZE_INVALID")
    assert client.get(location).headers["Range"] == "0-0"


# -- single POST (end-4b) and digest-algorithm (end-4c) ---------------------------------------

def test_single_post_with_digest_answers_201_with_location(client):
    response = client.post(f"/v2/demo/app/blobs/uploads/?digest={sha256(DATA)}", data=DATA,
                           headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/demo/app/blobs/{sha256(DATA)}"
    assert response.headers["Docker-Content-Digest"] == sha256(DATA)
    assert client.get(response.headers["Location"]).data == DATA


def test_single_post_with_wrong_digest_is_400_digest_invalid(client, registry):
    response = client.post(f"/v2/demo/app/blobs/uploads/?digest={sha256(b'x')}", data=DATA)
    assert_error(response, 400, "DIGEST_INVALID")
    assert registry.repositories() == []


def test_single_post_with_sha512_digest_answers_201(client):
    response = client.post(f"/v2/demo/app/blobs/uploads/?digest={sha512(DATA)}", data=DATA)
    assert response.status_code == 201
    assert client.get(f"/v2/demo/app/blobs/{sha512(DATA)}").data == DATA


def test_digest_algorithm_sha512_session_accepts_a_sha512_digest(client):
    location = start_upload(client, "demo/app", "?digest-algorithm=sha512")
    chunks(location, client, DATA[:10], DATA[10:])
    response = client.put(f"{location}?digest={sha512(DATA)}")
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == sha512(DATA)
    assert client.get(f"/v2/demo/app/blobs/{sha512(DATA)}").data == DATA


def test_digest_algorithm_that_is_unknown_is_400_digest_invalid(client):
    assert_error(client.post("/v2/demo/app/blobs/uploads/?digest-algorithm=md5"), 400, "DIGEST_INVALID")


# -- chunks (end-5) --------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "bytes "], ids=["start-end", "bytes-prefix"])
def test_patch_with_content_range_answers_202_with_location_and_range(client, prefix):
    location = start_upload(client, "demo/app")
    response = chunks(location, client, DATA[:8], DATA[8:], prefix=prefix)
    assert response.headers["Range"] == f"0-{len(DATA) - 1}"
    assert response.headers["Location"] == location
    assert response.headers["Content-Length"] == "0"
    assert client.put(f"{location}?digest={sha256(DATA)}").status_code == 201
    assert client.get(f"/v2/demo/app/blobs/{sha256(DATA)}").data == DATA


def test_patch_without_content_range_appends_the_body(client):
    location = start_upload(client, "demo/app")
    first = client.patch(location, data=DATA[:4])
    second = client.patch(first.headers["Location"], data=DATA[4:])
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.headers["Range"] == f"0-{len(DATA) - 1}"
    assert client.put(f"{location}?digest={sha256(DATA)}").status_code == 201


def test_patch_with_chunked_transfer_encoding_and_no_content_length(client):
    location = start_upload(client, "demo/app")
    response = streamed(client, "PATCH", location, [DATA[:7], DATA[7:]])
    assert response.status_code == 202
    assert response.headers["Range"] == f"0-{len(DATA) - 1}"
    assert client.put(f"{location}?digest={sha256(DATA)}").status_code == 201
    assert client.get(f"/v2/demo/app/blobs/{sha256(DATA)}").data == DATA


def test_chunked_transfer_encoding_over_a_live_server():
    registry = Registry()
    with LiveServer(registry) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
        try:
            connection.request("POST", "/v2/live/app/blobs/uploads/")
            started = connection.getresponse()
            started.read()
            location = started.getheader("Location")
            body = iter([DATA[:5], DATA[5:12], DATA[12:]])  # a generator body is sent chunked
            connection.request("PATCH", location, body=body, encode_chunked=True,
                               headers={"Transfer-Encoding": "chunked"})
            patched = connection.getresponse()
            patched.read()
            assert patched.status == 202
            assert patched.getheader("Range") == f"0-{len(DATA) - 1}"
            # the same keep-alive connection serves the closing PUT
            connection.request("PUT", f"{location}?digest={sha256(DATA)}", body=b"")
            finished = connection.getresponse()
            finished.read()
            assert finished.status == 201
        finally:
            connection.close()
    assert registry.blob("live/app", sha256(DATA)) == DATA
    assert registry.server_errors == []


def test_out_of_order_chunk_is_416_and_status_tells_the_offset(client):
    location = start_upload(client, "demo/app")
    chunks(location, client, DATA[:6])
    response = client.patch(location, data=DATA[10:], headers={"Content-Range": f"10-{len(DATA) - 1}"})
    assert_error(response, 416, "BLOB_UPLOAD_INVALID")
    assert response.headers["Range"] == "0-5"
    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-5"
    resumed = client.patch(status.headers["Location"], data=DATA[6:], headers={"Content-Range": f"6-{len(DATA) - 1}"})
    assert resumed.status_code == 202


def test_chunk_whose_length_differs_from_content_range_is_400_size_invalid(client):
    location = start_upload(client, "demo/app")
    response = client.patch(location, data=DATA[:5], headers={"Content-Range": "0-9"})
    assert_error(response, 400, "SIZE_INVALID")
    assert client.get(location).headers["Range"] == "0-0"


def test_malformed_content_range_is_400_blob_upload_invalid(client):
    location = start_upload(client, "demo/app")
    assert_error(client.patch(location, data=DATA, headers={"Content-Range": "zero-ten"}), 400,
                 "BLOB_UPLOAD_INVALID")


def test_put_with_final_chunk_completes_the_upload(client):
    location = start_upload(client, "demo/app")
    chunks(location, client, DATA[:9])
    response = client.put(f"{location}?digest={sha256(DATA)}", data=DATA[9:],
                          headers={"Content-Range": f"9-{len(DATA) - 1}"})
    assert response.status_code == 201
    assert client.get(f"/v2/demo/app/blobs/{sha256(DATA)}").data == DATA


def test_put_with_final_chunk_out_of_order_is_416(client):
    location = start_upload(client, "demo/app")
    chunks(location, client, DATA[:9])
    response = client.put(f"{location}?digest={sha256(DATA)}", data=DATA[12:],
                          headers={"Content-Range": f"12-{len(DATA) - 1}"})
    assert_error(response, 416, "BLOB_UPLOAD_INVALID")


def test_patch_to_unknown_session_is_404_blob_upload_unknown(client):
    assert_error(client.patch("/v2/demo/app/blobs/uploads/nosuchsession", data=b"x"), 404, "BLOB_UPLOAD_UNKNOWN")


def test_session_of_one_repository_is_unknown_in_another(client):
    location = start_upload(client, "demo/app")
    elsewhere = location.replace("/demo/app/", "/other/app/")
    assert_error(client.patch(elsewhere, data=b"x"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.get(elsewhere), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.put(f"{elsewhere}?digest={sha256(b'x')}", data=b"x"), 404, "BLOB_UPLOAD_UNKNOWN")


# -- status (end-13) and cancel (end-14) -----------------------------------------------------

def test_upload_status_is_204_with_location_range_and_uuid(client):
    location = start_upload(client, "demo/app")
    chunks(location, client, DATA[:3])
    response = client.get(location)
    assert response.status_code == 204
    assert response.headers["Location"] == location
    assert response.headers["Range"] == "0-2"
    assert location.endswith(response.headers["Docker-Upload-UUID"])
    assert response.data == b""


def test_upload_status_of_unknown_session_is_404_blob_upload_unknown(client):
    assert_error(client.get("/v2/demo/app/blobs/uploads/nosuchsession"), 404, "BLOB_UPLOAD_UNKNOWN")


def test_cancel_is_204_and_forgets_the_session(client):
    location = start_upload(client, "demo/app")
    chunks(location, client, DATA)
    response = client.delete(location)
    assert response.status_code == 204
    assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.put(f"{location}?digest={sha256(DATA)}"), 404, "BLOB_UPLOAD_UNKNOWN")


def test_cancel_of_unknown_session_is_404_blob_upload_unknown(client):
    assert_error(client.delete("/v2/demo/app/blobs/uploads/nosuchsession"), 404, "BLOB_UPLOAD_UNKNOWN")


# -- mounting (end-11) -----------------------------------------------------------------------

def test_mount_from_a_repository_holding_the_blob_is_201(client, registry):
    digest = registry.push_blob("source/repo", DATA)
    response = client.post(f"/v2/target/repo/blobs/uploads/?mount={digest}&from=source/repo")
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/target/repo/blobs/{digest}"
    assert response.headers["Docker-Content-Digest"] == digest
    assert client.get(f"/v2/target/repo/blobs/{digest}").data == DATA


def test_blob_is_readable_in_another_repository_only_after_mounting(client, registry):
    digest = registry.push_blob("source/repo", DATA)
    assert client.head(f"/v2/target/repo/blobs/{digest}").status_code == 404
    client.post(f"/v2/target/repo/blobs/uploads/?mount={digest}&from=source/repo")
    assert client.head(f"/v2/target/repo/blobs/{digest}").status_code == 200


def test_mount_from_a_repository_without_the_blob_is_202_with_a_session(client, registry):
    digest = registry.push_blob("holder/repo", DATA)
    registry.push_blob("source/repo", b"something else")
    response = client.post(f"/v2/target/repo/blobs/uploads/?mount={digest}&from=source/repo")
    assert response.status_code == 202
    assert client.get(response.headers["Location"]).status_code == 204
    assert client.head(f"/v2/target/repo/blobs/{digest}").status_code == 404


def test_mount_of_a_missing_blob_is_202_with_a_session(client):
    response = client.post(f"/v2/target/repo/blobs/uploads/?mount={sha256(DATA)}&from=source/repo")
    assert response.status_code == 202
    assert "/v2/target/repo/blobs/uploads/" in response.headers["Location"]


def test_anonymous_mount_of_a_blob_that_exists_anywhere_is_201(client, registry):
    digest = registry.push_blob("somewhere/else", DATA)
    response = client.post(f"/v2/target/repo/blobs/uploads/?mount={digest}")
    assert response.status_code == 201
    assert client.get(f"/v2/target/repo/blobs/{digest}").data == DATA


def test_anonymous_mount_of_a_blob_that_exists_nowhere_is_202(client):
    assert client.post(f"/v2/target/repo/blobs/uploads/?mount={sha256(DATA)}").status_code == 202


def test_mount_with_malformed_digest_is_400_digest_invalid(client):
    assert_error(client.post("/v2/target/repo/blobs/uploads/?mount=sha256:zz&from=a"), 400, "DIGEST_INVALID")


def test_identical_blobs_are_stored_once(client, registry):
    upload(client, "one/repo", DATA)
    upload(client, "two/repo", DATA)
    assert list(registry.store.blobs) == [sha256(DATA)]


# -- manifests (end-7a, end-7b) --------------------------------------------------------------

@pytest.fixture
def blobs_of(registry):
    def arrange(name, content):
        for data in content.blobs.values():
            registry.push_blob(name, data)
        return content
    return arrange


def test_manifest_put_by_tag_is_201_with_location_and_digest(client, blobs_of):
    content = blobs_of("demo/app", image())
    response = put_manifest(client, "demo/app", "v1", content)
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/demo/app/manifests/{content.digest}"
    assert response.headers["Docker-Content-Digest"] == content.digest
    assert client.get("/v2/demo/app/manifests/v1").data == content.body


def test_manifest_put_by_digest_is_201_and_creates_no_tag(client, blobs_of, registry):
    content = blobs_of("demo/app", image())
    response = put_manifest(client, "demo/app", content.digest, content)
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == content.digest
    assert registry.tags("demo/app") == []
    assert client.get(f"/v2/demo/app/manifests/{content.digest}").data == content.body


def test_manifest_put_by_sha512_digest_is_201(client, blobs_of):
    content = blobs_of("demo/app", image())
    digest = sha512(content.body)
    response = put_manifest(client, "demo/app", digest, content)
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == digest
    assert client.get(f"/v2/demo/app/manifests/{digest}").data == content.body


def test_manifest_put_by_digest_that_does_not_match_is_400_digest_invalid(client, blobs_of):
    content = blobs_of("demo/app", image())
    assert_error(put_manifest(client, "demo/app", sha256(b"else"), content), 400, "DIGEST_INVALID")


def test_manifest_put_with_tag_parameters_answers_oci_tag_for_each(client, blobs_of, registry):
    content = blobs_of("demo/app", image())
    response = put_manifest(client, "demo/app", content.digest, content, "?tag=1.2.3&tag=1.2&tag=latest")
    assert response.status_code == 201
    assert response.headers.getlist("OCI-Tag") == ["1.2.3", "1.2", "latest"]
    assert registry.tags("demo/app") == ["1.2", "1.2.3", "latest"]


def test_manifest_put_with_an_invalid_tag_parameter_is_400_and_stores_nothing(client, blobs_of, registry):
    content = blobs_of("demo/app", image())
    assert_error(put_manifest(client, "demo/app", content.digest, content, "?tag=ok&tag=-bad"), 400,
                 "MANIFEST_INVALID")
    assert registry.tags("demo/app") == []
    assert client.head(f"/v2/demo/app/manifests/{content.digest}").status_code == 404


def test_manifest_put_retags_an_existing_tag(client, blobs_of):
    first, second = blobs_of("demo/app", image("one")), blobs_of("demo/app", image("two"))
    put_manifest(client, "demo/app", "v1", first)
    put_manifest(client, "demo/app", "v1", second)
    assert client.get("/v2/demo/app/manifests/v1").data == second.body
    assert client.get(f"/v2/demo/app/manifests/{first.digest}").status_code == 200


@pytest.mark.parametrize("missing", ["config", "layer"])
def test_manifest_referencing_a_missing_blob_is_400_manifest_blob_unknown(client, registry, missing):
    content = image(layers=2)
    config_digest = content.json["config"]["digest"]
    for digest, data in content.blobs.items():
        if (digest == config_digest) != (missing == "config"):
            registry.push_blob("demo/app", data)
    response = put_manifest(client, "demo/app", "v1", content)
    assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
    assert registry.tags("demo/app") == []


def test_index_referencing_a_missing_manifest_is_400_manifest_blob_unknown(client):
    assert_error(put_manifest(client, "demo/app", "v1", index([image()])), 400, "MANIFEST_BLOB_UNKNOWN")


def test_manifest_referencing_a_blob_of_another_repository_is_400_manifest_blob_unknown(client, blobs_of):
    content = blobs_of("other/repo", image())
    assert_error(put_manifest(client, "demo/app", "v1", content), 400, "MANIFEST_BLOB_UNKNOWN")


def test_manifest_descriptor_with_wrong_size_is_400_manifest_invalid(client, blobs_of):
    content = blobs_of("demo/app", image())
    document = content.json
    document["layers"][0]["size"] += 1
    content.body = json.dumps(document).encode()
    assert_error(put_manifest(client, "demo/app", "v1", content), 400, "MANIFEST_INVALID")


def test_manifest_with_non_distributable_layer_needs_no_blob_for_it(client, registry):
    content = image(layer_type="application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
    registry.push_blob("demo/app", json.dumps({"seed": "app"}).encode())  # the config only
    assert put_manifest(client, "demo/app", "v1", content).status_code == 201


def test_manifest_with_subject_that_does_not_exist_is_accepted_with_oci_subject(client, blobs_of):
    subject = image("absent").descriptor()
    content = blobs_of("demo/app", image("sig", subject=subject))
    response = put_manifest(client, "demo/app", content.digest, content)
    assert response.status_code == 201
    assert response.headers["OCI-Subject"] == subject["digest"]


def test_manifest_without_subject_gets_no_oci_subject(client, blobs_of):
    content = blobs_of("demo/app", image())
    assert "OCI-Subject" not in put_manifest(client, "demo/app", "v1", content).headers


def test_manifest_over_the_size_limit_is_413(client, blobs_of, registry):
    registry.configure(manifest_size_limit=100)
    content = blobs_of("demo/app", image())
    assert len(content.body) > 100
    assert_error(put_manifest(client, "demo/app", "v1", content), 413, "SIZE_INVALID")
    assert registry.tags("demo/app") == []


def test_streamed_manifest_over_the_size_limit_is_413(client, blobs_of, registry):
    registry.configure(manifest_size_limit=100)
    content = blobs_of("demo/app", image())
    response = streamed(client, "PUT", "/v2/demo/app/manifests/v1", [content.body],
                        headers={"Content-Type": OCI_MANIFEST})
    assert_error(response, 413, "SIZE_INVALID")


def test_manifest_of_four_mebibytes_is_accepted_by_default(client, blobs_of):
    content = blobs_of("demo/app", image(annotations={"padding": "x" * (4 * 1024 * 1024 - 1024)}))
    assert put_manifest(client, "demo/app", "big", content).status_code == 201


def test_media_type_field_differing_from_content_type_is_400_manifest_invalid(client, blobs_of):
    content = blobs_of("demo/app", image())
    response = put_manifest(client, "demo/app", "v1", content, content_type=DOCKER_MANIFEST)
    assert_error(response, 400, "MANIFEST_INVALID")


def test_content_type_parameters_are_ignored(client, blobs_of):
    content = blobs_of("demo/app", image())
    response = put_manifest(client, "demo/app", "v1", content, content_type=f"{OCI_MANIFEST}; charset=utf-8")
    assert response.status_code == 201
    assert client.get("/v2/demo/app/manifests/v1").headers["Content-Type"] == OCI_MANIFEST


@pytest.mark.parametrize("body, why", [
    (b"not json", "not JSON"),
    (b"[]", "not an object"),
    (json.dumps({"schemaVersion": 1, "mediaType": OCI_MANIFEST}).encode(), "schemaVersion"),
    (json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode(), "no config"),
    (json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX}).encode(), "no manifests"),
    (json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"mediaType": "x", "digest": "bad",
                 "size": 1}, "layers": []}).encode(), "bad descriptor digest"),
    (json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"mediaType": "x", "digest": sha256(b""),
                 "size": -1}, "layers": []}).encode(), "negative size"),
    (json.dumps({"schemaVersion": 1, "mediaType": "application/vnd.docker.distribution.manifest.v1+json"}).encode(),
     "docker schema 1"),
])
def test_invalid_manifest_is_400_manifest_invalid(client, body, why):
    response = client.put("/v2/demo/app/manifests/v1", data=body, headers={"Content-Type": OCI_MANIFEST})
    assert_error(response, 400, "MANIFEST_INVALID")


@pytest.mark.parametrize("media_type", [DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST])
def test_every_supported_manifest_type_is_accepted_and_served_with_its_media_type(client, registry, media_type):
    if media_type in (DOCKER_MANIFEST_LIST, OCI_INDEX):
        child = image("child", media_type=DOCKER_MANIFEST if media_type == DOCKER_MANIFEST_LIST else OCI_MANIFEST)
        push(registry, "demo/app", child)
        content = index([child], media_type=media_type)
    else:
        content = image(media_type=media_type)
        for data in content.blobs.values():
            registry.push_blob("demo/app", data)
    assert put_manifest(client, "demo/app", "v1", content).status_code == 201
    response = client.get("/v2/demo/app/manifests/v1")
    assert response.headers["Content-Type"] == media_type
    assert response.data == content.body


def test_manifest_put_if_match_with_stale_etag_is_412(client, blobs_of):
    first, second = blobs_of("demo/app", image("one")), blobs_of("demo/app", image("two"))
    put_manifest(client, "demo/app", "v1", first)
    response = client.put("/v2/demo/app/manifests/v1", data=second.body,
                          headers={"Content-Type": OCI_MANIFEST, "If-Match": f'"{second.digest}"'})
    assert_error(response, 412, "DENIED")
    assert client.get("/v2/demo/app/manifests/v1").data == first.body


# -- concurrent requests on one session ------------------------------------------------------

def test_chunk_racing_the_closing_put_never_changes_the_stored_blob():
    for _ in range(30):
        registry = Registry()
        client = Client(registry)
        location = start_upload(client, "race/app")
        chunks(location, client, DATA)
        session = registry.store.upload("race/app", location.rsplit("/", 1)[1])
        answers = {}
        with session.lock:  # both requests queue on the session's lock, then race for it
            threads = [
                threading.Thread(target=lambda to, app, url: to.update(put=Client(app).put(
                    f"{url}?digest={sha256(DATA)}").status_code), args=(answers, registry, location)),
                threading.Thread(target=lambda to, app, url: to.update(patch=Client(app).patch(
                    url, data=b"late").status_code), args=(answers, registry, location)),
            ]
            for thread in threads:
                thread.start()
            time.sleep(0.002)
        for thread in threads:
            thread.join(5)
        if answers["put"] == 201:  # the chunk came second: its session was gone
            assert answers["patch"] == 404
            assert registry.blob("race/app", sha256(DATA)) == DATA
        else:  # the chunk came first, so the content no longer has that digest
            assert (answers["patch"], answers["put"]) == (202, 400)


def test_uploads_in_parallel_threads_all_arrive():
    registry = Registry()
    payloads = [f"blob {i}".encode() * 1000 for i in range(16)]

    def push_one(data: bytes) -> None:
        client = Client(registry)
        location = start_upload(client, "parallel/app")
        half = len(data) // 2
        chunks(location, client, data[:half], data[half:])
        assert client.put(f"{location}?digest={sha256(data)}").status_code == 201

    threads = [threading.Thread(target=push_one, args=(data,)) for data in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert all(registry.blob("parallel/app", sha256(data)) == data for data in payloads)
    assert registry.store.uploads == {}
