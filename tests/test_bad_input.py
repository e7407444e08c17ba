"""Bad input gets the spec's error JSON with the right status and code, never a 500, and a failing
request leaves the store exactly as it was. Also: names whose components look like routes."""

from __future__ import annotations

import io
import json
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from registry_helpers import (
    OCI_MANIFEST,
    SPEC_ERROR_CODES,
    assert_error,
    image,
    index,
    push,
    put_manifest,
    sha256,
    snapshot,
    start_upload,
    upload,
)
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request

from mockreg import Registry
from mockreg.server import LiveServer

DATA = b"some bytes"
DIGEST = sha256(DATA)

# -- names that look like routes -----------------------------------------------------------------

ROUTE_LIKE_NAMES = [
    "a/blobs/manifests", "x/tags/list", "foo/blobs/uploads", "r/referrers/z", "m/manifests/n",
    "b/blobs", "u/blobs/uploads/blobs/uploads", "tags/list/manifests/blobs", "v2/catalog",
]


@pytest.mark.parametrize("name", ROUTE_LIKE_NAMES)
def test_route_like_name_works_for_upload_routes(client, registry, name):
    location = start_upload(client, name)
    assert location.startswith(f"/v2/{name}/blobs/uploads/")
    assert client.patch(location, data=DATA[:4], headers={"Content-Range": "0-3"}).status_code == 202
    assert client.get(location).headers["Range"] == "0-3"
    assert client.put(f"{location}?digest={DIGEST}", data=DATA[4:]).status_code == 201
    cancelled = start_upload(client, name)
    assert client.delete(cancelled).status_code == 204
    assert client.post(f"/v2/{name}/blobs/uploads/?digest={DIGEST}", data=DATA).status_code == 201
    assert registry.blob(name, DIGEST) == DATA


@pytest.mark.parametrize("name", ROUTE_LIKE_NAMES)
def test_route_like_name_works_for_blob_routes(client, registry, name):
    registry.push_blob(name, DATA)
    assert client.get(f"/v2/{name}/blobs/{DIGEST}").data == DATA
    assert client.head(f"/v2/{name}/blobs/{DIGEST}").headers["Content-Length"] == str(len(DATA))
    assert client.delete(f"/v2/{name}/blobs/{DIGEST}").status_code == 202
    assert not registry.has_blob(name, DIGEST)


@pytest.mark.parametrize("name", ROUTE_LIKE_NAMES)
def test_route_like_name_works_for_manifest_and_tag_routes(client, registry, name):
    content = image()
    for data in content.blobs.values():
        registry.push_blob(name, data)
    assert put_manifest(client, name, "v1", content).status_code == 201
    assert put_manifest(client, name, content.digest, content, "?tag=v2").headers["OCI-Tag"] == "v2"
    assert client.get(f"/v2/{name}/manifests/v1").data == content.body
    assert client.head(f"/v2/{name}/manifests/{content.digest}").status_code == 200
    assert json.loads(client.get(f"/v2/{name}/tags/list").data) == {"name": name, "tags": ["v1", "v2"]}
    assert client.delete(f"/v2/{name}/manifests/v1").status_code == 202
    assert client.delete(f"/v2/{name}/manifests/{content.digest}").status_code == 202
    assert registry.tags(name) == []


@pytest.mark.parametrize("name", ROUTE_LIKE_NAMES)
def test_route_like_name_works_for_referrers_mount_and_catalog(client, registry, name):
    subject = image("subject")
    push(registry, name, subject)
    signature = image("sig", subject=subject.descriptor())
    push(registry, name, signature)
    listed = json.loads(client.get(f"/v2/{name}/referrers/{subject.digest}").data)["manifests"]
    assert [m["digest"] for m in listed] == [signature.digest]
    registry.push_blob("plain/source", DATA)
    assert client.post(f"/v2/{name}/blobs/uploads/?mount={DIGEST}&from=plain/source").status_code == 201
    assert client.post(f"/v2/plain/target/blobs/uploads/?mount={DIGEST}&from={name}").status_code == 201
    assert name in json.loads(client.get("/v2/_catalog").data)["repositories"]


def test_name_of_255_characters_is_accepted(client, registry):
    name = "/".join(["a" * 50] * 5) + "b"
    assert len(name) == 255
    assert upload(client, name, DATA).status_code == 201


# -- invalid names -------------------------------------------------------------------------------

