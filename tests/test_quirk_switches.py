"""The switches real registries' quirks need (issue 12), each on its own, seen from the client:
status, headers and body (docs/registry.md, "Registry quirks")."""

from __future__ import annotations

import json

import pytest
from registry_helpers import sha256
from werkzeug.test import Client

from mockreg import Registry
from mockreg.mapping import ConfigError
from mockreg.policy import PolicyLayer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"


def manifest(registry: Registry, name: str, **extra) -> bytes:
    """An image manifest whose blobs `name` holds, as bytes."""
    config = registry.push_blob(name, b"{}")
    layer = registry.push_blob(name, b"layer " + json.dumps(extra).encode())
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": IMAGE_CONFIG, "digest": config, "size": 2},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                            "size": len(registry.blob(name, layer))}], **extra}
    return json.dumps(document).encode()


def put_manifest(client: Client, name: str, reference: str, body: bytes):
    return client.put(f"/v2/{name}/manifests/{reference}", data=body, headers={"Content-Type": OCI_MANIFEST})


def error_of(response) -> dict:
    return response.json["errors"][0]


@pytest.mark.parametrize("name, value", [("repository_must_exist", True), ("namespace_must_exist", True),
                                         ("min_name_components", 2), ("tags_page_size", 5), ("catalog_page_max", 5),
                                         ("link_extra_params", "x="), ("tags_pagination", False), ("blob_mount", False),
                                         ("mount_namespace_depth", 1), ("chunked_uploads", False),
                                         ("chunk_max_length", 9), ("chunk_min_rule", "all-but-last"),
                                         ("oci_accept_negotiation", True)])
def test_each_layer_setting_away_from_its_default_installs_the_layer(name, value):
    assert any(isinstance(layer, PolicyLayer) for layer in Registry(**{name: value}).layers)


def test_no_quirk_layer_runs_by_default_and_it_comes_and_goes_with_its_settings():
    registry = Registry()
    assert not any(isinstance(layer, PolicyLayer) for layer in registry.layers)
    registry.configure(max_name_length=10)
    assert sum(isinstance(layer, PolicyLayer) for layer in registry.layers) == 1
    registry.configure(link_header="none")
    assert sum(isinstance(layer, PolicyLayer) for layer in registry.layers) == 1
    registry.configure(max_name_length=0, link_header="relative")
    assert not any(isinstance(layer, PolicyLayer) for layer in registry.layers)


# -- repositories must exist -----------------------------------------------------------------
def test_a_push_to_a_repository_never_created_is_404_name_unknown():
    registry = Registry(repository_must_exist=True)
    client = Client(registry)
    started = client.post("/v2/team/app/blobs/uploads/")
    assert started.status_code == 404
    assert error_of(started)["code"] == "NAME_UNKNOWN" and error_of(started)["detail"] == {"name": "team/app"}
    body = manifest(Registry(), "team/app")
    assert put_manifest(client, "team/app", "1.0", body).status_code == 404
    assert registry.repositories() == []                 # nothing was half created


def test_created_repositories_take_pushes_and_are_listed_empty():
    registry = Registry(repository_must_exist=True)
    client = Client(registry)
    registry.create_repository("team/app")
    assert client.get("/v2/_catalog").json == {"repositories": ["team/app"]}
    assert client.get("/v2/team/app/tags/list").json == {"name": "team/app", "tags": []}
    data = b"hello"
    pushed = client.post(f"/v2/team/app/blobs/uploads/?digest={sha256(data)}", data=data,
                         headers={"Content-Type": "application/octet-stream"})
    assert pushed.status_code == 201
    assert client.post("/v2/other/app/blobs/uploads/").status_code == 404
    assert client.get("/v2/team/app/blobs/" + sha256(data)).data == data  # pulls are never refused


def test_a_repository_named_in_a_scenario_exists_even_when_empty(tmp_path):
    from mockreg.scenario import Scenario

    path = tmp_path / "s.yaml"
    path.write_text("version: 1\nsettings: {repository_must_exist: true}\nrepositories:\n  team/app: {}\n")
    registry = Registry()
    Scenario.load(path).apply(registry)
    client = Client(registry)
    assert client.post("/v2/team/app/blobs/uploads/").status_code == 202
    assert client.post("/v2/team/other/blobs/uploads/").status_code == 404


