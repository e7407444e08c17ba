"""Bad input not covered by test_bad_input.py, test_push.py, test_pull.py, the auth, layout and
scenario tests: hostile numbers (`n`, `Range`, `Content-Range`), overlapping chunks and chunks
after completion, over-long tags, deeply nested indexes, malformed credentials and tokens,
grammar-breaking extension names and hostile control-API bodies. Each gets the right status
and code, and leaves the state as it was.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
from registry_helpers import (
    OCI_INDEX,
    OCI_MANIFEST,
    assert_error,
    image,
    index,
    push,
    put_manifest,
    sha256,
    snapshot,
    start_upload,
)
from werkzeug.test import Client

from mockreg import Registry
from mockreg.layout import LayoutError, import_layout
from mockreg.scenario import Scenario, ScenarioError

BLOB = b"0123456789"
HUGE = "9" * 5000  # more digits than Python will parse (4300)


# -- n and last on every paginated route ----------------------------------------------------

@pytest.fixture
def listed(registry: Registry) -> Registry:
    registry.extensions.enable("search")
    for name in ["a/one", "b/two", "c/three"]:
        push(registry, name, image(name), tags=["t1", "t2", "t3"])
    return registry


PAGINATED = {"tags": "/v2/a/one/tags/list", "catalog": "/v2/_catalog", "search": "/v2/_oci/ext/search"}


def _items(route: str, response: Any) -> List[str]:
    body = json.loads(response.data)
    return body["tags"] if route == "tags" else body["repositories"]


@pytest.mark.parametrize("route", sorted(PAGINATED))
@pytest.mark.parametrize("n", ["-1", "abc", "1e3", " 1", "+1", "0x10", "1.0", "\u00b2", "\u0661", "1_0"])
def test_n_that_is_not_a_plain_whole_number_is_400_unsupported(client: Client, listed: Registry, route: str,
                                                                n: str) -> None:
    before = snapshot(listed)
    error = assert_error(client.get(PAGINATED[route], query_string={"n": n}), 400, "UNSUPPORTED")
    assert "n must be a non-negative integer" in error["detail"]
    assert snapshot(listed) == before


@pytest.mark.parametrize("route", sorted(PAGINATED))
@pytest.mark.parametrize("n", ["9" * 30, HUGE, "0" * 100 + "2"])
def test_huge_n_is_simply_more_than_there_is(client: Client, listed: Registry, route: str, n: str) -> None:
    response = client.get(PAGINATED[route], query_string={"n": n})
    assert response.status_code == 200
    expected = 2 if n.endswith("02") else 3
    assert len(_items(route, response)) == expected
    assert ("Link" in response.headers) == (expected == 2)


@pytest.mark.parametrize("route", sorted(PAGINATED))
@pytest.mark.parametrize("last", ["", "\u00fc", "%ff", "a" * 10_000, "\x00", "t2"])
def test_any_last_lists_what_sorts_after_it(client: Client, listed: Registry, route: str, last: str) -> None:
    response = client.get(PAGINATED[route], query_string={"last": last})
    assert response.status_code == 200
    everything = _items(route, client.get(PAGINATED[route]))
    assert _items(route, response) == [item for item in everything if item > last]


# -- Range and Content-Range with hostile numbers --------------------------------------------

@pytest.mark.parametrize("header, status, body", [
    (f"bytes=0-{HUGE}", 206, BLOB),          # past the end: up to the end
    (f"bytes=-{HUGE}", 206, BLOB),           # a suffix longer than the blob: all of it
    (f"bytes=3-{'0' * 100}7", 206, BLOB[3:8]),
    ("bytes=\u0661-\u0662", 200, BLOB),       # non-ASCII digits do not parse: Range ignored
    ("bytes=1-2, 4-5", 200, BLOB),           # several ranges: ignored, as RFC 9110 allows
])
def test_range_with_huge_or_foreign_numbers(client: Client, registry: Registry, header: str, status: int,
                                            body: bytes) -> None:
    digest = registry.push_blob("demo/app", BLOB)
    response = client.get(f"/v2/demo/app/blobs/{digest}", headers={"Range": header})
    assert (response.status_code, response.data) == (status, body)


def test_range_starting_past_any_size_is_416(client: Client, registry: Registry) -> None:
    digest = registry.push_blob("demo/app", BLOB)
    response = client.get(f"/v2/demo/app/blobs/{digest}", headers={"Range": f"bytes={HUGE}-"})
    assert_error(response, 416, "SIZE_INVALID")
    assert response.headers["Content-Range"] == f"bytes */{len(BLOB)}"


@pytest.fixture
def session(client: Client) -> str:
    """An upload holding 4 bytes."""
    location = start_upload(client, "demo/app")
    assert client.patch(location, data=b"held", headers={"Content-Range": "0-3"}).status_code == 202
    return location


@pytest.mark.parametrize("content_range, status, code", [
    (f"{HUGE}-{HUGE}", 416, "BLOB_UPLOAD_INVALID"),    # starts far past the upload's end
    (f"4-{HUGE}", 400, "SIZE_INVALID"),                # claims more bytes than the body has
    ("\u0664-\u0665", 400, "BLOB_UPLOAD_INVALID"),     # non-ASCII digits are malformed
    ("2-5", 416, "BLOB_UPLOAD_INVALID"),               # overlaps what the upload holds
    ("0-3", 416, "BLOB_UPLOAD_INVALID"),               # the first chunk again
    ("3-4", 416, "BLOB_UPLOAD_INVALID"),               # overlaps by one byte
])
def test_bad_or_overlapping_chunk_is_refused_and_the_upload_is_unchanged(
        client: Client, registry: Registry, session: str, content_range: str, status: int, code: str) -> None:
    before = snapshot(registry)
    response = client.patch(session, data=b"more", headers={"Content-Range": content_range})
    assert_error(response, status, code)
    if status == 416:
        assert response.headers["Range"] == "0-3"
    assert snapshot(registry) == before
    assert client.get(session).headers["Range"] == "0-3"


@pytest.mark.parametrize("ending", ["finished", "cancelled"])
@pytest.mark.parametrize("method", ["PATCH", "PUT", "GET", "DELETE"])
def test_chunks_and_calls_after_completion_are_404_blob_upload_unknown(
        client: Client, registry: Registry, session: str, ending: str, method: str) -> None:
    if ending == "finished":
        assert client.put(f"{session}?digest={sha256(b'held')}").status_code == 201
    else:
        assert client.delete(session).status_code == 204
    before = snapshot(registry)
    response = client.open(f"{session}?digest={sha256(b'heldmore')}", method=method, data=b"more",
                           headers={"Content-Range": "4-7"})
    assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")
    assert snapshot(registry) == before


# -- over-long tags --------------------------------------------------------------------------

@pytest.mark.parametrize("tag", ["a" * 129, "a" * 10_000])
def test_over_long_tag_is_refused_in_the_path_and_in_tag_parameters(client: Client, registry: Registry,
                                                                     tag: str) -> None:
    content = image()
    push(registry, "demo/app", content)
    before = snapshot(registry)
    assert_error(put_manifest(client, "demo/app", tag, content), 400, "MANIFEST_INVALID")
    assert_error(put_manifest(client, "demo/app", content.digest, content, f"?tag=ok&tag={tag}"),
                 400, "MANIFEST_INVALID")
    assert_error(client.get(f"/v2/demo/app/manifests/{tag}"), 400, "MANIFEST_INVALID")
    assert_error(client.delete(f"/v2/demo/app/manifests/{tag}"), 400, "MANIFEST_INVALID")
    assert snapshot(registry) == before


# -- nested indexes ----------------------------------------------------------------------------

def test_index_chains_over_http_are_checked_one_level_at_a_time(client: Client, registry: Registry) -> None:
    """Content addressing makes loops impossible (an index would need its own digest inside it);
    a long chain is fine, and an index naming one not pushed yet is MANIFEST_BLOB_UNKNOWN."""
    current = image("leaf")
    push(registry, "deep/app", current)
    for _ in range(100):
        current = index([current])
        assert put_manifest(client, "deep/app", current.digest, current).status_code == 201
    ahead = index([index([current])])
    before = snapshot(registry)
    assert_error(put_manifest(client, "deep/app", "ahead", ahead), 400, "MANIFEST_BLOB_UNKNOWN")
    assert snapshot(registry) == before


def _deep_layout(root: Path, depth: int) -> None:
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def write(data: bytes) -> str:
        (blobs / sha256(data).split(":")[1]).write_bytes(data)
        return sha256(data)

    leaf = image("leaf")
    for data in leaf.blobs.values():
        write(data)
    child: Dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": write(leaf.body), "size": len(leaf.body)}
    for _ in range(depth):
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]}).encode()
        child = {"mediaType": OCI_INDEX, "digest": write(body), "size": len(body)}
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    child["annotations"] = {"org.opencontainers.image.ref.name": "deep"}
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [child]}))


def test_layout_with_indexes_nested_too_deep_is_a_clear_error(tmp_path: Path, registry: Registry) -> None:
    _deep_layout(tmp_path / "ok", 60)
    assert import_layout(registry, tmp_path / "ok", "deep/ok").tags.keys() == {"deep"}
    _deep_layout(tmp_path / "deep", 1500)  # deep enough to exhaust Python's recursion
    before = snapshot(registry)
    with pytest.raises(LayoutError, match="nest more than 64 levels"):
        import_layout(registry, tmp_path / "deep", "deep/app")
    assert snapshot(registry) == before


def test_scenario_with_indexes_nested_too_deep_is_a_clear_error(tmp_path: Path) -> None:
    lines = ["version: 1", "repositories:", "  deep/app:", "    images:", "      - name: i0", "    indexes:"]
    for level in range(1000, 0, -1):  # top-down, so that building recurses all the way
        lines += [f"      - name: i{level}", f"        manifests: [i{level - 1}]"]
    path = tmp_path / "deep.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScenarioError, match="more than 64 levels deep"):
        Scenario.load(path)


# -- malformed credentials and tokens -----------------------------------------------------------

def _auth_registry(scheme: str) -> Registry:
    registry = Registry(control_api=True)
    registry.enable_auth(scheme=scheme, secret="s3cret", users=[
        {"name": "alice", "password": "pw", "access": {"team/*": "*"}},
        {"name": "root", "password": "pw", "admin": True}])
    return registry


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


MALFORMED_AUTHORIZATION = [
    "Basic \u00e9\u00e9",                        # not ASCII: base64 refuses it
    "Basic YWxpY2U6cHc\u00ff",
    "Basic " + _b64(b"\xff\xfe:\xfd"),            # base64 of bytes that are not UTF-8
    "Basic " + _b64("\u00e9:\u00fc".encode()),    # UTF-8, but no such user
    "Basic " + _b64(b"alice"),                    # no colon
    "Basic " + "A" * 100_000,                     # enormous
    "Bearer \u00e9.\u00e9.\u00e9",
    "Bearer " + "x" * 100_000,
    "Basic", "Bearer", "  ", "Token abc", "Basic " + _b64(b"alice:pw") + " trailing",
]


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
@pytest.mark.parametrize("header", MALFORMED_AUTHORIZATION, ids=range(len(MALFORMED_AUTHORIZATION)))
@pytest.mark.parametrize("path", ["/v2/team/app/tags/list", "/v2/", "/token", "/_mockreg/settings"])
def test_malformed_authorization_is_401_everywhere(scheme: str, header: str, path: str) -> None:
    registry = _auth_registry(scheme)
    if scheme == "basic" and path == "/token":
        return  # basic registries have no token endpoint
    response = Client(registry).get(path, headers={"Authorization": header})
    assert registry.server_errors == []
    assert response.status_code == 401, response.data
    assert json.loads(response.data)["errors"][0]["code"] == "UNAUTHORIZED"
    assert "WWW-Authenticate" in response.headers


def _tamper(token: str, part: int, change: Any) -> str:
    parts = token.split(".")
    parts[part] = change(parts[part])
    return ".".join(parts)


def _swap_claims(segment: str) -> str:
    claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    claims["access"] = [{"type": "repository", "name": "team/secret", "actions": ["pull", "push", "delete"]}]
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("forge", [
    lambda t: _tamper(t, 1, _swap_claims),                       # more access, old signature
    lambda t: _tamper(t, 2, lambda s: s[:-4]),                   # truncated signature
    lambda t: _tamper(t, 2, lambda s: ""),                       # no signature
    lambda t: _tamper(t, 0, lambda s: _b64(b'{"alg":"none"}').rstrip("=")),
    lambda t: t + ".extra",
    lambda t: t.replace(".", "", 1),
    lambda t: _tamper(t, 1, lambda s: "!!" + s),                 # not base64url
], ids=["claims", "truncated", "unsigned", "alg-none", "four-parts", "two-parts", "bad-base64"])
def test_tampered_token_is_401_invalid_token_and_grants_nothing(forge: Any) -> None:
    registry = _auth_registry("bearer")
    token = registry.auth.issue_token("alice", ["repository:team/app:pull"])
    client = Client(registry)
    assert client.get("/v2/team/app/tags/list", headers={"Authorization": f"Bearer {token}"}).status_code == 404
    for path in ["/v2/team/app/tags/list", "/v2/team/secret/tags/list"]:
        response = client.get(path, headers={"Authorization": f"Bearer {forge(token)}"})
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert registry.server_errors == []


# -- extension names and control-API bodies -----------------------------------------------------

@pytest.mark.parametrize("path, status, code", [
    ("/v2/_/a/b", 404, "EXTENSION_UNKNOWN"),
    ("/v2/_A/a/b", 404, "EXTENSION_UNKNOWN"),
    ("/v2/_a!/b/c", 404, "EXTENSION_UNKNOWN"),
    ("/v2/__x/a/b", 404, "EXTENSION_UNKNOWN"),
    ("/v2/demo/app/_x%00/a/b", 404, "EXTENSION_UNKNOWN"),
    ("/v2/Demo/_oci/ext/discover", 400, "NAME_INVALID"),
    ("/v2/_oci/ext/discover/more", 404, "UNSUPPORTED"),
    ("/v2/_oci/" + "x" * 5000 + "/y", 404, "UNSUPPORTED"),
])
def test_extension_paths_that_break_the_grammar(client: Client, path: str, status: int, code: str) -> None:
    response = client.get(path)
    if code != "EXTENSION_UNKNOWN":
        assert_error(response, status, code)
        return
    # assert_error knows the spec's list only; EXTENSION_UNKNOWN comes from extensions/README.md.
    assert response.status_code == status and response.headers["Content-Type"] == "application/json"
    assert [e["code"] for e in json.loads(response.data)["errors"]] == [code]


@pytest.mark.parametrize("path, body", [
    ("/_mockreg/clock", '{"advance": Infinity}'),
    ("/_mockreg/clock", '{"advance": NaN}'),
    ("/_mockreg/clock", '{"advance": 1e308}'),
    ("/_mockreg/clock", '{"freeze": -Infinity}'),
    ("/_mockreg/clock", '{"freeze": 1e300}'),
    ("/_mockreg/settings", '{"manifest_size_limit": Infinity}'),
    ("/_mockreg/settings", '{"max_upload_sessions": -1}'),
    ("/_mockreg/settings", '{"chunk_min_length": "' + HUGE + '"}'),
    ("/_mockreg/settings", "[1, 2]"),
    ("/_mockreg/faults", '{"status": 1e999}'),
    ("/_mockreg/rate-limits", '{"limit": NaN}'),
])
def test_hostile_control_api_bodies_are_400_and_change_nothing(path: str, body: str) -> None:
    registry = Registry(control_api=True)
    registry.clock.freeze(1000.0)
    settings_before = registry.settings
    client = Client(registry)
    response = client.post(path, data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "UNSUPPORTED")
    assert registry.server_errors == []
    assert registry.clock() == 1000.0 and registry.settings == settings_before
    assert client.get("/_mockreg/faults").json == {"faults": []}
    assert client.get("/_mockreg/rate-limits").json == {"rate_limits": []}
