"""Each observation rule on its own: recorded answers in, scenario behaviour out, with the
exchange it came from. And every setting a rule writes is one the scenario loader accepts."""

from __future__ import annotations

from mockreg.record.observe import observe
from mockreg.record.recording import Recording
from mockreg.settings import Settings

D = "sha256:" + "a" * 64


def recording(*exchanges: dict) -> Recording:
    found = Recording("https://upstream.example")
    for fields in exchanges:
        found.add_exchange(**{"headers": {}, "args": {}, "repository": "demo/app", **fields})
    return found


def test_optional_apis_switched_off_become_settings():
    found = observe(recording(
        {"method": "GET", "path": "/v2/_catalog", "kind": "catalog", "status": 404},
        {"method": "DELETE", "path": f"/v2/demo/app/blobs/{D}", "kind": "blob-delete", "status": 405},
        {"method": "DELETE", "path": f"/v2/demo/app/manifests/{D}", "kind": "manifest-delete", "status": 405},
        {"method": "DELETE", "path": "/v2/demo/app/manifests/v1", "kind": "manifest-delete", "status": 405},
        {"method": "DELETE", "path": "/v2/demo/app/blobs/uploads/<session>", "kind": "blob-upload-cancel",
         "status": 405},
    ), "replay", False)
    assert {k: v for k, (v, _) in found.settings.items()} == {
        "catalog": False, "blob_delete": False, "manifest_delete": False, "tag_delete": False,
        "upload_cancel": False}
    assert found.settings["catalog"][1] == "GET /v2/_catalog → 404 (exchange 1)"
    assert set(found.settings) <= set(Settings.names())


def test_upload_answers_give_chunk_minimum_and_single_post_settings():
    found = observe(recording(
        {"method": "POST", "path": "/v2/demo/app/blobs/uploads/", "kind": "blob-upload-start", "status": 202,
         "headers": {"oci-chunk-min-length": "5242880"}},
        {"method": "POST", "path": "/v2/demo/app/blobs/uploads/", "kind": "blob-upload-start", "status": 202,
         "args": {"digest": D}},
    ), "replay", False)
    assert found.settings["chunk_min_length"][0] == 5242880
    assert found.settings["single_post_upload"] == (False, f"POST /v2/demo/app/blobs/uploads/?digest={D} → 202 "
                                                           "(exchange 2)")


def test_a_mount_of_a_blob_never_seen_in_the_source_sets_nothing():
    found = observe(recording(
        {"method": "POST", "path": "/v2/demo/b/blobs/uploads/", "kind": "blob-upload-start", "status": 202,
         "args": {"mount": D, "from": "demo/app"}},
    ), "replay", False)
    assert "blob_mount" not in found.settings and "no setting" in found.notes[0]["behaviour"]


def test_a_mount_declined_for_a_blob_the_source_holds_sets_blob_mount_off():
    seen = recording({"method": "POST", "path": "/v2/demo/b/blobs/uploads/", "kind": "blob-upload-start",
                      "status": 202, "args": {"mount": D, "from": "demo/app"}})
    seen.read("demo/app", D)
    assert observe(seen, "replay", False).settings["blob_mount"][0] is False


def test_anonymous_bearer_tokens_become_anonymous_pull():
    seen = recording(
        {"method": "GET", "path": "/v2/", "kind": "base", "status": 401,
         "headers": {"www-authenticate": 'Bearer realm="<realm>",service="registry.example"'}},
        {"method": "GET", "path": "<token>", "kind": "token", "status": 200},
        {"method": "GET", "path": "/v2/demo/app/manifests/1", "kind": "manifest-get", "status": 200},
    )
    seen.anonymous_tokens.append("GET <token> → 200 (exchange 2)")
    found = observe(seen, "replay", False)
    assert found.auth == ({"scheme": "bearer", "service": "registry.example", "users": [],
                           "anonymous": {"*": ["pull"]}}, "GET /v2/ → 401 (exchange 1)")