def test_the_control_api_creates_repositories():
    registry = Registry(repository_must_exist=True, control_api=True)
    client = Client(registry)
    created = client.post("/_mockreg/repositories", json={"name": "team/app"})
    assert created.status_code == 200 and created.json == {"repositories": ["team/app"], "namespaces": []}
    assert client.post("/v2/team/app/blobs/uploads/").status_code == 202
    bad = client.post("/_mockreg/repositories", json={"name": "Team/App"})
    assert bad.status_code == 400 and error_of(bad)["code"] == "NAME_INVALID"
    assert client.post("/_mockreg/repositories", json={"repo": "x"}).status_code == 400
    assert client.post("/_mockreg/repositories", json={"name": "a", "namespace": "b"}).status_code == 400
    assert client.post("/_mockreg/repositories", json={"namespace": "proj"}).status_code == 200
    assert client.get("/_mockreg/repositories").json == {"repositories": ["team/app"], "namespaces": ["proj"]}


def test_the_missing_repository_answer_is_configurable_by_an_error_rule():
    registry = Registry(repository_must_exist=True)
    registry.add_error_rule(when={"reason": "repository-missing", "kinds": ["blob-upload-start"]},
                            answer={"status": 403, "code": "DENIED", "message": "create it first",
                                    "headers": {"X-Why": "missing"}})
    client = Client(registry)
    started = client.post("/v2/team/app/blobs/uploads/")
    assert started.status_code == 403
    assert error_of(started) == {"code": "DENIED", "message": "create it first", "detail": {"name": "team/app"}}
    assert started.headers["X-Why"] == "missing"
    put = put_manifest(client, "team/app", "1.0", manifest(Registry(), "team/app"))
    assert put.status_code == 404 and error_of(put)["code"] == "NAME_UNKNOWN"  # other kinds: not matched


def test_with_namespace_must_exist_pushes_need_a_created_leading_part_of_the_name(tmp_path):
    registry = Registry(namespace_must_exist=True)
    client = Client(registry)
    refused = client.post("/v2/proj/app/blobs/uploads/")
    assert refused.status_code == 404 and error_of(refused)["code"] == "NAME_UNKNOWN"
    registry.create_namespace("proj")
    assert client.post("/v2/proj/app/blobs/uploads/").status_code == 202
    assert client.post("/v2/proj/a/b/blobs/uploads/").status_code == 202
    assert client.post("/v2/project/app/blobs/uploads/").status_code == 404   # a prefix ends at "/"
    assert registry.repositories() == []                                      # a namespace is no repository
    from mockreg.scenario import Scenario

    path = tmp_path / "s.yaml"
    path.write_text("version: 1\nnamespaces: [gcp-project/docker]\n")
    other = Registry(namespace_must_exist=True)
    Scenario.load(path).apply(other)
    assert Client(other).post("/v2/gcp-project/docker/img/blobs/uploads/").status_code == 202
    path.write_text("version: 1\nnamespaces: [Bad/Name]\n")
    with pytest.raises(ValueError, match=r"s\.yaml:2:.*namespaces\[0\].*not a namespace"):
        Scenario.load(path)


def test_an_error_rule_may_answer_plain_text_as_a_router_miss_does():
    registry = Registry(referrers=False)
    registry.add_error_rule(when={"reason": "referrers-disabled"},
                            answer={"status": 404, "body": "404 page not found\n"})
    answered = Client(registry).get("/v2/demo/app/referrers/" + sha256(b"x"))
    assert answered.status_code == 404 and answered.data == b"404 page not found\n"
    assert answered.headers["Content-Type"] == "text/plain; charset=utf-8"
    with pytest.raises(ConfigError, match="content_type goes with answer.body"):
        registry.add_error_rule(when={}, answer={"content_type": "text/html"})


# -- tag immutability ---------------------------------------------------------------------------
@pytest.mark.parametrize("patterns, moved, kept", [("*", ["1.0", "latest"], []),
                                                   ("v*, 1.*", ["1.0"], ["latest"])])
