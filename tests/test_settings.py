"""Each optional behaviour switched off answers the way the spec tells clients to detect it.

One test per switch of `Settings`; the defaults ("everything on") are covered by the section tests.
"""

from __future__ import annotations

import json

import pytest
from registry_helpers import (
    assert_error,
    image,
    push,
    put_manifest,
    sha256,
    sha512,
    start_upload,
    upload,
)
from werkzeug.test import Client

from mockreg import Registry, Settings

DATA = b"switchable"


def client_for(**settings) -> Client:
    return Client(Registry(**settings))


def test_defaults_switch_every_optional_api_on():
    settings = Settings()
    for name in ("blob_delete", "manifest_delete", "tag_delete", "referrers", "anonymous_mount", "upload_cancel",
                 "single_post_upload", "digest_headers", "tag_query_params", "sha512", "catalog"):
        assert getattr(settings, name) is True, name
    assert settings.sparse_manifests is False
    assert (settings.chunk_min_length, settings.referrers_page_size) == (0, 0)
    assert settings.manifest_size_limit == 4 * 1024 * 1024


def test_blob_delete_off_is_405_with_allow():
    registry = Registry(blob_delete=False)
    digest = registry.push_blob("demo/app", DATA)
    response = Client(registry).delete(f"/v2/demo/app/blobs/{digest}")
    assert_error(response, 405, "UNSUPPORTED")
    assert response.headers["Allow"] == "GET, HEAD"
    assert registry.blob("demo/app", digest) == DATA


def test_manifest_delete_off_is_405_by_digest_while_tags_still_delete():
    registry = Registry(manifest_delete=False)
    content = image()
    push(registry, "demo/app", content, tags=["v1"])
    client = Client(registry)
    response = client.delete(f"/v2/demo/app/manifests/{content.digest}")
    assert_error(response, 405, "UNSUPPORTED")
    assert response.headers["Allow"] == "GET, HEAD, PUT"
    assert client.delete("/v2/demo/app/manifests/v1").status_code == 202
    assert client.get(f"/v2/demo/app/manifests/{content.digest}").status_code == 200


def test_tag_delete_off_is_405_by_tag_while_manifests_still_delete():
    registry = Registry(tag_delete=False)
    content = image()
    push(registry, "demo/app", content, tags=["v1"])
    client = Client(registry)
    response = client.delete("/v2/demo/app/manifests/v1")
    assert_error(response, 405, "UNSUPPORTED")
    assert response.headers["Allow"] == "GET, HEAD, PUT"
    assert registry.tags("demo/app") == ["v1"]
    assert client.delete(f"/v2/demo/app/manifests/{content.digest}").status_code == 202


def test_referrers_off_is_404_on_the_referrers_route_and_no_oci_subject():
    registry = Registry(referrers=False)
    client = Client(registry)
    subject = image("subject")
    push(registry, "demo/app", subject)
    signature = image("sig", subject=subject.descriptor())
    for data in signature.blobs.values():
        registry.push_blob("demo/app", data)
    pushed = put_manifest(client, "demo/app", signature.digest, signature)
    assert pushed.status_code == 201
    assert "OCI-Subject" not in pushed.headers
    assert_error(client.get(f"/v2/demo/app/referrers/{subject.digest}"), 404, "UNSUPPORTED")
    assert_error(client.get("/v2/demo/app/referrers/not-even-a-digest"), 404, "UNSUPPORTED")


def test_anonymous_mount_off_answers_202_without_from_while_from_still_mounts():
    registry = Registry(anonymous_mount=False)
    digest = registry.push_blob("source/repo", DATA)
    client = Client(registry)
    anonymous = client.post(f"/v2/target/repo/blobs/uploads/?mount={digest}")
    assert anonymous.status_code == 202
    assert "/blobs/uploads/" in anonymous.headers["Location"]
    assert client.head(f"/v2/target/repo/blobs/{digest}").status_code == 404
    assert client.post(f"/v2/target/repo/blobs/uploads/?mount={digest}&from=source/repo").status_code == 201


def test_upload_cancel_off_is_405_and_the_session_survives():
    client = client_for(upload_cancel=False)
    location = start_upload(client, "demo/app")
    response = client.delete(location)
    assert_error(response, 405, "UNSUPPORTED")
    assert response.headers["Allow"] == "GET, PATCH, PUT"
    assert client.get(location).status_code == 204


def test_single_post_upload_off_answers_202_and_the_put_completes():
    registry = Registry(single_post_upload=False)
    client = Client(registry)
    response = client.post(f"/v2/demo/app/blobs/uploads/?digest={sha256(DATA)}", data=DATA)
    assert response.status_code == 202
    assert not registry.has_blob("demo/app", sha256(DATA))
    finished = client.put(f"{response.headers['Location']}?digest={sha256(DATA)}", data=DATA)
    assert finished.status_code == 201


def test_digest_headers_off_sends_no_docker_content_digest():
    registry = Registry(digest_headers=False)
    client = Client(registry)
    content = image()
    push(registry, "demo/app", content, tags=["v1"])
    responses = [
        upload(client, "demo/app", DATA),
        client.get(f"/v2/demo/app/blobs/{sha256(DATA)}"),
        client.head(f"/v2/demo/app/blobs/{sha256(DATA)}"),
        client.get("/v2/demo/app/manifests/v1"),
        client.head("/v2/demo/app/manifests/v1"),
        put_manifest(client, "demo/app", "v2", content),
    ]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200, 201]
    assert all("Docker-Content-Digest" not in r.headers for r in responses)