INVALID_NAMES = ["Upper/case", "a//b", "-lead", "trail-", "a..b", "a___b", "a/.b",
                 "a" * 256, "/".join(["a" * 50] * 5) + "bc"]  # grammatical but over 255 characters

ROUTES = [
    ("GET", "/v2/{name}/tags/list"),
    ("GET", "/v2/{name}/manifests/latest"),
    ("HEAD", f"/v2/{{name}}/manifests/{DIGEST}"),
    ("PUT", "/v2/{name}/manifests/latest"),
    ("DELETE", "/v2/{name}/manifests/latest"),
    ("GET", f"/v2/{{name}}/blobs/{DIGEST}"),
    ("DELETE", f"/v2/{{name}}/blobs/{DIGEST}"),
    ("POST", "/v2/{name}/blobs/uploads/"),
    ("PATCH", "/v2/{name}/blobs/uploads/0123456789abcdef"),
    ("PUT", f"/v2/{{name}}/blobs/uploads/0123456789abcdef?digest={DIGEST}"),
    ("GET", "/v2/{name}/blobs/uploads/0123456789abcdef"),
    ("DELETE", "/v2/{name}/blobs/uploads/0123456789abcdef"),
    ("GET", f"/v2/{{name}}/referrers/{DIGEST}"),
]


@pytest.mark.parametrize("name", INVALID_NAMES)
@pytest.mark.parametrize("method, path", ROUTES, ids=[f"{m} {p.split('}')[1]}" for m, p in ROUTES])
def test_invalid_name_is_400_name_invalid_on_every_route(client, name, method, path):
    response = client.open(path.format(name=name), method=method)
    if method == "HEAD":
        assert response.status_code == 400 and response.data == b""
    else:
        assert_error(response, 400, "NAME_INVALID")


def test_mount_from_an_invalid_name_is_400_name_invalid(client):
    assert_error(client.post(f"/v2/good/name/blobs/uploads/?mount={DIGEST}&from=Bad/Name"), 400, "NAME_INVALID")


def test_name_invalid_detail_names_the_repository(client):
    error = assert_error(client.get("/v2/Bad/tags/list"), 400, "NAME_INVALID")
    assert error["detail"] == {"name": "Bad"}


# -- invalid tags and digests ----------------------------------------------------------------------

INVALID_TAGS = ["-lead", ".lead", "a" * 129, "a+b", "tag%20space", "ta*g"]


@pytest.mark.parametrize("tag", INVALID_TAGS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_invalid_tag_is_400_manifest_invalid(client, tag, method):
    assert_error(client.open(f"/v2/demo/app/manifests/{tag}", method=method, data=image().body,
                             headers={"Content-Type": OCI_MANIFEST}), 400, "MANIFEST_INVALID")


def test_tag_of_128_characters_is_accepted(client, registry):
    content = image()
    for data in content.blobs.values():
        registry.push_blob("demo/app", data)
    assert put_manifest(client, "demo/app", "a" * 128, content).status_code == 201


MALFORMED_DIGESTS = [
    "sha256:abc",                       # too short
    "sha256:" + "A" * 64,               # upper-case hex
    "sha256:" + "g" * 64,               # not hex
    ":" + "a" * 64,                     # no algorithm
    "sha256:",                          # no encoded part
    "md5:" + "a" * 32,                  # an algorithm the registry does not know
    "sha384:" + "a" * 96,
]


@pytest.mark.parametrize("digest", MALFORMED_DIGESTS)
@pytest.mark.parametrize("method, path", [
    ("GET", "/v2/demo/app/blobs/{digest}"),
    ("DELETE", "/v2/demo/app/blobs/{digest}"),
    ("GET", "/v2/demo/app/manifests/{digest}"),
    ("DELETE", "/v2/demo/app/manifests/{digest}"),
    ("PUT", "/v2/demo/app/manifests/{digest}"),
    ("GET", "/v2/demo/app/referrers/{digest}"),
    ("POST", "/v2/demo/app/blobs/uploads/?digest={digest}"),
    ("POST", "/v2/demo/app/blobs/uploads/?mount={digest}&from=demo/other"),
])
def test_malformed_or_unsupported_digest_is_400_digest_invalid(client, digest, method, path):
    response = client.open(path.format(digest=digest), method=method, data=DATA,
                           headers={"Content-Type": OCI_MANIFEST})
    assert_error(response, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("digest", MALFORMED_DIGESTS)
def test_closing_put_with_malformed_digest_is_400_digest_invalid(client, digest):
    location = start_upload(client, "demo/app")
    assert_error(client.put(f"{location}?digest={digest}", data=DATA), 400, "DIGEST_INVALID")


# -- unknown routes and wrong methods --------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/v1/", "/v3/", "/favicon.ico", "/v2/demo/app", "/v2/demo/app/tags",
                                  "/v2/demo/app/manifests", "/v2/demo/app/blobs", "/v2/demo/app/unknown/thing"])