def test_immutable_tags_cannot_move(patterns, moved, kept):
    registry = Registry(immutable_tags=patterns)
    client = Client(registry)
    first, second = manifest(registry, "demo/app"), manifest(registry, "demo/app", annotations={"v": "2"})
    for tag in ("1.0", "latest"):
        assert put_manifest(client, "demo/app", tag, first).status_code == 201
        assert put_manifest(client, "demo/app", tag, first).status_code == 201  # the same manifest again
    for tag in moved:
        refused = put_manifest(client, "demo/app", tag, second)
        assert refused.status_code == 409 and error_of(refused)["code"] == "DENIED"
        assert error_of(refused)["detail"]["tag"] == tag
        assert registry.manifest("demo/app", tag).body == first
    for tag in kept:
        assert put_manifest(client, "demo/app", tag, second).status_code == 201


def test_an_immutable_tag_given_as_query_parameter_is_refused_too():
    registry = Registry(immutable_tags="*")
    client = Client(registry)
    first, second = manifest(registry, "demo/app"), manifest(registry, "demo/app", annotations={"v": "2"})
    put_manifest(client, "demo/app", "1.0", first)
    digest = sha256(second)
    refused = put_manifest(client, "demo/app", f"{digest}?tag=1.0", second)
    assert refused.status_code == 409
    assert registry.tags("demo/app") == ["1.0"]


# -- manifests with subject / artifactType refused ---------------------------------------------
def test_manifests_with_a_subject_can_be_refused():
    registry = Registry(manifest_subject=False)
    client = Client(registry)
    base = manifest(registry, "demo/app")
    put_manifest(client, "demo/app", "1.0", base)
    subject = {"mediaType": OCI_MANIFEST, "digest": sha256(base), "size": len(base)}
    refused = put_manifest(client, "demo/app", "sig", manifest(registry, "demo/app", subject=subject))
    assert refused.status_code == 400 and error_of(refused)["code"] == "MANIFEST_INVALID"
    assert registry.tags("demo/app") == ["1.0"]


def test_manifests_with_an_artifact_type_can_be_refused_images_without_one_still_pass():
    registry = Registry(manifest_artifact_type=False)
    client = Client(registry)
    refused = put_manifest(client, "demo/app", "sbom",
                           manifest(registry, "demo/app", artifactType="application/spdx+json"))
    assert refused.status_code == 400 and "artifactType" in error_of(refused)["message"]
    assert put_manifest(client, "demo/app", "1.0", manifest(registry, "demo/app")).status_code == 201


# -- repository name limits ----------------------------------------------------------------------
def test_repository_names_can_need_a_minimum_depth():
    client = Client(Registry(min_name_components=3))
    shallow = client.post("/v2/proj/repo/blobs/uploads/")
    assert shallow.status_code == 400 and error_of(shallow)["detail"]["min_components"] == 3
    assert client.post("/v2/proj/repo/image/blobs/uploads/").status_code == 202


def test_repository_names_can_be_limited_in_depth_and_length():
    client = Client(Registry(max_name_components=2, max_name_length=12))
    deep = client.get("/v2/a/b/c/tags/list")
    assert deep.status_code == 400 and error_of(deep)["code"] == "NAME_INVALID"
    assert error_of(deep)["detail"]["max_components"] == 2
    long = client.post("/v2/abcdefghijklm/blobs/uploads/")
    assert long.status_code == 400 and error_of(long)["detail"]["max_length"] == 12
    assert client.post("/v2/a/b/blobs/uploads/").status_code == 202


# -- page sizes, caps and Link ---------------------------------------------------------------------
@pytest.fixture
def tagged() -> Registry:
    registry = Registry()
    body = manifest(registry, "demo/app")
    for tag in "abcde":
        registry.push_manifest("demo/app", body, tags=tag)
    for name in ("r1", "r2", "r3"):
        registry.push_blob(name, b"x")
    return registry


def test_a_default_page_size_applies_when_n_is_absent_and_the_link_continues(tagged):
    tagged.configure(tags_page_size=2, catalog_page_size=3)
    client = Client(tagged)
    first = client.get("/v2/demo/app/tags/list")
    assert first.json["tags"] == ["a", "b"]
    assert first.headers["Link"] == '</v2/demo/app/tags/list?n=2&last=b>; rel="next"'
    assert client.get("/v2/demo/app/tags/list?n=2&last=b").json["tags"] == ["c", "d"]
    assert client.get("/v2/demo/app/tags/list?n=10").json["tags"] == list("abcde")
    catalog = client.get("/v2/_catalog")
    assert catalog.json["repositories"] == ["demo/app", "r1", "r2"]