def test_tag_query_params_off_ignores_tag_parameters_and_sends_no_oci_tag():
    registry = Registry(tag_query_params=False)
    content = image()
    for data in content.blobs.values():
        registry.push_blob("demo/app", data)
    response = put_manifest(Client(registry), "demo/app", content.digest, content, "?tag=a&tag=b")
    assert response.status_code == 201
    assert "OCI-Tag" not in response.headers
    assert registry.tags("demo/app") == []


def test_sha512_off_rejects_sha512_everywhere_with_400():
    registry = Registry(sha512=False)
    client = Client(registry)
    content = image()
    for data in content.blobs.values():
        registry.push_blob("demo/app", data)
    assert_error(client.post("/v2/demo/app/blobs/uploads/?digest-algorithm=sha512"), 400, "DIGEST_INVALID")
    assert_error(client.post(f"/v2/demo/app/blobs/uploads/?digest={sha512(DATA)}", data=DATA), 400,
                 "DIGEST_INVALID")
    location = start_upload(client, "demo/app")
    assert_error(client.put(f"{location}?digest={sha512(DATA)}", data=DATA), 400, "DIGEST_INVALID")
    assert_error(client.get(f"/v2/demo/app/blobs/{sha512(DATA)}"), 400, "DIGEST_INVALID")
    assert_error(put_manifest(client, "demo/app", sha512(content.body), content), 400, "DIGEST_INVALID")
    assert registry.tags("demo/app") == [] and client.get(location).status_code == 204


def test_sparse_manifests_on_accepts_missing_blobs_and_children():
    registry = Registry(sparse_manifests=True)
    client = Client(registry)
    content = image()
    assert put_manifest(client, "demo/app", "v1", content).status_code == 201
    assert client.get("/v2/demo/app/manifests/v1").data == content.body
    assert client.head(f"/v2/demo/app/blobs/{content.json['layers'][0]['digest']}").status_code == 404


def test_chunk_min_length_is_advertised_on_post_when_set():
    with_minimum = client_for(chunk_min_length=1024).post("/v2/demo/app/blobs/uploads/")
    without = client_for().post("/v2/demo/app/blobs/uploads/")
    assert with_minimum.headers["OCI-Chunk-Min-Length"] == "1024"
    assert "OCI-Chunk-Min-Length" not in without.headers


def test_chunk_min_length_does_not_reject_a_short_final_chunk():
    client = client_for(chunk_min_length=1024)
    location = start_upload(client, "demo/app")
    assert client.patch(location, data=DATA, headers={"Content-Range": f"0-{len(DATA) - 1}"}).status_code == 202
    assert client.put(f"{location}?digest={sha256(DATA)}").status_code == 201


def test_manifest_size_limit_answers_413_past_it_and_zero_means_no_limit():
    content = image(annotations={"padding": "x" * 5000})
    for limit, status in [(len(content.body), 201), (len(content.body) - 1, 413), (0, 201)]:
        registry = Registry(manifest_size_limit=limit)
        for data in content.blobs.values():
            registry.push_blob("demo/app", data)
        assert put_manifest(Client(registry), "demo/app", "v1", content).status_code == status, limit


def test_max_upload_size_answers_413_and_keeps_the_session():
    client = client_for(max_upload_size=10)
    location = start_upload(client, "demo/app")
    assert client.patch(location, data=b"12345").status_code == 202
    assert_error(client.patch(location, data=b"678901"), 413, "SIZE_INVALID")
    assert client.get(location).headers["Range"] == "0-4"
    assert_error(client.post(f"/v2/demo/app/blobs/uploads/?digest={sha256(b'x' * 11)}", data=b"x" * 11), 413,
                 "SIZE_INVALID")


def test_referrers_page_size_splits_the_list_with_a_link():
    registry = Registry(referrers_page_size=1)
    subject = image("subject")
    push(registry, "demo/app", subject)
    for seed in ("a", "b"):
        push(registry, "demo/app", image(seed, subject=subject.descriptor()))
    response = Client(registry).get(f"/v2/demo/app/referrers/{subject.digest}")
    assert len(json.loads(response.data)["manifests"]) == 1
    assert response.headers["Link"].endswith('>; rel="next"')


def test_catalog_off_is_404():
    assert_error(client_for(catalog=False).get("/v2/_catalog"), 404, "UNSUPPORTED")


def test_configure_switches_behaviour_at_run_time():
    registry = Registry()
    client = Client(registry)
    assert client.get(f"/v2/demo/app/referrers/{sha256(b'x')}").status_code == 200
    registry.configure(referrers="false")
    assert client.get(f"/v2/demo/app/referrers/{sha256(b'x')}").status_code == 404


@pytest.mark.parametrize("changes", [{"no_such_switch": True}, {"referrers": "maybe"}, {"chunk_min_length": -1}])
def test_unknown_setting_or_wrong_value_is_a_value_error(changes):
    with pytest.raises(ValueError):
        Registry(**changes)


def test_settings_never_leak_between_registries():
    off, on = Registry(blob_delete=False), Registry()
    digest = on.push_blob("demo/app", DATA)
    assert Client(on).delete(f"/v2/demo/app/blobs/{digest}").status_code == 202
    assert Client(off).delete(f"/v2/demo/app/blobs/{off.push_blob('demo/app', DATA)}").status_code == 405
