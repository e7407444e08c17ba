"""The request journal: what it records, how it stays bounded, and its registry-speaking answers."""

import io
import json

import pytest
from registry_helpers import sha256
from werkzeug.test import Client

from mockreg.content import build_artifact, push_image
from mockreg.http import Response
from mockreg.journal import CHUNKED, MOUNT, POST_PUT, SINGLE_POST, Journal, attach
from mockreg.layers import Layer
from mockreg.reference import referrers_tag


@pytest.fixture
def journal(registry):
    return attach(registry)


@pytest.fixture
def client(registry):
    return Client(registry)


def upload_chunked(client, name: str, chunks) -> str:
    data = b"".join(chunks)
    location = client.post(f"/v2/{name}/blobs/uploads/").headers["Location"]
    for offset, chunk in _offsets(chunks):
        response = client.patch(location, data=chunk, headers={
            "Content-Range": f"{offset}-{offset + len(chunk) - 1}", "Content-Type": "application/octet-stream"})
        location = response.headers["Location"]
    assert client.put(f"{location}?digest={sha256(data)}").status_code == 201
    return sha256(data)


def _offsets(chunks):
    offset = 0
    for chunk in chunks:
        yield offset, chunk
        offset += len(chunk)


def test_an_entry_holds_method_path_query_route_repository_digest_and_status(client, journal):
    data = b"layer bytes"
    client.post(f"/v2/demo/app/blobs/uploads/?digest={sha256(data)}", data=data,
                headers={"Content-Type": "application/octet-stream"})
    client.get(f"/v2/demo/app/blobs/{sha256(data)}", headers={"Range": "bytes=0-4"})

    upload, ranged = journal.entries
    assert (upload.method, upload.path, upload.query) == ("POST", "/v2/demo/app/blobs/uploads/",
                                                          f"digest={sha256(data)}")
    assert (upload.kind, upload.repository, upload.digest, upload.status) == (
        "blob-upload-start", "demo/app", sha256(data), 201)
    assert upload.request_bytes == len(data)
    assert upload.request_headers["Content-Type"] == "application/octet-stream"
    assert (ranged.kind, ranged.status, ranged.response_bytes) == ("blob-get", 206, 5)
    assert ranged.request_headers["Range"] == "bytes=0-4"
    assert ranged.header("content-range") == f"bytes 0-4/{len(data)}"
    assert upload.seq < ranged.seq and upload.time <= ranged.time


def test_a_manifest_entry_knows_its_tag_and_the_digest_the_registry_answered(client, registry, journal):
    image = push_image(registry, "demo/app:1.0")
    client.get("/v2/demo/app/manifests/1.0", headers={"Accept": image.media_type})
    head = client.head("/v2/demo/app/manifests/1.0")

    get = journal.entries[0]
    assert (get.tag, get.reference, get.digest) == ("1.0", "1.0", image.digest)
    assert get.request_headers["Accept"] == image.media_type
    assert get.response_bytes == len(image.manifest)
    assert head.status_code == 200 and journal.entries[1].response_bytes == 0


def test_an_unrouted_request_is_recorded_without_a_route(client, journal):
    client.get("/not/the/api")
    entry = journal.entries[0]
    assert (entry.kind, entry.repository, entry.status) == (None, None, 404)
    assert "unrouted" in str(entry)


def test_a_streamed_body_without_length_is_counted_as_the_registry_reads_it(registry, journal):
    location = Client(registry).post("/v2/demo/app/blobs/uploads/").headers["Location"]
    environ = {"REQUEST_METHOD": "PATCH", "PATH_INFO": location, "QUERY_STRING": "",
               "wsgi.input": io.BytesIO(b"x" * 3000), "wsgi.input_terminated": True,
               "HTTP_TRANSFER_ENCODING": "chunked"}
    list(registry(environ, lambda status, headers: None))
    assert journal.entries[-1].kind == "blob-upload-patch"
    assert journal.entries[-1].request_bytes == 3000


def test_the_journal_sees_the_final_response_of_later_layers(registry, client):
    class Unavailable(Layer):
        def after(self, registry, request, match, response):
            return Response(503, [("Content-Length", "0")], b"")

    registry.layers.append(Unavailable())
    journal = attach(registry)
    assert registry.layers[0] is journal
    client.get("/v2/")
    assert journal.entries[0].status == 503


def test_attach_returns_the_existing_journal_and_moves_it_first(registry):
    journal = Journal()
    other = Layer()
    registry.layers[:] = [other, journal]
    assert attach(registry) is journal
    assert registry.layers == [journal, other]


def test_the_journal_is_bounded_and_says_how_much_it_dropped(registry, client):
    journal = attach(registry, maxlen=3)
    for _ in range(5):
        client.get("/v2/")
    assert len(journal) == 3 and journal.dropped == 2
    assert [e.seq for e in journal] == [3, 4, 5]
    assert "last 3 of 5" in journal.describe()
    with pytest.raises(ValueError):
        Journal(maxlen=0)


def test_filter_and_count_select_by_kind_repository_method_and_status(registry, client, journal):
    push_image(registry, "a/one:1")
    client.get("/v2/a/one/manifests/1")
    client.get("/v2/a/one/manifests/missing")
    client.head("/v2/a/one/manifests/1")
    client.get("/v2/b/two/tags/list")
    assert journal.count("manifest-get") == 2
    assert journal.count("manifest-get", status=404) == 1
    assert journal.count(method="HEAD") == 1
    assert journal.count(repository="b/two") == 1
    assert journal.count(where=lambda e: e.status >= 400) == 2
    journal.clear()
    assert len(journal) == 0