def test_n_above_the_cap_is_clamped_or_refused(tagged):
    tagged.configure(tags_page_max=3, catalog_page_max=2)
    client = Client(tagged)
    clamped = client.get("/v2/demo/app/tags/list?n=1000")
    assert clamped.json["tags"] == ["a", "b", "c"] and "last=c" in clamped.headers["Link"]
    assert client.get("/v2/_catalog?n=50").json["repositories"] == ["demo/app", "r1"]
    assert client.get("/v2/demo/app/tags/list").json["tags"] == list("abcde")  # no n, no default: all
    tagged.configure(page_over_max="error")
    refused = client.get("/v2/demo/app/tags/list?n=4")
    assert refused.status_code == 400 and error_of(refused)["detail"] == {"n": "4", "max": 3}
    assert client.get("/v2/demo/app/tags/list?n=3").status_code == 200
    assert client.get("/v2/demo/app/tags/list?n=x").status_code == 400  # still the handler's own check


def test_the_journal_keeps_the_query_the_client_sent_when_n_is_clamped(tagged):
    from mockreg.journal import attach

    tagged.configure(tags_page_max=2)
    journal = attach(tagged)
    assert Client(tagged).get("/v2/demo/app/tags/list?n=50").json["tags"] == ["a", "b"]
    assert journal.entries[-1].query == "n=50"


def test_the_link_header_can_be_absolute_or_left_out(tagged):
    tagged.configure(link_header="absolute")
    client = Client(tagged)
    page = client.get("/v2/demo/app/tags/list?n=2", base_url="https://registry.example:8443")
    assert page.headers["Link"] == '<https://registry.example:8443/v2/demo/app/tags/list?n=2&last=b>; rel="next"'
    tagged.configure(link_header="none")
    page = client.get("/v2/demo/app/tags/list?n=2")
    assert page.json["tags"] == ["a", "b"] and "Link" not in page.headers


def test_the_link_form_applies_to_referrers_pages_too():
    registry = Registry(referrers_page_size=1, link_header="absolute")
    client = Client(registry)
    base = manifest(registry, "demo/app")
    put_manifest(client, "demo/app", "1.0", base)
    subject = {"mediaType": OCI_MANIFEST, "digest": sha256(base), "size": len(base)}
    for number in range(2):
        put_manifest(client, "demo/app", f"sig{number}", manifest(registry, "demo/app", subject=subject,
                                                                   annotations={"n": str(number)}))
    page = client.get(f"/v2/demo/app/referrers/{sha256(base)}")
    assert page.headers["Link"].startswith(f"<http://localhost/v2/demo/app/referrers/{sha256(base)}?last=")


def test_a_bad_choice_setting_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="link_header.*relative, absolute, none"):
        Registry(link_header="full")
    with pytest.raises(ValueError, match="page_over_max"):
        Registry().configure(page_over_max=3)


# -- mounts and chunks ---------------------------------------------------------------------------
def test_without_blob_mount_a_mount_request_starts_an_upload():
    registry = Registry(blob_mount=False)
    digest = registry.push_blob("source/app", b"shared")
    client = Client(registry)
    answered = client.post(f"/v2/target/app/blobs/uploads/?mount={digest}&from=source/app")
    assert answered.status_code == 202 and "/v2/target/app/blobs/uploads/" in answered.headers["Location"]
    assert not registry.has_blob("target/app", digest)
    registry.configure(blob_mount=True)
    assert client.post(f"/v2/target/app/blobs/uploads/?mount={digest}&from=source/app").status_code == 201


def start_upload(client: Client) -> str:
    return client.post("/v2/demo/app/blobs/uploads/").headers["Location"]


