"""Every behaviour of every shipped profile, observed from the client side over HTTP.

The cases are generated from the profile files: one per behaviour entry (`settings.*`, `auth`,
`errors[i]`, `rate_limits[i]`). Each check derives its expectation from the entry itself (and,
for refusals, from the profile's own error rules), performs what a client would do against a live
server, and asserts the status, headers and body that come back. A behaviour no check knows is a
failure, so a new kind of entry cannot go unobserved.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import pytest
from profile_client import OCI_MANIFEST, Client, challenge, error_of, profiled, sha256

from mockreg import Registry, profiles
from mockreg.profiles.model import Behaviour, Profile
from mockreg.server import LiveServer

SHIPPED = [name for name in profiles.names() if name != profiles.DEFAULT]
REPO = "team/project/app"  # three components: within every profile's name rules

# What each refusal looks like when no error rule of the profile rewrites it (policy.py, handlers).
DEFAULT_REFUSALS = {
    "repository-missing": (404, "NAME_UNKNOWN"), "catalog-disabled": (404, "UNSUPPORTED"),
    "referrers-disabled": (404, "UNSUPPORTED"), "name-too-deep": (400, "NAME_INVALID"),
    "page-size-too-large": (400, "UNSUPPORTED"), "chunk-too-small": (416, "BLOB_UPLOAD_INVALID"),
    "tag-immutable": (409, "DENIED"), "name-too-shallow": (400, "NAME_INVALID"),
    "namespace-missing": (404, "NAME_UNKNOWN"), "manifest-not-acceptable": (404, "MANIFEST_UNKNOWN"),
}


def expected_refusal(profile: Profile, reason: str, kind: str, code: str = "",
                     status: Optional[int] = None) -> Tuple[int, str, Optional[str], Optional[Dict[str, str]]]:
    """(status, code, message or None) a client gets for a refusal, from the profile's error rules;
    `reason` "" for a refusal that has none (then `code` and `status` say what it is)."""
    default_status, default_code = DEFAULT_REFUSALS.get(reason, (status, code))
    status, code = status or default_status, code or default_code
    for rule in profile.error_rules:
        when = rule.when
        if "reason" in when and when["reason"] != reason:
            continue
        if "code" in when and when["code"] != code:
            continue
        if "kinds" in when and kind not in when["kinds"]:
            continue
        if "status" in when and when["status"] != status:
            continue
        answer = rule.answer
        text = {key: answer[key] for key in ("body", "content_type") if key in answer} or None
        return answer.get("status", status), answer.get("code", code), answer.get("message"), text
    return status, code, None, None


def assert_refused(response: Any, expected: Tuple[int, str, Optional[str], Optional[Dict[str, str]]],
                   **fill: str) -> None:
    status, code, message, text = expected
    assert response.status_code == status, response.text
    if text is not None:  # a plain-text answer instead of the spec's JSON
        assert response.text == text["body"]
        assert response.headers["Content-Type"] == text.get("content_type", "text/plain; charset=utf-8")
        return
    error = error_of(response)
    assert error["code"] == code
    if message is not None:
        assert error["message"] == (message.format(**fill) if fill and "{" in message else message)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer(Registry()) as live:
        yield live


class Case:
    def __init__(self, profile: Profile, behaviour: Behaviour, server: LiveServer) -> None:
        self.profile, self.behaviour, self.server = profile, behaviour, server
        self.registry = profiled(profile.name)
        server.app = self.registry
        self.client = Client(server.url)

    def prepare(self, name: str = REPO) -> None:
        """Create what this registry wants created before a push (as one would with its console)."""
        if self.registry.settings.repository_must_exist:
            self.registry.create_repository(name)
        if self.registry.settings.namespace_must_exist:
            self.registry.create_namespace(name.rsplit("/", 1)[0])

    def refusal(self, reason: str, kind: str, code: str = "",
                status: Optional[int] = None) -> Tuple[int, str, Optional[str], Optional[Dict[str, str]]]:
        return expected_refusal(self.profile, reason, kind, code, status)


# -- settings --------------------------------------------------------------------------------------------
def check_catalog(case: Case, value: bool) -> None:
    case.prepare()
    case.client.push_image(REPO, "1.0")
    answer = case.client.request("GET", "/v2/_catalog", "registry:catalog:*")
    if value:
        assert answer.status_code == 200 and REPO in answer.json()["repositories"]
    else:
        assert_refused(answer, case.refusal("catalog-disabled", "catalog"))


def check_referrers(case: Case, value: bool) -> None:
    case.prepare()
    _, subject = case.client.push_image(REPO, "1.0")
    artifact, _ = case.client.push_image(REPO, "sbom", {
        "artifactType": "application/vnd.example.sbom.v1+json",
        "subject": {"mediaType": OCI_MANIFEST, "digest": sha256(subject), "size": len(subject)}})
    assert artifact.status_code == 201, artifact.text
    listed = case.client.request("GET", f"/v2/{REPO}/referrers/{sha256(subject)}", f"repository:{REPO}:pull")
    if value:
        assert artifact.headers["OCI-Subject"] == sha256(subject)
        assert listed.status_code == 200
        assert [m["artifactType"] for m in listed.json()["manifests"]] == ["application/vnd.example.sbom.v1+json"]
    else:
        assert "OCI-Subject" not in artifact.headers
        assert_refused(listed, case.refusal("referrers-disabled", "referrers"))


def check_repository_must_exist(case: Case, value: bool) -> None:
    refused = case.client.request("POST", f"/v2/{REPO}/blobs/uploads/", f"repository:{REPO}:pull,push")
    assert_refused(refused, case.refusal("repository-missing", "blob-upload-start"), name=REPO)
    case.registry.create_repository(REPO)
    answer, _ = case.client.push_image(REPO, "1.0")
    assert answer.status_code == 201, answer.text


def check_chunk_min_length(case: Case, value: int) -> None:
    case.prepare()
    started = case.client.request("POST", f"/v2/{REPO}/blobs/uploads/", f"repository:{REPO}:pull,push")
    assert started.status_code == 202
    hidden = any("blob-upload-start" in r.kinds and "oci-chunk-min-length" in [h.lower() for h in r.remove]
                 for r in case.profile.header_rules)
    if not hidden:
        assert started.headers["OCI-Chunk-Min-Length"] == str(value)
        return
    # a registry that does not announce its minimum: seen only through the refusal of a short chunk
    assert "OCI-Chunk-Min-Length" not in started.headers
    check_chunk_min_rule(case, case.registry.settings.chunk_min_rule)


def _upload_path(case: Case) -> str:
    started = case.client.request("POST", f"/v2/{REPO}/blobs/uploads/", f"repository:{REPO}:pull,push")
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    return location[len(case.server.url):] if location.startswith("http") else location


def _patch(case: Case, path: str, data: bytes, offset: int) -> Any:
    return case.client.request("PATCH", path, f"repository:{REPO}:pull,push", data=data, headers={
        "Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{offset + len(data) - 1}"})


def check_chunk_min_rule(case: Case, value: str) -> None:
    case.prepare()
    minimum = case.registry.settings.chunk_min_length
    small = b"x" * 10
    assert minimum > len(small)
    path = _upload_path(case)
    first = _patch(case, path, small, 0)
    if value == "every-patch":
        assert_refused(first, case.refusal("chunk-too-small", "blob-upload-patch"))
        return
    assert value == "all-but-last"
    assert first.status_code in (201, 202), first.text          # the last chunk may be short ...
    location = first.headers["Location"]
    path = location[len(case.server.url):] if location.startswith("http") else location
    later = _patch(case, path, small, len(small))                # ... but it was not the last one
    assert_refused(later, case.refusal("chunk-too-small", "blob-upload-patch"))
    whole = _upload_path(case)                                   # one short chunk, then the closing PUT
    assert _patch(case, whole, small, 0).status_code in (201, 202)
    closed = case.client.request("PUT", f"{whole}{'&' if '?' in whole else '?'}digest={sha256(small)}",
                                 f"repository:{REPO}:pull,push")
    assert closed.status_code == 201, closed.text


def check_immutable_tags_allow_same(case: Case, value: bool) -> None:
    case.registry.configure(immutable_tags="*")  # the user marks the repository immutable
    case.prepare()
    first, body = case.client.push_image(REPO, "1.0")
    assert first.status_code == 201
    again = case.client.request("PUT", f"/v2/{REPO}/manifests/1.0", f"repository:{REPO}:pull,push", data=body,
                                headers={"Content-Type": OCI_MANIFEST})
    if value:
        assert again.status_code == 201
    else:
        assert_refused(again, case.refusal("tag-immutable", "manifest-put"), name=REPO, tag="1.0")


def _seed_tags(case: Case, count: int) -> None:
    case.registry.create_repository(REPO)
    config = case.registry.push_blob(REPO, b"{}")
    case.registry.push_manifest(REPO, {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                                  "digest": config, "size": 2}, "layers": []},
                                tags=[f"t{i:05d}" for i in range(count)])


def check_tags_page_size(case: Case, value: int) -> None:
    _seed_tags(case, value + 1)
    listed = case.client.request("GET", f"/v2/{REPO}/tags/list", f"repository:{REPO}:pull")
    assert listed.status_code == 200 and len(listed.json()["tags"]) == value
    assert 'rel="next"' in listed.headers["Link"]


def check_tags_page_max(case: Case, value: int) -> None:
    _seed_tags(case, value + 1)
    listed = case.client.request("GET", f"/v2/{REPO}/tags/list?n={value + 1}", f"repository:{REPO}:pull")
    if case.registry.settings.page_over_max == "clamp":
        assert listed.status_code == 200 and len(listed.json()["tags"]) == value
        assert 'rel="next"' in listed.headers["Link"]
    else:
        assert_refused(listed, case.refusal("page-size-too-large", "tags-list"))


def check_tags_pagination(case: Case, value: bool) -> None:
    _seed_tags(case, 3)
    listed = case.client.request("GET", f"/v2/{REPO}/tags/list?n=1", f"repository:{REPO}:pull")
    assert listed.status_code == 200
    assert len(listed.json()["tags"]) == (1 if value else 3)
    assert ("Link" in listed.headers) is value


def check_tags_order(case: Case, value: str) -> None:
    case.prepare()
    for tag in ("b", "c", "a"):
        assert case.client.push_image(REPO, tag)[0].status_code == 201
    listed = case.client.request("GET", f"/v2/{REPO}/tags/list", f"repository:{REPO}:pull").json()["tags"]
    assert listed == {"pushed": ["b", "c", "a"], "lexical": ["a", "b", "c"]}[value]


def check_oci_accept_negotiation(case: Case, value: bool) -> None:
    case.prepare()
    case.client.push_image(REPO, "1.0")
    scope = f"repository:{REPO}:pull"
    plain = case.client.request("GET", f"/v2/{REPO}/manifests/1.0", scope, headers={"Accept": "*/*"})
    named = case.client.request("GET", f"/v2/{REPO}/manifests/1.0", scope, headers={"Accept": OCI_MANIFEST})
    assert named.status_code == 200
    if value:
        assert_refused(plain, case.refusal("manifest-not-acceptable", "manifest-get"))
    else:
        assert plain.status_code == 200


def check_mount_namespace_depth(case: Case, value: int) -> None:
    owner = "/".join(["team"] * value)
    source, same, other = f"{owner}/source", f"{owner}/same", f"elsewhere/{'x/' * value}other"
    for name in (source, same, other):
        case.prepare(name)
    blob = b"a layer to mount"
    assert case.client.push_blob(source, blob).status_code == 201
    mounted = case.client.request("POST", f"/v2/{same}/blobs/uploads/?mount={sha256(blob)}&from={source}",
                                  f"repository:{same}:pull,push repository:{source}:pull")
    assert mounted.status_code == 201 and mounted.headers["Docker-Content-Digest"] == sha256(blob)
    refused = case.client.request("POST", f"/v2/{other}/blobs/uploads/?mount={sha256(blob)}&from={source}",
                                  f"repository:{other}:pull,push repository:{source}:pull")
    assert refused.status_code == 202 and "/blobs/uploads/" in refused.headers["Location"]


def check_link_extra_params(case: Case, value: str) -> None:
    _seed_tags(case, 2)
    link = case.client.request("GET", f"/v2/{REPO}/tags/list?n=1", f"repository:{REPO}:pull").headers["Link"]
    query = link.split("?", 1)[1].split(">", 1)[0]
    assert value in query.split("&")


def check_catalog_page_size(case: Case, value: int) -> None:
    for i in range(value + 1):
        case.registry.create_repository(f"team/r{i:04d}")
    listed = case.client.request("GET", "/v2/_catalog", "registry:catalog:*")
    assert listed.status_code == 200 and len(listed.json()["repositories"]) == value
    assert 'rel="next"' in listed.headers["Link"]


def check_catalog_page_max(case: Case, value: int) -> None:
    case.registry.create_repository(REPO)
    listed = case.client.request("GET", f"/v2/_catalog?n={value + 1}", "registry:catalog:*")
    if case.registry.settings.page_over_max == "clamp":
        assert listed.status_code == 200
    else:
        assert_refused(listed, case.refusal("page-size-too-large", "catalog"))


def check_page_over_max(case: Case, value: str) -> None:
    settings = case.registry.settings
    assert settings.tags_page_max or settings.catalog_page_max, "page_over_max without a page cap says nothing"
    if settings.tags_page_max:
        check_tags_page_max(case, settings.tags_page_max)
    else:
        check_catalog_page_max(case, settings.catalog_page_max)


def check_link_header(case: Case, value: str) -> None:
    for name in ("team/a", "team/b"):
        case.registry.create_repository(name)
    settings = case.registry.settings
    listed = case.client.request("GET", "/v2/_catalog?n=1", "registry:catalog:*") if settings.catalog else None
    _seed_tags(case, 2)
    tags = case.client.request("GET", f"/v2/{REPO}/tags/list?n=1", f"repository:{REPO}:pull") \
        if settings.tags_pagination else None
    answers = [answer for answer in (listed, tags) if answer is not None]
    assert answers, "a Link form with nothing that pages says nothing"
    for answer in answers:
        link = answer.headers["Link"]
        assert {"relative": link.startswith("</v2/"), "absolute": link.startswith("<http")}[value], link


def check_max_name_components(case: Case, value: int) -> None:
    deep = "/".join(["level"] * (value + 1))
    refused = case.client.request("POST", f"/v2/{deep}/blobs/uploads/", f"repository:{deep}:pull,push")
    assert_refused(refused, case.refusal("name-too-deep", "blob-upload-start"), name=deep)
    deepest = "/".join(["level"] * value)
    case.prepare(deepest)
    answer, _ = case.client.push_image(deepest, "1.0")
    assert answer.status_code == 201, answer.text


def check_min_name_components(case: Case, value: int) -> None:
    shallow = "/".join(["level"] * (value - 1))
    refused = case.client.request("POST", f"/v2/{shallow}/blobs/uploads/", f"repository:{shallow}:pull,push")
    assert_refused(refused, case.refusal("name-too-shallow", "blob-upload-start"), name=shallow)
    enough = "/".join(["level"] * value)
    case.prepare(enough)
    answer, _ = case.client.push_image(enough, "1.0")
    assert answer.status_code == 201, answer.text


def check_namespace_must_exist(case: Case, value: bool) -> None:
    assert value
    refused = case.client.request("POST", f"/v2/{REPO}/blobs/uploads/", f"repository:{REPO}:pull,push")
    assert_refused(refused, case.refusal("namespace-missing", "blob-upload-start"), name=REPO)
    case.registry.create_namespace(REPO.rsplit("/", 1)[0])
    for name in (REPO, REPO + "-other"):  # every image under the namespace is welcome
        answer, _ = case.client.push_image(name, "1.0")
        assert answer.status_code == 201, answer.text


def check_tag_delete(case: Case, value: bool) -> None:
    case.prepare()
    case.client.push_image(REPO, "1.0")
    answer = case.client.request("DELETE", f"/v2/{REPO}/manifests/1.0", f"repository:{REPO}:delete,pull,push")
    if value:
        assert answer.status_code == 202
        assert "1.0" not in case.registry.tags(REPO)
    else:
        assert_refused(answer, case.refusal("", "manifest-delete", code="UNSUPPORTED", status=405))
        assert "1.0" in case.registry.tags(REPO)


def check_extensions(case: Case, value: bool) -> None:
    answer = case.client.request("GET", "/v2/_oci/ext/discover", "")
    assert (answer.status_code == 200) is value


SETTING_CHECKS: Dict[str, Callable[[Case, Any], None]] = {
    name[len("check_"):]: function for name, function in dict(globals()).items()
    if name.startswith("check_") and callable(function)}


# -- auth, error rules, rate limits ---------------------------------------------------------------------
def check_auth(case: Case, value: Dict[str, Any]) -> None:
    bare = case.client.session.get(case.server.url + "/v2/")
    assert bare.status_code == 401
    scheme, params = challenge(bare.headers["WWW-Authenticate"])
    assert scheme == value.get("scheme", "bearer")
    host = case.server.url.split("://", 1)[1]
    service = value.get("service", "mockreg").format(scheme="http", host=host)
    if scheme == "bearer":
        assert params["realm"] == value.get("realm", "{scheme}://{host}/token").format(scheme="http", host=host) \
            or params["realm"].endswith(value.get("token_path", "/token"))
    if scheme == "bearer" or "realm" in value:
        assert params.get("service", "") == service           # "" : the challenge names no service
    assert case.client.request("GET", "/v2/", f"repository:{REPO}:pull").status_code == 200
    if scheme == "bearer":
        token = case.client.token_answers[-1].json()
        assert set(token) == set(value.get("token_fields", ["token", "access_token", "expires_in", "issued_at"]))
        if "expires_in" in token:
            assert token["expires_in"] == value.get("token_ttl", 300)
    case.prepare()
    pushed, _ = case.client.push_image(REPO, "1.0")
    assert pushed.status_code == 201, pushed.text
    nobody = Client(case.server.url, anonymous=True)
    pulled = nobody.request("GET", f"/v2/{REPO}/manifests/1.0", f"repository:{REPO}:pull",
                            headers={"Accept": OCI_MANIFEST})
    anonymous_pull = "pull" in value.get("anonymous", {}).get("*", [])
    assert (pulled.status_code == 200) is anonymous_pull, pulled.text
    refused, _ = nobody.push_image(REPO, "2.0")
    assert refused.status_code in (401, 403)
    if value.get("anonymous_tokens"):
        assert nobody.token_answers and nobody.token_answers[0].status_code == 200


TRIGGERS: Dict[str, Callable[[Case], None]] = {}


def trigger(reason: str) -> Callable[[Callable[[Case], None]], Callable[[Case], None]]:
    def register(function: Callable[[Case], None]) -> Callable[[Case], None]:
        TRIGGERS[reason] = function
        return function
    return register


@trigger("repository-missing")
def _missing(case: Case) -> None:
    check_repository_must_exist(case, True)


@trigger("name-too-shallow")
def _too_shallow(case: Case) -> None:
    check_min_name_components(case, case.registry.settings.min_name_components)


@trigger("namespace-missing")
def _no_namespace(case: Case) -> None:
    check_namespace_must_exist(case, True)


@trigger("referrers-disabled")
def _referrers_off(case: Case) -> None:
    check_referrers(case, False)


@trigger("catalog-disabled")
def _catalog_off(case: Case) -> None:
    check_catalog(case, False)


@trigger("page-size-too-large")
def _too_large(case: Case) -> None:
    check_page_over_max(case, "error")


@trigger("name-too-deep")
def _too_deep(case: Case) -> None:
    check_max_name_components(case, case.registry.settings.max_name_components)


@trigger("tag-immutable")
def _immutable(case: Case) -> None:
    case.registry.configure(immutable_tags="*")  # the profile gives the answer; the user opts in
    case.prepare()
    first, _ = case.client.push_image(REPO, "1.0")
    assert first.status_code == 201
    case.client.push_blob(REPO, b"another layer")
    moved = case.client.request("PUT", f"/v2/{REPO}/manifests/1.0", f"repository:{REPO}:pull,push",
                                data=json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                                 "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                                            "digest": sha256(b"{}"), "size": 2},
                                                 "layers": []}).encode(),
                                headers={"Content-Type": OCI_MANIFEST})
    assert_refused(moved, case.refusal("tag-immutable", "manifest-put"), name=REPO, tag="1.0")


@trigger("code:UNSUPPORTED")
def _unsupported(case: Case) -> None:
    check_tag_delete(case, False)


def check_errors(case: Case, value: Dict[str, Any]) -> None:
    when = value["when"]
    key = when.get("reason") or f"code:{when.get('code')}"
    assert key in TRIGGERS, f"no client-side trigger for error rule {when}"
    TRIGGERS[key](case)


def check_headers(case: Case, value: Dict[str, Any]) -> None:
    """Drive a request of the rule's kind to the status it names and see the rule applied."""
    kinds = value.get("kinds", [])
    case.prepare()
    if kinds == ["blob-upload-start"]:
        answer = case.client.request("POST", f"/v2/{REPO}/blobs/uploads/", f"repository:{REPO}:pull,push")
    elif kinds == ["blob-upload-patch"]:
        answer = _patch(case, _upload_path(case), b"one chunk", 0)
    else:
        raise AssertionError(f"no client-side trigger for header rule kinds {kinds}")
    if "set_status" in value:
        assert answer.status_code == value["set_status"]
    else:
        assert answer.status_code in (value.get("statuses") or [answer.status_code])
    for header in value.get("remove", []):
        assert header not in answer.headers
    for header, text in value.get("add", {}).items():
        assert answer.headers[header] == text