def test_unknown_route_is_404_with_error_json(client, path):
    assert_error(client.get(path), 404, "UNSUPPORTED")


@pytest.mark.parametrize("method, path, allow", [
    ("DELETE", "/v2/", "GET, HEAD"),
    ("POST", "/v2/_catalog", "GET"),
    ("PUT", "/v2/demo/app/tags/list", "GET"),
    ("POST", "/v2/demo/app/manifests/latest", "DELETE, GET, HEAD, PUT"),
    ("PATCH", f"/v2/demo/app/blobs/{DIGEST}", "DELETE, GET, HEAD"),
    ("GET", "/v2/demo/app/blobs/uploads/", "POST"),
    ("POST", "/v2/demo/app/blobs/uploads/0123abcd", "DELETE, GET, PATCH, PUT"),
    ("DELETE", f"/v2/demo/app/referrers/{DIGEST}", "GET"),
])
def test_wrong_method_is_405_with_allow(client, method, path, allow):
    response = client.open(path, method=method)
    assert_error(response, 405, "UNSUPPORTED")
    assert response.headers["Allow"] == allow


# -- malformed requests ----------------------------------------------------------------------------

def test_content_length_that_is_not_a_number_is_400_size_invalid(client):
    location = start_upload(client, "demo/app")
    environ = EnvironBuilder(path=location, method="PATCH").get_environ()
    environ.update({"CONTENT_LENGTH": "ten", "wsgi.input": io.BytesIO(DATA)})
    assert_error(client.open(Request(environ)), 400, "SIZE_INVALID")