def test_chunked_uploads_can_be_refused_monolithic_ones_still_work():
    registry = Registry(chunked_uploads=False)
    client = Client(registry)
    location = start_upload(client)
    refused = client.patch(location, data=b"abc", headers={"Content-Type": "application/octet-stream"})
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, PUT, DELETE"
    assert error_of(refused)["code"] == "UNSUPPORTED"
    finished = client.put(f"{location}?digest={sha256(b'abc')}", data=b"abc",
                          headers={"Content-Type": "application/octet-stream"})
    assert finished.status_code == 201


def test_chunks_larger_than_the_maximum_or_smaller_than_an_enforced_minimum_are_refused():
    registry = Registry(chunk_max_length=4, chunk_min_length=2, chunk_min_rule="every-patch")
    client = Client(registry)
    location = start_upload(client)
    headers = {"Content-Type": "application/octet-stream"}
    too_big = client.patch(location, data=b"12345", headers=headers)
    assert too_big.status_code == 413 and error_of(too_big)["detail"] == {"chunk": 5, "max": 4}
    too_small = client.patch(location, data=b"1", headers=headers)
    assert too_small.status_code == 416 and error_of(too_small)["code"] == "BLOB_UPLOAD_INVALID"
    assert client.patch(location, data=b"1234", headers=headers).status_code == 202
    last = client.put(f"{location}?digest={sha256(b'12345')}", data=b"5", headers=headers)  # a short last chunk
    assert last.status_code == 201


# -- catalog and other errors answered differently --------------------------------------------------
def test_an_absent_catalog_can_answer_401_with_a_challenge():
    registry = Registry(catalog=False)
    client = Client(registry)
    assert client.get("/v2/_catalog").status_code == 404
    registry.add_error_rule(when={"reason": "catalog-disabled"},
                            answer={"status": 401, "code": "UNAUTHORIZED", "message": "authentication required",
                                    "headers": {"WWW-Authenticate": 'Bearer realm="https://auth.example/token"'}})
    answered = client.get("/v2/_catalog")
    assert answered.status_code == 401 and error_of(answered)["code"] == "UNAUTHORIZED"
    assert answered.headers["WWW-Authenticate"].startswith("Bearer realm=")


def test_error_rules_match_code_kinds_and_status_first_match_winning():
    registry = Registry()
    registry.add_error_rule(when={"code": "MANIFEST_UNKNOWN", "kinds": ["manifest-head"]},
                            answer={"status": 404, "code": "NOT_FOUND", "message": "no such image", "detail": None})
    registry.add_error_rule(when={"code": "MANIFEST_UNKNOWN"}, answer={"message": "second"})
    registry.add_error_rule(when={"code": "MANIFEST_UNKNOWN"}, answer={"message": "never used"})
    client = Client(registry)
    head = client.head("/v2/demo/app/manifests/1.0")
    assert head.status_code == 404
    get = client.get("/v2/demo/app/manifests/1.0")
    assert error_of(get)["code"] == "MANIFEST_UNKNOWN" and error_of(get)["message"] == "second"
    registry.add_error_rule(when={"status": 405}, answer={"status": 400, "code": "UNSUPPORTED"})
    assert client.delete("/v2/").status_code == 400
    assert len(registry.add_error_rule(when={}, answer={"message": "x"}).to_dict()) == 2


@pytest.mark.parametrize("fields, message", [
    ({"when": {"cod": "X"}, "answer": {"status": 400}}, "unknown key.*cod"),
    ({"when": {}, "answer": {}}, "must change something"),
    ({"when": {}, "answer": {"status": 999}}, "HTTP status"),
    ({"when": {"status": True}, "answer": {"message": "m"}}, "HTTP status"),
    ({"when": {}, "answer": {"code": ""}}, "non-empty"),
    ({"when": {}, "answer": {"headers": {"A": 1}}}, "header names to text"),
    ({"when": {"kinds": 3}, "answer": {"message": "m"}}, "kinds"),
    ({"answer": {"message": "m"}}, "missing required key.*when"),
])
def test_bad_error_rules_are_refused_with_the_reason(fields, message):
    with pytest.raises(ConfigError, match=message):
        Registry().add_error_rule(**fields)