def test_pushed_and_pulled_tags_manifests_and_blobs(registry, client, journal):
    config, layer = b"{}", b"layer"
    for blob in (config, layer):
        client.post(f"/v2/demo/app/blobs/uploads/?digest={sha256(blob)}", data=blob)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha256(config), "size": 2},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": sha256(layer), "size": 5}]}).encode()
    client.put("/v2/demo/app/manifests/1.0?tag=latest", data=manifest,
               headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    client.get("/v2/demo/app/manifests/latest")
    client.get(f"/v2/demo/app/blobs/{sha256(layer)}")

    assert journal.pushed_tags() == ["demo/app:1.0", "demo/app:latest"]
    assert journal.pushed_manifests("demo/app") == [f"demo/app@{sha256(manifest)}"]
    assert journal.pushed_blobs() == [f"demo/app@{sha256(config)}", f"demo/app@{sha256(layer)}"]
    assert journal.pulled_tags() == ["demo/app:latest"]
    assert journal.pulled_manifests() == [f"demo/app@{sha256(manifest)}"]
    assert journal.pulled_blobs() == [f"demo/app@{sha256(layer)}"]
    assert journal.pushed_tags("other/repo") == []
    journal.assert_pushed("demo/app:latest")
    journal.assert_pushed(f"demo/app@{sha256(layer)}")
    journal.assert_pulled("demo/app:latest")
    journal.assert_pulled(f"demo/app@{sha256(layer)}")


def test_how_each_blob_arrived(registry, client, journal):
    single = b"single post"
    client.post(f"/v2/demo/app/blobs/uploads/?digest={sha256(single)}", data=single)
    two_step = b"post then put"
    location = client.post("/v2/demo/app/blobs/uploads/").headers["Location"]
    client.put(f"{location}?digest={sha256(two_step)}", data=two_step)
    chunked = upload_chunked(client, "demo/app", [b"first-", b"second-", b"third"])
    client.post(f"/v2/demo/copy/blobs/uploads/?mount={sha256(single)}&from=demo/app")

    uploads = {u.digest: u for u in journal.blob_uploads("demo/app")}
    assert uploads[sha256(single)].how == SINGLE_POST
    assert uploads[sha256(two_step)].how == POST_PUT
    assert (uploads[chunked].how, uploads[chunked].chunks) == (CHUNKED, 3)
    assert [e.kind for e in uploads[chunked].entries] == (
        ["blob-upload-start"] + ["blob-upload-patch"] * 3 + ["blob-upload-put"])
    assert journal.blob_upload("demo/copy", sha256(single)).how == MOUNT
    assert journal.assert_blob_uploaded("demo/app", chunked, how=CHUNKED).chunks == 3
    assert journal.blob_upload("demo/app", sha256(b"never")) is None


def test_a_failed_upload_is_no_arrival(client, journal):
    client.post(f"/v2/demo/app/blobs/uploads/?digest={sha256(b'other')}", data=b"not other")
    assert journal.blob_uploads() == []
    assert journal.count("blob-upload-start", status=400) == 1


def test_whether_the_referrers_fallback_tag_was_written(registry, client, journal):
    image = push_image(registry, "demo/app:1.0")
    artifact = build_artifact("application/vnd.example.sbom", [b"sbom"], subject=image)
    for blob in artifact.blobs:
        registry.push_blob("demo/app", blob.data)
    client.put(f"/v2/demo/app/manifests/{artifact.digest}", data=artifact.manifest,
               headers={"Content-Type": artifact.media_type})
    assert not journal.referrers_tag_written("demo/app", image.digest)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [artifact.descriptor.as_dict()]}
    client.put(f"/v2/demo/app/manifests/{referrers_tag(image.digest)}", json=index,
               headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
    assert journal.referrers_tag_written("demo/app", image.digest)
    journal.assert_referrers_tag_written("demo/app", image.digest)


def test_assert_pushed_failure_shows_what_was_pushed(registry, client, journal):
    push_image(registry, "demo/app:seed")
    image = registry.manifest("demo/app", "seed")
    client.put("/v2/demo/app/manifests/2.0", data=image.body, headers={"Content-Type": image.media_type})
    with pytest.raises(AssertionError) as failure:
        journal.assert_pushed("demo/app:1.0")
    message = str(failure.value)
    assert "demo/app:1.0 was not pushed" in message
    assert "tags pushed: demo/app:2.0" in message
    assert "PUT /v2/demo/app/manifests/2.0 -> 201 (manifest-put)" in message


def test_assert_count_failure_lists_the_matching_requests(client, journal):
    client.get("/v2/demo/app/tags/list")
    with pytest.raises(AssertionError) as failure:
        journal.assert_count("tags-list", 2, repository="demo/app")
    message = str(failure.value)
    assert "expected 2 tags-list request(s), repository='demo/app', saw 1" in message
    assert "GET /v2/demo/app/tags/list -> 404 (tags-list)" in message
    journal.assert_count("tags-list", 1)


def test_assert_blob_uploaded_failure_names_how_it_did_arrive(client, journal):
    data = b"abc"
    client.post(f"/v2/demo/app/blobs/uploads/?digest={sha256(data)}", data=data)
    with pytest.raises(AssertionError) as failure:
        journal.assert_blob_uploaded("demo/app", sha256(data), how=CHUNKED)
    assert "It arrived by single-post" in str(failure.value)
    with pytest.raises(AssertionError, match="referrers fallback tag sha256-"):
        journal.assert_referrers_tag_written("demo/app", sha256(data))
    with pytest.raises(AssertionError, match="was not pulled"):
        journal.assert_pulled("demo/app:1.0")
    with pytest.raises(ValueError):
        journal.assert_pushed("no-tag-or-digest")