def test_broken_chunk_framing_over_a_live_server_is_no_server_error():
    registry = Registry()
    with LiveServer(registry) as server:
        with socket.create_connection((server.host, server.port), timeout=5) as raw:
            raw.sendall(b"POST /v2/live/app/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            head = raw.recv(65536).decode("latin-1")
            location = next(line.split(": ", 1)[1] for line in head.split("\r\n") if line.startswith("Location"))
            raw.sendall(f"PATCH {location} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\nnot-hex\r\n".encode())
            raw.shutdown(socket.SHUT_WR)
            answer = b""
            while True:  # the server answers 400 or just hangs up; it must not fail inside
                data = raw.recv(65536)
                if not data:
                    break
                answer += data
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400")
        assert registry.server_errors == []
        assert Client(registry).get(location).headers["Range"] == "0-0"  # no byte of it kept


# -- state never half-written ----------------------------------------------------------------------

@pytest.fixture
def arranged(registry, client):
    """A repository with an image and a tag, and an upload session holding 4 bytes."""
    content = image("kept")
    push(registry, "demo/app", content, tags=["v1"])
    location = start_upload(client, "demo/app")
    assert client.patch(location, data=b"held", headers={"Content-Range": "0-3"}).status_code == 202
    return location, content


FAILING_REQUESTS = {
    "patch out of order": lambda c, loc, img: c.patch(loc, data=b"x", headers={"Content-Range": "9-9"}),
    "patch length differs from range": lambda c, loc, img: c.patch(loc, data=b"xy", headers={"Content-Range": "4-9"}),
    "patch malformed range": lambda c, loc, img: c.patch(loc, data=b"x", headers={"Content-Range": "x"}),
    "put digest mismatch with final chunk": lambda c, loc, img: c.put(f"{loc}?digest={DIGEST}", data=b"more"),
    "put final chunk out of order": lambda c, loc, img: c.put(f"{loc}?digest={DIGEST}", data=b"x",
                                                              headers={"Content-Range": "7-7"}),
    "put malformed digest": lambda c, loc, img: c.put(f"{loc}?digest=sha256:x", data=b"more"),
    "single post digest mismatch": lambda c, loc, img: c.post(f"/v2/demo/app/blobs/uploads/?digest={DIGEST}",
                                                              data=b"other"),
    "manifest missing blobs": lambda c, loc, img: put_manifest(c, "demo/app", "v1", image("absent")),
    "manifest missing child": lambda c, loc, img: put_manifest(c, "demo/app", "v1", index([image("absent")])),
    "manifest not json": lambda c, loc, img: c.put("/v2/demo/app/manifests/v1", data=b"{",
                                                   headers={"Content-Type": OCI_MANIFEST}),
    "manifest digest mismatch": lambda c, loc, img: put_manifest(c, "demo/app", DIGEST, img),
    "manifest bad tag parameter": lambda c, loc, img: put_manifest(c, "demo/app", img.digest, img, "?tag=v2&tag=.x"),
    "manifest media type mismatch": lambda c, loc, img: put_manifest(
        c, "demo/app", "v2", img, content_type="application/vnd.oci.image.index.v1+json"),
    "manifest with stale if-match": lambda c, loc, img: c.put(
        "/v2/demo/app/manifests/v1", data=img.body, headers={"Content-Type": OCI_MANIFEST, "If-Match": '"x"'}),
    "delete unknown manifest": lambda c, loc, img: c.delete(f"/v2/demo/app/manifests/{DIGEST}"),
    "delete unknown tag": lambda c, loc, img: c.delete("/v2/demo/app/manifests/v9"),
    "delete unknown blob": lambda c, loc, img: c.delete(f"/v2/demo/app/blobs/{DIGEST}"),
    "mount malformed digest": lambda c, loc, img: c.post("/v2/new/repo/blobs/uploads/?mount=sha256:x&from=demo/app"),
}


@pytest.mark.parametrize("case", sorted(FAILING_REQUESTS))
def test_failing_request_leaves_the_store_unchanged(client, registry, arranged, case):
    location, content = arranged
    before = snapshot(registry)
    response = FAILING_REQUESTS[case](client, location, content)
    assert 400 <= response.status_code < 500, response.data
    assert snapshot(registry) == before


def test_failing_manifest_put_over_the_size_limit_leaves_the_store_unchanged(client, registry, arranged):
    registry.configure(manifest_size_limit=64)
    before = snapshot(registry)
    assert put_manifest(client, "demo/app", "v2", arranged[1]).status_code == 413
    assert snapshot(registry) == before


# -- never a 500 -----------------------------------------------------------------------------------

SEGMENTS = st.sampled_from([
    "v2", "demo", "app", "blobs", "uploads", "manifests", "tags", "list", "referrers", "_catalog", DIGEST,
    "sha256:zz", "sha512:" + "a" * 128, "latest", "UPPER", "..", "a" * 300, "%ff", "", "x&digest=" + DIGEST,
])
QUERIES = st.lists(st.tuples(
    st.sampled_from(["digest", "mount", "from", "n", "last", "tag", "artifactType", "digest-algorithm", "x"]),
    st.sampled_from(["", DIGEST, "sha256:zz", "demo/app", "-1", "3", "latest", "sha512", "md5", "Bad"]),
), max_size=3)
HEADERS = st.dictionaries(
    st.sampled_from(["Content-Range", "Range", "Content-Type", "If-Match", "If-None-Match"]),
    st.sampled_from(["", "0-3", "bytes=0-3", "bytes 5-2", "*", OCI_MANIFEST, "bytes=-0", "garbage"]),
    max_size=3,
)


@settings(max_examples=400, deadline=None, database=None, derandomize=True)  # the same cases on every run
@given(method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"]),
       segments=st.lists(SEGMENTS, min_size=1, max_size=7), query=QUERIES, headers=HEADERS,
       body=st.sampled_from([b"", DATA, b"{}", image().body]))
def test_no_request_makes_a_server_error(method, segments, query, headers, body):
    registry = Registry()
    push(registry, "demo/app", image(), tags=["latest"])
    path = "/" + "/".join(segments)
    environ = EnvironBuilder(method=method, query_string=query, headers=headers, data=body).get_environ()
    environ["PATH_INFO"] = path  # as a server hands it over, "//" and ":" included
    response = Client(registry).open(Request(environ))
    assert response.status_code < 500, (method, path, response.data)
    assert registry.server_errors == []
    if response.status_code >= 400 and method != "HEAD":
        codes = {error["code"] for error in json.loads(response.data)["errors"]}
        assert codes <= SPEC_ERROR_CODES | {"EXTENSION_UNKNOWN"}  # the last from extensions/README.md