def test_header_rules_drop_and_add_headers_per_kind_and_status():
    registry = Registry()
    registry.add_header_rule(kinds=["blob-get", "blob-head"], statuses=[200], remove=["docker-content-digest"])
    registry.add_header_rule(add={"X-Registry": "mock"})
    registry.add_header_rule(kinds=["base"], remove=["Docker-Distribution-API-Version"])
    digest = registry.push_blob("demo/app", b"data")
    client = Client(registry)
    pulled = client.get(f"/v2/demo/app/blobs/{digest}")
    assert "Docker-Content-Digest" not in pulled.headers and pulled.headers["X-Registry"] == "mock"
    ranged = client.get(f"/v2/demo/app/blobs/{digest}", headers={"Range": "bytes=0-1"})
    assert ranged.status_code == 206 and ranged.headers["Docker-Content-Digest"] == digest
    base = client.get("/v2/")
    assert "Docker-Distribution-API-Version" not in base.headers and base.headers["X-Registry"] == "mock"
    assert client.get("/v2/demo/app/tags/list").headers["Docker-Distribution-API-Version"] == "registry/2.0"


@pytest.mark.parametrize("fields, message", [
    ({}, "needs remove, add or set_status"),
    ({"add": {"X": "a\r\nb"}}, "one line"),
    ({"remove": "X", "statuses": ["200"]}, "statuses"),
    ({"add": {"X": 1}}, "header names to text"),
    ({"add": {"X": "1"}, "kind": ["base"]}, "unknown key"),
])
def test_bad_header_rules_are_refused_with_the_reason(fields, message):
    with pytest.raises(ConfigError, match=message):
        Registry().add_header_rule(**fields)