def test_an_unknown_auth_scheme_is_a_note_not_a_guess():
    found = observe(recording({"method": "GET", "path": "/v2/", "kind": "base", "status": 401,
                               "headers": {"www-authenticate": 'Negotiate'}}), "replay", False)
    assert found.auth is None and "does not emulate" in found.notes[0]["behaviour"]


def test_error_answers_are_listed_once_per_kind_status_and_code():
    found = observe(recording(
        {"method": "GET", "path": "/v2/demo/app/manifests/x", "kind": "manifest-get", "status": 404,
         "code": "MANIFEST_UNKNOWN", "message": "manifest unknown"},
        {"method": "GET", "path": "/v2/demo/app/manifests/y", "kind": "manifest-get", "status": 404,
         "code": "MANIFEST_UNKNOWN", "message": "manifest unknown"},
    ), "replay", False)
    assert found.errors == [{"kind": "manifest-get", "status": 404, "code": "MANIFEST_UNKNOWN",
                             "message": "manifest unknown", "from": "GET /v2/demo/app/manifests/x → 404 "
                                                                   "MANIFEST_UNKNOWN (exchange 1)"}]
    assert found.faults == []  # a missing manifest is content, not a fault


def test_an_absolute_link_sets_the_link_form():
    found = observe(recording({"method": "GET", "path": "/v2/demo/app/tags/list", "kind": "tags-list",
                               "status": 200, "headers": {"link": '<https://r.example/v2/demo/app/tags/list?n=1&'
                                                                  'last=a>; rel="next"'}}), "replay", False)
    assert found.settings["link_header"][0] == "absolute"


def test_error_answers_become_error_rules_with_the_upstreams_words():
    found = observe(recording(
        {"method": "GET", "path": "/v2/demo/app/manifests/x", "kind": "manifest-get", "status": 404,
         "code": "MANIFEST_UNKNOWN", "message": "manifest unknown"},
        {"method": "GET", "path": f"/v2/demo/app/referrers/{D}", "kind": "referrers", "status": 404,
         "text": "404 page not found\n", "headers": {"content-type": "text/plain; charset=utf-8"}},
        {"method": "GET", "path": "/v2/demo/app/tags/list", "kind": "tags-list", "status": 404,
         "text": "not here"},
    ), "replay", False)
    assert [rule for rule, _ in found.error_rules] == [
        {"when": {"kinds": ["manifest-get"], "code": "MANIFEST_UNKNOWN"},
         "answer": {"status": 404, "message": "manifest unknown"}},
        {"when": {"reason": "referrers-disabled"},
         "answer": {"status": 404, "body": "404 page not found\n", "content_type": "text/plain; charset=utf-8"}}]


def test_an_error_body_that_could_hold_a_secret_is_not_kept():
    from mockreg.record.wire import error_text

    assert error_text(404, b"404 page not found\n", None) == "404 page not found\n"
    assert error_text(401, b"invalid token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0", None) is None
    assert error_text(404, b"x" * 201, None) is None
    assert error_text(404, b'{"errors": []}', "NAME_UNKNOWN") is None


def test_repeated_reads_with_the_same_answer_count_once_but_changed_answers_count():
    from mockreg.record import differences, view

    def ex(method, path, status):
        return view({"method": method, "path": path, "status": status, "headers": {}})

    recorded = [ex("HEAD", "/v2/a/blobs/x", 404), ex("HEAD", "/v2/a/blobs/x", 404), ex("PUT", "/v2/a/m/1", 201),
                ex("HEAD", "/v2/a/blobs/x", 200)]
    assert differences(recorded, [ex("HEAD", "/v2/a/blobs/x", 404), ex("PUT", "/v2/a/m/1", 201),
                                  ex("HEAD", "/v2/a/blobs/x", 200)]) == []
    assert differences(recorded, [ex("HEAD", "/v2/a/blobs/x", 404), ex("PUT", "/v2/a/m/1", 201)]) != []
    assert differences(recorded, [ex("HEAD", "/v2/a/blobs/x", 404), ex("PUT", "/v2/a/m/1", 201),
                                  ex("PUT", "/v2/a/m/1", 201), ex("HEAD", "/v2/a/blobs/x", 200)]) != []