def check_rate_limits(case: Case, value: Dict[str, Any]) -> None:
    case.prepare()
    case.client.push_image(REPO, "1.0")
    got = case.client.request("GET", f"/v2/{REPO}/manifests/1.0", f"repository:{REPO}:pull",
                              headers={"Accept": OCI_MANIFEST})
    assert got.status_code == 200
    window = f";w={value['window']}"
    assert got.headers["ratelimit-limit"] == f"{value['limit']}{window}"
    assert got.headers["ratelimit-remaining"] == f"{value['limit'] - 1}{window}"


def check_for(behaviour: Behaviour) -> Callable[[Case, Any], None]:
    section, _, rest = behaviour.key.partition(".")
    section = section.split("[")[0]
    if section == "settings":
        return SETTING_CHECKS[rest]
    return {"auth": check_auth, "errors": check_errors, "rate_limits": check_rate_limits,
            "headers": check_headers}[section]


CASES = [(name, b.key) for name in SHIPPED for b in profiles.load(name).behaviours()]


def test_every_behaviour_has_a_client_side_check():
    unchecked = []
    for name, key in CASES:
        behaviour = next(b for b in profiles.load(name).behaviours() if b.key == key)
        try:
            check_for(behaviour)
        except KeyError:
            unchecked.append(f"{name}: {key}")
    assert unchecked == []


@pytest.mark.parametrize("name,key", CASES, ids=[f"{n}:{k}" for n, k in CASES])
def test_behaviour_seen_by_a_client(server, name, key):
    profile = profiles.load(name)
    behaviour = next(b for b in profile.behaviours() if b.key == key)
    case = Case(profile, behaviour, server)
    check_for(behaviour)(case, behaviour.value)
    assert case.registry.server_errors == []