# -- token realm, service and anonymous tokens -------------------------------------------------------
def test_the_realm_may_be_a_template_of_the_host_the_client_used_and_the_token_path_under_v2():
    registry = Registry()
    registry.enable_auth(realm="{scheme}://{host}/v2/token", token_path="/v2/token", service="registry.example",
                         anonymous={"*": ["pull"]})
    client = Client(registry)
    challenge = client.get("/v2/", base_url="https://reg.example:444").headers["WWW-Authenticate"]
    assert challenge == 'Bearer realm="https://reg.example:444/v2/token",service="registry.example"'
    token = client.get("/v2/token?service=registry.example&scope=repository:demo/app:pull").json["token"]
    assert client.get("/v2/demo/app/tags/list", headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_a_fixed_realm_on_another_host_is_named_as_given():
    registry = Registry()
    registry.enable_auth(realm="https://auth.example/token", service="registry.example", anonymous={"*": ["pull"]})
    challenge = Client(registry).get("/v2/").headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="https://auth.example/token"')


@pytest.mark.parametrize("options, message", [
    ({"token_path": "/v2/_catalog"}, "token_path"),
    ({"token_path": "/v2/"}, "token_path"),
    ({"token_path": "/v2/demo/tags/list"}, "token_path"),
    ({"realm": "{scheme}://{hostname}/token"}, "only {scheme} and {host}"),
    ({"realm": "auth.example/token"}, "absolute"),
    ({"anonymous_tokens": "yes"}, "anonymous_tokens"),
])
def test_bad_realms_and_token_paths_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        Registry().enable_auth(**options)


def test_anonymous_tokens_are_issued_without_grants_and_grant_nothing():
    registry = Registry()
    registry.enable_auth(users=[{"name": "u", "password": "p", "access": {"*": "*"}}])
    client = Client(registry)
    assert client.get("/token?scope=repository:private/app:pull").status_code == 401
    registry.enable_auth(users=[{"name": "u", "password": "p", "access": {"*": "*"}}], anonymous_tokens=True)
    answer = client.get("/token?scope=repository:private/app:pull")
    assert answer.status_code == 200
    token = answer.json["token"]
    assert client.get("/v2/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    denied = client.get("/v2/private/app/tags/list", headers={"Authorization": f"Bearer {token}"})
    assert denied.status_code == 401 and 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]


def test_error_rule_messages_name_the_repository_reference_and_tag():
    registry = Registry(repository_must_exist=True, immutable_tags="*")
    registry.add_error_rule(when={"reason": "repository-missing"},
                            answer={"message": "The repository with name '{name}' does not exist ({reference})"})
    registry.add_error_rule(when={"reason": "tag-immutable"},
                            answer={"status": 400, "code": "TAG_INVALID",
                                    "message": "The image tag '{tag}' already exists in the '{name}' repository; {x}"})
    client = Client(registry)
    missing = put_manifest(client, "team/app", "1.0", manifest(Registry(), "team/app"))
    assert error_of(missing)["message"] == "The repository with name 'team/app' does not exist (1.0)"
    registry.create_repository("team/app")
    first, second = manifest(registry, "team/app"), manifest(registry, "team/app", annotations={"v": "2"})
    put_manifest(client, "team/app", "1.0", first)
    moved = put_manifest(client, "team/app", "1.0", second)
    assert moved.status_code == 400 and error_of(moved)["code"] == "TAG_INVALID"
    assert error_of(moved)["message"] == "The image tag '1.0' already exists in the 'team/app' repository; {x}"


def test_token_answers_may_carry_only_some_fields():
    registry = Registry()
    registry.enable_auth(anonymous={"*": ["pull"]}, token_fields=["access_token"])
    answer = Client(registry).get("/token?scope=repository:a/b:pull").json
    assert set(answer) == {"access_token"}
    registry.enable_auth(anonymous={"*": ["pull"]}, token_fields="token,access_token,issued_at")
    assert set(Client(registry).get("/token").json) == {"token", "access_token", "issued_at"}
    with pytest.raises(ConfigError, match="must keep token or access_token"):
        registry.enable_auth(anonymous={"*": ["pull"]}, token_fields=["expires_in"])
    with pytest.raises(ConfigError, match="token_fields: unknown value"):
        registry.enable_auth(anonymous={"*": ["pull"]}, token_fields=["jwt"])


def test_the_service_may_be_left_out_of_the_challenge_or_be_the_host():
    registry = Registry()
    registry.enable_auth(anonymous={"*": ["pull"]}, service="")
    client = Client(registry)
    assert client.get("/v2/").headers["WWW-Authenticate"] == 'Bearer realm="http://localhost/token"'
    registry.enable_auth(anonymous={"*": ["pull"]}, service="{host}")
    challenge = client.get("/v2/", base_url="https://reg.example").headers["WWW-Authenticate"]
    assert challenge == 'Bearer realm="https://reg.example/token",service="reg.example"'
    token = client.get("/token?service=reg.example&scope=repository:a/b:pull", base_url="https://reg.example")
    assert token.status_code == 200
    wrong = client.get("/token?service=other.example", base_url="https://reg.example")
    assert wrong.status_code == 400
    with pytest.raises(ConfigError, match="service may name only"):
        registry.enable_auth(service="{port}")


def test_a_basic_challenge_names_the_realm_and_service_when_a_realm_is_set():
    registry = Registry()
    registry.enable_auth(scheme="basic", users=[{"name": "u", "password": "p"}])
    client = Client(registry)
    assert client.get("/v2/").headers["WWW-Authenticate"] == 'Basic realm="mockreg"'
    registry.enable_auth(scheme="basic", users=[{"name": "u", "password": "p"}], realm="{scheme}://{host}/",
                         service="ecr.example")
    challenge = client.get("/v2/", base_url="https://reg.example").headers["WWW-Authenticate"]
    assert challenge == 'Basic realm="https://reg.example/",service="ecr.example"'


def test_with_all_but_last_only_a_short_chunk_followed_by_more_bytes_is_refused():
    registry = Registry(chunk_min_length=3, chunk_min_rule="all-but-last")
    client = Client(registry)
    headers = {"Content-Type": "application/octet-stream"}
    single = start_upload(client)
    assert client.patch(single, data=b"ab", headers=headers).status_code == 202      # short, but maybe the last
    assert client.put(f"{single}?digest={sha256(b'ab')}", headers=headers).status_code == 201
    location = start_upload(client)
    assert client.patch(location, data=b"abc", headers=headers).status_code == 202
    assert client.patch(location, data=b"d", headers=headers).status_code == 202
    refused = client.patch(location, data=b"efg", headers=headers)                     # "d" was not the last
    assert refused.status_code == 416 and error_of(refused)["detail"] == {"chunk": 1, "min": 3}
    closing = client.put(f"{location}?digest={sha256(b'abcdefg')}", data=b"efg", headers=headers)
    assert closing.status_code == 416
    assert client.put(f"{location}?digest={sha256(b'abcd')}", headers=headers).status_code == 201


def test_a_header_rule_may_answer_another_status():
    registry = Registry()
    registry.add_header_rule(kinds=["blob-upload-patch"], statuses=[202], set_status=201)
    client = Client(registry)
    location = start_upload(client)
    patched = client.patch(location, data=b"abc", headers={"Content-Type": "application/octet-stream"})
    assert patched.status_code == 201 and patched.headers["Range"] == "0-2"
    assert client.post("/v2/demo/app/blobs/uploads/").status_code == 202          # other kinds keep theirs
    with pytest.raises(ConfigError, match="set_status must be an HTTP status"):
        registry.add_header_rule(set_status=101)
    registry.add_header_rule(kinds=["base"], set_status=204)
    emptied = client.get("/v2/")
    assert emptied.status_code == 204 and emptied.data == b"" and "Content-Length" not in emptied.headers


def test_tags_lists_may_ignore_n_and_last():
    registry = Registry(tags_pagination=False)
    body = manifest(registry, "demo/app")
    for tag in "abc":
        registry.push_manifest("demo/app", body, tags=tag)
    page = Client(registry).get("/v2/demo/app/tags/list?n=1&last=a")
    assert page.json["tags"] == ["a", "b", "c"] and "Link" not in page.headers


def test_tags_may_be_listed_in_the_order_they_were_made_and_paged_in_it():
    registry = Registry(tags_order="pushed")
    body = manifest(registry, "demo/app")
    for tag in ("v2", "latest", "v1"):
        registry.push_manifest("demo/app", body, tags=tag)
    client = Client(registry)
    assert client.get("/v2/demo/app/tags/list").json["tags"] == ["v2", "latest", "v1"]
    first = client.get("/v2/demo/app/tags/list?n=2")
    assert first.json["tags"] == ["v2", "latest"] and "last=latest" in first.headers["Link"]
    assert client.get("/v2/demo/app/tags/list?n=2&last=latest").json["tags"] == ["v1"]
    assert client.get("/v2/demo/app/tags/list?last=gone").json["tags"] == []


def test_pagination_links_may_carry_extra_parameters():
    registry = Registry(catalog_page_size=1, link_extra_params="orderby=")
    for name in ("a/x", "b/y"):
        registry.push_blob(name, b"x")
    link = Client(registry).get("/v2/_catalog").headers["Link"]
    assert link == '</v2/_catalog?n=1&last=a%2Fx&orderby=>; rel="next"'


def test_mounts_may_be_limited_to_one_namespace():
    registry = Registry(mount_namespace_depth=1)
    digest = registry.push_blob("org/source", b"shared")
    client = Client(registry)
    assert client.post(f"/v2/other/app/blobs/uploads/?mount={digest}&from=org/source").status_code == 202
    assert client.post(f"/v2/org/app/blobs/uploads/?mount={digest}&from=org/source").status_code == 201


def test_immutable_tags_may_refuse_even_the_same_manifest_again():
    registry = Registry(immutable_tags="*", immutable_tags_allow_same=False)
    client = Client(registry)
    body = manifest(registry, "demo/app")
    assert put_manifest(client, "demo/app", "1.0", body).status_code == 201
    assert put_manifest(client, "demo/app", "1.0", body).status_code == 409
    assert put_manifest(client, "demo/app", sha256(body), body).status_code == 201   # by digest: no tag moves


def test_oci_manifests_may_be_withheld_from_clients_that_do_not_accept_them():
    registry = Registry(oci_accept_negotiation=True)
    body = manifest(registry, "demo/app")
    registry.push_manifest("demo/app", body, tags="1.0")
    client = Client(registry)
    refused = client.get("/v2/demo/app/manifests/1.0", headers={"Accept": "application/json"})
    assert refused.status_code == 404 and error_of(refused)["code"] == "MANIFEST_UNKNOWN"
    assert error_of(refused)["message"] == "OCI manifest found, but accept header does not support OCI manifests"
    assert client.head("/v2/demo/app/manifests/1.0").status_code == 404
    accepted = client.get("/v2/demo/app/manifests/1.0", headers={"Accept": f"application/json, {OCI_MANIFEST};q=0.9"})
    assert accepted.status_code == 200 and accepted.data == body
